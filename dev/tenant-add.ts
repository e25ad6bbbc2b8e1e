import { parseArgs } from 'node:util';
import { CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { ensureContainers } from '../shared/adapters/cosmos/cosmos-setup.js';
import {
  apiKeyWeakness,
  createTenantStore,
  generateApiKey,
  generateWebhookSecretValue,
  TenantError,
  tenantIdPattern,
} from '../shared/adapters/cosmos/tenant-store.js';
import { createKeyVaultSecretStore, withSecretStore } from '../shared/adapters/key-vault/secret-store.js';
import { checkPolicyChange, policyChangeFromArgs, tenantPolicy } from '../shared/model/tenant-policy.js';
import { localSettingsValuesOrNone } from './host/config.js';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      'api-key': { type: 'string' },
      'new-key': { type: 'boolean', default: false },
      'revoke-key': { type: 'string', multiple: true },
      'rotate-webhook-secret': { type: 'boolean', default: false },
      'rotate-intake-secret': { type: 'boolean', default: false },
      limit: { type: 'string', multiple: true },
      'allow-pool': { type: 'string', multiple: true },
      'allow-admin-tasks': { type: 'string' },
      'allow-identity': { type: 'string', multiple: true },
      'allow-subnet': { type: 'string', multiple: true },
      'allow-start-task': { type: 'string' },
      'allow-secret': { type: 'string', multiple: true },
      'tes-file-system': { type: 'string', multiple: true },
      'batch-accounts': { type: 'string' },
      regions: { type: 'string' },
      settings: { type: 'string', default: 'local.settings.json' },
    },
  });
  const policy = policyChangeFromArgs({
    ...(values.limit ? { limits: values.limit } : {}),
    ...(values['allow-pool'] ? { allowPools: values['allow-pool'] } : {}),
    ...(values['allow-admin-tasks'] !== undefined ? { allowAdminTasks: values['allow-admin-tasks'] } : {}),
    ...(values['allow-identity'] ? { allowIdentities: values['allow-identity'] } : {}),
    ...(values['allow-subnet'] ? { allowSubnets: values['allow-subnet'] } : {}),
    ...(values['allow-start-task'] !== undefined ? { allowStartTask: values['allow-start-task'] } : {}),
    ...(values['allow-secret'] ? { allowSecrets: values['allow-secret'] } : {}),
    ...(values['tes-file-system'] ? { tesFileSystems: values['tes-file-system'] } : {}),
    ...(values['batch-accounts'] !== undefined ? { batchAccounts: values['batch-accounts'] } : {}),
    ...(values.regions !== undefined ? { regions: values.regions } : {}),
  });
  if (!policy.ok) {
    console.error(`tenant:add: ${policy.message}`);
    process.exit(2);
  }
  const tenant = positionals[0];
  if (!tenant || !tenantIdPattern.test(tenant)) {
    console.error(
      [
        'usage: npm run tenant:add -- <tenant id: 1-16 lowercase letters, digits, hyphens>',
        '    [--new-key | --api-key <key>] [--revoke-key <key>]... [--rotate-webhook-secret] [--rotate-intake-secret]',
        '    [--limit <name>=<value>]... [--allow-pool <pool id>]... [--allow-admin-tasks true|false]',
        '    [--allow-identity <identity ARM id>]... [--allow-subnet <subnet ARM id>]...',
        '    [--allow-start-task true|false] [--allow-secret <secret name>]...',
        '    [--tes-file-system <root>=<storage account>/<file share>:<secret name>]...',
        '    [--batch-accounts <name>,<name>|any] [--regions <region>,<region>|any] [--settings <file>]',
      ].join('\n'),
    );
    process.exit(2);
  }
  const givenKey = values['api-key'];
  if (givenKey !== undefined && values['new-key']) {
    console.error('tenant:add: --api-key and --new-key both add a key: give one of them');
    process.exit(2);
  }
  // The key itself is never echoed: it may be a real one pasted by mistake.
  const weakness = givenKey === undefined ? undefined : apiKeyWeakness(givenKey);
  if (weakness) {
    console.error(`tenant:add: --api-key ${weakness}; nothing was changed (omit it to have one generated)`);
    process.exit(2);
  }
  const env = { ...localSettingsValuesOrNone(values.settings!), ...process.env };
  const endpoint = env.COSMOS_ENDPOINT;
  if (!endpoint) {
    console.error('COSMOS_ENDPOINT is not set (in the environment or the settings file)');
    process.exit(2);
  }
  const client = new CosmosClient({
    endpoint,
    ...(env.COSMOS_KEY ? { key: env.COSMOS_KEY } : { aadCredentials: new DefaultAzureCredential() }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const containers = await ensureContainers(client, env.COSMOS_DATABASE || 'slotwise');
  // With KEY_VAULT_URI (a deployed environment) the secrets go to Key Vault and Cosmos keeps references.
  const inner = createTenantStore(containers.tenants, containers.apiKeys);
  const store = env.KEY_VAULT_URI
    ? withSecretStore(inner, createKeyVaultSecretStore(env.KEY_VAULT_URI, new DefaultAzureCredential()))
    : inner;
  const existing = await store.get(tenant);
  // The rules across fields (a TES file system's key must be a granted secret, perhaps granted in an
  // earlier run) hold for the policy as it will be stored: checked here for a clear refusal.
  const checked = checkPolicyChange(existing?.policy, policy.change);
  if (!checked.ok) {
    client.dispose();
    console.error(`tenant:add: ${checked.message}; nothing was changed`);
    process.exit(2);
  }
  // Checked before anything is written, for a clear refusal; the store's conditional create keeps
  // the rule when two runs race.
  if (givenKey !== undefined) {
    const owner = await store.authenticate(givenKey);
    if (owner !== undefined && owner !== tenant) {
      client.dispose();
      console.error(
        'tenant:add: the key given with --api-key belongs to another tenant; nothing was changed',
      );
      process.exit(2);
    }
  }
  const mintedKey = givenKey === undefined && (values['new-key'] || !existing) ? generateApiKey() : undefined;
  const apiKey = givenKey ?? mintedKey;
  const rotateWebhook = values['rotate-webhook-secret'] || !existing?.webhookSecret;
  // A tenant created before intake secrets existed gets one now (the store generates it): new, so shown.
  const rotateIntake = values['rotate-intake-secret'] || !existing?.intakeSecret;
  // Keeps an existing tenant's secrets and callback key unless rotated (callback tokens need the key,
  // signed queue messages the intake secret).
  let stored: Awaited<ReturnType<typeof store.upsert>>;
  try {
    stored = await store.upsert(tenant, {
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(rotateWebhook ? { webhookSecret: generateWebhookSecretValue() } : {}),
      ...(values['rotate-intake-secret'] ? { intakeSecret: generateWebhookSecretValue() } : {}),
      ...(Object.keys(policy.change).length > 0 ? { policy: policy.change } : {}),
      now: new Date(),
    });
  } catch (e) {
    client.dispose();
    if (e instanceof TenantError && e.code === 'ApiKeyInUse') {
      console.error(
        `tenant:add: the key given with --api-key belongs to another tenant; nothing was changed`,
      );
      process.exit(2);
    }
    throw e;
  }
  const revoked: string[] = [];
  for (const key of values['revoke-key'] ?? []) {
    if (key === apiKey) continue;
    if (await store.revokeApiKey(tenant, key)) revoked.push(`${key.slice(0, 6)}…`);
  }
  client.dispose();
  // Secrets only when this run made them: an update never shows what was shown before.
  const shown = {
    ...(mintedKey ? { apiKey: mintedKey } : {}),
    ...(rotateWebhook ? { webhookSecret: stored.webhookSecret } : {}),
    ...(rotateIntake && stored.intakeSecret ? { intakeSecret: stored.intakeSecret } : {}),
  };
  console.log(
    JSON.stringify(
      {
        tenant,
        created: !existing,
        ...shown,
        ...(givenKey !== undefined ? { addedKey: `${givenKey.slice(0, 6)}…` } : {}),
        policy: tenantPolicy(stored.policy),
        ...(revoked.length > 0 ? { revokedKeys: revoked } : {}),
        ...(Object.keys(shown).length > 0
          ? {
              note:
                'Store what is shown now: it is not shown again (only the key hash is kept). ' +
                'intakeSecret signs job-requests messages.',
            }
          : {}),
      },
      null,
      2,
    ),
  );
}

main().catch((e: unknown) => {
  console.error(`tenant:add failed: ${(e as Error).message}`);
  process.exit(1);
});
