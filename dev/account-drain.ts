/**
 * `npm run account:drain -- <account> [--reason <text>]`: no new jobs go to the Batch account; its
 * jobs and pools run to their end. `--undo` opens it again. `--list` shows every account document.
 * Reads the Cosmos settings as `tenant:add` does (the environment, else local.settings.json); every
 * instance sees the change within seconds (routing rereads account documents every 5 s).
 */
import { parseArgs } from 'node:util';
import { CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { batchAccountInfos, readSettings } from '../shared/adapters/config/config.js';
import { createAccountStore } from '../shared/adapters/cosmos/account-store.js';
import { ensureContainers } from '../shared/adapters/cosmos/cosmos-setup.js';
import { localSettingsValuesOrNone } from './host/config.js';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      undo: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      settings: { type: 'string', default: 'local.settings.json' },
    },
  });
  const env = { ...localSettingsValuesOrNone(values.settings!), ...process.env };
  const settings = readSettings(env);
  const known = batchAccountInfos(settings).map((a) => a.name);
  const name = positionals[0];
  if (!values.list && (!name || !known.includes(name))) {
    console.error(
      [
        'usage: npm run account:drain -- <account> [--reason <text>] | <account> --undo | --list',
        `accounts of this deployment: ${known.join(', ')}`,
      ].join('\n'),
    );
    process.exit(2);
  }
  const client = new CosmosClient({
    endpoint: settings.COSMOS_ENDPOINT,
    ...(settings.COSMOS_KEY
      ? { key: settings.COSMOS_KEY }
      : { aadCredentials: new DefaultAzureCredential() }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  try {
    const containers = await ensureContainers(client, settings.COSMOS_DATABASE);
    const store = createAccountStore(containers.pools);
    if (values.list) {
      for (const doc of await store.list(known)) {
        const { _etag: _e, reconcile: _r, ...shown } = doc;
        console.log(JSON.stringify(shown));
      }
      return;
    }
    const now = new Date().toISOString();
    const { doc } = await store.update(name!, (current) => {
      if (values.undo) {
        if (!current.drain) return undefined;
        const { drain: _over, ...rest } = current;
        return rest;
      }
      if (current.drain) return undefined;
      return { ...current, drain: { since: now, ...(values.reason ? { reason: values.reason } : {}) } };
    });
    console.log(
      doc.drain
        ? `Batch account ${name} is draining since ${doc.drain.since}: no new jobs go there; its jobs and pools run to their end.`
        : `Batch account ${name} takes new jobs.`,
    );
  } finally {
    client.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(`account:drain: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
