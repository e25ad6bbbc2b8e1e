/**
 * `node dist/dev/batch-emulator/load-check.js [tasks] [concurrency]`: pushes tasks through
 * addtaskcollection (100 per call, Shared Key signed, keep-alive) into an in-process emulator and
 * reports request throughput and how long the simulation takes to run them all. Loopback only.
 */
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { startBatchEmulator } from './index.js';

const total = Number(process.argv[2] ?? 100_000);
const concurrency = Number(process.argv[3] ?? 16);
const account = 'loadcheck';
const key = Buffer.from('load-check-key').toString('base64');
const emulator = await startBatchEmulator({
  port: 0,
  accountName: account,
  accountKey: key,
  clockFactor: 10_000,
});
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function send(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const url = new URL(`${path}${path.includes('?') ? '&' : '?'}api-version=2025-06-01.21.0`, emulator.url);
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string> = {
    'ocp-date': new Date().toUTCString(),
    'content-type': 'application/json; odata=minimalmetadata',
    'content-length': String(Buffer.byteLength(text)),
  };
  const sts = `${method}\n\n\n${headers['content-length']}\n\n${headers['content-type']}\n\n\n\n\n\n\nocp-date:${headers['ocp-date']}\n/${account}${url.pathname}\napi-version:2025-06-01.21.0`;
  headers.authorization = `SharedKey ${account}:${createHmac('sha256', Buffer.from(key, 'base64')).update(sts).digest('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        out += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: out }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

await send('POST', '/pools', {
  id: 'pool',
  vmSize: 'standard_d16s_v5',
  taskSlotsPerNode: 32,
  taskSchedulingPolicy: { nodeFillType: 'pack' },
  virtualMachineConfiguration: {
    imageReference: { publisher: 'canonical' },
    nodeAgentSKUId: 'batch.node.ubuntu 22.04',
  },
  targetDedicatedNodes: 50,
});
await send('POST', '/jobs', { id: 'job', poolInfo: { poolId: 'pool' } });
const chunks = Math.ceil(total / 100);
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (let c = next++; c < chunks; c = next++) {
      const value = Array.from({ length: Math.min(100, total - c * 100) }, (_, i) => ({
        id: `t${c * 100 + i}`,
        commandLine: `/bin/sh -c 'sleep ${1 + ((c + i) % 30)}'`,
        requiredSlots: 1 + (i % 4),
      }));
      const r = await send('POST', '/jobs/job/addtaskcollection', { value });
      if (r.status !== 200) throw new Error(`addtaskcollection → ${r.status} ${r.text}`);
    }
  }),
);
const added = performance.now() - started;
await send('PATCH', '/jobs/job', { onAllTasksComplete: 'terminatejob' });
for (;;) {
  const job = JSON.parse((await send('GET', '/jobs/job')).text) as { state: string };
  if (job.state === 'completed') break;
  await new Promise((r) => setTimeout(r, 50));
}
const done = performance.now() - started;
const counts = JSON.parse((await send('GET', '/jobs/job/taskcounts')).text) as { taskCounts: unknown };
console.log(
  JSON.stringify({
    tasks: total,
    concurrency,
    addSeconds: +(added / 1000).toFixed(2),
    addTasksPerSecond: Math.round(total / (added / 1000)),
    addRequestsPerSecond: Math.round(chunks / (added / 1000)),
    allCompletedSeconds: +(done / 1000).toFixed(2),
    taskCounts: counts.taskCounts,
  }),
);
agent.destroy();
await emulator.close();
