/**
 * Reconciliation: Batch is the source of truth for jobs it runs; Cosmos follows it.
 *
 * Per pass and per active job (`submitted` or `running` only, so the cost grows with active jobs, not
 * with history or tasks): one task-counts call. The Batch job itself is read only when the counts show
 * nothing left to run, or on a rotating one-in-N pass (to notice terminations such as maxWallClockTime,
 * which leave tasks active). The task list is read once, when a job ends with failures, for detail.
 * Writes happen only when something changed, through the store's ETag-guarded update, so two
 * reconcilers racing never lose an update: the loser re-reads and re-applies the same decision.
 *
 * Jobs with a preparation task (`batch.jobPreparation`) also get one paged read of its status per
 * node per pass (preparation.ts): counts and failed nodes on the job, a waiting reason while a failed
 * preparation holds tasks back, and a failure when no node of the pool can run them.
 *
 * Reads are cheap: a pass lists jobs projected (`WorkItem`: state, counts, Batch refs, plan size;
 * never the stored request, which can approach 1 MB) and decides on that. The full document is read
 * only where it is needed: by the ETag-guarded update when something changed, and once when Batch
 * says the job has ended (the request's exit conditions decide which failures are tolerated).
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway, BatchJobInfo, BatchTaskCounts } from '../adapters/batch/batch-gateway.js';
import type { JobStore, WorkItem } from '../adapters/cosmos/job-store.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import { inJobSpan } from '../adapters/telemetry/spans.js';
import type { Clock, Ids } from '../core/clock.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { describeError } from '../core/errors.js';
import { batchJobIdFor } from '../model/batch-names.js';
import { usesJobActions } from '../model/exit-conditions.js';
import type { JobDoc, JobFailure, JobState, TaskCounts } from '../model/job.js';
import { transition } from '../model/lifecycle.js';
import { toCallerTaskId } from '../model/task-ids.js';
import { announce } from './announce.js';
import { type FairShare, takeFairly } from './fair-order.js';
import { inAccount } from './job-account.js';
import { finalPreparationStatus, reconcilePreparation, withFinalPreparation } from './preparation.js';
import { type JobEndReading, readJobEnd } from './read-job-end.js';
import { deleteSupersededAttempts } from './superseded-attempts.js';
import { reportTaskEvents } from './task-events.js';

export interface ReconcileDeps {
  readonly jobs: JobStore;
  readonly batch: BatchGateway;
  /** Every account: a job is reconciled against its own (`batch.account`). */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
  /** Read the Batch job on one pass in this many even when counts show work left. Default 5. */
  readonly jobStateEvery?: number;
  /** Failed tasks named on a failed job. Default 20. */
  readonly failedTaskDetail?: number;
}

export type Observation =
  | { readonly kind: 'missing' }
  | {
      readonly kind: 'seen';
      readonly counts: BatchTaskCounts;
      readonly job?: BatchJobInfo;
      /**
       * Counted from the task list once Batch says the job has ended: task counts may lag, so they
       * never decide the final state.
       */
      readonly exact?: {
        readonly failed: number;
        readonly unfinished: number;
        readonly total?: number;
        /** Failed tasks whose exit conditions say `jobAction: none`: they do not fail the job. */
        readonly tolerated?: number;
      };
      /** Read with `exact`: efficiency and the tolerated failures, stored when the job ends. */
      readonly end?: JobEndReading;
    };

/** What the job should become given what Batch shows: a pure decision, tested on its own. */
export type Decision =
  | { readonly kind: 'none' }
  | { readonly kind: 'counts'; readonly taskCounts: TaskCounts }
  | {
      readonly kind: 'move';
      readonly to: JobState;
      readonly taskCounts: TaskCounts;
      readonly failure?: JobFailure;
    };

/**
 * What `decide` reads of a job. `request` matters only once Batch says the job ended (exit options
 * that terminate it on purpose); reconcile reads the full document for that case.
 */
export type DecisionSubject = Pick<JobDoc, 'state' | 'taskCounts'> & {
  readonly request?: JobDoc['request'];
  readonly lane?: JobDoc['lane'];
};

export function decide(job: DecisionSubject, seen: Observation): Decision {
  if (seen.kind === 'missing') {
    return {
      kind: 'move',
      to: 'failed',
      taskCounts: job.taskCounts,
      failure: { code: 'BatchJobDeleted', message: 'The Batch job was deleted outside Slotwise' },
    };
  }
  const c = seen.counts;
  const taskCounts: TaskCounts = {
    active: c.active,
    running: c.running,
    succeeded: c.succeeded,
    failed: c.failed,
  };
  if (seen.job?.state === 'completed') {
    // A TES lane's tasks fail and succeed on their own (each TES task carries its state): the lane
    // itself ends well when it was closed.
    if (job.lane) return { kind: 'move', to: 'completed', taskCounts };
    const reason = seen.job.terminateReason;
    if (seen.exact) {
      const total = seen.exact.total ?? c.active + c.running + c.completed;
      taskCounts.failed = seen.exact.failed;
      taskCounts.active = seen.exact.unfinished;
      taskCounts.running = 0;
      taskCounts.succeeded = Math.max(0, total - seen.exact.failed - seen.exact.unfinished);
    }
    // Failures the tasks' exit conditions tolerate (jobAction none) do not fail the job.
    const untolerated = taskCounts.failed - (seen.exact?.tolerated ?? 0);
    if (untolerated > 0) {
      return {
        kind: 'move',
        to: 'failed',
        taskCounts,
        failure: { code: 'TaskFailed', message: `${untolerated} task(s) failed` },
      };
    }
    // An exit option's `terminate` ended the Batch job with no untolerated failure: on purpose.
    const stoppedByExitOption = reason === 'TaskFailed' && !!job.request && usesJobActions(job.request);
    if (!stoppedByExitOption && (taskCounts.active > 0 || (reason && reason !== 'AllTasksComplete'))) {
      return {
        kind: 'move',
        to: 'failed',
        taskCounts,
        failure: {
          code: reason ?? 'JobTerminated',
          message: `The Batch job ended (${reason ?? 'terminated'}) with ${taskCounts.active} task(s) never run`,
        },
      };
    }
    return { kind: 'move', to: 'completed', taskCounts };
  }
  if (job.state === 'submitted' && c.running + c.completed > 0)
    return { kind: 'move', to: 'running', taskCounts };
  if (!sameCounts(job.taskCounts, taskCounts)) return { kind: 'counts', taskCounts };
  return { kind: 'none' };
}

function sameCounts(a: TaskCounts, b: TaskCounts): boolean {
  return (
    a.active === b.active && a.running === b.running && a.succeeded === b.succeeded && a.failed === b.failed
  );
}

/**
 * One job: observe Batch, decide, write if anything changed. Returns the decision taken. `job` may be
 * the pass's projection; the full document is read only when needed (see the module comment).
 */
export async function reconcileJob(
  job: JobDoc | WorkItem,
  passDeps: ReconcileDeps,
  pass = 0,
): Promise<Decision['kind']> {
  const deps = inAccount(passDeps, job.batch?.account);
  const batchJobId = job.batch?.jobId;
  if (!batchJobId || (job.state !== 'submitted' && job.state !== 'running')) return 'none';
  const seen = await observe(job, batchJobId, deps, pass);
  if (!seen) return 'none';
  const { observation, subject } = seen;
  // Task events (jobs that asked for them) go out before the state change this pass may make, so a
  // receiver hears of the last tasks before `completed` or `failed`. A failed read waits for the next pass.
  if (job.taskEvents && observation.kind === 'seen') {
    const final = observation.job?.state === 'completed';
    await reportTaskEvents(job, batchJobId, observation.counts, deps, final).catch(() => 0);
  }
  const first = decide(subject, observation);
  // The preparation is followed while the job runs on (its end is Batch's to tell, above).
  if (first.kind !== 'move' && observation.kind === 'seen' && job.batch?.jobPreparation) {
    // A failed read of the status must not hold back the counts: the next pass reads it again.
    const prep = await reconcilePreparation(job, batchJobId, observation.counts, deps).catch(
      () => 'none' as const,
    );
    if (prep === 'failed') return 'move';
    if (first.kind === 'none') return prep === 'changed' ? 'counts' : 'none';
  }
  if (first.kind === 'none') return 'none';
  // A job can end between two passes: its preparation's last status is read with the end.
  const finalPreparation =
    first.kind === 'move' && job.batch?.jobPreparation
      ? await finalPreparationStatus(batchJobId, deps)
      : undefined;
  let failure = first.kind === 'move' ? first.failure : undefined;
  if (first.kind === 'move' && failure?.code === 'TaskFailed') {
    failure = {
      ...failure,
      // Batch knows a fan-in sweep's tasks by index; the job shows the caller's ids.
      failedTasks: (await deps.batch.listFailedTasks(batchJobId, deps.failedTaskDetail ?? 20)).map((t) =>
        'request' in subject && subject.request
          ? { ...t, taskId: toCallerTaskId(subject.request, t.taskId) }
          : t,
      ),
    };
  }
  const result = await deps.jobs.update(job.tenant, job.jobId, (current) => {
    // Re-decide on the fresh document: another reconciler may have written first.
    const decision = decide(current, observation);
    if (current.state !== 'submitted' && current.state !== 'running') return undefined;
    if (decision.kind === 'none') return undefined;
    if (decision.kind === 'counts') {
      return { ...current, taskCounts: decision.taskCounts, updatedAt: deps.clock.now().toISOString() };
    }
    let next = current;
    // submitted → completed passes through running so subscribers see every state.
    if (current.state === 'submitted' && decision.to !== 'running' && decision.to !== 'cancelled') {
      next = transition(next, 'running', deps.clock.now(), deps.ids.uuid(), {
        taskCounts: decision.taskCounts,
      });
    }
    // Prefer the failure read with task detail when the fresh decision is the same failure.
    const chosen = decision.failure && failure?.code === decision.failure.code ? failure : decision.failure;
    const moved = withFinalPreparation(
      transition(next, decision.to, deps.clock.now(), deps.ids.uuid(), {
        taskCounts: decision.taskCounts,
        ...(chosen ? { failure: chosen } : {}),
      }),
      finalPreparation,
    );
    const end = observation.kind === 'seen' ? observation.end : undefined;
    if (!end || !moved.endedAt) return moved;
    return {
      ...moved,
      efficiency: end.efficiency,
      ...(end.tolerated > 0
        ? { toleratedFailures: { count: end.tolerated, tasks: end.toleratedTasks } }
        : {}),
    };
  });
  if (result?.changed) {
    await announce(result.job, deps.queues);
    // An earlier attempt still ending when its resubmission went in has ended by now.
    if (result.job.endedAt) await deleteSupersededAttempts(result.job, deps);
  }
  return result?.changed ? first.kind : 'none';
}

/** What Batch shows, and the job to decide on (the full document once the Batch job has ended). */
async function observe(
  job: JobDoc | WorkItem,
  batchJobId: string,
  deps: ReconcileDeps,
  pass: number,
): Promise<{ observation: Observation; subject: DecisionSubject } | undefined> {
  const seen = (observation: Observation) => ({ observation, subject: job });
  const counts = await deps.batch.getTaskCounts(batchJobId);
  if (!counts) return seen({ kind: 'missing' });
  // Every task is in Batch once the job is `submitted`, so nothing active or running means drained.
  const drained = counts.active === 0 && counts.running === 0;
  const every = deps.jobStateEvery ?? 5;
  if (!drained && (pass + hashOf(job.id)) % every !== 0) return seen({ kind: 'seen', counts });
  const batchJob = await deps.batch.getJob(batchJobId);
  if (!batchJob) return seen({ kind: 'missing' });
  if (batchJob.state !== 'completed') return seen({ kind: 'seen', counts, job: batchJob });
  // The job has ended (once per job): its exit conditions are in the request, so read it in full.
  const full = 'request' in job ? job : await deps.jobs.get(job.tenant, job.jobId);
  if (!full) return undefined;
  // Count from the task list (paged, ids only), not from the lagging counts, and read the completed
  // tasks once for efficiency and tolerated failures.
  const [failed, unfinished, end] = await Promise.all([
    deps.batch.countTasks(batchJobId, "executionInfo/result eq 'failure'"),
    deps.batch.countTasks(batchJobId, "state ne 'completed'"),
    readJobEnd(full, batchJobId, deps),
  ]);
  // The first attempt holds every planned task; a retry attempt only its own, known from the counts.
  const total = batchJobId === batchJobIdFor(full.tenant, full.jobId) ? full.plan?.tasks : undefined;
  return {
    observation: {
      kind: 'seen',
      counts,
      job: batchJob,
      exact: { failed, unfinished, tolerated: end.tolerated, ...(total !== undefined ? { total } : {}) },
      end,
    },
    subject: full,
  };
}

function hashOf(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

export interface ReconcilePassReport {
  jobs: number;
  changed: number;
  errors: number;
  /** Every job looked at in this pass, in the order taken, with the decision applied. */
  reconciled: { tenant: string; jobId: string; decision: Decision['kind'] | 'error' }[];
}

/**
 * The timer's pass over active jobs, with bounded concurrency. One failure does not stop the rest.
 * Each pass takes a fair share of every tenant's active jobs (default 100 each, 1,000 in all),
 * round-robin, with a cursor so a tenant with more jobs than its share is covered over a few passes.
 */
export async function reconcileActiveJobs(
  deps: ReconcileDeps & { concurrency?: number; share?: FairShare; log?: (message: string) => void },
  pass: number,
): Promise<ReconcilePassReport> {
  const active = await takeFairly(
    deps.jobs,
    'reconcile',
    { states: ['submitted', 'running'] },
    deps.share ?? { perTenant: 100, total: 1000 },
  );
  let changed = 0;
  let errors = 0;
  const reconciled = active.map((job) => ({
    tenant: job.tenant,
    jobId: job.jobId,
    decision: 'none' as Decision['kind'] | 'error',
  }));
  // Started in the interleaved order, so with a slow Batch every tenant's first job goes out first.
  await mapWithConcurrency(active, deps.concurrency ?? 8, async (job, i) => {
    try {
      const decision = await inJobSpan(job, 'reconcile', () => reconcileJob(job, deps, pass));
      reconciled[i]!.decision = decision;
      if (decision !== 'none') changed++;
    } catch (e) {
      errors++;
      reconciled[i]!.decision = 'error';
      deps.log?.(`Reconcile of ${job.tenant}/${job.jobId} failed: ${describeError(e)}`);
    }
  });
  return { jobs: active.length, changed, errors, reconciled };
}
