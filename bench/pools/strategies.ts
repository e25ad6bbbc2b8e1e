/**
 * The ways of sizing shared pools that the bench compares. Each runs as its own tenant in the same
 * emulator (so each has its own pools and Batch jobs) and acts only through the Batch REST API: what
 * a node costs, when it arrives and which task it runs are the emulator's.
 *
 * - `controller`: today's pool controller. Submitters register the pool and create it empty; the
 *   real `runPoolController` stage runs at once for that pool (the submitter's wake-up message) and on
 *   its timer, reading each job's task counts as reconcile stores them.
 * - `per-job`: the sizing before the controller. Each submitter created the pool at its own plan's
 *   size, or grew a steady pool to max(target, its plan); the sweep shrank a pool to zero once no
 *   job had been active on it for the idle TTL.
 * - `autoscale`: Batch's documented task-based sample formula (example 2 of "Create a formula to
 *   automatically scale compute nodes in a Batch pool"), evaluated by the bench the way Batch does.
 */
import { randomUUID } from 'node:crypto';
import type { BatchGateway, BatchTaskCounts } from '../../shared/adapters/batch/batch-gateway.js';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import type { JobOnPool } from '../../shared/adapters/cosmos/pool-demand.js';
import { mapWithConcurrency } from '../../shared/core/concurrency.js';
import { SlotwiseError } from '../../shared/core/errors.js';
import { poolOwnerOf } from '../../shared/model/batch-names.js';
import type { TaskCounts } from '../../shared/model/job.js';
import {
  type PoolControllerDeps,
  type PoolControllerLimits,
  runPoolController,
} from '../../shared/pipeline/pool-controller.js';
import type { JobPlan } from '../../shared/planner/plan-job.js';
import { createMemoryPoolStore, unusedJobStore, unusedQueues } from './memory-stores.js';
import type { BenchJob } from './workload.js';

export interface JobRecord {
  readonly job: BenchJob;
  readonly plan: JobPlan;
  /** Simulated epoch ms when the job reached Batch. */
  readonly submittedAt: number;
  counts?: BatchTaskCounts;
  doneAt?: number;
}

export interface Strategy {
  readonly label: string;
  readonly tenant: string;
  readonly records: Map<string, JobRecord>;
  /** Pool ids this strategy has created. */
  readonly pools: Set<string>;
  resizes: number;
  submit(record: JobRecord): Promise<void>;
  /** Called once per simulation step, after the clock moved. */
  tick(now: number, step: number): Promise<void>;
}

export interface StrategyContext {
  readonly gateway: BatchGateway;
  readonly client: BatchClient;
  /** Simulated now, epoch ms. */
  readonly now: () => number;
  readonly stepSeconds: number;
}

/** Reads the task counts of the strategy's unfinished jobs (what reconcile stores on the job documents). */
async function refreshCounts(strategy: Strategy, ctx: StrategyContext, now: number): Promise<void> {
  const open = [...strategy.records.values()].filter((r) => r.doneAt === undefined);
  await mapWithConcurrency(open, 8, async (r) => {
    const counts = await ctx.gateway.getTaskCounts(r.plan.batchJob.id);
    if (!counts) throw new SlotwiseError('BenchJobMissing', `Batch job ${r.plan.batchJob.id} is gone`);
    r.counts = counts;
    if (counts.completed >= r.job.tasks.length) r.doneAt = now;
  });
}

/** Creates the Batch job, adds every task, then lets Batch end the job when its tasks are done. */
async function addJob(ctx: StrategyContext, plan: JobPlan): Promise<void> {
  await ctx.gateway.createJob(plan.batchJob);
  const outcome = await ctx.gateway.addTasks(plan.batchJob.id, [...plan.chunks()].flat());
  if (outcome.failed.length > 0) {
    throw new SlotwiseError(
      'BenchTasksRefused',
      `Batch refused ${outcome.failed.length} tasks: ${outcome.failed[0]!.code}`,
    );
  }
  await ctx.gateway.terminateJobWhenTasksComplete(plan.batchJob.id);
}

function ownerOf(plan: JobPlan) {
  const owner = poolOwnerOf(plan.pool?.metadata);
  if (!plan.pool || !owner) throw new SlotwiseError('BenchPlanInvalid', 'The bench plans managed pools only');
  return { pool: plan.pool, owner };
}

function countingResizes(strategy: { resizes: number }, gateway: BatchGateway): BatchGateway {
  return {
    ...gateway,
    resizePool: async (poolId, target, owner) => {
      strategy.resizes++;
      return gateway.resizePool(poolId, target, owner);
    },
  };
}

export function controllerStrategy(
  ctx: StrategyContext,
  limits: PoolControllerLimits,
  options: {
    /** The tenant's node limit (policy `limits.maxNodes`). */
    tenantMaxNodes: number;
    warnings: string[];
    /**
     * Variant, not the shipped controller: a shrink never asks for fewer nodes than have tasks
     * running, so the pool stays steady (able to grow) instead of `resizing` until those tasks end.
     */
    label?: string;
    tenant?: string;
  },
): Strategy {
  const poolStore = createMemoryPoolStore();
  const strategy: Strategy = {
    label: options.label ?? '(a) slot-aware controller',
    tenant: options.tenant ?? 'ctl',
    records: new Map(),
    pools: new Set(),
    resizes: 0,
    submit: async (record) => {
      const { pool, owner } = ownerOf(record.plan);
      // As the submitter does now: the pool is created empty and the controller sizes it.
      const body = { ...pool, targetDedicatedNodes: 0, targetLowPriorityNodes: 0 };
      await poolStore.register(body, owner, new Date(ctx.now()));
      await ctx.gateway.createPool(body);
      strategy.pools.add(body.id);
      await addJob(ctx, record.plan);
      strategy.records.set(record.job.id, record);
      // The submitter's message wakes the controller for this pool at once.
      await runPoolController(deps, 'bench', { tenant: strategy.tenant, poolId: body.id });
    },
    tick: async (now) => {
      await refreshCounts(strategy, ctx, now);
      await runPoolController(deps, 'bench');
    },
  };
  const deps: PoolControllerDeps = {
    pools: poolStore,
    demand: {
      listOnPool: async (tenant, poolId) =>
        tenant !== strategy.tenant
          ? []
          : [...strategy.records.values()]
              .filter((r) => r.plan.poolId === poolId && r.doneAt === undefined)
              .map(
                (r): JobOnPool => ({
                  jobId: r.job.id,
                  state: r.counts && r.counts.running + r.counts.completed > 0 ? 'running' : 'submitted',
                  taskCounts: toTaskCounts(r.counts),
                  tasks: r.plan.summary.tasks,
                  slotHistogram: r.plan.summary.slotHistogram ?? [],
                  ...(r.plan.summary.maxNodes !== undefined ? { maxNodes: r.plan.summary.maxNodes } : {}),
                }),
              )
              .sort((a, b) => (a.jobId < b.jobId ? -1 : 1)),
      // The benchmark's jobs run on managed pools only.
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
    batch: countingResizes(strategy, ctx.gateway),
    queues: unusedQueues,
    clock: { now: () => new Date(ctx.now()), monotonicMs: () => ctx.now() },
    ids: { uuid: randomUUID },
    limits,
    // Kept and printed: the controller logs only what it could not do this pass.
    log: (message) => options.warnings.push(message),
  };
  return strategy;
}

function toTaskCounts(counts: BatchTaskCounts | undefined): TaskCounts {
  return counts
    ? { active: counts.active, running: counts.running, succeeded: counts.succeeded, failed: counts.failed }
    : { active: 0, running: 0, succeeded: 0, failed: 0 };
}

export function perJobStrategy(
  ctx: StrategyContext,
  options: { idleTtlSeconds: number; sweepSeconds: number },
): Strategy {
  const lastUsed = new Map<string, { at: number; shrunk: boolean }>();
  const strategy: Strategy = {
    label: '(b) per-job sizing (before)',
    tenant: 'perjob',
    records: new Map(),
    pools: new Set(),
    resizes: 0,
    submit: async (record) => {
      const { pool: body, owner } = ownerOf(record.plan);
      // The old pool store's touch replaced the document: a new use forgets an earlier shrink.
      lastUsed.set(body.id, { at: ctx.now(), shrunk: false });
      strategy.pools.add(body.id);
      const created = await ctx.gateway.createPool(body);
      if (created === 'exists') {
        const pool = await ctx.gateway.getPool(body.id);
        const want = body.targetDedicatedNodes;
        // Grown only when steady: a resize in progress is a 409 (the job then ran on what the pool had).
        if (pool && pool.allocationState === 'steady' && pool.targetDedicatedNodes < want) {
          strategy.resizes++;
          await ctx.gateway.resizePool(
            body.id,
            { dedicated: Math.max(pool.targetDedicatedNodes, want), lowPriority: 0 },
            owner,
          );
        }
      } else {
        strategy.resizes++;
      }
      await addJob(ctx, record.plan);
      strategy.records.set(record.job.id, record);
    },
    tick: async (now, step) => {
      if ((step * ctx.stepSeconds) % options.sweepSeconds !== 0) return;
      await refreshCounts(strategy, ctx, now);
      for (const [poolId, use] of lastUsed) {
        if (use.at >= now - options.idleTtlSeconds * 1000) continue;
        const active = [...strategy.records.values()].some(
          (r) => r.plan.poolId === poolId && r.doneAt === undefined,
        );
        if (active) {
          lastUsed.set(poolId, { at: now, shrunk: false });
        } else if (!use.shrunk) {
          const owner = ownerOf(
            [...strategy.records.values()].find((r) => r.plan.poolId === poolId)!.plan,
          ).owner;
          strategy.resizes++;
          await ctx.gateway.resizePool(poolId, { dedicated: 0, lowPriority: 0 }, owner);
          use.shrunk = true;
        }
        // The old sweep deleted the pool a second TTL later; an empty pool costs nothing, so that is left out.
      }
    },
  };
  return strategy;
}

interface Sample {
  readonly at: number;
  readonly pending: number;
}

/**
 * Batch's example 2, "task-based adjustment", as documented:
 *
 *   $samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15);
 *   $tasks = $samples < 70 ? max(0, $PendingTasks.GetSample(1))
 *                          : max($PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15)));
 *   $targetVMs = $tasks > 0 ? $tasks : max(0, $TargetDedicatedNodes / 2);
 *   $TargetDedicatedNodes = max(0, min($targetVMs, <cap>));
 *   $NodeDeallocationOption = taskcompletion;
 *
 * `$PendingTasks` is active + running tasks of the pool's jobs, sampled every 30 s; a sample reaches
 * formulas about a minute after it is taken. The result is truncated to whole nodes.
 */
export function evaluatePendingTasksFormula(
  samples: readonly Sample[],
  now: number,
  currentTarget: number,
  cap: number,
): number {
  const available = samples.filter((s) => s.at <= now - SAMPLE_DELAY_MS);
  const window = available.filter((s) => s.at > now - 15 * 60_000);
  const percent = (100 * window.length) / ((15 * 60_000) / SAMPLE_PERIOD_MS);
  const last = available.length > 0 ? available[available.length - 1]!.pending : 0;
  const average = window.length > 0 ? window.reduce((n, s) => n + s.pending, 0) / window.length : 0;
  const tasks = percent < 70 ? Math.max(0, last) : Math.max(last, average);
  const targetVMs = tasks > 0 ? tasks : Math.max(0, currentTarget / 2);
  return Math.floor(Math.max(0, Math.min(targetVMs, cap)));
}

const SAMPLE_PERIOD_MS = 30_000;
const SAMPLE_DELAY_MS = 60_000;

export function autoscaleStrategy(
  ctx: StrategyContext,
  options: { cap: number; intervalSeconds: number },
): Strategy {
  interface AutoPool {
    readonly id: string;
    readonly owner: { tenant: string; spec: string };
    nextEvaluation: number;
    lastSample: number;
    samples: Sample[];
    /** The last evaluation's result, waiting for the pool to be steady. */
    due?: number;
  }
  const autoPools = new Map<string, AutoPool>();
  const strategy: Strategy = {
    label: '(c) Batch autoscale formula',
    tenant: 'auto',
    records: new Map(),
    pools: new Set(),
    resizes: 0,
    submit: async (record) => {
      const { pool, owner } = ownerOf(record.plan);
      if (!autoPools.has(pool.id)) {
        // The pool is created once with autoscale and kept: the formula alone decides its size.
        await ctx.gateway.createPool({ ...pool, targetDedicatedNodes: 0, targetLowPriorityNodes: 0 });
        const now = ctx.now();
        // Batch evaluates a formula when it is enabled, then every interval.
        autoPools.set(pool.id, {
          id: pool.id,
          owner,
          nextEvaluation: now,
          lastSample: -Infinity,
          samples: [],
        });
        strategy.pools.add(pool.id);
      }
      await addJob(ctx, record.plan);
      strategy.records.set(record.job.id, record);
    },
    tick: async (now) => {
      await refreshCounts(strategy, ctx, now);
      for (const p of autoPools.values()) {
        if (now - p.lastSample >= SAMPLE_PERIOD_MS) {
          let pending = 0;
          for (const r of strategy.records.values()) {
            if (r.plan.poolId === p.id && r.doneAt === undefined && r.counts)
              pending += r.counts.active + r.counts.running;
          }
          p.samples.push({ at: now, pending });
          p.lastSample = now;
          // Keep what the formula can look back at.
          while (p.samples.length > 0 && p.samples[0]!.at < now - 20 * 60_000) p.samples.shift();
        }
        if (now >= p.nextEvaluation) {
          const pool = await ctx.gateway.getPool(p.id);
          p.due = evaluatePendingTasksFormula(p.samples, now, pool?.targetDedicatedNodes ?? 0, options.cap);
          p.nextEvaluation += options.intervalSeconds * 1000;
        }
        if (p.due !== undefined) {
          const pool = await ctx.gateway.getPool(p.id);
          // Batch applies a new target as a resize; one in progress is let finish first.
          if (pool && pool.allocationState === 'steady') {
            if (pool.targetDedicatedNodes !== p.due) {
              strategy.resizes++;
              await ctx.gateway.resizePool(p.id, { dedicated: p.due, lowPriority: 0 }, p.owner);
            }
            delete p.due;
          }
        }
      }
    },
  };
  return strategy;
}
