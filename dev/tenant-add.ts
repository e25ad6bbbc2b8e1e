/**
 * `npm run tenant:add -- <tenant> [--api-key <key>] [--settings local.settings.json]`
 * Creates a tenant (or adds a key to it) and prints the API key, the webhook secret and the intake
 * secret (for signing `job-requests` messages): only the key's hash is stored, so it cannot be shown
 * again. The tenant's callback key (for task callback tokens) is generated too and never shown.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { ensureContainers } from '../shared/store/cosmos-setup.js';
import { createKeyVaultSecretStore, withSecretStore } from '../shared/tenants/secret-store.js';
import {
  createTenantStore,
  generateApiKey,
  generateWebhookSecretValue,
  tenantIdPattern,
} from '../shared/tenants/tenant-store.js';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { 'api-key': { type: 'string' }, settings: { type: 'string', default: 'local.settings.json' } },
  });
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
  const webhookSecret = existing?.webhookSecret ?? generateWebhookSecretValue();
  // Keeps an existing tenant's intake secret and callback key; a tenant created before they existed
  // gets them now (callback tokens need the key, signed queue messages need the secret).
  const stored = await store.upsert(tenant, { apiKey, webhookSecret, now: new Date() });
  client.dispose();
  console.log(
    JSON.stringify(
      {
        tenant,
        apiKey,
        webhookSecret,
        intakeSecret: stored.intakeSecret,
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
