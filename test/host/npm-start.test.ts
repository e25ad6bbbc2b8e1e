/**
 * `npm start` as a user runs it (the built `dist/dev/start.js`), on free ports: it prints `ready`,
 * answers health, and when its host is killed, storage keeps running, the host comes back and a
 * message queued meanwhile is processed — nothing lost.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, describe, expect, it } from 'vitest';
import { AZURITE_ACCOUNT, AZURITE_KEY } from '../../dev/services/services.js';
import { signedIntakeText } from '../support/intake.js';
import { waitFor } from '../support/stack.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

let start: ChildProcess | undefined;
const output: string[] = [];

afterAll(async () => {
  if (start && start.exitCode === null) {
    const exited = new Promise((r) => start!.once('exit', r));
    start.kill('SIGTERM');
    await exited;
  }
});

describe('npm start', () => {
  it('starts the whole stack, survives a killed host, and loses no queued message', async () => {
    const [blob, queue, table, cosmos, batch, host, inbox] = await Promise.all(
      Array.from({ length: 7 }, freePort),
    );
    const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as {
      Values: Record<string, string>;
      Host: Record<string, unknown>;
    };
    const storage = [
      'DefaultEndpointsProtocol=http',
      `AccountName=${AZURITE_ACCOUNT}`,
      `AccountKey=${AZURITE_KEY}`,
      `BlobEndpoint=http://127.0.0.1:${blob}/${AZURITE_ACCOUNT}`,
      `QueueEndpoint=http://127.0.0.1:${queue}/${AZURITE_ACCOUNT}`,
      `TableEndpoint=http://127.0.0.1:${table}/${AZURITE_ACCOUNT}`,
    ].join(';');
    const settings = {
      ...sample,
      Values: {
        ...sample.Values,
        AzureWebJobsStorage: storage,
        COSMOS_ENDPOINT: `http://127.0.0.1:${cosmos}`,
        BATCH_ENDPOINT: `http://127.0.0.1:${batch}`,
      },
      Host: { ...sample.Host, LocalHttpPort: host },
    };
    const file = join(mkdtempSync(join(tmpdir(), 'slotwise-start-')), 'local.settings.json');
    writeFileSync(file, JSON.stringify(settings));

    start = spawn(process.execPath, [join(root, 'dist/dev/start.js'), '--settings', file], {
      cwd: root,
      env: { ...process.env, WEBHOOK_INBOX_PORT: String(inbox) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (c: Buffer) => output.push(...c.toString().split('\n').filter(Boolean));
    start.stdout?.on('data', collect);
    start.stderr?.on('data', collect);
    await waitFor(
      () => output,
      (lines) => lines.some((l) => l.includes('ready')),
      { what: 'ready', timeoutMs: 30_000 },
    );
    expect(output.filter((l) => /\bready\b/i.test(l))).toHaveLength(1);
    const api = `http://127.0.0.1:${host}/api`;
    expect((await fetch(`${api}/health`)).status).toBe(200);

    const hostPid = Number(
      /host started \(pid (\d+)\)/.exec(output.find((l) => l.includes('host started')) ?? '')?.[1],
    );
    process.kill(hostPid, 'SIGKILL');
    await waitFor(
      () =>
        fetch(`${api}/health`).then(
          () => false,
          () => true,
        ),
      (down) => down,
      { what: 'host down' },
    );
    // Storage is still up while the host is gone: a job request queued now must not be lost.
    const requests = new QueueClient(storage, 'job-requests');
    await requests.createIfNotExists();
    await requests.sendMessage(
      signedIntakeText(
        {
          id: 'while-down',
          pool: { vmSize: 'standard_d2s_v3' },
          tasks: [{ id: 't', commandLine: 'sleep 1' }],
        },
        { secret: sample.Values.SLOTWISE_DEV_INTAKE_SECRET },
      ),
    );
    await waitFor(
      () => output,
      (lines) => lines.filter((l) => l.includes('host started')).length === 2,
      { what: 'host restarted' },
    );
    const job = await waitFor(
      async () => {
        const res = await fetch(`${api}/jobs/while-down`, {
          headers: { authorization: 'Bearer dev-key' },
        }).catch(() => undefined);
        return res?.status === 200 ? ((await res.json()) as { state: string }) : undefined;
      },
      (j) => j?.state === 'completed',
      { what: 'job queued while the host was down', timeoutMs: 30_000 },
    );
    expect(job?.state).toBe('completed');
  });
});
