/**
 * TES submitter (queue `slotwise-tes`, one message per tenant and lane key): adds the key's TES tasks
 * that are not in Batch yet to the key's lane, in task collections of at most 100 (Batch's limit per
 * add-collection call), so a burst of `POST /tasks` becomes a few bulk adds, not one call per task.
 *
 * At-least-once and idempotent: tasks are added under their TES id, and a task Batch already holds
 * (`TaskExists`, after a crash or a duplicate message) counts as added; the document then records its
 * lane once (ETag-guarded). Two invocations for one key may overlap and add the same tasks: that costs
 * a `TaskExists`, never a duplicate. Within one instance, one invocation works a key at a time.
 * A task cancelled while it was being added is terminated in Batch right after.
 */
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import { BatchError } from '../adapters/batch/batch-error.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { Settings } from '../adapters/config/config.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { PoolStore } from '../adapters/cosmos/pool-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import type { TesTaskStore } from '../adapters/cosmos/tes-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { describeError } from '../core/errors.js';
import { redactSas } from '../core/redact-sas.js';
import type { TaskBody } from '../model/batch-bodies.js';
import { poolOwnerOf } from '../model/batch-names.js';
import type { TesTaskDoc } from '../model/tes-task.js';
import { MAX_CHUNK_BYTES } from '../planner/plan-job.js';
import { RESULTS_URL_GROWTH, resultsReferenceCount } from '../planner/task-body.js';
import { tesTaskBody } from '../planner/tes-task-body.js';
import { inAccount } from './job-account.js';
import { type ResultsSas, resolveResultsStore } from './results-sas.js';
import { type LaneState, openLane } from './tes-lanes.js';

export interface TesSubmitDeps {
  readonly tesTasks: TesTaskStore;
  readonly jobs: JobStore;
  /** The tenant's TES file systems, which its lanes mount (tes-lanes.ts). */
  readonly tenants: Pick<TenantStore, 'get'>;
  /** Where the lane's pool is registered again for the pool controller (see registerLanePool). */
  readonly pools: Pick<PoolStore, 'register'>;
  readonly queues: QueueGateway;
  readonly batch: BatchGateway;
  /** Every account: a lane's calls go to its own. */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly resultsSas?: ResultsSas;
  readonly settings: Partial<Pick<Settings, 'SLOTWISE_RESULTS_SAS_HOURS'>>;
  /** Output and input URLs on the local stack's Azurite (http://127.0.0.1) are allowed. */
  readonly allowLoopbackHttp: boolean;
  readonly log?: (message: string) => void;
}

export interface TesSubmitReport {
  added: number;
  existed: number;
  failed: number;
  /** The lane is being opened: the message comes back later. */
  waiting: boolean;
}

/** Batch's limit on tasks per add-collection call. */
const TASKS_PER_CALL = 100;
/** Tasks read per round; a round adds them in calls of 100. */
const ROUND = 1000;
/** How long one invocation keeps adding before it hands on to a new message. */
const SLICE_MS = 60_000;

/** Task documents written at once after an add (one write each: the lane they are in). */
const RECORD_CONCURRENCY = 16;

const inFlight = new Map<string, Promise<TesSubmitReport>>();

/** Adds the waiting tasks of one lane key; concurrent calls for a key in this instance share one run. */
export function runTesSubmit(
  message: { readonly tenant: string; readonly laneKey: string },
  deps: TesSubmitDeps,
): Promise<TesSubmitReport> {
  const key = `${message.tenant}\n${message.laneKey}`;
  const running = inFlight.get(key);
  if (running) return running;
  const run = submitKey(message.tenant, message.laneKey, deps).finally(() => inFlight.delete(key));
  inFlight.set(key, run);
  return run;
}

async function submitKey(tenant: string, laneKey: string, deps: TesSubmitDeps): Promise<TesSubmitReport> {
  const report: TesSubmitReport = { added: 0, existed: 0, failed: 0, waiting: false };
  const started = deps.clock.monotonicMs();
  for (;;) {
    const waiting = await deps.tesTasks.listUnsubmitted(tenant, laneKey, ROUND);
    if (waiting.length === 0) return report;
    const lane = await openLane(tenant, waiting[0]!.placement, deps);
    if (lane.kind === 'rejected') {
      for (const task of waiting)
        await endTask(task, `The task's pool could not be planned: ${lane.reason}`, deps);
      report.failed += waiting.length;
      continue;
    }
    if (lane.kind === 'opening') {
      // Planned and submitted within seconds, or waiting for room (its reason is on the lane).
      report.waiting = true;
      await deps.queues.send(
        queueNames.tes,
        { tenant, laneKey },
        { delaySeconds: lane.lane.waiting ? 30 : 2 },
      );
      return report;
    }
    await registerLanePool(lane, deps);
    const added = await addRound(waiting, lane, inAccount(deps, lane.lane.batch?.account), report);
    if (!added) return report;
    await recordDemand(tenant, lane, deps);
    if (deps.clock.monotonicMs() - started > SLICE_MS) {
      await deps.queues.send(queueNames.tes, { tenant, laneKey });
      return report;
    }
  }
}

/**
 * The lane's pool, registered with the pool controller again as tasks arrive (as every submission of
 * a job registers its pool): a lane outlives its pool, which the controller deletes after the idle
 * TTL, record and all; registered again, the controller creates it again from this body for the
 * demand the new tasks bring. Created empty: the controller is the only one that sizes it.
 */
async function registerLanePool(
  lane: Extract<LaneState, { kind: 'ready' }>,
  deps: Pick<TesSubmitDeps, 'pools' | 'clock'>,
): Promise<void> {
  const body = lane.lane.batchBodies?.pool;
  const owner = body ? poolOwnerOf(body.metadata) : undefined;
  if (!body || !owner || owner.tenant !== lane.lane.tenant) return;
  await deps.pools.register(
    { ...body, targetDedicatedNodes: 0, targetLowPriorityNodes: 0 },
    owner,
    deps.clock.now(),
    lane.lane.batch?.account,
  );
}

/**
 * Bodies cut into add-collection calls: at most 100 tasks, and under the planner's byte budget for a
 * call once the results-store placeholders are resolved (a TES task with many inputs is large).
 */
function* calls<T extends { body: TaskBody }>(bodies: readonly T[]): Generator<T[]> {
  let call: T[] = [];
  let bytes = 0;
  for (const b of bodies) {
    const size = JSON.stringify(b.body).length + resultsReferenceCount(b.body) * RESULTS_URL_GROWTH;
    if (call.length > 0 && (call.length === TASKS_PER_CALL || bytes + size > MAX_CHUNK_BYTES)) {
      yield call;
      call = [];
      bytes = 0;
    }
    call.push(b);
    bytes += size;
  }
  if (call.length > 0) yield call;
}

/** One round of tasks into the lane's Batch job; false when the lane went away under it. */
async function addRound(
  tasks: readonly TesTaskDoc[],
  lane: Extract<LaneState, { kind: 'ready' }>,
  deps: TesSubmitDeps,
  report: TesSubmitReport,
): Promise<boolean> {
  const bodies: { task: TesTaskDoc; body: TaskBody }[] = [];
  for (const task of tasks) {
    const built = tesTaskBody(task, {
      allowLoopbackHttp: deps.allowLoopbackHttp,
      fileSystems: lane.fileSystems,
    });
    if (built.ok) bodies.push({ task, body: built.body });
    else {
      await endTask(task, built.reason, deps);
      report.failed++;
    }
  }
  for (const slice of calls(bodies)) {
    // SAS for the results store (content inputs, logs, report) go in at the last moment, never stored.
    const resolved = await resolveResultsStore(
      slice.map((b) => b.body),
      { tenant: lane.lane.tenant },
      {},
      deps,
    );
    let outcome: Awaited<ReturnType<BatchGateway['addTasks']>>;
    try {
      outcome = await deps.batch.addTasks(lane.batchJobId, resolved);
    } catch (e) {
      if (e instanceof BatchError && (e.code === 'JobNotFound' || e.code === 'JobCompleted')) {
        // The lane's Batch job ended under us: the reconcile pass ends the lane; these tasks go to the next.
        deps.log?.(`TES lane ${lane.lane.jobId}: ${e.code}; its tasks wait for the next lane`);
        await deps.queues.send(
          queueNames.tes,
          { tenant: lane.lane.tenant, laneKey: lane.lane.lane!.key },
          { delaySeconds: 10 },
        );
        return false;
      }
      throw e;
    }
    const refused = new Map(outcome.failed.map((f) => [f.taskId, f]));
    report.added += outcome.added;
    report.existed += outcome.existed;
    await mapWithConcurrency(slice, RECORD_CONCURRENCY, async ({ task }) => {
      const failure = refused.get(task.id);
      if (failure) {
        report.failed++;
        await endTask(task, `Batch refused the task: ${failure.code}: ${redactSas(failure.message)}`, deps);
      } else await recordLane(task, lane, deps);
    });
  }
  return true;
}

async function recordLane(
  task: TesTaskDoc,
  lane: Extract<LaneState, { kind: 'ready' }>,
  deps: TesSubmitDeps,
): Promise<void> {
  const now = deps.clock.now().toISOString();
  const result = await deps.tesTasks.update(
    task.tenant,
    task.id,
    (current) =>
      current.lane
        ? undefined
        : {
            ...current,
            lane: {
              jobId: lane.lane.jobId,
              batchJobId: lane.batchJobId,
              poolId: lane.poolId,
              ...(lane.lane.batch?.account ? { account: lane.lane.batch.account } : {}),
              submittedAt: now,
            },
            updatedAt: now,
          },
    task,
  );
  // Cancelled while being added: stop it in Batch now (the reconcile pass sees it end).
  if (result?.doc.cancelRequestedAt) await deps.batch.terminateTask(lane.batchJobId, task.id);
}

/** Ends a task that never reached Batch with SYSTEM_ERROR and the reason in its system logs. */
export async function endTask(
  task: TesTaskDoc,
  reason: string,
  deps: Pick<TesSubmitDeps, 'tesTasks' | 'clock'>,
) {
  const now = deps.clock.now().toISOString();
  await deps.tesTasks.update(task.tenant, task.id, (current) =>
    current.endedAt
      ? undefined
      : {
          ...current,
          state: current.cancelRequestedAt ? 'CANCELED' : 'SYSTEM_ERROR',
          systemLogs: [...current.systemLogs, reason],
          endedAt: now,
          updatedAt: now,
        },
  );
}

/**
 * The lane's plan = its unfinished tasks, what the pool controller sizes the pool by; the new tasks
 * count as active at once (the reconcile pass replaces the counts with Batch's), so the controller,
 * woken here, grows the pool without waiting for the next pass.
 */
export async function recordDemand(
  tenant: string,
  lane: {
    readonly lane: { readonly jobId: string; readonly lane?: { readonly key: string } };
    readonly poolId: string;
  },
  deps: Pick<TesSubmitDeps, 'tesTasks' | 'jobs' | 'queues' | 'clock' | 'log'>,
): Promise<void> {
  const key = lane.lane.lane?.key;
  if (!key) return;
  const demand = await deps.tesTasks.laneDemand(tenant, key);
  const result = await deps.jobs.update(tenant, lane.lane.jobId, (current) => {
    if (!current.plan || current.endedAt) return undefined;
    const c = current.taskCounts;
    const inBatch = c.active + c.running;
    const same =
      current.plan.tasks === demand.tasks &&
      JSON.stringify(current.plan.slotHistogram ?? []) === JSON.stringify(demand.slotHistogram) &&
      inBatch >= demand.tasks;
    if (same) return undefined;
    return {
      ...current,
      plan: {
        ...current.plan,
        tasks: demand.tasks,
        totalSlots: demand.slotHistogram.reduce((a, [s, n]) => a + s * n, 0),
        slotHistogram: demand.slotHistogram,
      },
      taskCounts: { ...c, active: Math.max(c.active, demand.tasks - c.running) },
      updatedAt: deps.clock.now().toISOString(),
    };
  });
  if (result?.changed) {
    await deps.queues.send(queueNames.pools, { tenant, poolId: lane.poolId }).catch((e: unknown) => {
      deps.log?.(`TES lane ${lane.lane.jobId}: waking the pool controller failed: ${describeError(e)}`);
    });
  }
}
