/**
 * The pool controller (timer `poolControllerTimer`, and queue `slotwise-pools` for one pool at once):
 * the only place that resizes or deletes managed pools.
 *
 * Per tenant, per pass:
 * 1. observe every managed pool of the tenant (Batch's pool, the jobs placed on it);
 * 2. want = the packing of the slots still waiting or running over all those jobs, each job bounded
 *    by its own `maxNodes`, the pool bounded by the pool maximum (`size-pool.ts`);
 * 3. share the tenant's node limit among its pools: the room no pool holds is handed out once among
 *    the growing pools, so the pools never hold or target more than the limit; when a pool waits for
 *    nodes others hold, those others shrink at once (no shrink delay) and its jobs say why they wait;
 * 4. per pool (the whole pass holds a lease on the tenant's pools: the node limit spans them, so two
 *    controllers must never size two of them from the same stale picture; idempotent): grow at
 *    once, shrink after demand stayed low (`taskcompletion`: only nodes with nothing running go),
 *    delete after the pool stayed empty past the idle TTL, and never while Batch is resizing;
 * 5. read `resizeErrors`: while Batch cannot allocate (quota, capacity, timeout), the jobs waiting on
 *    the pool carry a `waiting` reason and an event, and fail with it after the deadline unless the
 *    pool recovers — except for the account's core quota, which they wait for without a deadline.
 * A pool that disappeared while jobs still need it (deleted as idle a moment before a new job came,
 * or deleted outside Slotwise) is created again from its recorded body.
 * Each pass also looks for bad nodes (`bad-nodes.ts`): a managed pool loses one, an existing pool's
 * are only reported; either way the jobs on the pool get a history line and an event. On Spot pools
 * it counts preemptions on the jobs (`preemptions.ts`).
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway, PoolInfo } from '../adapters/batch/batch-gateway.js';
import type { Settings } from '../adapters/config/config.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { JobOnPool, PoolDemandReader } from '../adapters/cosmos/pool-demand.js';
import type { AllocationProblem, ManagedPoolDoc, PoolStore } from '../adapters/cosmos/pool-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { describeError } from '../core/errors.js';
import { isLowPriorityPool, isOwnPool, type PoolOwner } from '../model/batch-names.js';
import type { JobDoc } from '../model/job.js';
import { makeEvent, transition } from '../model/lifecycle.js';
import { judgeStartTask, type NodeHealth, START_TASK_FAILED_CODE } from '../model/node-health.js';
import { tenantPolicy } from '../model/tenant-policy.js';
import { DEFAULT_MAX_NODES } from '../planner/plan-job.js';
import {
  decidePoolAction,
  desiredNodes,
  type JobDemand,
  type NodeShare,
  type PoolAction,
  scaleHistogram,
  shareNodeLimit,
} from '../planner/size-pool.js';
import { announce } from './announce.js';
import { reportBadNodesOnExistingPools } from './bad-nodes.js';
import { inAccount } from './job-account.js';
import {
  DEFAULT_LEASE_MS,
  heartbeatEveryMs,
  keepLeaseAlive,
  type LeaseHeartbeat,
} from './lease-heartbeat.js';
import { nodeUpkeep } from './node-upkeep.js';

export interface PoolControllerDeps {
  readonly pools: PoolStore;
  readonly demand: PoolDemandReader;
  readonly jobs: JobStore;
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly batch: BatchGateway;
  /** Every account: each pool is controlled in its own (`account` on its record). */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly limits: PoolControllerLimits;
  readonly log?: (message: string) => void;
}

export interface PoolControllerLimits {
  /** Nodes one managed pool may have at most. */
  readonly poolMaxNodes: number;
  /** Demand must stay below the target this long before a pool shrinks. */
  readonly shrinkAfterMs: number;
  /** An empty pool is deleted after this long. */
  readonly idleTtlMs: number;
  /** Jobs waiting on a pool that cannot allocate fail after this long. */
  readonly allocationDeadlineMs: number;
  /** How long a controller's claim on a tenant's pools lasts without renewal (a heartbeat renews it). Default 30 s. */
  readonly leaseMs?: number;
}

export interface PoolControllerReport {
  pools: number;
  grown: number;
  shrunk: number;
  deleted: number;
  recreated: number;
  busy: number;
  waiting: number;
  failed: number;
  errors: number;
  /** Bad nodes removed from managed pools. */
  nodesRemoved: number;
  /** Jobs told of a bad node on an existing pool. */
  nodesReported: number;
  /** Tasks of jobs found put back in the queue by a node preemption. */
  preempted: number;
}

const ACTIVE_ON_POOL = new Set(['planned', 'submitting', 'submitted', 'running']);

/** What one job still needs on the pool: every task until Batch has counted any, then active + running. */
export function jobDemand(job: JobOnPool, poolMaxNodes: number): JobDemand {
  // Waiting for the account to take its Batch job: no node would run anything for it yet.
  if (job.waiting?.code === 'ActiveJobAndScheduleQuotaReached')
    return { remaining: [], maxNodes: Math.min(job.maxNodes ?? DEFAULT_MAX_NODES, poolMaxNodes) };
  const c = job.taskCounts;
  const counted = c.active + c.running + c.succeeded + c.failed;
  const notInBatchYet = job.state === 'planned' || job.state === 'submitting' || counted === 0;
  // Preempted low-priority tasks are back in `active`: they count as waiting.
  const waiting = notInBatchYet ? job.tasks : c.active + c.running;
  return {
    remaining: scaleHistogram(job.slotHistogram, waiting),
    maxNodes: Math.min(job.maxNodes ?? DEFAULT_MAX_NODES, poolMaxNodes),
  };
}

export async function runPoolController(
  deps: PoolControllerDeps,
  owner: string,
  scope: { tenant?: string; poolId?: string } = {},
): Promise<PoolControllerReport> {
  const report: PoolControllerReport = {
    pools: 0,
    grown: 0,
    shrunk: 0,
    deleted: 0,
    recreated: 0,
    busy: 0,
    waiting: 0,
    failed: 0,
    errors: 0,
    nodesRemoved: 0,
    nodesReported: 0,
    preempted: 0,
  };
  const docs = await deps.pools.list(scope.tenant ? { tenant: scope.tenant } : {});
  const tenants = [...new Set(docs.map((d) => d.tenant))];
  // Tenants side by side: one whose pools are in an account that hangs holds up no other tenant.
  await mapWithConcurrency(tenants, 4, async (tenant) => {
    try {
      await controlTenant(tenant, deps, owner, scope.poolId, report);
    } catch (e) {
      report.errors++;
      deps.log?.(`Pool control for tenant ${tenant} failed this pass: ${describeError(e)}`);
    }
  });
  // The timer's full pass only: a pass for one pool (a job just placed on it) has other work.
  if (!scope.tenant && !scope.poolId)
    report.nodesReported += await reportBadNodesOnExistingPools(deps).catch((e: unknown) => {
      report.errors++;
      deps.log?.(`Existing pools not checked for bad nodes this pass: ${describeError(e)}`);
      return 0;
    });
  return report;
}

interface Observed {
  readonly doc: ManagedPoolDoc;
  readonly pool: PoolInfo | undefined;
  readonly jobs: readonly JobOnPool[];
  readonly desired: number;
  /** Nodes running a task now (0 without nodes): never asked to go. */
  readonly busy: number;
  /** The pool's nodes with their states and task counts (the bad-node rule reads them). */
  readonly nodes: readonly NodeHealth[];
}

/** The tenant's node limit as one pass saw it: what waiting jobs are told, and who must yield. */
interface TenantLimitPicture {
  readonly maxNodes: number;
  /** Nodes the tenant's pools hold or are about to hold (before this pass's changes). */
  readonly held: number;
  /** Some pool cannot have its fair share because other pools hold the nodes. */
  readonly someoneWaits: boolean;
}

async function controlTenant(
  tenant: string,
  deps: PoolControllerDeps,
  owner: string,
  only: string | undefined,
  report: PoolControllerReport,
): Promise<void> {
  // Observe after claiming (the tenant's pools included): the picture the shares are computed
  // from is then the one acted on.
  const leaseMs = deps.limits.leaseMs ?? DEFAULT_LEASE_MS;
  if (!(await deps.pools.claimTenant(tenant, owner, deps.clock.now(), leaseMs))) {
    report.busy++;
    return;
  }
  // Short, renewed while the pass goes on: a controller that dies mid-pass holds the tenant's pools
  // for seconds, not minutes; one that lost its claim (a long pause) stops before its next resize.
  const heartbeat = keepLeaseAlive(
    () => deps.pools.renewTenant(tenant, owner, deps.clock.now(), leaseMs),
    heartbeatEveryMs(leaseMs),
    deps.log,
  );
  try {
    await controlClaimedTenant(tenant, await deps.pools.list({ tenant }), deps, only, heartbeat, report);
  } finally {
    await heartbeat.stop();
    if (!heartbeat.lost) await deps.pools.releaseTenant(tenant, owner).catch(() => undefined);
  }
}

async function controlClaimedTenant(
  tenant: string,
  pools: readonly ManagedPoolDoc[],
  deps: PoolControllerDeps,
  only: string | undefined,
  heartbeat: LeaseHeartbeat,
  report: PoolControllerReport,
): Promise<void> {
  const policy = tenantPolicy((await deps.tenants.get(tenant))?.policy);
  const observed: Observed[] = await mapWithConcurrency([...pools], 4, async (doc) => {
    const batch = inAccount(deps, doc.account).batch;
    const [pool, jobs] = await Promise.all([batch.getPool(doc.id), deps.demand.listOnPool(tenant, doc.id)]);
    const active = jobs.filter((j) => ACTIVE_ON_POOL.has(j.state));
    const slotsPerNode = doc.body.taskSlotsPerNode ?? 1;
    const demands = active.map((j) => jobDemand(j, deps.limits.poolMaxNodes));
    // Busy nodes bound what a pool may be asked to give up (only idle nodes go). One node list
    // gives them and what the bad-node rule reads.
    const nodes = pool && pool.currentNodes > 0 ? await batch.listNodeHealth(doc.id) : [];
    return {
      doc,
      pool,
      jobs: active,
      desired: desiredNodes(demands, slotsPerNode, deps.limits.poolMaxNodes),
      busy: nodes.filter((n) => n.state === 'running').length,
      nodes,
    };
  });
  // Every pool of the tenant is shared in one go, even when the pass acts on one pool only: the
  // limit spans them all, and the room is handed out once (`shareNodeLimit`).
  const claims = observed.map((o) => ({
    poolId: o.doc.id,
    desired: o.desired,
    target: targetOf(o.pool),
    current: o.pool?.currentNodes ?? 0,
    holding: Math.max(targetOf(o.pool), o.pool?.currentNodes ?? 0),
    busy: o.busy,
  }));
  const shares = shareNodeLimit(claims, policy.limits.maxNodes);
  const picture: TenantLimitPicture = {
    maxNodes: policy.limits.maxNodes,
    held: claims.reduce((n, c) => n + c.holding, 0),
    someoneWaits: [...shares.values()].some((s) => s.short > 0),
  };
  for (const o of observed) {
    if (only && o.doc.id.toLowerCase() !== only.toLowerCase()) continue;
    // Another controller holds the tenant now and sizes from its own picture: leave it to it.
    if (heartbeat.lost) {
      report.busy++;
      return;
    }
    report.pools++;
    try {
      const share = shares.get(o.doc.id) ?? { nodes: 0, fair: 0, short: 0 };
      await controlPool(o, share, picture, inAccount(deps, o.doc.account), report);
    } catch (e) {
      report.errors++;
      deps.log?.(`Pool ${o.doc.id} left as is this pass: ${describeError(e)}`);
    }
  }
}

function targetOf(pool: PoolInfo | undefined): number {
  return pool ? pool.targetDedicatedNodes + pool.targetLowPriorityNodes : 0;
}

async function controlPool(
  o: Observed,
  share: NodeShare,
  picture: TenantLimitPicture,
  deps: PoolControllerDeps,
  report: PoolControllerReport,
): Promise<void> {
  // What the pool should come to: its share, but for a pool above its fair share the fair share
  // itself, not the busy nodes it keeps meanwhile. The shrink delay runs from when it wanted fewer, and
  // a shrink is cut to the nodes busy at that moment (below), so each node goes once it is idle.
  const wanted = Math.min(share.nodes, share.fair);
  const now = deps.clock.now();
  const doc = o.doc;
  const poolOwner: PoolOwner = { tenant: doc.tenant, spec: doc.spec };
  const pool = o.pool;

  if (!pool) {
    if (o.desired > 0) {
      // Gone while jobs still need it: create it again (empty; the next pass sizes it).
      await deps.batch.createPool(doc.body);
      report.recreated++;
    } else {
      await deps.pools.removeIfUnused(doc.id, doc.lastUsedAt);
    }
    return;
  }
  if (!isOwnPool(pool.metadata, poolOwner)) {
    deps.log?.(`Pool ${pool.id} does not carry this owner's metadata; it is left alone`);
    return;
  }

  const health = await nodeUpkeep(
    { doc, pool, nodes: o.nodes, jobs: o.jobs, spot: isLowPriority(doc) },
    deps,
  );
  report.preempted += health.preempted;
  const startTask = wanted > 0 ? judgeStartTask(o.nodes, doc.startTaskProblem, now) : undefined;
  if (health.removed > 0) {
    // The pool is resizing now: sizing waits for the next pass, which grows it back if demand remains.
    report.nodesRemoved += health.removed;
    await deps.pools.update(doc.id, (current) => {
      const next: ManagedPoolDoc = { ...current, nodeBaselines: health.baselines };
      if (startTask) next.startTaskProblem = startTask;
      else delete next.startTaskProblem;
      return next;
    });
    return;
  }

  const target = targetOf(pool);
  const lowPriority = isLowPriority(doc);
  const empty = wanted === 0 && target === 0 && pool.currentNodes === 0;
  let action: PoolAction = decidePoolAction(
    {
      state: pool.state,
      allocationState: pool.allocationState,
      target,
      ...(doc.belowSince ? { belowSince: doc.belowSince } : {}),
      ...(doc.emptySince ? { emptySince: doc.emptySince } : {}),
    },
    wanted,
    now,
    {
      // Idle nodes another pool of the tenant is waiting for go at once: the shrink delay is there
      // to keep nodes for this pool's next tasks, not to keep them from the tenant's other jobs.
      shrinkAfterMs: picture.someoneWaits ? 0 : deps.limits.shrinkAfterMs,
      deleteAfterMs: deps.limits.idleTtlMs,
    },
  );

  // Allocation trouble: Batch reports why the last resize fell short. While Batch is still resizing
  // the previous verdict stands (the errors are cleared at the start of every resize).
  let problem: AllocationProblem | undefined = doc.allocationProblem;
  if (pool.allocationState === 'steady') {
    const error = pool.resizeErrors[0];
    problem =
      error && pool.currentNodes < target
        ? {
            code: error.code,
            message: error.message,
            since: doc.allocationProblem?.since ?? now.toISOString(),
          }
        : undefined;
    // Ask again for what is missing: capacity or quota may have come back.
    if (problem && action.kind === 'none' && wanted >= target && wanted > 0)
      action = { kind: 'grow', to: wanted };
  }

  if (action.kind === 'shrink') {
    // Never ask for fewer nodes than are running tasks: Batch would keep the pool resizing until
    // those tasks end, and a resizing pool cannot grow for the next job. Shrink to the busy nodes
    // now (only idle ones go) and again as more become idle.
    const busy = await deps.batch.countBusyNodes(pool.id);
    const to = Math.max(action.to, busy);
    action =
      to < target ? { kind: 'shrink', to } : { kind: 'none', reason: 'every node above the target is busy' };
  }
  if (action.kind === 'grow' || action.kind === 'shrink') {
    const to = action.to;
    await deps.batch.resizePool(
      pool.id,
      lowPriority ? { dedicated: 0, lowPriority: to } : { dedicated: to, lowPriority: 0 },
      poolOwner,
    );
    if (action.kind === 'grow') report.grown++;
    else report.shrunk++;
  } else if (action.kind === 'delete') {
    await deps.batch.deletePool(pool.id, poolOwner);
    // A job that registered on the pool meanwhile keeps the record: the next pass recreates the pool.
    await deps.pools.removeIfUnused(doc.id, doc.lastUsedAt);
    report.deleted++;
    return;
  }

  const applied = action.kind === 'grow' || action.kind === 'shrink' ? action.to : target;
  await deps.pools.update(doc.id, (current) => {
    const next: ManagedPoolDoc = { ...current, target: applied };
    if (wanted < applied) next.belowSince = current.belowSince ?? now.toISOString();
    else delete next.belowSince;
    if (empty) next.emptySince = current.emptySince ?? now.toISOString();
    else delete next.emptySince;
    if (problem) next.allocationProblem = problem;
    else delete next.allocationProblem;
    if (startTask) next.startTaskProblem = startTask;
    else delete next.startTaskProblem;
    if (Object.keys(health.baselines).length > 0) next.nodeBaselines = health.baselines;
    else delete next.nodeBaselines;
    return next;
  });

  // Nodes that never pass the start task hold the jobs as an allocation failure does.
  const waitsOn: AllocationProblem | undefined =
    problem ??
    (startTask
      ? {
          code: START_TASK_FAILED_CODE,
          message: `No node of the pool has passed its start task: it failed on node ${startTask.nodeId} (its output is in the node's startup folder, stdout.txt and stderr.txt). Nodes that fail it are replaced.`,
          since: startTask.since,
        }
      : undefined);
  await updateWaitingJobs(o, waitsOn, deps, report);
  await updateNodeLimitWaits(o, share, picture, problem !== undefined, deps, report);
}

/** The `waiting` code of a job whose pool waits for nodes the tenant's other pools still hold. */
export const TENANT_NODE_LIMIT_CODE = 'TenantNodeLimit';

/**
 * Jobs on a pool held short by the tenant's node limit, with nothing running yet, say so (once, with
 * an event; the numbers are kept current); the reason goes when the pool has its share or the job
 * runs. A wait for allocation (with its deadline) or for room in the account takes precedence.
 */
async function updateNodeLimitWaits(
  o: Observed,
  share: NodeShare,
  picture: TenantLimitPicture,
  allocationProblem: boolean,
  deps: PoolControllerDeps,
  report: PoolControllerReport,
): Promise<void> {
  const now = deps.clock.now();
  const iso = now.toISOString();
  const message =
    `tenant node limit: the tenant's pools hold ${picture.held} of the ${picture.maxNodes} nodes its ` +
    `limit maxNodes allows; this job's pool may have ${share.nodes} of the ${share.fair} nodes it needs ` +
    "now and grows as idle nodes of the tenant's other pools are released.";
  for (const job of o.jobs) {
    const waits =
      !allocationProblem &&
      share.short > 0 &&
      job.taskCounts.running === 0 &&
      jobDemand(job, deps.limits.poolMaxNodes).remaining.length > 0;
    const ours = job.waiting?.code === TENANT_NODE_LIMIT_CODE;
    if (!waits) {
      if (!ours) continue;
      await deps.jobs.update(o.doc.tenant, job.jobId, (current) => {
        if (current.waiting?.code !== TENANT_NODE_LIMIT_CODE) return undefined;
        const { waiting: _over, ...rest } = current;
        return { ...rest, updatedAt: iso };
      });
      continue;
    }
    if (job.waiting && !ours) continue;
    if (ours && job.waiting?.message === message) continue;
    let announced = false;
    const marked = await deps.jobs.update(o.doc.tenant, job.jobId, (current) => {
      announced = false;
      if (current.endedAt) return undefined;
      if (current.waiting && current.waiting.code !== TENANT_NODE_LIMIT_CODE) return undefined;
      if (current.waiting?.message === message) return undefined;
      const next: JobDoc = {
        ...current,
        waiting: { code: TENANT_NODE_LIMIT_CODE, message, since: current.waiting?.since ?? iso },
      };
      if (current.waiting) return next;
      // A new wait: an event (the numbers changing within one wait are not news).
      next.updatedAt = iso;
      next.events = [
        ...current.events,
        { ...makeEvent(next, current.state, iso, deps.ids.uuid()), type: 'slotwise.job.waiting' },
      ];
      announced = true;
      return next;
    });
    if (marked?.changed && announced) {
      report.waiting++;
      await announce(marked.job, deps.queues);
    }
  }
}

function isLowPriority(doc: ManagedPoolDoc): boolean {
  return isLowPriorityPool(doc.body);
}

/**
 * Batch's resize errors that say the account's core quota is used up. The quota is the account's,
 * shared by every tenant, and cores come back as other pools shrink: jobs wait for them (the
 * controller asks again every pass) and never fail for it, as for the account's other quotas.
 */
export const ACCOUNT_CORE_QUOTA_CODES: ReadonlySet<string> = new Set([
  'AccountCoreQuotaReached',
  'AccountLowPriorityCoreQuotaReached',
  'AccountSpotCoreQuotaReached',
]);

/** A wait the controller set and clears: nodes it cannot allocate (with a deadline, or for cores). */
function isAllocationWait(waiting: JobOnPool['waiting']): boolean {
  return (
    waiting !== undefined && (waiting.failAt !== undefined || ACCOUNT_CORE_QUOTA_CODES.has(waiting.code))
  );
}

/**
 * Jobs with tasks waiting on a pool that cannot allocate get the reason (once, with an event) and
 * fail with it at the deadline — unless the account's core quota is what is missing: then they wait
 * with the reason and no deadline. When the pool recovers the reason is cleared.
 */
async function updateWaitingJobs(
  o: Observed,
  problem: AllocationProblem | undefined,
  deps: PoolControllerDeps,
  report: PoolControllerReport,
): Promise<void> {
  const now = deps.clock.now();
  for (const job of o.jobs) {
    // Affected: tasks waiting and none running. A job running on the nodes it got is slower, not stuck.
    const waitsForNodes =
      job.taskCounts.running === 0 && jobDemand(job, deps.limits.poolMaxNodes).remaining.length > 0;
    if (!problem || !waitsForNodes) {
      // Only its own waits (nodes): a wait for room in the account is the submitter's.
      if (isAllocationWait(job.waiting)) {
        await deps.jobs.update(o.doc.tenant, job.jobId, (current) => {
          if (!isAllocationWait(current.waiting)) return undefined;
          const { waiting: _cleared, ...rest } = current;
          return { ...rest, updatedAt: now.toISOString() };
        });
      }
      continue;
    }
    const waitsForCores = ACCOUNT_CORE_QUOTA_CODES.has(problem.code);
    const failAt = new Date(Date.parse(problem.since) + deps.limits.allocationDeadlineMs);
    if (!waitsForCores && now.getTime() >= failAt.getTime()) {
      const failed = await deps.jobs.update(o.doc.tenant, job.jobId, (current) =>
        current.state === 'submitted' || current.state === 'running' || current.state === 'submitting'
          ? transition(current, 'failed', now, deps.ids.uuid(), {
              failure: {
                code: problem.code,
                message:
                  problem.code === START_TASK_FAILED_CODE
                    ? `No node of the pool passed its start task for ${Math.round(deps.limits.allocationDeadlineMs / 60_000)} minutes: ${problem.message}`
                    : `The pool could not allocate nodes for ${Math.round(deps.limits.allocationDeadlineMs / 60_000)} minutes: ${problem.message}`,
              },
            })
          : undefined,
      );
      if (failed?.changed) {
        report.failed++;
        const batchJobId = failed.job.batch?.jobId;
        if (batchJobId) {
          await deps.batch
            .terminateJob(batchJobId, 'Pool could not allocate nodes', {
              tenant: failed.job.tenant,
              jobId: failed.job.jobId,
            })
            .catch(() => undefined);
        }
        await announce(failed.job, deps.queues);
      }
      continue;
    }
    if (job.waiting?.code === problem.code) continue;
    const marked = await deps.jobs.update(o.doc.tenant, job.jobId, (current) => {
      if (current.endedAt || current.waiting?.code === problem.code) return undefined;
      const waiting = waitsForCores
        ? {
            code: problem.code,
            message: `Waiting for cores under the Batch account's core quota, which all tenants share; the pool grows as cores are released. ${problem.message}`,
            since: problem.since,
          }
        : {
            code: problem.code,
            message: problem.message,
            since: problem.since,
            failAt: failAt.toISOString(),
          };
      const next: JobDoc = { ...current, waiting, updatedAt: now.toISOString() };
      next.events = [
        ...current.events,
        {
          ...makeEvent(next, current.state, now.toISOString(), deps.ids.uuid()),
          type: 'slotwise.job.waiting',
        },
      ];
      return next;
    });
    if (marked?.changed) {
      report.waiting++;
      await announce(marked.job, deps.queues);
    }
  }
}

/** The controller's dependencies from the app's, with its limits read from the settings. */
export function poolControllerDeps(
  deps: Omit<PoolControllerDeps, 'limits' | 'log'> & {
    readonly settings: Pick<
      Settings,
      | 'SLOTWISE_POOL_MAX_NODES'
      | 'SLOTWISE_POOL_SHRINK_AFTER_SECONDS'
      | 'SLOTWISE_POOL_IDLE_TTL_SECONDS'
      | 'SLOTWISE_ALLOCATION_DEADLINE_SECONDS'
    >;
  },
  log?: (message: string) => void,
): PoolControllerDeps {
  const s = deps.settings;
  return {
    ...deps,
    limits: {
      poolMaxNodes: s.SLOTWISE_POOL_MAX_NODES,
      shrinkAfterMs: s.SLOTWISE_POOL_SHRINK_AFTER_SECONDS * 1000,
      idleTtlMs: s.SLOTWISE_POOL_IDLE_TTL_SECONDS * 1000,
      allocationDeadlineMs: s.SLOTWISE_ALLOCATION_DEADLINE_SECONDS * 1000,
    },
    ...(log ? { log } : {}),
  };
}
