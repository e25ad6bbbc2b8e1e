/**
 * `npm start`: the whole local stack in the foreground — Azurite and Cosmos (`dev/services`), the
 * Batch emulator, the webhook inbox and the dev host, each in its own process (so storage outlives a
 * host restart, as in Azure). Prints one line containing `ready` once the API answers; Ctrl-C stops all.
 *
 * `SLOTWISE_LOCAL_BATCH_ACCOUNTS=N` (environment or settings; default 0) starts N more Batch accounts,
 * one emulator each, named `slotwise2`, `slotwise3`, … in regions `local-2`, `local-3`, … on the
 * ports after the primary's that the stack leaves free (7072 is the webhook inbox's: 7073, 7074, …),
 * and names them to the host in `SLOTWISE_BATCH_ACCOUNTS`; the primary's region is `BATCH_REGION`
 * (default `local`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isLoopbackHttp } from '../shared/adapters/batch-management/local-auth.js';
import { loadLocalSettings } from './host/config.js';
import { createDeployedQueues } from './services/queues.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const { values: args } = parseArgs({
  options: { settings: { type: 'string', default: 'local.settings.json' } },
});
const settingsFile = args.settings!;
if (!existsSync(settingsFile) && settingsFile === 'local.settings.json') {
  copyFileSync('local.settings.sample.json', settingsFile);
  console.log('Created local.settings.json from local.settings.sample.json');
}
const settings = loadLocalSettings(settingsFile);
const values = settings.values;
const hostUrl = `http://127.0.0.1:${settings.port}`;
const batchUrl = new URL(values.BATCH_ENDPOINT ?? 'http://127.0.0.1:7070');
// Managed pools go through the management plane, which the emulator started here serves on its one
// port: a loopback (or missing, in a local.settings.json older than the setting) endpoint means it.
const managementEndpoint =
  !values.BATCH_MANAGEMENT_ENDPOINT || isLoopbackHttp(values.BATCH_MANAGEMENT_ENDPOINT)
    ? batchUrl.origin
    : values.BATCH_MANAGEMENT_ENDPOINT;
const cosmosUrl = new URL(values.COSMOS_ENDPOINT ?? 'http://127.0.0.1:8081');
const inboxPort = Number(process.env.WEBHOOK_INBOX_PORT ?? 7072);
const storage = storagePorts(values.AzureWebJobsStorage ?? 'UseDevelopmentStorage=true');
const children: ChildProcess[] = [];

/** One more local Batch account: its emulator and how the host reaches it. */
interface LocalAccount {
  readonly name: string;
  readonly region: string;
  readonly port: number;
  readonly url: string;
  readonly key: string;
}

const primaryRegion = values.BATCH_REGION || 'local';
const extraAccounts = localAccounts(
  process.env.SLOTWISE_LOCAL_BATCH_ACCOUNTS ?? values.SLOTWISE_LOCAL_BATCH_ACCOUNTS ?? '0',
);

/**
 * The N more accounts, on the ports after the primary's that nothing else of the stack uses (the API,
 * the inbox, Cosmos, Azurite). The key is fixed and local, like the primary's sample key.
 */
function localAccounts(text: string): LocalAccount[] {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 0 || count > 20) {
    console.error(`SLOTWISE_LOCAL_BATCH_ACCOUNTS must be a whole number from 0 to 20, got '${text}'`);
    process.exit(2);
  }
  const taken = new Set(
    [settings.port, inboxPort, cosmosUrl.port || 8081, storage.blob, storage.queue, storage.table].map(
      Number,
    ),
  );
  const out: LocalAccount[] = [];
  let port = Number(batchUrl.port || 7070);
  for (let i = 2; out.length < count; i++) {
    do port++;
    while (taken.has(port));
    const name = `slotwise${i}`;
    out.push({
      name,
      region: `local-${i}`,
      port,
      url: `http://127.0.0.1:${port}`,
      key: Buffer.from(`${name}-local-shared-key-not-a-secret`).toString('base64'),
    });
  }
  return out;
}

/** Azurite's ports, from the storage connection string (the well-known ones for development storage). */
function storagePorts(connection: string): { blob: string; queue: string; table: string } {
  const port = (key: string, fallback: string) => {
    const m = new RegExp(`${key}=http://[^:;/]+:(\\d+)`).exec(connection);
    return m?.[1] ?? fallback;
  };
  return {
    blob: port('BlobEndpoint', '10000'),
    queue: port('QueueEndpoint', '10001'),
    table: port('TableEndpoint', '10002'),
  };
}

function run(
  name: string,
  script: string,
  env: Record<string, string | undefined> = {},
  argv: string[] = [],
): ChildProcess {
  const child = spawn(process.execPath, [here(script), ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Each part's own "ready" banner is dropped: the stack prints exactly one line containing `ready`,
  // when it accepts jobs (the summary below carries every URL).
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((l) => l && !/\bready\b/i.test(l))
      .map((l) => `[${name}] ${l}\n`)
      .join('');
  child.stdout?.on('data', (c: Buffer) => process.stdout.write(prefix(c)));
  child.stderr?.on('data', (c: Buffer) => process.stderr.write(prefix(c)));
  child.once('exit', (code, signal) => {
    if (stopping) return;
    if (name === 'host') {
      // As in Azure, the host may die and come back while storage keeps running.
      console.error(`[host] exited (${signal ?? code}); restarting it`);
      children.splice(children.indexOf(child), 1);
      run('host', script, env, argv);
      return;
    }
    console.error(`[${name}] exited (${signal ?? code}); stopping the stack`);
    stop(1);
  });
  children.push(child);
  console.log(`[start] ${name} started (pid ${child.pid})`);
  return child;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start in time`);
}

const answers =
  (url: string, ok = (s: number) => s < 500) =>
  async () =>
    ok((await fetch(url)).status);

let stopping = false;
function stop(code = 0): void {
  if (stopping) return;
  stopping = true;
  // Host first, so in-flight work finishes against running services.
  const [services, ...rest] = children;
  for (const c of rest.reverse()) c.kill('SIGTERM');
  setTimeout(() => {
    services?.kill('SIGTERM');
    setTimeout(() => process.exit(code), 500).unref();
  }, 1500).unref();
}
process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));

const started = Date.now();
run('services', './services/main.js', {
  AZURITE_BLOB_PORT: storage.blob,
  AZURITE_QUEUE_PORT: storage.queue,
  AZURITE_TABLE_PORT: storage.table,
  COSMOS_PORT: cosmosUrl.port || '8081',
});
run('batch', './batch-emulator/main.js', {
  BATCH_EMULATOR_PORT: batchUrl.port || '7070',
  BATCH_ACCOUNT_NAME: values.BATCH_ACCOUNT_NAME,
  BATCH_ACCOUNT_KEY: values.BATCH_ACCOUNT_KEY,
  BATCH_EMULATOR_LOCATION: primaryRegion,
  // With several accounts every one simulates the mode the host is told, so each account resource
  // states its core quotas and routing compares like with like; alone, the emulator's own default.
  ...(extraAccounts.length > 0
    ? { BATCH_POOL_ALLOCATION_MODE: values.BATCH_POOL_ALLOCATION_MODE ?? 'BatchService' }
    : {}),
});
for (const a of extraAccounts)
  run(`batch ${a.name}`, './batch-emulator/main.js', {
    BATCH_EMULATOR_PORT: String(a.port),
    BATCH_ACCOUNT_NAME: a.name,
    BATCH_ACCOUNT_KEY: a.key,
    BATCH_EMULATOR_LOCATION: a.region,
    // The mode the host is told below: the settings' default, where low-priority nodes are refused.
    BATCH_POOL_ALLOCATION_MODE: 'BatchService',
  });
run('inbox', './webhook-inbox/main.js', {
  WEBHOOK_INBOX_PORT: String(inboxPort),
  SLOTWISE_DEV_WEBHOOK_SECRET: values.SLOTWISE_DEV_WEBHOOK_SECRET,
});
try {
  await until(
    'Cosmos DB',
    answers(cosmosUrl.origin, () => true),
  );
  await until(
    'Azurite',
    answers(`http://127.0.0.1:${storage.queue}/devstoreaccount1?comp=list`, () => true),
  );
  // As the deployment template does: queues exist before the host listens or anyone sends.
  await createDeployedQueues(values.AzureWebJobsStorage ?? 'UseDevelopmentStorage=true');
  await until(
    'Batch emulator',
    answers(`${batchUrl.origin}/_emulator/health`, (s) => s === 200),
  );
  for (const a of extraAccounts)
    await until(
      `Batch emulator ${a.name}`,
      answers(`${a.url}/_emulator/health`, (s) => s === 200),
    );
  run(
    'host',
    './host/main.js',
    {
      SLOTWISE_PUBLIC_URL: values.SLOTWISE_PUBLIC_URL || hostUrl,
      BATCH_MANAGEMENT_ENDPOINT: managementEndpoint,
      ...(extraAccounts.length > 0
        ? {
            BATCH_REGION: primaryRegion,
            SLOTWISE_BATCH_ACCOUNTS: JSON.stringify(
              extraAccounts.map((a) => ({
                name: a.name,
                endpoint: a.url,
                region: a.region,
                allocationMode: 'BatchService',
                weight: 1,
                managementEndpoint: a.url,
                key: a.key,
              })),
            ),
          }
        : {}),
    },
    ['--settings', settingsFile],
  );
  await until(
    'dev host',
    answers(`${hostUrl}/api/health`, (s) => s === 200),
  );
  const more = extraAccounts.map((a) => ` · Batch account ${a.name} ${a.url} (${a.region})`).join('');
  console.log(
    `Slotwise ready in ${((Date.now() - started) / 1000).toFixed(1)} s: API ${hostUrl}/api · Batch emulator ${batchUrl.origin}${more} · webhook inbox http://127.0.0.1:${inboxPort}/ · Cosmos ${cosmosUrl.origin} · queues http://127.0.0.1:${storage.queue}`,
  );
} catch (e) {
  console.error(`Start-up failed: ${(e as Error).message}`);
  stop(1);
}
