/**
 * `npm run bench:pipeline`: a parametric sweep of 10,000, 100,000 and 1,000,000 tasks through the
 * whole local pipeline (POST → plan → submit → `submitted`), against the same tasks added by
 * Slotwise's Batch client alone and by the official `@azure/batch` SDK (100 per call, 8 in flight).
 *
 * Fair by construction: every measurement gets a fresh Batch emulator (no tasks from an earlier run
 * in it), the pipeline a fresh Cosmos database and host, and the baselines build their bodies lazily
 * inside the timing, chunk by chunk from the plan's generator, as the submitter does — so no
 * measurement holds a million prebuilt bodies or runs against a million tasks already stored.
 * The dev host runs in this process (its peak RSS, sampled while a pipeline run is timed and taken
 * before any baseline, is the host's memory); Azurite, the Cosmos server and its proxy, and each
 * emulator run in their own processes. Cosmos requests and estimated RU per job come from the proxy.
 * `BENCH_SIZES=10000,100000` runs other sizes.
 */

import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';
import type { CosmosStats } from '../dev/services/cosmos-proxy.js';
import { addTasks } from '../shared/adapters/batch/add-tasks.js';
import { createBatchClient } from '../shared/adapters/batch/client.js';
import type { TaskBody } from '../shared/model/batch-bodies.js';
import { validateJobRequest } from '../shared/model/validate-request.js';
import { planJob } from '../shared/planner/plan-job.js';
import {
  BENCH_ACCOUNT,
  BENCH_API_KEY,
  BENCH_KEY,
  benchEnv,
  startBenchEmulator,
  startBenchHost,
  startBenchServices,
} from './local-stack.js';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number);

function sweep(id: string, tasks: number) {
  return {
    id,
    pool: { vmSize: 'standard_d16s_v3', taskSlotsPerNode: 32, maxNodes: 500 },
    sweep: {
      idTemplate: 'f-{frame}',
      commandLine: 'render --frame {frame}',
      requiredSlots: 3,
      parameters: { frame: { from: 1, to: tasks } },
    },
  };
}

const services = await startBenchServices();

// Sampled only while a pipeline run is timed.
let peakRss = process.memoryUsage().rss;
let measuring = false;
const sampler = setInterval(() => {
  if (measuring) peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

interface Row {
  tasks: number;
  pipeline: number;
  plan: number;
  client: number;
  sdk: number;
  cosmos: CosmosStats;
  chunks: number;
}
const rows: Row[] = [];

/** The plan's chunks as a lazy generator: bodies are built as they are taken. */
function lazyChunks(id: string, n: number): Generator<TaskBody[]> {
  const checked = validateJobRequest(sweep(id, n), { checkCallbackUrl: () => undefined });
  if (!checked.ok) throw new Error('invalid');
  const plan = planJob({
    tenant: 'dev',
    jobId: id,
    request: checked.request,
    defaults: { image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, nodeAgentSkuId: 'n' },
  });
  if (!plan.ok) throw new Error('not planned');
  return plan.plan.chunks();
}

/** Eight workers take chunks from one generator (built on demand) and send each as one call. */
async function fromChunks(chunks: Iterator<TaskBody[]>, send: (chunk: TaskBody[]) => Promise<void>) {
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let r = chunks.next(); !r.done; r = chunks.next()) await send(r.value);
    }),
  );
}

async function timePipeline(n: number): Promise<Omit<Row, 'client' | 'sdk'>> {
  const emulator = await startBenchEmulator();
  const env = benchEnv(services, emulator.url, {
    SLOTWISE_RECONCILE_SCHEDULE: '*/2 * * * * *',
    SLOTWISE_SWEEP_SCHEDULE: '*/10 * * * * *',
    SLOTWISE_POOL_CONTROL_SCHEDULE: '*/5 * * * * *',
  });
  const { host, deps, close } = await startBenchHost(env);
  try {
    const id = `bench-${n}`;
    await services.resetStats();
    global.gc?.();
    measuring = true;
    const started = performance.now();
    const res = await fetch(`${host.url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(sweep(id, n)),
    });
    if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
    let state = '';
    let chunks = 0;
    let plan = 0;
    while (!['submitted', 'running', 'completed', 'failed'].includes(state)) {
      await new Promise((r) => setTimeout(r, 50));
      const doc = await deps.jobs.get('dev', id);
      state = doc?.state ?? '';
      chunks = doc?.plan?.chunks ?? 0;
      const planned = doc?.history.find((h) => h.state === 'planned');
      if (planned && doc) plan = (Date.parse(planned.at) - Date.parse(doc.createdAt)) / 1000;
    }
    const pipeline = (performance.now() - started) / 1000;
    measuring = false;
    if (state === 'failed') throw new Error(`job ${id} failed`);
    return { tasks: n, pipeline, plan, cosmos: await services.stats(), chunks };
  } finally {
    measuring = false;
    await close();
    await emulator.stop();
  }
}

async function timeClient(n: number): Promise<number> {
  const emulator = await startBenchEmulator();
  const batch = createBatchClient({
    endpoint: emulator.url,
    accountName: BENCH_ACCOUNT,
    accountKey: BENCH_KEY,
  });
  try {
    const jobId = `client-${n}`;
    await batch.jobs.add({ id: jobId, poolInfo: { poolId: 'bench-pool' } });
    global.gc?.();
    const t0 = performance.now();
    await fromChunks(lazyChunks(jobId, n), async (chunk) => {
      await addTasks(batch, jobId, chunk, { concurrency: 1 });
    });
    return (performance.now() - t0) / 1000;
  } finally {
    await batch.close();
    await emulator.stop();
  }
}

async function timeSdk(n: number): Promise<number> {
  const emulator = await startBenchEmulator();
  const batch = createBatchClient({
    endpoint: emulator.url,
    accountName: BENCH_ACCOUNT,
    accountKey: BENCH_KEY,
  });
  const sdk = new BatchServiceClient(new BatchSharedKeyCredentials(BENCH_ACCOUNT, BENCH_KEY), emulator.url);
  try {
    const jobId = `sdk-${n}`;
    await batch.jobs.add({ id: jobId, poolInfo: { poolId: 'bench-pool' } });
    global.gc?.();
    const t0 = performance.now();
    await fromChunks(lazyChunks(jobId, n), async (chunk) => {
      await sdk.task.addCollection(jobId, chunk as never);
    });
    return (performance.now() - t0) / 1000;
  } finally {
    await batch.close();
    await emulator.stop();
  }
}

try {
  // Every pipeline run first, so the host's peak RSS is sampled before any baseline grows the heap.
  const pipelines = [];
  for (const n of SIZES) {
    pipelines.push(await timePipeline(n));
    console.error(`pipeline ${n} done`);
  }
  for (const p of pipelines) {
    const client = await timeClient(p.tasks);
    const sdk = await timeSdk(p.tasks);
    rows.push({ ...p, client, sdk });
    console.error(`baselines ${p.tasks} done`);
  }
} finally {
  clearInterval(sampler);
  services.stop();
}

const pad = (s: string, w: number) => s.padStart(w);
console.log(
  `${'tasks'.padEnd(9)}${pad('POST→submitted', 15)}${pad('of it plan', 11)}${pad('client alone', 13)}${pad('official SDK', 13)}${pad('ratio', 7)}${pad('µs/task', 9)}${pad('Cosmos req', 11)}${pad('RU (est.)', 11)}${pad('429s', 6)}`,
);
for (const r of rows) {
  console.log(
    `${String(r.tasks).padEnd(9)}${pad(`${r.pipeline.toFixed(2)} s`, 15)}${pad(`${r.plan.toFixed(2)} s`, 11)}${pad(`${r.client.toFixed(2)} s`, 13)}${pad(`${r.sdk.toFixed(2)} s`, 13)}${pad(`${(r.pipeline / r.client).toFixed(2)}×`, 7)}${pad(((r.pipeline / r.tasks) * 1e6).toFixed(1), 9)}${pad(String(r.cosmos.requests), 11)}${pad(String(Math.round(r.cosmos.ru)), 11)}${pad(String(r.cosmos.throttled), 6)}`,
  );
}
const at = (n: number) => rows.find((r) => r.tasks === n);
const big = at(1_000_000);
const mid = at(100_000);
if (big)
  console.log(`goal: pipeline ÷ client at 1M = ${(big.pipeline / big.client).toFixed(2)}× (target ≤ 2)`);
if (big && mid)
  console.log(
    `goal: per-task time 1M ÷ 100k = ${(big.pipeline / big.tasks / (mid.pipeline / mid.tasks)).toFixed(2)} (target ≤ 1.2)`,
  );
console.log(`goal: peak host RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (target < 1024)`);
