/**
 * `npm run bench:pools`: a day of arriving jobs with mixed slot needs and durations, sharing pools,
 * planned by the real planner and run in the Batch emulator (in-process, manual clock) under three
 * ways of sizing pools, side by side with the lower bound:
 *   (a) the slot-aware pool controller (`runPoolController`, the real stage);
 *   (b) the per-job sizing it replaced (grow to max(current, this job's plan), shrink after idle TTL);
 *   (c) Batch's documented task-based autoscale sample formula, evaluated every 5 minutes;
 *   (d) the lower bound, slot-hours ÷ slots per node.
 * The clock moves in fixed steps; node allocation and start, slot scheduling and task durations are
 * the emulator's. Every sizing decision reaches Batch as a REST resize. Seeded: runs repeat.
 *
 * Options: --seed N (7) --jobs N (300, expected over the day) --step S (30 simulated seconds)
 *          --allocation-seconds S (120) --node-start-seconds S (60) --autoscale-cap N (100)
 */
import { parseArgs } from 'node:util';
import { startBatchEmulator } from '../dev/batch-emulator/index.js';
import { createRestBatchGateway } from '../shared/adapters/batch/batch-gateway-rest.js';
import { createBatchClient } from '../shared/adapters/batch/client.js';
import { mapWithConcurrency } from '../shared/core/concurrency.js';
import { SlotwiseError } from '../shared/core/errors.js';
import { validateJobRequest } from '../shared/model/validate-request.js';
import { type JobPlan, planJob } from '../shared/planner/plan-job.js';
import {
  autoscaleStrategy,
  controllerStrategy,
  type JobRecord,
  perJobStrategy,
  type Strategy,
  type StrategyContext,
} from './pools/strategies.js';
import {
  type BenchJob,
  DAY_SECONDS,
  describeWorkload,
  fmtDuration,
  lowerBoundNodeSeconds,
  makeWorkload,
  poolSpecs,
  quantile,
} from './pools/workload.js';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '7' },
    jobs: { type: 'string', default: '300' },
    step: { type: 'string', default: '30' },
    'allocation-seconds': { type: 'string', default: '120' },
    'node-start-seconds': { type: 'string', default: '60' },
    'autoscale-cap': { type: 'string', default: '100' },
  },
});
const positive = (name: keyof typeof args): number => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n <= 0)
    throw new SlotwiseError('BenchBadOption', `--${name} must be a positive integer`);
  return n;
};
const seed = positive('seed');
const stepSeconds = positive('step');
const allocationSeconds = positive('allocation-seconds');
const nodeStartSeconds = positive('node-start-seconds');
const autoscaleCap = positive('autoscale-cap');
/** The controller's defaults (settings SLOTWISE_POOL_*), and the Azure schedules of the timers. */
const limits = {
  poolMaxNodes: 500,
  shrinkAfterMs: 300_000,
  idleTtlMs: 900_000,
  allocationDeadlineMs: 1_800_000,
};
const SWEEP_SECONDS = 60;
const AUTOSCALE_INTERVAL_SECONDS = 300;
/** After the day, run on until every job is done and every pool is empty, at most this long. */
const DRAIN_LIMIT_SECONDS = 12 * 3600;

const workloadOptions = { seed, jobs: positive('jobs'), stepSeconds };
const jobs = makeWorkload(workloadOptions);
if (SWEEP_SECONDS % stepSeconds !== 0) {
  throw new SlotwiseError('BenchBadOption', `--step must divide the sweep interval (${SWEEP_SECONDS} s)`);
}

const accountName = 'benchpools';
const accountKey = Buffer.from('bench pools key').toString('base64');
const emulator = await startBatchEmulator({
  port: 0,
  accountName,
  accountKey,
  clockFactor: 0,
  allocationSeconds,
  nodeStartSeconds,
});
const client = createBatchClient({ endpoint: emulator.url, accountName, accountKey });
const gateway = createRestBatchGateway(client);

async function clock(advanceSeconds?: number): Promise<number> {
  const response = await fetch(`${emulator.url}/_emulator/clock`, {
    method: advanceSeconds === undefined ? 'GET' : 'POST',
    ...(advanceSeconds === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds }) }),
  });
  const body = (await response.json()) as { now: string };
  return Date.parse(body.now);
}

const start = await clock();
let now = start;
const ctx: StrategyContext = { gateway, client, now: () => now, stepSeconds };
const warnings: string[] = [];
// The same ceiling for every strategy that has one: the autoscale formula's cap on each pool, and
// for the controller a tenant node limit of that cap times the pools.
const tenantMaxNodes = autoscaleCap * poolSpecs.length;
const strategies: Strategy[] = [
  controllerStrategy(ctx, limits, { tenantMaxNodes, warnings }),
  perJobStrategy(ctx, { idleTtlSeconds: limits.idleTtlMs / 1000, sweepSeconds: SWEEP_SECONDS }),
  autoscaleStrategy(ctx, { cap: autoscaleCap, intervalSeconds: AUTOSCALE_INTERVAL_SECONDS }),
];

function plan(job: BenchJob, tenant: string): JobPlan {
  const validated = validateJobRequest(
    {
      id: job.id,
      pool: {
        vmSize: job.spec.vmSize,
        taskSlotsPerNode: job.spec.slotsPerNode,
        ...(job.maxNodes !== undefined ? { maxNodes: job.maxNodes } : {}),
      },
      tasks: job.tasks.map((t) => ({ id: t.id, commandLine: `sleep ${t.seconds}`, requiredSlots: t.slots })),
    },
    { checkCallbackUrl: () => undefined },
  );
  if (!validated.ok) throw new SlotwiseError('BenchInvalidJob', `${job.id}: ${validated.errors[0]?.message}`);
  const outcome = planJob({
    tenant,
    jobId: job.id,
    request: validated.request,
    defaults: {
      image: {
        publisher: 'canonical',
        offer: '0001-com-ubuntu-server-jammy',
        sku: '22_04-lts',
        version: 'latest',
      },
      nodeAgentSkuId: 'batch.node.ubuntu 22.04',
    },
  });
  if (!outcome.ok) throw new SlotwiseError('BenchPlanFailed', `${job.id}: ${outcome.errors[0]?.message}`);
  return outcome.plan;
}

// Node-seconds by trapezoids between steps: nodes change only at events inside a step.
const nodeSeconds = new Map<Strategy, number>(strategies.map((s) => [s, 0]));
const peakNodes = new Map<Strategy, number>(strategies.map((s) => [s, 0]));
const lastNodes = new Map<Strategy, number>(strategies.map((s) => [s, 0]));
async function sampleNodes(): Promise<number> {
  let all = 0;
  const counts = await Promise.all(
    strategies.map(async (s) => {
      const pools = await Promise.all([...s.pools].map((id) => gateway.getPool(id)));
      return pools.reduce((n, p) => n + (p?.currentNodes ?? 0), 0);
    }),
  );
  strategies.forEach((s, i) => {
    const nodes = counts[i]!;
    nodeSeconds.set(s, nodeSeconds.get(s)! + ((lastNodes.get(s)! + nodes) / 2) * stepSeconds);
    lastNodes.set(s, nodes);
    peakNodes.set(s, Math.max(peakNodes.get(s)!, nodes));
    all += nodes;
  });
  return all;
}

const t0 = performance.now();
let next = 0;
let step = 0;
for (;;) {
  step++;
  now = await clock(stepSeconds);
  const elapsed = (now - start) / 1000;
  const nodes = await sampleNodes();
  while (next < jobs.length && jobs[next]!.arrival <= elapsed) {
    const job = jobs[next++]!;
    // Strategies are independent (own tenant, pools and jobs): they act concurrently, as services would.
    await Promise.all(
      strategies.map((s) =>
        s.submit({ job, plan: plan(job, s.tenant), submittedAt: now } satisfies JobRecord),
      ),
    );
  }
  await Promise.all(strategies.map((s) => s.tick(now, step)));
  if (elapsed >= DAY_SECONDS) {
    const open = strategies.some((s) => [...s.records.values()].some((r) => r.doneAt === undefined));
    if ((!open && nodes === 0) || elapsed >= DAY_SECONDS + DRAIN_LIMIT_SECONDS) break;
  }
}
const simulatedSeconds = (now - start) / 1000;
const runSeconds = (performance.now() - t0) / 1000;

interface Waits {
  firstStart: number[];
  allStarted: number[];
  done: number[];
  unfinished: number;
}
async function waits(s: Strategy): Promise<Waits> {
  const out: Waits = { firstStart: [], allStarted: [], done: [], unfinished: 0 };
  await mapWithConcurrency([...s.records.values()], 8, async (r) => {
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    let end = 0;
    let started = 0;
    for await (const t of client.tasks.list(r.plan.batchJob.id, {
      select: 'executionInfo',
      maxResults: 1000,
    })) {
      const info = (t as { executionInfo?: { startTime?: string; endTime?: string } }).executionInfo;
      if (!info?.startTime) continue;
      started++;
      const at = Date.parse(info.startTime);
      first = Math.min(first, at);
      last = Math.max(last, at);
      if (info.endTime) end = Math.max(end, Date.parse(info.endTime));
    }
    if (started < r.job.tasks.length || r.doneAt === undefined) {
      out.unfinished++;
      return;
    }
    out.firstStart.push((first - r.submittedAt) / 1000);
    out.allStarted.push((last - r.submittedAt) / 1000);
    out.done.push((end - r.submittedAt) / 1000);
  });
  for (const list of [out.firstStart, out.allStarted, out.done]) list.sort((a, b) => a - b);
  return out;
}

const bound = lowerBoundNodeSeconds(jobs) / 3600;
const rows: string[][] = [];
const results = new Map<Strategy, { hours: number; w: Waits }>();
for (const s of strategies) {
  const w = await waits(s);
  const hours = nodeSeconds.get(s)! / 3600;
  results.set(s, { hours, w });
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const pair = (xs: number[]) => `${fmtDuration(mean(xs))} / ${fmtDuration(quantile(xs, 0.95))}`;
  rows.push([
    s.label,
    hours.toFixed(0),
    `${(hours / bound).toFixed(2)}×`,
    String(peakNodes.get(s)),
    String(s.resizes),
    pair(w.firstStart),
    pair(w.allStarted),
    pair(w.done),
    String(w.unfinished),
  ]);
}
rows.push(['(d) lower bound (slot-h ÷ slots/node)', bound.toFixed(0), '1.00×', '', '', '', '', '', '']);

const header = [
  'strategy',
  'node-hours',
  'vs bound',
  'peak nodes',
  'resizes',
  'wait to first task (mean / p95)',
  'wait to last task start',
  'submit to done',
  'unfinished',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');

for (const l of describeWorkload(jobs, workloadOptions)) console.log(l);
console.log(
  `emulator: allocation ${allocationSeconds} s + node start ${nodeStartSeconds} s; nodeFillType pack; ` +
    `step ${stepSeconds} s; controller every ${stepSeconds} s (and on each submission) with shrink after ` +
    `${limits.shrinkAfterMs / 1000} s, tenant limit ${tenantMaxNodes} nodes; per-job sweep every ${SWEEP_SECONDS} s, idle TTL ` +
    `${limits.idleTtlMs / 1000} s; autoscale every ${AUTOSCALE_INTERVAL_SECONDS / 60} min, cap ${autoscaleCap} per pool`,
);
console.log('');
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log('');
const a = results.get(strategies[0]!)!;
const c = results.get(strategies[2]!)!;
const p95 = (xs: number[]) => quantile(xs, 0.95);
console.log(
  `goal: (a) node-hours / lower bound = ${(a.hours / bound).toFixed(2)} (target ≤ 1.10); ` +
    `(a) vs (c) node-hours ${(a.hours / c.hours).toFixed(2)}×; ` +
    `wait to first task p95 (a) ${fmtDuration(p95(a.w.firstStart))} vs (c) ${fmtDuration(p95(c.w.firstStart))}, ` +
    `to last task start p95 (a) ${fmtDuration(p95(a.w.allStarted))} vs (c) ${fmtDuration(p95(c.w.allStarted))}`,
);
console.log(
  `simulated ${fmtDuration(simulatedSeconds)} in ${step} steps, ${runSeconds.toFixed(1)} s real` +
    (warnings.length > 0 ? `; controller warnings: ${warnings.length} (first: ${warnings[0]})` : ''),
);

await client.close();
await emulator.close();
