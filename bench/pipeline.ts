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
 *
 * Then the concurrent case (bench/pipeline/concurrent.ts): ten tenants each POST a 100,000-task
 * sweep at the same moment, against one 1,000,000-task sweep and the client alone adding the same
 * tasks; `BENCH_CONCURRENT_TENANTS` and `BENCH_CONCURRENT_TASKS` change its shape.
 * `BENCH_CASES=sizes,concurrent` (the default; `BENCH_CASE` is read the same way) picks the cases.
 */

import type { CosmosStats } from '../dev/services/cosmos-proxy.js';
import { BENCH_API_KEY, startBenchEmulator, startBenchHost, startBenchServices } from './local-stack.js';
import { timeClient, timeSdk } from './pipeline/baselines.js';
import { printConcurrent, runConcurrentCase } from './pipeline/concurrent.js';
import { createRssSampler, pipelineEnv, sweep } from './pipeline/workload.js';

const CASES = new Set(
  (process.env.BENCH_CASES ?? process.env.BENCH_CASE ?? 'sizes,concurrent').split(',').map((c) => c.trim()),
);
for (const c of CASES) {
  if (c !== 'sizes' && c !== 'concurrent') {
    console.error(`BENCH_CASES: unknown case '${c}' (sizes, concurrent)`);
    process.exit(2);
  }
}
const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number);

function positive(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${name} must be a positive integer, got '${text}'`);
    process.exit(2);
  }
  return n;
}
const CONCURRENT = {
  tenants: positive('BENCH_CONCURRENT_TENANTS', 10),
  tasksEach: positive('BENCH_CONCURRENT_TASKS', 100_000),
};

const services = await startBenchServices();
// The host's RSS, sampled only while a pipeline run is timed.
const sampler = createRssSampler();

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

async function timePipeline(n: number): Promise<Omit<Row, 'client' | 'sdk'>> {
  let closeWindow = () => ({ rss: 0, heap: 0 });
  const emulator = await startBenchEmulator();
  const { host, deps, close } = await startBenchHost(pipelineEnv(services, emulator.url));
  try {
    const id = `bench-${n}`;
    await services.resetStats();
    global.gc?.();
    closeWindow = sampler.open();
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
    closeWindow();
    if (state === 'failed') throw new Error(`job ${id} failed`);
    return { tasks: n, pipeline, plan, cosmos: await services.stats(), chunks };
  } finally {
    closeWindow();
    await close();
    await emulator.stop();
  }
}

async function runSizes(): Promise<void> {
  // Every pipeline run first, so the host's peak RSS is sampled before any baseline grows the heap.
  const pipelines = [];
  for (const n of SIZES) {
    pipelines.push(await timePipeline(n));
    console.error(`pipeline ${n} done`);
  }
  const peakRss = sampler.overall;
  for (const p of pipelines) {
    const client = (await timeClient(p.tasks)).wall;
    const sdk = await timeSdk(p.tasks);
    rows.push({ ...p, client, sdk });
    console.error(`baselines ${p.tasks} done`);
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
}

try {
  if (CASES.has('sizes')) await runSizes();
  if (CASES.has('concurrent')) printConcurrent(await runConcurrentCase(services, sampler, CONCURRENT));
} finally {
  sampler.stop();
  services.stop();
}
