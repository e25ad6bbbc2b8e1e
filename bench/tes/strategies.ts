/**
 * The two ways of running a stream of TES tasks on Batch that the bench compares. Each is its own
 * tenant in one Batch emulator (own pools and Batch jobs) and acts only through the Batch REST API, so
 * node allocation and start, slot scheduling and task run times are the emulator's.
 *
 * - `slotwise`: what the TES server does. Each task is parsed (`parseTesTaskRequest`) and placed
 *   (`placeTesTask`, the default VM size of settings `SLOTWISE_TES_VM_SIZE`); tasks of one placement
 *   go to one lane: one Batch job on one managed pool (planned by `planJob` from `laneRequest`, as the
 *   plan stage plans a lane), taskSlotsPerNode = vCPUs, each task with its placement's requiredSlots,
 *   added in collections of up to 100 (the TES submitter). The real `runPoolController` sizes the
 *   pools, with each lane's demand = the slot histogram of its unfinished tasks (what the TES stages
 *   keep on the lane's plan), woken when tasks are added and on every step (its timer).
 * - `tesOnAzure`: microsoft/ga4gh-tes @ main 010ba715 (archived). One task per node (no task slots:
 *   pools keep 1 slot), on the cheapest size that fits the task's cores and memory (`GetVmSizeAsync`,
 *   `BatchScheduler.cs` l.1358-1445: `MinBy(Cost)` over sizes with enough vCPUs and memory; prices
 *   here from `shared/planner/cost.ts`), one pool per size with one Batch job (`CreatePoolAndJobAsync`),
 *   each task added on its own. The pool autoscales with `BatchPool.AutoPoolFormula` (`BatchPool.cs`
 *   l.277-316), evaluated every 5 minutes (`AutoScaleEvaluationInterval`, l.33):
 *       $NodeDeallocationOption = taskcompletion;
 *       lifespan = time() - time("<when the formula was set>");
 *       span = TimeInterval_Second * 90; startup = TimeInterval_Minute * 2; ratio = 10;
 *       $TargetDedicated = (lifespan > startup ? min($PendingTasks.GetSample(span, ratio)) : 1);
 *   (initial target 1 at pool creation, `BatchScheduler.cs` l.1324). There is no cap in the formula:
 *   only the account's core quota bounds it.
 */
import { randomUUID } from 'node:crypto';
import type { BatchGateway, BatchTaskCounts } from '../../shared/adapters/batch/batch-gateway.js';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import type { JobOnPool } from '../../shared/adapters/cosmos/pool-demand.js';
import { SlotwiseError } from '../../shared/core/errors.js';
import type { PoolBody, TaskBody } from '../../shared/model/batch-bodies.js';
import { poolOwnerOf } from '../../shared/model/batch-names.js';
import { parseTesTaskRequest } from '../../shared/model/tes-schema.js';
import { tryGetVmSize, type VmSize } from '../../shared/model/vm-sizes.js';
import {
  type PoolControllerDeps,
  type PoolControllerLimits,
  runPoolController,
} from '../../shared/pipeline/pool-controller.js';
import { laneJobId, laneRequest } from '../../shared/pipeline/tes-lanes.js';
import { DEFAULT_PRICES, priceFor } from '../../shared/planner/cost.js';
import type { PlanDefaults } from '../../shared/planner/plan-job.js';
import { planJob } from '../../shared/planner/plan-job.js';
import { placeTesTask } from '../../shared/planner/tes-placement.js';
import { createMemoryPoolStore, unusedJobStore, unusedQueues } from '../pools/memory-stores.js';
import type { TesBenchTask } from './workload.js';

export interface TesStrategyContext {
  readonly gateway: BatchGateway;
  readonly client: BatchClient;
  /** Simulated now, epoch ms. */
  readonly now: () => number;
  readonly defaults: PlanDefaults;
}

/** A pool a strategy created, with what one of its nodes is worth. */
export interface BenchPool {
  readonly id: string;
  readonly vmSize: string;
  readonly vCpus: number;
  readonly pricePerHour: number;
  /** Tasks placed on it. */
  tasks: number;
}

export interface Submitted {
  readonly batchJobId: string;
  /** Simulated epoch ms when the task reached the server. */
  readonly at: number;
  readonly task: TesBenchTask;
}

/** What the tasks would cost with every node busy all its life (the strategy's own placement). */
export interface Bound {
  nodeSeconds: number;
  vcpuSeconds: number;
  cost: number;
}

export interface TesStrategy {
  readonly label: string;
  readonly tenant: string;
  readonly pools: Map<string, BenchPool>;
  readonly batchJobs: Set<string>;
  readonly submitted: Map<string, Submitted>;
  readonly bound: Bound;
  /** Batch calls that added tasks. */
  addCalls: number;
  resizes: number;
  /** Tasks of the step (all arriving at `now`). */
  submit(tasks: readonly TesBenchTask[]): Promise<void>;
  /** Once per simulation step, after the clock moved. */
  tick(now: number): Promise<void>;
  /** True when every submitted task has completed. */
  done(): boolean;
  /** Lines worth printing after the run (warnings). */
  readonly notes: string[];
}

/** The TES task a workflow engine would send for a bench task (its run time as the command). */
export function tesRequestOf(task: TesBenchTask) {
  return {
    name: task.id,
    executors: [{ image: 'ubuntu:22.04', command: ['sleep', String(task.seconds)] }],
    resources: { cpu_cores: task.cpuCores, ram_gb: task.ramGb },
    tags: { step: String(task.step) },
  };
}

function priceOf(vmSize: string): number {
  const price = priceFor(vmSize);
  if (!price) throw new SlotwiseError('BenchNoPrice', `No price for ${vmSize} in shared/planner/cost.ts`);
  return price.perNodeHour;
}

function sizeOf(vmSize: string): VmSize {
  const size = tryGetVmSize(vmSize);
  if (!size) throw new SlotwiseError('BenchUnknownSize', `Unknown VM size ${vmSize}`);
  return size;
}

/** Plans a lane-like pool and Batch job: no tasks, a pool created empty, a job that stays open. */
function planLanePool(
  tenant: string,
  jobId: string,
  request: Parameters<typeof planJob>[0]['request'],
  defaults: PlanDefaults,
) {
  const outcome = planJob({ tenant, jobId, request, defaults, lane: true });
  if (!outcome.ok) throw new SlotwiseError('BenchPlanFailed', `${jobId}: ${outcome.errors[0]?.message}`);
  const { plan } = outcome;
  const owner = poolOwnerOf(plan.pool?.metadata);
  if (!plan.pool || !owner) throw new SlotwiseError('BenchPlanInvalid', 'A lane plans a managed pool');
  return { pool: plan.pool, batchJob: plan.batchJob, owner, summary: plan.summary };
}

async function countsOf(ctx: TesStrategyContext, batchJobId: string): Promise<BatchTaskCounts> {
  const counts = await ctx.gateway.getTaskCounts(batchJobId);
  if (!counts) throw new SlotwiseError('BenchJobMissing', `Batch job ${batchJobId} is gone`);
  return counts;
}

/** Read again this far behind the newest change seen, as the TES reconcile pass does. */
const WATERMARK_MARGIN_MS = 5000;

export function slotwiseStrategy(
  ctx: TesStrategyContext,
  options: {
    readonly defaultVmSize: string;
    readonly laneMaxNodes: number;
    readonly tenantMaxNodes: number;
    readonly limits: PoolControllerLimits;
    /**
     * Register the lane's pool again whenever tasks are added (so a pool the controller deleted as
     * idle is created again). Off = what the stages do today: the pool is registered once, when the
     * lane's Batch job is submitted.
     */
    readonly registerOnAdd: boolean;
  },
): TesStrategy {
  interface Lane {
    readonly jobId: string;
    readonly batchJobId: string;
    readonly pool: PoolBody;
    readonly owner: { tenant: string; spec: string };
    readonly maxNodes: number;
    /** Unfinished tasks (in Batch, not completed) → their requiredSlots. */
    readonly unfinished: Map<string, number>;
    counts?: BatchTaskCounts;
    watermark?: string;
  }
  const tenant = 'slotwise';
  const poolStore = createMemoryPoolStore();
  const lanes = new Map<string, Lane>();
  const completed = new Set<string>();
  const strategy: TesStrategy = {
    label: '(a) Slotwise: lanes, tasks packed by slots',
    tenant,
    pools: new Map(),
    batchJobs: new Set(),
    submitted: new Map(),
    bound: { nodeSeconds: 0, vcpuSeconds: 0, cost: 0 },
    addCalls: 0,
    resizes: 0,
    notes: [],
    submit: async (tasks) => {
      const now = ctx.now();
      const byLane = new Map<Lane, { body: TaskBody; task: TesBenchTask; slots: number }[]>();
      for (const task of tasks) {
        const parsed = parseTesTaskRequest(tesRequestOf(task));
        if (!parsed.ok)
          throw new SlotwiseError('BenchInvalidTes', `${task.id}: ${parsed.errors[0]?.message}`);
        const placed = placeTesTask(tenant, parsed.request, {
          defaultVmSize: options.defaultVmSize,
          maxNodes: options.laneMaxNodes,
          lowPriorityAvailable: false,
        });
        if (!placed.ok) throw new SlotwiseError('BenchUnplaced', `${task.id}: ${placed.errors[0]?.message}`);
        const p = placed.placement;
        let lane = lanes.get(p.laneKey);
        if (!lane) {
          // What the plan and submit stages do for a new lane: plan it, register and create its pool
          // empty, create its Batch job.
          const jobId = laneJobId(p.laneKey, 1);
          const planned = planLanePool(tenant, jobId, laneRequest(jobId, p), ctx.defaults);
          const body = { ...planned.pool, targetDedicatedNodes: 0, targetLowPriorityNodes: 0 };
          await poolStore.register(body, planned.owner, new Date(now));
          await ctx.gateway.createPool(body);
          await ctx.gateway.createJob(planned.batchJob);
          lane = {
            jobId,
            batchJobId: planned.batchJob.id,
            pool: body,
            owner: planned.owner,
            maxNodes: p.maxNodes,
            unfinished: new Map(),
          };
          lanes.set(p.laneKey, lane);
          strategy.batchJobs.add(lane.batchJobId);
          const size = sizeOf(p.vmSize);
          strategy.pools.set(body.id, {
            id: body.id,
            vmSize: size.name,
            vCpus: size.vCpus,
            pricePerHour: priceOf(size.name),
            tasks: 0,
          });
        }
        const pool = strategy.pools.get(lane.pool.id)!;
        pool.tasks++;
        const share = (p.requiredSlots / p.taskSlotsPerNode) * task.seconds;
        strategy.bound.nodeSeconds += share;
        strategy.bound.vcpuSeconds += share * pool.vCpus;
        strategy.bound.cost += (share / 3600) * pool.pricePerHour;
        const list = byLane.get(lane) ?? [];
        list.push({
          body: { id: task.id, commandLine: `sleep ${task.seconds}`, requiredSlots: p.requiredSlots },
          task,
          slots: p.requiredSlots,
        });
        byLane.set(lane, list);
      }
      for (const [lane, list] of byLane) {
        // The TES submitter: every waiting task of the key, in collections of at most 100.
        const outcome = await ctx.gateway.addTasks(
          lane.batchJobId,
          list.map((l) => l.body),
        );
        strategy.addCalls += Math.ceil(list.length / 100);
        if (outcome.failed.length > 0) {
          throw new SlotwiseError(
            'BenchTasksRefused',
            `Batch refused a task: ${outcome.failed[0]!.code}: ${outcome.failed[0]!.message}`,
          );
        }
        for (const l of list) {
          lane.unfinished.set(l.task.id, l.slots);
          strategy.submitted.set(l.task.id, { batchJobId: lane.batchJobId, at: now, task: l.task });
        }
        if (options.registerOnAdd) await poolStore.register(lane.pool, lane.owner, new Date(now));
        // recordDemand: the lane's plan is its unfinished tasks, and the controller is woken for its pool.
        await runPoolController(deps, 'bench', { tenant, poolId: lane.pool.id });
      }
    },
    tick: async () => {
      // The TES reconcile pass: each lane's changed tasks by listing, from its watermark.
      for (const lane of lanes.values()) {
        const since = lane.watermark
          ? new Date(Date.parse(lane.watermark) - WATERMARK_MARGIN_MS).toISOString()
          : undefined;
        let skipToken: string | undefined;
        do {
          const page = await ctx.gateway.listChangedTasks(lane.batchJobId, {
            ...(since ? { since } : {}),
            maxResults: 1000,
            ...(skipToken ? { skipToken } : {}),
          });
          if (!page) throw new SlotwiseError('BenchJobMissing', `Batch job ${lane.batchJobId} is gone`);
          for (const t of page.tasks) {
            if (!lane.watermark || t.stateTransitionTime > lane.watermark)
              lane.watermark = t.stateTransitionTime;
            if (t.state === 'completed' && lane.unfinished.delete(t.id)) completed.add(t.id);
          }
          skipToken = page.skipToken;
        } while (skipToken);
        lane.counts = await countsOf(ctx, lane.batchJobId);
      }
      await runPoolController(deps, 'bench');
      for (const lane of lanes.values()) {
        if (lane.unfinished.size > 0 && (await poolStore.get(lane.pool.id)) === undefined) {
          const note = `lane ${lane.jobId} (${lane.pool.vmSize}): tasks wait on pool ${lane.pool.id}, which the controller deleted as idle and nothing registers again`;
          if (!strategy.notes.includes(note)) strategy.notes.push(note);
        }
      }
    },
    done: () => completed.size >= strategy.submitted.size,
  };
  const demandOf = (lane: Lane): JobOnPool => {
    const histogram = new Map<number, number>();
    for (const slots of lane.unfinished.values()) histogram.set(slots, (histogram.get(slots) ?? 0) + 1);
    const c = lane.counts ?? { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
    const unfinished = lane.unfinished.size;
    return {
      jobId: lane.jobId,
      state: 'running',
      // recordDemand: tasks just added count as active until Batch's counts catch up.
      taskCounts: {
        active: Math.max(c.active, unfinished - c.running),
        running: c.running,
        succeeded: c.succeeded,
        failed: c.failed,
      },
      tasks: unfinished,
      slotHistogram: [...histogram.entries()].sort((a, b) => a[0] - b[0]),
      maxNodes: lane.maxNodes,
      batchJobId: lane.batchJobId,
    };
  };
  const deps: PoolControllerDeps = {
    pools: poolStore,
    demand: {
      listOnPool: async (t, poolId) =>
        t !== tenant ? [] : [...lanes.values()].filter((l) => l.pool.id === poolId).map(demandOf),
      listExistingPoolsInUse: async () => [],
    },
    jobs: unusedJobStore,
    tenants: {
      get: async (id) => ({
        id,
        createdAt: new Date(0).toISOString(),
        webhookSecret: 'whsec_YmVuY2g=',
        policy: { limits: { maxNodes: options.tenantMaxNodes } },
      }),
    },
    batch: {
      ...ctx.gateway,
      resizePool: async (poolId, target, owner) => {
        strategy.resizes++;
        return ctx.gateway.resizePool(poolId, target, owner);
      },
    },
    queues: unusedQueues,
    clock: { now: () => new Date(ctx.now()), monotonicMs: () => ctx.now() },
    ids: { uuid: randomUUID },
    limits: options.limits,
    log: (message) => {
      if (!strategy.notes.includes(message)) strategy.notes.push(message);
    },
  };
  return strategy;
}

/**
 * The size TES on Azure picks: the cheapest (price per hour) with enough vCPUs and memory; ties go
 * to the first in the price table. Disk is not modelled (the bench's tasks ask for none, and its
 * default 10 GB fits every size's OS disk or an added data disk).
 */
export function cheapestFit(cores: number, ramGb: number): VmSize {
  let best: { size: VmSize; price: number } | undefined;
  for (const [name, price] of Object.entries(DEFAULT_PRICES)) {
    const size = tryGetVmSize(name);
    if (!size || size.vCpus < cores || size.memoryGiB < ramGb) continue;
    if (!best || price < best.price) best = { size, price };
  }
  if (!best) throw new SlotwiseError('BenchNoSize', `No size has ${cores} vCPUs and ${ramGb} GiB`);
  return best.size;
}

interface Sample {
  readonly at: number;
  readonly pending: number;
}

/** Batch samples `$PendingTasks` every 30 s; a sample reaches formulas about a minute later. */
const SAMPLE_PERIOD_MS = 30_000;
const SAMPLE_DELAY_MS = 60_000;
const STARTUP_MS = 2 * 60_000;
const SPAN_MS = 90_000;
const RATIO_PERCENT = 10;
const INITIAL_TARGET = 1;

/**
 * TES on Azure's formula at `now`: undefined when it fails (too few samples in the span), which
 * leaves the pool's target as it was, as Batch does with a formula that errs.
 */
export function evaluateTesOnAzureFormula(
  samples: readonly Sample[],
  now: number,
  formulaSetAt: number,
): number | undefined {
  if (now - formulaSetAt <= STARTUP_MS) return INITIAL_TARGET;
  const window = samples.filter((s) => s.at <= now - SAMPLE_DELAY_MS && s.at > now - SPAN_MS);
  const percent = (100 * window.length) / (SPAN_MS / SAMPLE_PERIOD_MS);
  if (window.length === 0 || percent < RATIO_PERCENT) return undefined;
  return Math.max(0, Math.min(...window.map((s) => s.pending)));
}

export function tesOnAzureStrategy(
  ctx: TesStrategyContext,
  options: { intervalSeconds: number },
): TesStrategy {
  interface AutoPool {
    readonly pool: BenchPool;
    readonly batchJobId: string;
    readonly owner: { tenant: string; spec: string };
    readonly formulaSetAt: number;
    nextEvaluation: number;
    lastSample: number;
    samples: Sample[];
    /** The last evaluation's result, waiting for the pool to be steady. */
    due?: number;
  }
  const tenant = 'tesazure';
  const bySize = new Map<string, AutoPool>();
  const completedByJob = new Map<string, number>();
  const strategy: TesStrategy = {
    label: '(b) TES on Azure: one task per node, autoscale',
    tenant,
    pools: new Map(),
    batchJobs: new Set(),
    submitted: new Map(),
    bound: { nodeSeconds: 0, vcpuSeconds: 0, cost: 0 },
    addCalls: 0,
    resizes: 0,
    notes: [],
    submit: async (tasks) => {
      const now = ctx.now();
      for (const task of tasks) {
        const size = cheapestFit(task.cpuCores, task.ramGb);
        let auto = bySize.get(size.name);
        if (!auto) {
          const jobId = `tes-azure-${size.name.replace(/_/g, '-')}`;
          const planned = planLanePool(
            tenant,
            jobId,
            { id: jobId, pool: { vmSize: size.name, taskSlotsPerNode: 1 }, tasks: [], keepLogs: 'none' },
            ctx.defaults,
          );
          // Created with autoscale: the formula's first evaluation gives the initial target.
          await ctx.gateway.createPool({
            ...planned.pool,
            targetDedicatedNodes: INITIAL_TARGET,
            targetLowPriorityNodes: 0,
          });
          await ctx.gateway.createJob(planned.batchJob);
          const pool: BenchPool = {
            id: planned.pool.id,
            vmSize: size.name,
            vCpus: size.vCpus,
            pricePerHour: priceOf(size.name),
            tasks: 0,
          };
          auto = {
            pool,
            batchJobId: planned.batchJob.id,
            owner: planned.owner,
            formulaSetAt: now,
            nextEvaluation: now + options.intervalSeconds * 1000,
            lastSample: Number.NEGATIVE_INFINITY,
            samples: [],
          };
          bySize.set(size.name, auto);
          strategy.pools.set(pool.id, pool);
          strategy.batchJobs.add(auto.batchJobId);
        }
        auto.pool.tasks++;
        strategy.bound.nodeSeconds += task.seconds;
        strategy.bound.vcpuSeconds += task.seconds * size.vCpus;
        strategy.bound.cost += (task.seconds / 3600) * auto.pool.pricePerHour;
        // One AddTask per TES task (its scheduler handles tasks one at a time).
        await ctx.client.tasks.add(auto.batchJobId, { id: task.id, commandLine: `sleep ${task.seconds}` });
        strategy.addCalls++;
        strategy.submitted.set(task.id, { batchJobId: auto.batchJobId, at: now, task });
      }
    },
    tick: async (now) => {
      for (const p of bySize.values()) {
        const counts = await countsOf(ctx, p.batchJobId);
        completedByJob.set(p.batchJobId, counts.completed);
        if (now - p.lastSample >= SAMPLE_PERIOD_MS) {
          p.samples.push({ at: now, pending: counts.active + counts.running });
          p.lastSample = now;
          while (p.samples.length > 0 && p.samples[0]!.at < now - 10 * 60_000) p.samples.shift();
        }
        if (now >= p.nextEvaluation) {
          const target = evaluateTesOnAzureFormula(p.samples, now, p.formulaSetAt);
          if (target !== undefined) p.due = target;
          p.nextEvaluation += options.intervalSeconds * 1000;
        }
        if (p.due !== undefined) {
          const pool = await ctx.gateway.getPool(p.pool.id);
          // Batch applies a new target as a resize; one in progress is let finish first.
          if (pool && pool.allocationState === 'steady') {
            if (pool.targetDedicatedNodes !== p.due) {
              strategy.resizes++;
              await ctx.gateway.resizePool(p.pool.id, { dedicated: p.due, lowPriority: 0 }, p.owner);
            }
            delete p.due;
          }
        }
      }
    },
    done: () => {
      let completed = 0;
      for (const n of completedByJob.values()) completed += n;
      return completed >= strategy.submitted.size;
    },
  };
  return strategy;
}
