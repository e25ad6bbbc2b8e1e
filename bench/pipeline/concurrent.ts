/**
 * The concurrent case of `bench:pipeline`: `tenants` tenants each POST a sweep of `tasksEach` tasks at
 * the same moment, through one dev host and one fresh emulator, timed from the first POST until every
 * job is `submitted`; compared in the same run with one sweep of all those tasks through the pipeline
 * (fresh emulator, database and host) and with the client alone adding them (one job, and the same
 * jobs at once).
 *
 * The bench waits on the job store itself, not by reading Cosmos: the host's job store is wrapped so
 * every lifecycle change it writes is reported as it happens. Reading each job every 50 ms, as the
 * sizes case does, would add ten reads per poll to the Cosmos figures being measured.
 */
import { appendFileSync } from 'node:fs';
import type { HostLogger } from '../../dev/host/logger.js';
import type { CosmosStats } from '../../dev/services/cosmos-proxy.js';
import type { BatchGateway } from '../../shared/adapters/batch/batch-gateway.js';
import type { AppDeps } from '../../shared/app/app.js';
import type { JobDoc } from '../../shared/model/job.js';
import { defaultTenantLimits } from '../../shared/model/tenant-policy.js';
import { BENCH_API_KEY, type BenchServices, startBenchEmulator, startBenchHost } from '../local-stack.js';
import { type BaselineRun, timeClient } from './baselines.js';
import { type createRssSampler, ownCpuSeconds, pipelineEnv, sweep, treeCpuSeconds } from './workload.js';

export interface ConcurrentOptions {
  /** Tenants posting at once. Default 10 (`BENCH_CONCURRENT_TENANTS`). */
  readonly tenants: number;
  /** Tasks in each tenant's sweep. Default 100,000 (`BENCH_CONCURRENT_TASKS`). */
  readonly tasksEach: number;
}

/** One job's milestones, in seconds after the first POST. */
export interface JobTimeline {
  readonly tenant: string;
  answered: number;
  planned?: number;
  submitting?: number;
  submitted?: number;
  batchJobId?: string;
  /** `submission.tasksAdded` as each round was recorded: [seconds, tasks]. */
  readonly progress: [number, number][];
}

export interface PipelineRun {
  readonly wall: number;
  readonly tasks: number;
  readonly jobs: readonly JobTimeline[];
  readonly cosmos: CosmosStats;
  readonly peakRss: number;
  readonly peakHeap: number;
  readonly rssBefore: number;
  /** Batch gateway calls the host made in the timed part, by method: count and seconds spent waiting. */
  readonly batchCalls: ReadonlyMap<string, { n: number; seconds: number }>;
  readonly cpu: { readonly host: number; readonly services?: number; readonly emulator?: number };
}

type Sampler = ReturnType<typeof createRssSampler>;

const END_STATES = new Set(['submitted', 'running', 'completed']);

type CallStats = Map<string, { n: number; seconds: number }>;

/** A Batch gateway whose calls are counted, with the time each waited for its answer. */
function countedGateway(gateway: BatchGateway, calls: CallStats, counting: () => boolean): BatchGateway {
  return new Proxy(gateway, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const result: unknown = value.apply(target, args);
        // Iterators (paged lists) pass through uncounted; promises are timed to their answer.
        if (!counting() || !(result instanceof Promise)) return result;
        return result.finally(() => {
          const c = calls.get(String(name)) ?? { n: 0, seconds: 0 };
          c.n += 1;
          c.seconds += (performance.now() - t0) / 1000;
          calls.set(String(name), c);
        });
      };
    },
  });
}

/**
 * The host's dependencies, observed: a job store that reports every changed document it wrote, and
 * Batch gateways (the primary's and any the account registry hands out) that count their calls.
 */
function observe(
  onChange: (job: JobDoc) => void,
  calls: CallStats,
  counting: () => boolean,
): (deps: AppDeps) => AppDeps {
  return (deps) => {
    const gateways = new Map<BatchGateway, BatchGateway>();
    const counted = (g: BatchGateway) => {
      let c = gateways.get(g);
      if (!c) {
        c = countedGateway(g, calls, counting);
        gateways.set(g, c);
      }
      return c;
    };
    return {
      ...deps,
      batch: counted(deps.batch),
      accounts: new Proxy(deps.accounts, {
        get(target, name, receiver) {
          if (name === 'gateway') return (account?: string) => counted(target.gateway(account));
          const value: unknown = Reflect.get(target, name, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
      jobs: {
        ...deps.jobs,
        update: async (tenant, jobId, mutate) => {
          const result = await deps.jobs.update(tenant, jobId, mutate);
          if (result?.changed) onChange(result.job);
          return result;
        },
      },
    };
  };
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const delta = (after: number | undefined, before: number | undefined) =>
  after !== undefined && before !== undefined ? after - before : undefined;

/**
 * One pipeline run: each tenant (created first with its own key, as tenant `dev` is seeded) POSTs a
 * sweep of `tasksEach` tasks, all at once; timed until every job is `submitted`, then every job's
 * tasks are counted in the emulator.
 */
export async function timeTenants(
  services: BenchServices,
  sampler: Sampler,
  tenants: readonly { readonly id: string; readonly apiKey: string }[],
  tasksEach: number,
  maxNodes?: number,
): Promise<PipelineRun> {
  const emulator = await startBenchEmulator();
  const jobId = `bench-${tasksEach}`;
  const timelines = new Map<string, JobTimeline>(
    tenants.map((t) => [t.id, { tenant: t.id, answered: Number.NaN, progress: [] }]),
  );
  let started = Number.POSITIVE_INFINITY;
  let lastChange = performance.now();
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => undefined); // awaited after the POSTs; a failure before then is not unhandled
  const onChange = (job: JobDoc) => {
    const line = timelines.get(job.tenant);
    if (!line || job.jobId !== jobId) return;
    const now = performance.now();
    const at = (now - started) / 1000;
    if (job.state === 'planned' && line.planned === undefined) {
      line.planned = at;
      lastChange = now;
    }
    if (job.state === 'submitting') {
      line.submitting ??= at;
      const added = job.submission?.tasksAdded ?? 0;
      if (added > 0 && line.progress.at(-1)?.[1] !== added) {
        line.progress.push([at, added]);
        lastChange = now;
      }
    }
    if (END_STATES.has(job.state) && line.submitted === undefined) {
      line.submitted = at;
      line.batchJobId = job.batch?.jobId;
      if ([...timelines.values()].every((l) => l.submitted !== undefined)) settle?.resolve();
    }
    if (job.state === 'failed' || job.state === 'cancelled')
      settle?.reject(new Error(`job ${job.tenant}/${job.jobId} ${job.state}: ${job.failure?.message ?? ''}`));
  };
  const batchCalls: CallStats = new Map();
  let counting = false;
  // `BENCH_HOST_LOG=<file>`: the host's log of each run, stamped in seconds after the first POST.
  const logFile = process.env.BENCH_HOST_LOG;
  const logger: HostLogger | undefined = logFile
    ? {
        log: (level, category, message) =>
          appendFileSync(
            logFile,
            `${((performance.now() - started) / 1000).toFixed(3)} ${level} ${category} ${message}\n`,
          ),
      }
    : undefined;
  if (logFile) appendFileSync(logFile, `--- ${tenants.length} × ${tasksEach}\n`);
  const { host, deps, close } = await startBenchHost(pipelineEnv(services, emulator.url), {
    wrap: observe(onChange, batchCalls, () => counting),
    ...(logger ? { logger } : {}),
  });
  // No job planned or any further for five minutes, or the emulator gone: a stuck run is reported with
  // where each job was, not waited on (the submitter retries a dead emulator for ever).
  const watchdog = setInterval(() => {
    const where = () =>
      [...timelines.values()]
        .map(
          (l) => `${l.tenant}: ${l.submitted ? 'submitted' : `${l.progress.at(-1)?.[1] ?? 0} tasks added`}`,
        )
        .join(', ');
    if (!alive(emulator.pid)) settle?.reject(new Error(`the Batch emulator exited (${where()})`));
    else if (performance.now() - lastChange >= 300_000)
      settle?.reject(new Error(`no job moved on for five minutes (${where()})`));
  }, 10_000);
  try {
    for (const t of tenants) {
      if (t.id !== 'dev') await deps.tenants.upsert(t.id, { apiKey: t.apiKey, now: new Date() });
    }
    await services.resetStats();
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const closeWindow = sampler.open();
    const cpu0 = {
      host: ownCpuSeconds(),
      services: treeCpuSeconds(services.pid),
      emulator: treeCpuSeconds(emulator.pid),
    };
    const body = JSON.stringify(sweep(jobId, tasksEach, maxNodes));
    started = performance.now();
    lastChange = started;
    counting = true;
    await Promise.all(
      tenants.map(async (t) => {
        const res = await fetch(`${host.url}/api/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' },
          body,
        });
        if (res.status !== 202)
          throw new Error(`POST for ${t.id} answered ${res.status}: ${await res.text()}`);
        timelines.get(t.id)!.answered = (performance.now() - started) / 1000;
      }),
    );
    await done;
    const wall = (performance.now() - started) / 1000;
    counting = false;
    const peak = closeWindow();
    const cpu = {
      host: ownCpuSeconds() - cpu0.host,
      services: delta(treeCpuSeconds(services.pid), cpu0.services),
      emulator: delta(treeCpuSeconds(emulator.pid), cpu0.emulator),
    };
    const cosmos = await services.stats();
    let tasks = 0;
    for (const line of timelines.values()) {
      const counts = line.batchJobId ? await deps.batch.getTaskCounts(line.batchJobId) : undefined;
      const inBatch = counts ? counts.active + counts.running + counts.completed : 0;
      if (inBatch !== tasksEach)
        throw new Error(`${line.tenant}: ${inBatch} tasks in Batch job ${line.batchJobId}, not ${tasksEach}`);
      tasks += inBatch;
    }
    return {
      wall,
      tasks,
      jobs: [...timelines.values()],
      cosmos,
      peakRss: peak.rss,
      peakHeap: peak.heap,
      rssBefore,
      cpu,
      batchCalls,
    };
  } finally {
    clearInterval(watchdog);
    await close();
    await emulator.stop();
  }
}

export interface ConcurrentResult {
  readonly options: ConcurrentOptions;
  /** Each concurrent job's pool.maxNodes (the single job asks 500 and gets the tenant's limit). */
  readonly nodesEach: number;
  readonly concurrent: PipelineRun;
  readonly single: PipelineRun;
  readonly clientOne: BaselineRun;
  readonly clientMany: BaselineRun;
}

export async function runConcurrentCase(
  services: BenchServices,
  sampler: Sampler,
  options: ConcurrentOptions,
): Promise<ConcurrentResult> {
  const { tenants, tasksEach } = options;
  const total = tenants * tasksEach;
  const many = Array.from({ length: tenants }, (_, i) => ({
    id: `bench-t${i}`,
    apiKey: `${BENCH_API_KEY}-t${i}`,
  }));
  // The same nodes in both runs: the single job gets the tenant's default node limit, and the tenants
  // share it (each job's pool.maxNodes). Otherwise the emulator simulates ten times the nodes running
  // tasks while the tasks are added, which is a different load (and at 10 × 100,000 ran its process
  // out of heap).
  const nodesEach = Math.max(1, Math.floor(defaultTenantLimits.maxNodes / tenants));
  // Both pipeline runs before the baselines, so the host's RSS is sampled before a baseline grows the heap.
  const concurrent = await timeTenants(services, sampler, many, tasksEach, nodesEach);
  console.error(`concurrent: ${tenants} × ${tasksEach} through the pipeline done`);
  const single = await timeTenants(services, sampler, [{ id: 'dev', apiKey: BENCH_API_KEY }], total);
  console.error(`concurrent: one job of ${total} through the pipeline done`);
  const clientOne = await timeClient(total);
  const clientMany = await timeClient(tasksEach, tenants);
  console.error('concurrent: baselines done');
  return { options, nodesEach, concurrent, single, clientOne, clientMany };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const secs = (s: number | undefined) => (s === undefined ? '-' : s.toFixed(1));

export function printConcurrent(r: ConcurrentResult): void {
  const { tenants, tasksEach } = r.options;
  const total = tenants * tasksEach;
  const pad = (s: string, w: number) => s.padStart(w);
  console.log(
    `\nconcurrent: ${tenants} tenants × ${tasksEach} tasks POSTed at once (pool.maxNodes ${r.nodesEach} each), ` +
      `against one ${total}-task job (at most ${defaultTenantLimits.maxNodes} nodes, the tenant limit); ` +
      'each run: fresh emulator, the pipeline runs also a fresh database and host',
  );
  console.log(
    `${'run'.padEnd(34)}${pad('wall', 10)}${pad('tasks/s', 9)}${pad('Cosmos req', 11)}${pad('RU (est.)', 10)}` +
      `${pad('429s', 5)}${pad('peak RSS', 10)}  CPU s: host or client / Cosmos+Azurite / emulator`,
  );
  const row = (
    label: string,
    wall: number,
    cosmos: CosmosStats | undefined,
    rss: number | undefined,
    cpu: string,
  ) =>
    console.log(
      `${label.padEnd(34)}${pad(`${wall.toFixed(2)} s`, 10)}${pad(String(Math.round(total / wall)), 9)}` +
        `${pad(cosmos ? String(cosmos.requests) : '-', 11)}${pad(cosmos ? String(Math.round(cosmos.ru)) : '-', 10)}` +
        `${pad(cosmos ? String(cosmos.throttled) : '-', 5)}${pad(rss !== undefined ? mib(rss) : '-', 10)}  ${cpu}`,
    );
  const pipelineCpu = (p: PipelineRun) =>
    `${secs(p.cpu.host)} / ${secs(p.cpu.services)} / ${secs(p.cpu.emulator)}`;
  row(
    `pipeline, ${tenants} jobs at once`,
    r.concurrent.wall,
    r.concurrent.cosmos,
    r.concurrent.peakRss,
    pipelineCpu(r.concurrent),
  );
  row('pipeline, one job', r.single.wall, r.single.cosmos, r.single.peakRss, pipelineCpu(r.single));
  row(
    'client alone, one job',
    r.clientOne.wall,
    undefined,
    undefined,
    `${secs(r.clientOne.cpu.client)} / - / ${secs(r.clientOne.cpu.emulator)}`,
  );
  row(
    `client alone, ${tenants} jobs at once`,
    r.clientMany.wall,
    undefined,
    undefined,
    `${secs(r.clientMany.cpu.client)} / - / ${secs(r.clientMany.cpu.emulator)}`,
  );
  console.log(
    `host heap in use at its peak: ${mib(r.concurrent.peakHeap)} (${tenants} jobs at once), ${mib(r.single.peakHeap)} (one job); ` +
      `RSS before the runs: ${mib(r.concurrent.rssBefore)} and ${mib(r.single.rssBefore)}`,
  );
  for (const [label, run] of [
    [`${tenants} jobs at once`, r.concurrent],
    ['one job', r.single],
  ] as const) {
    const calls = [...run.batchCalls]
      .sort((a, b) => b[1].seconds - a[1].seconds)
      .map(([name, c]) => `${name} ${c.n} (${((c.seconds / c.n) * 1000).toFixed(0)} ms)`);
    console.log(`Batch calls by the host, ${label} (count, mean wait): ${calls.join(', ')}`);
  }
  console.log(
    'per job, seconds after the first POST: answered / planned / submitting / first round recorded / submitted',
  );
  for (const j of [...r.concurrent.jobs, ...r.single.jobs]) {
    console.log(
      `  ${j.tenant.padEnd(10)}${[j.answered, j.planned, j.submitting, j.progress[0]?.[0], j.submitted]
        .map((t) => pad(secs(t), 7))
        .join('')}`,
    );
  }
  const finished = r.concurrent.jobs.map((j) => j.submitted!).sort((a, b) => a - b);
  const first = finished[0]!;
  const last = finished.at(-1)!;
  console.log(
    `${tenants} jobs at once: first submitted at ${first.toFixed(2)} s, last at ${last.toFixed(2)} s, spread ${(last - first).toFixed(2)} s`,
  );
  console.log(
    `tasks in Batch (emulator task counts): ${r.concurrent.tasks} in ${tenants} jobs, ${r.single.tasks} in one job`,
  );
  console.log(
    `goal: concurrent ÷ single = ${(r.concurrent.wall / r.single.wall).toFixed(2)}× (target ≤ 1.2); ` +
      `concurrent ÷ client alone (same jobs at once) = ${(r.concurrent.wall / r.clientMany.wall).toFixed(2)}×; ` +
      `single ÷ client alone = ${(r.single.wall / r.clientOne.wall).toFixed(2)}×`,
  );
}
