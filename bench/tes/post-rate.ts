/**
 * Part (a) of `npm run bench:tes`: `POST /api/ga4gh/tes/v1/tasks` as a workflow engine sends it, a
 * fixed number in flight, against the local stack (the dev host with every function in this process;
 * Azurite and the Cosmos server behind its proxy in one child process; the Batch emulator, clock 60×,
 * in another). The tenant's TES limits are raised for the run, so the rate measured is the server's,
 * not the tenant's budget.
 *
 * Measured: the sustained rate (tasks accepted ÷ time from the first request to the last answer),
 * each request's latency (p50, p99, max), the answers by status, the time from the first request
 * until Batch holds every accepted task (the sum of the lanes' task counts), the Batch calls that
 * added them and the Batch jobs they became (the emulator's request counters), and Cosmos requests
 * and estimated RU (the proxy's counts) for the whole run.
 *
 * The tasks cycle through five shapes (1 core 2 GB, 2 cores 8 GB, 4 cores 16 GB, 8 cores 32 GB fit
 * the default size; 4 cores 64 GB needs a memory-optimised one), each a long `sleep` so none ends
 * during the run.
 */
import { createDeployedQueues } from '../../dev/services/queues.js';
import { createBatchClient } from '../../shared/adapters/batch/client.js';
import { describeError } from '../../shared/core/errors.js';
import {
  BENCH_ACCOUNT,
  BENCH_API_KEY,
  BENCH_KEY,
  benchEnv,
  startBenchEmulator,
  startBenchHost,
  startBenchServices,
} from '../local-stack.js';
import { quantile } from '../pools/workload.js';

export interface PostRateOptions {
  readonly tasks: number;
  readonly concurrency: number;
}

export interface PostRateResult {
  /** Every task accepted and in Batch. */
  readonly ok: boolean;
  /** What went wrong, exactly as the server or the check saw it. */
  readonly failure?: string;
  readonly tasks: number;
  readonly concurrency: number;
  readonly accepted: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly postSeconds: number;
  readonly perSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Tasks per second over the first and the last tenth of the answers (does the rate hold?). */
  readonly firstTenthPerSecond: number;
  readonly lastTenthPerSecond: number;
  readonly untilInBatchSeconds?: number;
  readonly batchTasks: number;
  readonly batchJobs: number;
  readonly addCollectionCalls: number;
  readonly addTaskCalls: number;
  readonly jobAddCalls: number;
  readonly cosmos: { readonly requests: number; readonly ru: number; readonly throttled: number };
}

const SHAPES = [
  { cpu_cores: 1, ram_gb: 2 },
  { cpu_cores: 2, ram_gb: 8 },
  { cpu_cores: 4, ram_gb: 16 },
  { cpu_cores: 8, ram_gb: 32 },
  { cpu_cores: 4, ram_gb: 64 },
] as const;

/** How long Batch may take to hold every accepted task after the last answer. */
const IN_BATCH_TIMEOUT_MS = 300_000;

function taskBody(i: number) {
  return {
    name: `bench-${i}`,
    executors: [{ image: 'ubuntu:22.04', command: ['sleep', '86400'] }],
    resources: SHAPES[i % SHAPES.length],
    tags: { bench: 'tes', shape: String(i % SHAPES.length) },
  };
}

export async function runPostRate(
  o: PostRateOptions,
  print: (line: string) => void,
): Promise<PostRateResult> {
  const services = await startBenchServices();
  const emulator = await startBenchEmulator();
  const batch = createBatchClient({
    endpoint: emulator.url,
    accountName: BENCH_ACCOUNT,
    accountKey: BENCH_KEY,
  });
  let close: (() => Promise<void>) | undefined;
  const latencies: number[] = [];
  /** When each answer came, ms after the first request. */
  const answeredAt: number[] = [];
  const statuses: Record<string, number> = {};
  let failure: string | undefined;
  let postSeconds = 0;
  let untilInBatchSeconds: number | undefined;
  let batchTasks = 0;
  try {
    // As local.settings.sample.json has them (the local stack's schedules and loopback switch).
    const env = benchEnv(services, emulator.url, {
      SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS: 'true',
      SLOTWISE_RECONCILE_SCHEDULE: '*/2 * * * * *',
      SLOTWISE_SWEEP_SCHEDULE: '*/10 * * * * *',
      SLOTWISE_POOL_CONTROL_SCHEDULE: '*/5 * * * * *',
    });
    await createDeployedQueues(services.storage);
    const started = await startBenchHost(env);
    close = started.close;
    const { host, deps } = started;
    // The tenant `dev` (seeded from SLOTWISE_DEV_API_KEY) with TES limits far above the run.
    await deps.tenants.upsert('dev', {
      policy: {
        limits: { tesTasksPerSecond: 10_000, tesTaskBurst: 100_000, maxTesTasksInFlight: 1_000_000 },
      },
      now: new Date(),
    });
    await services.resetStats();

    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        for (let i = next++; i < o.tasks; i = next++) {
          const sent = performance.now();
          let status: string;
          try {
            const res = await fetch(`${host.url}/api/ga4gh/tes/v1/tasks`, {
              method: 'POST',
              headers: { authorization: `Bearer ${BENCH_API_KEY}`, 'content-type': 'application/json' },
              body: JSON.stringify(taskBody(i)),
            });
            const text = await res.text();
            status = String(res.status);
            if (res.status !== 200 && failure === undefined)
              failure = `POST /api/ga4gh/tes/v1/tasks answered ${res.status}: ${text.slice(0, 500)}`;
          } catch (e) {
            status = 'error';
            failure ??= `POST /api/ga4gh/tes/v1/tasks failed: ${describeError(e)}`;
          }
          latencies.push(performance.now() - sent);
          answeredAt.push(performance.now() - t0);
          // Progress on stderr: how the rate holds as the tenant's tasks grow.
          if (answeredAt.length % 1000 === 0) {
            const n = answeredAt.length;
            const window = (answeredAt[n - 1]! - (n > 1000 ? answeredAt[n - 1001]! : 0)) / 1000;
            console.error(
              `  ${n} answered in ${(answeredAt[n - 1]! / 1000).toFixed(1)} s, the last 1000 at ${(1000 / window).toFixed(0)}/s`,
            );
          }
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }),
    );
    postSeconds = (performance.now() - t0) / 1000;
    const accepted = statuses['200'] ?? 0;

    // Until Batch holds every accepted task: the lanes' task counts (one call per Batch job).
    const deadline = performance.now() + IN_BATCH_TIMEOUT_MS;
    for (;;) {
      batchTasks = 0;
      for await (const job of batch.jobs.list({ select: 'id' })) {
        const counts = await batch.jobs.getTaskCounts(String(job.id));
        batchTasks += counts.taskCounts.active + counts.taskCounts.running + counts.taskCounts.completed;
      }
      if (batchTasks >= accepted) {
        untilInBatchSeconds = (performance.now() - t0) / 1000;
        break;
      }
      if (performance.now() > deadline) {
        failure ??= `only ${batchTasks} of the ${accepted} accepted tasks were in Batch ${((performance.now() - t0) / 1000).toFixed(0)} s after the first request`;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    failure ??= describeError(e);
  }

  let counters: Record<string, number> = {};
  let batchJobs = 0;
  let cosmos = { requests: 0, ru: 0, throttled: 0 };
  try {
    counters = (
      (await (await fetch(`${emulator.url}/_emulator/counters`)).json()) as {
        requests: Record<string, number>;
      }
    ).requests;
    for await (const _ of batch.jobs.list({ select: 'id' })) batchJobs++;
    const stats = await services.stats();
    cosmos = { requests: stats.requests, ru: stats.ru, throttled: stats.throttled };
  } catch (e) {
    failure ??= `reading the counters failed: ${describeError(e)}`;
  } finally {
    await close?.().catch(() => undefined);
    await batch.close();
    await emulator.stop();
    services.stop();
  }

  latencies.sort((a, b) => a - b);
  const accepted = statuses['200'] ?? 0;
  const tenth = Math.max(1, Math.floor(answeredAt.length / 10));
  const rateOver = (from: number, to: number) =>
    to > from && answeredAt.length > to
      ? (to - from) / ((answeredAt[to]! - (from === 0 ? 0 : answeredAt[from]!)) / 1000)
      : 0;
  const result: PostRateResult = {
    ok: failure === undefined && accepted === o.tasks,
    ...(failure !== undefined ? { failure } : {}),
    tasks: o.tasks,
    concurrency: o.concurrency,
    accepted,
    statuses,
    postSeconds,
    perSecond: postSeconds > 0 ? accepted / postSeconds : 0,
    latencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? 0 },
    firstTenthPerSecond: rateOver(0, tenth),
    lastTenthPerSecond: rateOver(answeredAt.length - 1 - tenth, answeredAt.length - 1),
    ...(untilInBatchSeconds !== undefined ? { untilInBatchSeconds } : {}),
    batchTasks,
    batchJobs,
    addCollectionCalls: counters['POST /jobs/{id}/addtaskcollection'] ?? 0,
    addTaskCalls: counters['POST /jobs/{id}/tasks'] ?? 0,
    jobAddCalls: counters['POST /jobs'] ?? 0,
    cosmos,
  };

  const answers = Object.entries(statuses)
    .sort()
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  print(
    `tasks: ${o.tasks} (five shapes, 1-8 cores, 2-64 GB), ${o.concurrency} in flight, tenant TES limits raised ` +
      '(10,000/s, burst 100,000, 1,000,000 in flight)',
  );
  const rows: [string, string][] = [
    ['answers', answers],
    ['POST time', `${postSeconds.toFixed(2)} s`],
    [
      'sustained rate',
      `${result.perSecond.toFixed(0)} tasks/s (first tenth ${result.firstTenthPerSecond.toFixed(0)}/s, last tenth ${result.lastTenthPerSecond.toFixed(0)}/s)`,
    ],
    [
      'latency p50 / p99 / max',
      `${fmtMs(result.latencyMs.p50)} / ${fmtMs(result.latencyMs.p99)} / ${fmtMs(result.latencyMs.max)}`,
    ],
    [
      'first POST → every task in Batch',
      untilInBatchSeconds === undefined
        ? 'not reached'
        : `${untilInBatchSeconds.toFixed(2)} s (${batchTasks} tasks)`,
    ],
    ['Batch add-collection calls', String(result.addCollectionCalls)],
    ['Batch single-task adds', String(result.addTaskCalls)],
    ['Batch jobs', `${batchJobs} (job adds: ${result.jobAddCalls})`],
    [
      'Cosmos requests / RU (est.) / 429s',
      `${cosmos.requests} (${(cosmos.requests / Math.max(1, accepted)).toFixed(1)} per task) / ${Math.round(cosmos.ru)} / ${cosmos.throttled}`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) print(`${k.padEnd(width)}  ${v}`);
  if (failure !== undefined) print(`FAILED: ${failure}`);
  return result;
}

function fmtMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
