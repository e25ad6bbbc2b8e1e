import { type ChildProcess, spawn } from 'node:child_process';
import type { Timer } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostJson } from '../../dev/host/config.js';
import { type DevHost, startHost } from '../../dev/host/host.js';
import type { Services } from '../../dev/services/services.js';
import { memoryLogger, startTestServices, waitFor } from '../support/stack.js';

let services: Services;
const children: ChildProcess[] = [];

beforeAll(async () => {
  services = await startTestServices();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await services?.close();
});

function spawnHost(): { child: ChildProcess; lines: string[] } {
  const lines: string[] = [];
  const child = spawn(
    process.execPath,
    [new URL('../fixtures/blocking-queue-host.mjs', import.meta.url).pathname],
    {
      env: { ...process.env, STORAGE: services.storageConnectionString, LEASE_SECONDS: '2' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  child.stdout?.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
  children.push(child);
  return { child, lines };
}

describe('dev host: crashes', () => {
  it('redelivers a message whose host was killed mid-handler, after the lease, to a restarted host', async () => {
    const queue = QueueServiceClient.fromConnectionString(services.storageConnectionString).getQueueClient(
      'kill-test',
    );
    await queue.createIfNotExists();
    const first = spawnHost();
    await waitFor(
      () => first.lines,
      (l) => l.includes('listening'),
      { what: 'first host' },
    );
    await queue.sendMessage(Buffer.from('{"work":1}').toString('base64'));
    await waitFor(
      () => first.lines,
      (l) => l.includes('started 1'),
      { what: 'handler started' },
    );
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;
    const second = spawnHost();
    await waitFor(
      () => second.lines,
      (l) => l.includes('handled 2'),
      { what: 'redelivery after the lease', timeoutMs: 30_000 },
    );
    await waitFor(
      async () => (await queue.getProperties()).approximateMessagesCount,
      (n) => n === 0,
      { what: 'message deleted' },
    );
    second.child.kill('SIGTERM');
  });
});

describe('dev host: timers', () => {
  let host: DevHost | undefined;
  afterAll(async () => {
    await host?.close();
  });

  it('fires on schedule, never overlaps a run, and catches up once with isPastDue after downtime', async () => {
    const runs: { name: string; timer: Timer; start: number; end?: number }[] = [];
    // The monitor says the yearly timer was due an hour ago: the host was down then (a yearly schedule
    // cannot fire again during the test, so its only run is the catch-up).
    const container = BlobServiceClient.fromConnectionString(
      services.storageConnectionString,
    ).getContainerClient('azure-webjobs-hosts');
    await container.createIfNotExists();
    const past = new Date(Date.now() - 3600_000).toISOString();
    const status = JSON.stringify({ Last: past, Next: past, LastUpdated: past });
    await container.getBlockBlobClient('timers/test-host/minutely/status').upload(status, status.length);
    host = await startHost({
      functions: [
        {
          kind: 'timer',
          name: 'everySecond',
          schedule: '* * * * * *',
          handler: async (timer) => {
            const run: { name: string; timer: Timer; start: number; end?: number } = {
              name: 'everySecond',
              timer,
              start: Date.now(),
            };
            runs.push(run);
            await new Promise((r) => setTimeout(r, 1500));
            run.end = Date.now();
          },
        },
        {
          kind: 'timer',
          name: 'minutely',
          schedule: '%MINUTE_SCHEDULE%',
          handler: async (timer) => {
            runs.push({ name: 'minutely', timer, start: Date.now(), end: Date.now() });
          },
        },
      ],
      deps: async () => undefined,
      host: parseHostJson('{"version":"2.0"}'),
      env: { AzureWebJobsStorage: services.storageConnectionString, MINUTE_SCHEDULE: '0 0 0 1 1 *' },
      port: 0,
      hostId: 'test-host',
      logger: memoryLogger(),
    });
    const fast = await waitFor(
      () => runs.filter((r) => r.name === 'everySecond' && r.end),
      (r) => r.length >= 2,
      { what: 'two runs' },
    );
    expect(fast[1]!.start).toBeGreaterThanOrEqual(fast[0]!.end!);
    expect(fast[0]!.timer.isPastDue).toBe(false);
    const catchUp = runs.filter((r) => r.name === 'minutely');
    expect(catchUp).toHaveLength(1);
    expect(catchUp[0]!.timer.isPastDue).toBe(true);
    expect(catchUp[0]!.timer.scheduleStatus).toMatchObject({ next: past });
    const saved = JSON.parse(
      (await container.getBlockBlobClient('timers/test-host/minutely/status').downloadToBuffer()).toString(),
    ) as { Next: string };
    expect(Date.parse(saved.Next)).toBeGreaterThan(Date.now());
  });
});
