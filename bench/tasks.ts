/**
 * `npm run bench:tasks` (or `node dist/bench/tasks.js` after `npm run build`): a 1,000,000-task job
 * in the Batch emulator (its own process) whose every 100th task failed, read through the API of the
 * dev host (in this process): the time and Batch calls to page through all its failed tasks
 * (`GET /api/jobs/{id}/tasks?state=completed&result=failure&limit=1000`, following nextLink), to read
 * one task, and to read one task's stdout. For scale, the same walk over every task (no filter).
 * Batch calls are the emulator's own request counters. The job document is written straight to the
 * store as an ended job, so no stage of the host touches the Batch job while it is measured.
 * `BENCH_TASKS=100000` runs a smaller job.
 */
import { createBatchClient } from '../shared/adapters/batch/client.js';
import { mapWithConcurrency } from '../shared/core/concurrency.js';
import { jobOwnerMetadata } from '../shared/model/batch-names.js';
import { type JobDoc, jobDocId } from '../shared/model/job.js';
import { jobRequestSchema } from '../shared/model/request-schema.js';
import {
  BENCH_ACCOUNT,
  BENCH_API_KEY,
  BENCH_KEY,
  benchEnv,
  startBenchEmulator,
  startBenchHost,
  startBenchServices,
} from './local-stack.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 1_000_000);
const FAIL_EVERY = 100;
const PAGE = 1000;
const JOB = 'bench-tasks';
const TENANT = 'dev';
const taskId = (i: number) => `t-${String(i).padStart(7, '0')}`;

const services = await startBenchServices();
const emulator = await startBenchEmulator();
// Timers that would never fire during the run: nothing but the measured reads calls Batch.
const yearly = '0 0 0 1 1 *';
const env = benchEnv(services, emulator.url, {
  SLOTWISE_RECONCILE_SCHEDULE: yearly,
  SLOTWISE_SWEEP_SCHEDULE: yearly,
  SLOTWISE_POOL_CONTROL_SCHEDULE: yearly,
});
const app = await startBenchHost(env);
const api = `${app.host.url}/api`;
const batch = createBatchClient({
  endpoint: emulator.url,
  accountName: BENCH_ACCOUNT,
  accountKey: BENCH_KEY,
});

async function batchCalls(): Promise<Record<string, number>> {
  const res = await fetch(`${emulator.url}/_emulator/counters`);
  return ((await res.json()) as { requests: Record<string, number> }).requests;
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

async function get(path: string): Promise<Response> {
  const res = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${BENCH_API_KEY}` } });
  if (res.status >= 300) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
  return res;
}

interface Walk {
  readonly what: string;
  readonly seconds: number;
  readonly pages: number;
  readonly items: number;
  readonly batchCalls: number;
}

/** Follows nextLink from `first` to the end; time, pages, items and the Batch calls it cost. */
async function walk(what: string, first: string): Promise<Walk> {
  const before = total(await batchCalls());
  const started = performance.now();
  let next: string | undefined = first;
  let pages = 0;
  let items = 0;
  while (next) {
    const page = (await (await get(next)).json()) as { value: unknown[]; nextLink?: string };
    pages++;
    items += page.value.length;
    next = page.nextLink?.replace(/^\/api/, '');
  }
  const seconds = (performance.now() - started) / 1000;
  return { what, seconds, pages, items, batchCalls: total(await batchCalls()) - before };
}

async function once(what: string, path: string): Promise<Walk> {
  const before = total(await batchCalls());
  const started = performance.now();
  await (await get(path)).arrayBuffer();
  const seconds = (performance.now() - started) / 1000;
  return { what, seconds, pages: 1, items: 1, batchCalls: total(await batchCalls()) - before };
}

const rows: Walk[] = [];
try {
  // 100 nodes × 64 slots, allocated before the tasks come (the clock is moved past allocation).
  await batch.pools.add({
    id: 'bench-pool',
    vmSize: 'standard_d16s_v3',
    taskSlotsPerNode: 64,
    targetDedicatedNodes: 100,
    virtualMachineConfiguration: {
      imageReference: {
        publisher: 'canonical',
        offer: '0001-com-ubuntu-server-jammy',
        sku: '22_04-lts',
        version: 'latest',
      },
      nodeAgentSKUId: 'batch.node.ubuntu 22.04',
    },
  });
  await fetch(`${emulator.url}/_emulator/clock`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ advanceSeconds: 3600 }),
  });
  await batch.jobs.add({
    id: JOB,
    poolInfo: { poolId: 'bench-pool' },
    metadata: jobOwnerMetadata({ tenant: TENANT, jobId: JOB }),
  });
  const seedStarted = performance.now();
  const chunks = Array.from({ length: Math.ceil(TASKS / 100) }, (_, c) => c);
  await mapWithConcurrency(chunks, 8, async (c) => {
    const value = [];
    for (let i = c * 100; i < Math.min(TASKS, (c + 1) * 100); i++)
      value.push({
        id: taskId(i),
        commandLine: i % FAIL_EVERY === 0 ? `/bin/sh -c 'echo failed >&2; exit 1'` : `/bin/sh -c 'echo done'`,
      });
    const failed = await batch.tasks.addCollectionFast(JOB, JSON.stringify({ value }));
    if (failed?.some((r) => r.status !== 'success')) throw new Error(`chunk ${c} was not added`);
  });
  for (;;) {
    const { taskCounts } = await batch.jobs.getTaskCounts(JOB);
    if (taskCounts.completed === TASKS) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.error(`seeded ${TASKS} tasks in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const now = new Date().toISOString();
  const request = jobRequestSchema.parse({
    id: JOB,
    pool: { id: 'bench-pool' },
    sweep: {
      idTemplate: 't-{n}',
      commandLine: 'exit 0',
      parameters: { n: { from: 0, to: TASKS - 1, pad: 7 } },
    },
  });
  const doc: JobDoc = {
    id: jobDocId(JOB),
    type: 'job',
    tenant: TENANT,
    jobId: JOB,
    state: 'failed',
    createdAt: now,
    updatedAt: now,
    endedAt: now,
    sortKey: `${now}|${JOB}`,
    requestHash: 'bench',
    request,
    batch: { poolId: 'bench-pool', jobId: JOB, managedPool: false },
    taskCounts: { active: 0, running: 0, succeeded: TASKS - TASKS / FAIL_EVERY, failed: TASKS / FAIL_EVERY },
    history: [{ state: 'failed', at: now }],
    events: [],
  };
  await app.deps.jobs.create(doc);

  // Warm-up: connections, JIT, the job document's first read.
  await get(`/jobs/${JOB}/tasks?limit=1`);
  rows.push(
    await walk(
      'failed tasks, 1,000 a page',
      `/jobs/${JOB}/tasks?state=completed&result=failure&limit=${PAGE}`,
    ),
  );
  // A task in the middle of the list (one that succeeded: its stdout.txt says `done`).
  const middle = taskId(TASKS / 2 + 1);
  rows.push(await once('one task', `/jobs/${JOB}/tasks/${middle}`));
  rows.push(await once("one task's stdout.txt", `/jobs/${JOB}/tasks/${middle}/files/stdout.txt`));
  rows.push(await walk('every task, 1,000 a page (for scale)', `/jobs/${JOB}/tasks?limit=${PAGE}`));
} finally {
  await app.close();
  await batch.close();
  await emulator.stop();
  services.stop();
}

const pad = (s: string | number, w: number) => String(s).padStart(w);
console.log(`job: ${TASKS} tasks, ${TASKS / FAIL_EVERY} failed (every ${FAIL_EVERY}th)`);
console.log(
  `${'read'.padEnd(38)}${pad('time', 10)}${pad('pages', 7)}${pad('items', 9)}${pad('Batch calls', 12)}`,
);
for (const r of rows)
  console.log(
    `${r.what.padEnd(38)}${pad(`${r.seconds.toFixed(3)} s`, 10)}${pad(r.pages, 7)}${pad(r.items, 9)}${pad(r.batchCalls, 12)}`,
  );
const failed = rows[0];
if (failed)
  console.log(
    `goal: Batch calls per page of failed tasks = ${(failed.batchCalls / failed.pages).toFixed(2)} (target 1.00, never a scan of the job)`,
  );
