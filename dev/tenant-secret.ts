import { parseArgs } from 'node:util';
import { CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { ensureContainers } from '../shared/adapters/cosmos/cosmos-setup.js';
import { createTenantStore, tenantIdPattern } from '../shared/adapters/cosmos/tenant-store.js';
import {
  createCosmosSecretStore,
  createEnvSecrets,
  EnvSecretError,
  envSecretName,
  TOO_LONG,
} from '../shared/adapters/key-vault/env-secrets.js';
import { createKeyVaultSecretStore } from '../shared/adapters/key-vault/secret-store.js';
import { SECRET_NAME_PATTERN, secretValueFits } from '../shared/model/secret-refs.js';
import { localSettingsValuesOrNone } from './host/config.js';

const usage =
  'usage: npm run tenant:secret -- <tenant> <name: 1-64 letters, digits, hyphens> [--settings <file>] < value';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { settings: { type: 'string', default: 'local.settings.json' } },
  });
  const [tenant, name, ...extra] = positionals;
  if (!tenant || !tenantIdPattern.test(tenant) || !name || !SECRET_NAME_PATTERN.test(name) || extra.length) {
    // A value given as a third argument is not repeated: it may be the real one.
    console.error(extra.length ? `${usage} (the value is read from stdin only)` : usage);
    process.exit(2);
  }
  if (process.stdin.isTTY) console.error(`Value for ${name} (end with Enter, then Ctrl-D):`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (value === '') {
    console.error('tenant:secret: no value on stdin; nothing was changed');
    process.exit(2);
  }
  if (!secretValueFits(value)) {
    console.error(`tenant:secret: the value is ${TOO_LONG}; nothing was changed`);
    process.exit(2);
  }
  const env = { ...localSettingsValuesOrNone(values.settings!), ...process.env };
  if (!env.COSMOS_ENDPOINT) {
    console.error('COSMOS_ENDPOINT is not set (in the environment or the settings file)');
    process.exit(2);
  }
  const credential = new DefaultAzureCredential();
  const client = new CosmosClient({
    endpoint: env.COSMOS_ENDPOINT,
    ...(env.COSMOS_KEY ? { key: env.COSMOS_KEY } : { aadCredentials: credential }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  try {
    const containers = await ensureContainers(client, env.COSMOS_DATABASE || 'slotwise');
    if (!(await createTenantStore(containers.tenants, containers.apiKeys).get(tenant))) {
      console.error(
        `tenant:secret: no tenant '${tenant}' (create it with npm run tenant:add); nothing was changed`,
      );
      process.exit(2);
    }
    const store = env.KEY_VAULT_URI
      ? createKeyVaultSecretStore(env.KEY_VAULT_URI, credential)
      : createCosmosSecretStore(containers.tenants);
    await createEnvSecrets(store).set(tenant, name, value);
  } finally {
    client.dispose();
  }
  console.log(
    JSON.stringify(
      {
        tenant,
        secret: name,
        storedIn: env.KEY_VAULT_URI
          ? `Key Vault secret ${envSecretName(tenant, name)}`
          : 'the local tenants container',
        note: `Jobs reference it as {"secretRef": "${name}"} once granted: npm run tenant:add -- ${tenant} --allow-secret ${name}`,
      },
      null,
      2,
    ),
  );
}

main().catch((e: unknown) => {
  // Typed errors carry no value; anything else is named by its class only.
  console.error(
    `tenant:secret failed: ${e instanceof EnvSecretError ? e.message : ((e as Error).name ?? typeof e)}`,
  );
  process.exit(1);
});
