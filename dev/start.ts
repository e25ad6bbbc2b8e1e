/**
 * `npm start`: the whole local stack in the foreground — Azurite and Cosmos (`dev/services`), the
 * Batch emulator, the webhook inbox and the dev host, each in its own process (so storage outlives a
 * host restart, as in Azure). Prints one line containing `ready` once the API answers; Ctrl-C stops all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadLocalSettings } from './host/config.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
if (!existsSync('local.settings.json')) {
  copyFileSync('local.settings.sample.json', 'local.settings.json');
  console.log('Created local.settings.json from local.settings.sample.json');
}
const settings = loadLocalSettings('local.settings.json');
const values = settings.values;
const hostUrl = `http://127.0.0.1:${settings.port}`;
const batchUrl = new URL(values.BATCH_ENDPOINT ?? 'http://127.0.0.1:7070');
const inboxPort = Number(process.env.WEBHOOK_INBOX_PORT ?? 7072);
const children: ChildProcess[] = [];

function run(name: string, script: string, env: Record<string, string | undefined> = {}): ChildProcess {
  const child = spawn(process.execPath, [here(script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
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
      run('host', script, env);
      return;
    }
    console.error(`[${name}] exited (${signal ?? code}); stopping the stack`);
    stop(1);
  });
  children.push(child);
  return child;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready`);
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
run('services', './services/main.js');
run('batch', './batch-emulator/main.js', {
  BATCH_EMULATOR_PORT: batchUrl.port || '7070',
  BATCH_ACCOUNT_NAME: values.BATCH_ACCOUNT_NAME,
  BATCH_ACCOUNT_KEY: values.BATCH_ACCOUNT_KEY,
});
run('inbox', './webhook-inbox/main.js', {
  WEBHOOK_INBOX_PORT: String(inboxPort),
  SLOTWISE_DEV_WEBHOOK_SECRET: values.SLOTWISE_DEV_WEBHOOK_SECRET,
});
try {
  await until(
    'Cosmos DB',
    answers(values.COSMOS_ENDPOINT ?? 'http://127.0.0.1:8081', () => true),
  );
  await until(
    'Azurite',
    answers('http://127.0.0.1:10001/devstoreaccount1?comp=list', () => true),
  );
  await until(
    'Batch emulator',
    answers(`${batchUrl.origin}/_emulator/health`, (s) => s === 200),
  );
  run('host', './host/main.js', { SLOTWISE_PUBLIC_URL: values.SLOTWISE_PUBLIC_URL || hostUrl });
  await until(
    'dev host',
    answers(`${hostUrl}/api/health`, (s) => s === 200),
  );
  console.log(
    `Slotwise ready in ${((Date.now() - started) / 1000).toFixed(1)} s: API ${hostUrl}/api · Batch emulator ${batchUrl.origin} · webhook inbox http://127.0.0.1:${inboxPort}/ · Cosmos ${values.COSMOS_ENDPOINT} · queues http://127.0.0.1:10001`,
  );
} catch (e) {
  console.error(`Start-up failed: ${(e as Error).message}`);
  stop(1);
}
