/**
 * Tenant administration, locally and against a deployed environment (Entra identity for Cosmos DB and
 * Key Vault when no keys are set):
 *
 *   npm run tenant:add -- <tenant> [--api-key <key>] [--revoke-key <key>]
 *       [--rotate-webhook-secret] [--rotate-intake-secret]
 *       [--limit <name>=<value>]... [--allow-pool <pool id>]... [--allow-admin-tasks true|false]
 *       [--settings local.settings.json]
 *
 * Creates the tenant (or updates it) and prints the API key and the secrets once: only the key's
 * hash is stored. Adding a key and revoking the old one rotates a key without downtime; rotating a
 * secret prints the new one (task callback tokens use a key of their own and keep working). Policy
 * changes are validated before anything is written; `--allow-pool` given again replaces the list.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { ensureContainers } from '../shared/adapters/cosmos/cosmos-setup.js';
import {
  createTenantStore,
  generateApiKey,
  generateWebhookSecretValue,
  tenantIdPattern,
} from '../shared/adapters/cosmos/tenant-store.js';
import { createKeyVaultSecretStore, withSecretStore } from '../shared/adapters/key-vault/secret-store.js';
import { policyChangeFromArgs, tenantPolicy } from '../shared/model/tenant-policy.js';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      'api-key': { type: 'string' },
      'revoke-key': { type: 'string', multiple: true },
      'rotate-webhook-secret': { type: 'boolean', default: false },
      'rotate-intake-secret': { type: 'boolean', default: false },
      limit: { type: 'string', multiple: true },
      'allow-pool': { type: 'string', multiple: true },
      'allow-admin-tasks': { type: 'string' },
      settings: { type: 'string', default: 'local.settings.json' },
    },
  });
  const policy = policyChangeFromArgs({
    ...(values.limit ? { limits: values.limit } : {}),
    ...(values['allow-pool'] ? { allowPools: values['allow-pool'] } : {}),
    ...(values['allow-admin-tasks'] !== undefined ? { allowAdminTasks: values['allow-admin-tasks'] } : {}),
  });
  if (!policy.ok) {
    console.error(`tenant:add: ${policy.message}`);
    process.exit(2);
  }
  const tenant = positionals[0];
  if (!tenant || !tenantIdPattern.test(tenant)) {
    console.error('usage: npm run tenant:add -- <tenant id: 1-16 lowercase letters, digits, hyphens>');
    process.exit(2);
  }
  const env = { ...readValues(values.settings!), ...process.env };
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
  const apiKey = values['api-key'] ?? generateApiKey();
  const webhookSecret =
    values['rotate-webhook-secret'] || !existing?.webhookSecret
      ? generateWebhookSecretValue()
      : existing.webhookSecret;
  // Keeps an existing tenant's intake secret and callback key; a tenant created before they existed
  // gets them now (callback tokens need the key, signed queue messages need the secret).
  const stored = await store.upsert(tenant, {
    apiKey,
    webhookSecret,
    ...(values['rotate-intake-secret'] ? { intakeSecret: generateWebhookSecretValue() } : {}),
    ...(Object.keys(policy.change).length > 0 ? { policy: policy.change } : {}),
    now: new Date(),
  });
  const revoked: string[] = [];
  for (const key of values['revoke-key'] ?? []) {
    if (key === apiKey) continue;
    if (await store.revokeApiKey(tenant, key)) revoked.push(`${key.slice(0, 6)}…`);
  }
  client.dispose();
  console.log(
    JSON.stringify(
      {
        tenant,
        apiKey,
        webhookSecret,
        intakeSecret: stored.intakeSecret,
        policy: tenantPolicy(stored.policy),
        ...(revoked.length > 0 ? { revokedKeys: revoked } : {}),
        note: 'Store these now: the key is not shown again. intakeSecret signs job-requests messages.',
      },
      null,
      2,
    ),
  );
}

function readValues(path: string): Record<string, string> {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, string> };
    return parsed.Values ?? {};
  } catch {
    return {};
  }
}

main().catch((e: unknown) => {
  console.error(`tenant:add failed: ${(e as Error).message}`);
  process.exit(1);
});
