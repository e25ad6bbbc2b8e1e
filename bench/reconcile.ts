/**
 * `npm run bench:reconcile` (or `node dist/bench/reconcile.js` after `npm run build`): one reconcile
 * pass over 1,000, 5,000 and 10,000 active jobs (ten tenants, every job taken in the one pass), with
 * Batch calls counted at the gateway, Cosmos requests, bytes and estimated RU from the Cosmos proxy,
 * and the pass's time. Each job document carries a ~9 KB request that the pass must not read. Batch
 * shows nothing new, so the pass is the steady one: reads only (the cursor aside). The emulator and
 * the Cosmos server run in their own processes; the pass runs in this one.
 * `BENCH_SIZES=1000,5000,10000` runs other sizes.
 */
import type { CosmosStats } from '../dev/services/cosmos-proxy.js';
import type { BatchGateway } from '../shared/adapters/batch/batch-gateway.js';
import { createBatchClient } from '../shared/adapters/batch/client.js';
import { createAppDeps } from '../shared/app/app.js';
import { mapWithConcurrency } from '../shared/core/concurrency.js';
import { type JobDoc, jobDocId, zeroTaskCounts } from '../shared/model/job.js';
import type { JobRequest } from '../shared/model/request-schema.js';
import { reconcileActiveJobs } from '../shared/pipeline/reconcile.js';
import { BENCH_ACCOUNT, BENCH_KEY, benchEnv, startBenchEmulator, startBenchServices } from './local-stack.js';

const SIZES = (process.env.BENCH_SIZES ?? '1000,5000,10000').split(',').map(Number);
const TENANTS = 10;

const services = await startBenchServices();
const emulator = await startBenchEmulator();
const deps = await createAppDeps(benchEnv(services, emulator.url));
const batchClient = createBatchClient({
  endpoint: emulator.url,
  accountName: BENCH_ACCOUNT,
  accountKey: BENCH_KEY,
});

// Every gateway call counted by method: the Batch side of a pass.
const calls = new Map<string, number>();
const counted = new Proxy(deps.batch, {
  get(target, name, receiver) {
    const value = Reflect.get(target, name, receiver) as unknown;
    if (typeof value !== 'function') return value;
    return (...args: unknown[]) => {
      calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
      return (value as (...a: unknown[]) => unknown).apply(target, args);
    };
  },
}) as BatchGateway;

const request: JobRequest = {
  id: 'x',
  pool: { id: 'bench-pool' },
  tasks: Array.from({ length: 100 }, (_, i) => ({
    id: `t${i}`,
    commandLine: `render --frame ${i} --quality high --output frames/${i}.exr`,
  })),
} as JobRequest;

function jobDoc(tenant: string, jobId: string, at: string): JobDoc {
  return {
    id: jobDocId(jobId),
    type: 'job',
    tenant,
    jobId,
    state: 'running',
    createdAt: at,
    updatedAt: at,
    sortKey: `${at}|${jobId}`,
    requestHash: 'bench',
    request: { ...request, id: jobId },
    batch: { poolId: 'bench-pool', jobId, managedPool: false },
    taskCounts: { ...zeroTaskCounts },
    history: [
      { state: 'accepted', at },
      { state: 'running', at },
    ],
    events: [],
  };
}

interface Row {
  jobs: number;
  seconds: number;
  batchCalls: number;
  cosmos: CosmosStats;
  changed: number;
}
const rows: Row[] = [];
let seeded = 0;
let docBytes = 0;

try {
  for (const [pass, n] of SIZES.entries()) {
    const fresh = Array.from({ length: n - seeded }, (_, k) => seeded + k);
    await mapWithConcurrency(fresh, 16, async (i) => {
      const tenant = `bench-t${i % TENANTS}`;
      const jobId = `job-${String(i).padStart(6, '0')}`;
      await batchClient.jobs.add({ id: jobId, poolInfo: { poolId: 'bench-pool' } });
      const doc = jobDoc(tenant, jobId, new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString());
      docBytes = Buffer.byteLength(JSON.stringify(doc));
      await deps.jobs.create(doc);
    });
    seeded = Math.max(seeded, n);
    calls.clear();
    await services.resetStats();
    const t0 = performance.now();
    const report = await reconcileActiveJobs(
      { ...deps, batch: counted, share: { perTenant: n, total: n } },
      pass,
    );
    const seconds = (performance.now() - t0) / 1000;
    if (report.jobs !== n || report.errors > 0)
      throw new Error(`pass took ${report.jobs} jobs with ${report.errors} errors, expected ${n}`);
    rows.push({
      jobs: n,
      seconds,
      batchCalls: [...calls.values()].reduce((a, b) => a + b, 0),
      cosmos: await services.stats(),
      changed: report.changed,
    });
    console.error(`pass over ${n} done`);
  }
} finally {
  await deps.close();
  await batchClient.close();
  await emulator.stop();
  services.stop();
}

const pad = (s: string | number, w: number) => String(s).padStart(w);
console.log(
  `${'jobs'.padEnd(7)}${pad('pass', 9)}${pad('ms/job', 8)}${pad('Batch calls', 12)}${pad('per job', 8)}${pad('Cosmos req', 11)}${pad('KB read', 9)}${pad('B/job', 7)}${pad('RU (est.)', 10)}${pad('RU/job', 7)}${pad('writes', 7)}`,
);
for (const r of rows) {
  console.log(
    `${String(r.jobs).padEnd(7)}${pad(`${r.seconds.toFixed(2)} s`, 9)}${pad(((r.seconds * 1000) / r.jobs).toFixed(2), 8)}${pad(r.batchCalls, 12)}${pad((r.batchCalls / r.jobs).toFixed(2), 8)}${pad(r.cosmos.requests, 11)}${pad(Math.round(r.cosmos.bytesOut / 1024), 9)}${pad(Math.round(r.cosmos.bytesOut / r.jobs), 7)}${pad(Math.round(r.cosmos.ru), 10)}${pad((r.cosmos.ru / r.jobs).toFixed(2), 7)}${pad(r.cosmos.writes, 7)}`,
  );
}
const first = rows[0];
const last = rows[rows.length - 1];
if (first && last && last !== first) {
  const per = (r: Row) => r.seconds / r.jobs;
  console.log(
    `linear: time per job ${last.jobs} ÷ ${first.jobs} = ${(per(last) / per(first)).toFixed(2)}, RU per job ${(last.cosmos.ru / last.jobs / (first.cosmos.ru / first.jobs)).toFixed(2)}, Batch calls per job ${(last.batchCalls / last.jobs / (first.batchCalls / first.jobs)).toFixed(2)} (1.00 = linear)`,
  );
}
console.log(
  `stored job document: ${docBytes} bytes (a whole-document read would be ~${Math.round(docBytes / 1024)} KB per job)`,
);
