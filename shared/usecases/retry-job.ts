/**
 * Retry: run the failed tasks again, in the background.
 *
 * `requestRetry` (POST /api/jobs/{id}/retry) answers from the job document and the tenant's limits:
 * 404 for no such job, 409 when its state has nothing to retry, 409 past `maxRetriesPerJob` (a cap
 * that never frees), 429 past the submission rate and 409 + Retry-After when the job would pass
 * `maxActiveJobs` / `maxTasksInFlight` — a retried job runs again, so it takes a submission token and
 * reserves room in the usage ledger as admission does, and over a limit nothing is stored. Else it
 * records a retry request (a request id, its number and the attempt number) on the document and
 * queues it. Asking again while one is queued returns that one (no token, no reservation).
 *
 * `runRetryStage` (queue `slotwise-retry`) does the work, bounded per invocation and resumable:
 * - while the Batch job is active, the failed tasks are reactivated in one pass over Batch's list of
 *   failed tasks, a page (`reactivationsPerStep`) per invocation, with the list's continuation stored
 *   on the request: each task failed when the pass reached it is reactivated once, tasks that fail
 *   again are behind the continuation (a second request retries them), and the pass ends with the list;
 * - once it has completed (Slotwise sets `onAllTasksComplete: terminatejob`, so a failed job's has),
 *   Batch refuses to reactivate, so the retry becomes a new attempt: a fresh Batch job
 *   `batchJobIdFor(tenant, job, attempt)` on the same pool holding every task that did not succeed
 *   (failed, and those never run because a dependency failed), written as new chunks for the ordinary
 *   submitter. The current attempt's chunks are read page by page, `chunksPerStep` per invocation, the
 *   new chunks written in groups; progress (source chunk reached, chunks written) is stored on the
 *   document, so a redelivered or continued message resumes and rewrites the same chunks.
 * Dependencies on tasks that succeeded are dropped (they are satisfied).
 * Exactly once in effect: the stage works only on the request its message names, under a lease, and
 * a finished request is never redone, so a redelivered message creates no second attempt.
 * Never touches a Batch job whose metadata is not this job's.
 */

import { z } from 'zod';
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import { BatchError } from '../adapters/batch/batch-error.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { Settings } from '../adapters/config/config.js';
import type { ChunkStore } from '../adapters/cosmos/chunk-store.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import { retryReservation, type UsageStore } from '../adapters/cosmos/usage-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { describeError, SlotwiseError } from '../core/errors.js';
import type { TaskBody } from '../model/batch-bodies.js';
import { batchJobIdFor, isOwnJob } from '../model/batch-names.js';
import { type ChunkRange, type JobDoc, jobDocId, type RetryRequest, zeroTaskCounts } from '../model/job.js';
import { transition } from '../model/lifecycle.js';
import { tenantPolicy } from '../model/tenant-policy.js';
import { announce } from '../pipeline/announce.js';
import { inAccount } from '../pipeline/job-account.js';
import { DEFAULT_LEASE_MS, heartbeatEveryMs, keepLeaseAlive } from '../pipeline/lease-heartbeat.js';
import { MAX_TASKS_PER_CHUNK } from '../planner/plan-job.js';
import { takeSubmissionToken, taskCount } from './accept-job.js';

export interface RetryDeps {
  readonly jobs: JobStore;
  readonly chunks: ChunkStore;
  readonly batch: BatchGateway;
  /** Every account: a job is retried in its own (`batch.account`). */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
}

/** What asking for a retry needs besides the stage's dependencies: the tenant's limits and ledger. */
export interface RetryRequestDeps extends RetryDeps {
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly usage: UsageStore;
  readonly settings?: Pick<Settings, 'SLOTWISE_QUOTA_RETRY_SECONDS'>;
}

export type RetryRequestResult =
  | { readonly kind: 'queued'; readonly job: JobDoc; readonly retry: RetryRequest }
  | { readonly kind: 'nothingToRetry'; readonly job: JobDoc; readonly reason: string }
  | { readonly kind: 'notFound' }
  /** Over a limit that frees with time (HTTP 429 for the rate, 409 for a quota, with Retry-After). */
  | {
      readonly kind: 'limited';
      readonly limit: 'submissionsPerSecond' | 'maxActiveJobs' | 'maxTasksInFlight';
      readonly status: 429 | 409;
      readonly retryAfterSeconds: number;
      readonly detail: string;
    }
  /** The job has had all the retries it may (HTTP 409; waiting does not help). */
  | { readonly kind: 'overLimit'; readonly limit: 'maxRetriesPerJob'; readonly detail: string };

/** As admission's quota answer: ask again after this long by default. */
const DEFAULT_QUOTA_RETRY_SECONDS = 30;

export interface RetryMessage {
  readonly tenant: string;
  readonly jobId: string;
  readonly requestId: string;
}

const messageSchema = z.strictObject({
  tenant: z.string().min(1).max(64),
  jobId: z.string().min(1).max(64),
  requestId: z.string().min(1).max(100),
});

/** Throws a non-retryable error: a malformed message ends in the poison queue. */
export function parseRetryMessage(message: unknown): RetryMessage {
  const parsed = messageSchema.safeParse(message);
  if (!parsed.success)
    throw new SlotwiseError(
      'InvalidRetryMessage',
      `Malformed retry message: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** Why the document alone shows there is nothing to retry, or undefined. */
function nothingToRetry(job: JobDoc): string | undefined {
  // A lane's tasks are TES tasks: a TES client submits a failed one again itself.
  if (job.lane) return 'a TES lane is not retried: TES clients submit failed tasks again';
  if ((job.state !== 'failed' && job.state !== 'running') || !job.batch || !job.batchBodies)
    return `a ${job.state} job has no failed tasks to retry`;
  // Counts as last reconciled: a task that failed since shows up within a reconcile interval.
  if (job.state === 'running' && job.taskCounts.failed === 0) return 'no task has failed';
  return undefined;
}

const inProgress = (retry: RetryRequest | undefined): retry is RetryRequest =>
  retry?.status === 'queued' || retry?.status === 'working';

/** The chunks holding the current attempt's tasks. */
function currentChunks(job: JobDoc): ChunkRange {
  const last = job.retry;
  if (last?.status === 'done' && last.mode === 'resubmitted' && last.output) return last.output;
  if (last) return last.source;
  return { from: 0, to: job.plan?.chunks ?? job.submission?.chunksTotal ?? 0 };
}

/** The number the next retry request of the job gets: one that found nothing keeps its number free. */
function nextRetryNumber(last: RetryRequest | undefined): number {
  if (!last) return 1;
  const number = last.number ?? 1;
  return last.status === 'nothing' ? number : number + 1;
}

/**
 * Room the retried job takes in the ledger, and what for. A running job keeps the reservation its
 * admission made (same task count, same request hash: reserved already unless the ledger lost it); a
 * failed job runs again with the tasks that did not succeed (as last counted), under a reservation of
 * its own (`retry:<request id>`), since its admission's has been or may be pruned.
 */
function retryReservationFor(job: JobDoc, requestId: string): { tasks: number; for: string } {
  const total = job.request ? taskCount(job.request) : (job.plan?.tasks ?? 1);
  if (job.state === 'running') return { tasks: total, for: job.requestHash };
  const c = job.taskCounts;
  const left = c.failed + c.active + c.running;
  return { tasks: Math.max(1, Math.min(total, left > 0 ? left : total)), for: retryReservation(requestId) };
}

export async function requestRetry(
  tenant: string,
  jobId: string,
  deps: RetryRequestDeps,
): Promise<RetryRequestResult> {
  const found = await deps.jobs.get(tenant, jobId);
  if (!found) return { kind: 'notFound' };
  const requestId = deps.ids.uuid();
  // Asking while a request is queued or working answers that one: nothing is checked or taken.
  const admitted = !inProgress(found.retry);
  if (admitted) {
    const reason = nothingToRetry(found);
    if (reason) return { kind: 'nothingToRetry', job: found, reason };
    const refused = await admitRetry(found, requestId, deps);
    if (refused) return refused;
  }
  const number = nextRetryNumber(found.retry);
  const result = await deps.jobs.update(tenant, jobId, (current) => {
    if (inProgress(current.retry) || nothingToRetry(current) || !admitted) return undefined;
    // Another request may have come and gone in between: this one was admitted as `number` only.
    if (nextRetryNumber(current.retry) !== number) return undefined;
    return {
      ...current,
      retry: {
        requestId,
        number,
        attempt: Math.max(1, current.history.filter((h) => h.state === 'submitting' && !h.note).length),
        requestedAt: deps.clock.now().toISOString(),
        status: 'queued',
        tasks: 0,
        source: currentChunks(current),
      },
    };
  });
  if (!result) return { kind: 'notFound' };
  const retry = result.job.retry;
  if (!inProgress(retry)) {
    return {
      kind: 'nothingToRetry',
      job: result.job,
      reason: nothingToRetry(result.job) ?? 'the job changed meanwhile',
    };
  }
  // Sent again when the request was already queued: heals a lost message, and the stage works on a
  // request once whatever number of messages name it.
  await deps.queues.send(queueNames.retry, { tenant, jobId: result.job.jobId, requestId: retry.requestId });
  return { kind: 'queued', job: result.job, retry };
}

/**
 * The tenant's limits for a new retry request, in admission's order: the cap per job, the submission
 * rate, then room in the ledger (reserved before the request is written, so over a limit nothing is).
 * Undefined when the retry may go ahead.
 */
async function admitRetry(
  job: JobDoc,
  requestId: string,
  deps: RetryRequestDeps,
): Promise<RetryRequestResult | undefined> {
  const limits = tenantPolicy((await deps.tenants.get(job.tenant))?.policy).limits;
  const number = nextRetryNumber(job.retry);
  if (number > limits.maxRetriesPerJob) {
    return {
      kind: 'overLimit',
      limit: 'maxRetriesPerJob',
      detail: `Job '${job.jobId}' has been retried ${number - 1} times; this tenant's limit maxRetriesPerJob is ${limits.maxRetriesPerJob}.`,
    };
  }
  const limited = await takeSubmissionToken(job.tenant, limits, 'jobs or retries', deps);
  if (limited) return limited;
  const room = retryReservationFor(job, requestId);
  const reserved = await deps.usage.reserve(
    job.tenant,
    { key: jobDocId(job.jobId), ...room },
    { maxActiveJobs: limits.maxActiveJobs, maxTasksInFlight: limits.maxTasksInFlight },
    deps.clock.now(),
  );
  if (reserved.ok) return undefined;
  return {
    kind: 'limited',
    limit: reserved.limit,
    status: 409,
    retryAfterSeconds: deps.settings?.SLOTWISE_QUOTA_RETRY_SECONDS ?? DEFAULT_QUOTA_RETRY_SECONDS,
    detail:
      reserved.limit === 'maxActiveJobs'
        ? `This tenant has ${reserved.usage.activeJobs} active jobs, its limit maxActiveJobs is ${limits.maxActiveJobs}; the retried job would be one more.`
        : `This tenant has ${reserved.usage.tasksInFlight} tasks in flight; retrying ${room.tasks} more would pass its limit maxTasksInFlight (${limits.maxTasksInFlight}).`,
  };
}

export interface RetryStageDeps extends RetryDeps {
  /** How long a claim on the request lasts without renewal (a heartbeat renews it). Default 30 s. */
  readonly leaseMs?: number;
  /** Source chunks read per invocation when resubmitting. Default 200 (20,000 tasks). */
  readonly chunksPerStep?: number;
  /** Tasks reactivated per invocation. Default 500. */
  readonly reactivationsPerStep?: number;
}

export type RetryStageResult =
  | 'reactivated'
  | 'resubmitted'
  | 'nothing'
  | 'continued'
  | 'busy'
  | 'skipped'
  | 'missing';

export async function runRetryStage(
  message: RetryMessage,
  owner: string,
  stageDeps: RetryStageDeps,
): Promise<RetryStageResult> {
  let deps = stageDeps;
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const claim = await deps.jobs.update(message.tenant, message.jobId, (current) => {
    const retry = current.retry;
    if (!inProgress(retry) || retry.requestId !== message.requestId) return undefined;
    const now = deps.clock.now().getTime();
    if (retry.lease && retry.lease.owner !== owner && Date.parse(retry.lease.until) > now) return undefined;
    return {
      ...current,
      retry: { ...retry, status: 'working', lease: { owner, until: new Date(now + leaseMs).toISOString() } },
    };
  });
  if (!claim) return 'missing';
  if (!claim.changed) {
    const retry = claim.job.retry;
    return inProgress(retry) && retry.requestId === message.requestId ? 'busy' : 'skipped';
  }
  const job = claim.job;
  deps = inAccount(stageDeps, job.batch?.account);
  // Short lease, renewed while the step goes on: a dead retrier's request is taken over in seconds.
  const heartbeat = keepLeaseAlive(async () => {
    let held = true;
    await deps.jobs.update(job.tenant, job.jobId, (current) => {
      held = true;
      const retry = current.retry;
      if (!inProgress(retry) || retry.requestId !== message.requestId) return undefined;
      if (retry.lease?.owner !== owner) {
        held = false;
        return undefined;
      }
      const until = new Date(deps.clock.now().getTime() + leaseMs).toISOString();
      return { ...current, retry: { ...retry, lease: { owner, until } } };
    });
    return held;
  }, heartbeatEveryMs(leaseMs));
  try {
    const reason = job.state === 'failed' || job.state === 'running' ? undefined : nothingToRetry(job);
    if (reason || !job.batch)
      return await finishNothing(job, owner, reason ?? 'the job has no Batch job', deps);
    const batchJob = await deps.batch.getJob(job.batch.jobId);
    if (batchJob && !isOwnJob(batchJob.metadata, { tenant: job.tenant, jobId: job.jobId })) {
      return await finishNothing(job, owner, `Batch job '${job.batch.jobId}' is not this job's`, deps);
    }
    if (batchJob?.state === 'active') return await reactivateStep(job, message, owner, deps);
    if (job.state !== 'failed') return await finishNothing(job, owner, 'the job is still running', deps);
    return await resubmitStep(job, message, owner, batchJob !== undefined, deps);
  } catch (e) {
    // Let the lease go so the host's redelivery (or a repeated request) can carry on at once.
    await updateOwned(job, owner, deps, (current, retry) => {
      const { lease: _released, ...rest } = retry;
      return { ...current, retry: { ...rest, reason: describeError(e).slice(0, 300) } };
    }).catch(() => undefined);
    throw e;
  } finally {
    await heartbeat.stop();
  }
}

/** Applies `mutate` only while this owner holds the job's current retry request. */
function updateOwned(
  job: JobDoc,
  owner: string,
  deps: RetryDeps,
  mutate: (current: JobDoc, retry: RetryRequest) => JobDoc | undefined,
) {
  return deps.jobs.update(job.tenant, job.jobId, (current) => {
    const retry = current.retry;
    if (!inProgress(retry) || retry.requestId !== job.retry?.requestId || retry.lease?.owner !== owner)
      return undefined;
    return mutate(current, retry);
  });
}

function finished(retry: RetryRequest, at: Date, change: Partial<RetryRequest>): RetryRequest {
  const { lease: _released, ...rest } = retry;
  return { ...rest, ...change, finishedAt: at.toISOString() };
}

async function finishNothing(
  job: JobDoc,
  owner: string,
  reason: string,
  deps: RetryDeps,
): Promise<RetryStageResult> {
  const at = deps.clock.now();
  await updateOwned(job, owner, deps, (current, retry) => ({
    ...current,
    retry: finished(retry, at, { status: 'nothing', reason }),
  }));
  return 'nothing';
}

/** Hands the rest to a fresh message (bounded work per invocation). */
async function continueLater(
  message: RetryMessage,
  job: JobDoc,
  owner: string,
  deps: RetryDeps,
  progress: Partial<RetryRequest>,
): Promise<RetryStageResult> {
  const saved = await updateOwned(job, owner, deps, (current, retry) => {
    const { lease: _released, ...rest } = retry;
    return { ...current, retry: { ...rest, ...progress } };
  });
  if (!saved?.changed) return 'skipped';
  await deps.queues.send(queueNames.retry, message);
  return 'continued';
}

/**
 * One page of the pass over the failed tasks: reactivate them, store where the list goes on, and hand
 * the rest to a fresh message; the pass ends with the list. A redelivered step (a crash before its
 * progress was stored) reads its page again: tasks reactivated since are no longer failed, or answer 409.
 */
async function reactivateStep(
  job: JobDoc,
  message: RetryMessage,
  owner: string,
  deps: RetryStageDeps,
): Promise<RetryStageResult> {
  const batchJobId = job.batch!.jobId;
  const retry = job.retry!;
  const done = retry.tasks;
  let page: Awaited<ReturnType<BatchGateway['listFailedTaskPage']>>;
  try {
    page = await deps.batch.listFailedTaskPage(batchJobId, {
      maxResults: deps.reactivationsPerStep ?? 500,
      ...(retry.cursor ? { continuation: retry.cursor } : {}),
    });
  } catch (e) {
    // A continuation Batch no longer takes: end this request with what it did (a new one starts over).
    if (!retry.cursor || !(e instanceof BatchError) || e.retryable) throw e;
    const at = deps.clock.now();
    await updateOwned(job, owner, deps, (current, r) => ({
      ...current,
      retry: finished(r, at, {
        status: 'done',
        mode: 'reactivated',
        reason: `Batch refused to continue the list of failed tasks (${e.code}); ask again to retry the rest`,
      }),
    }));
    return 'reactivated';
  }
  if (page.ids.length === 0 && !page.continuation && !retry.cursor && done === 0)
    return finishNothing(job, owner, 'no task has failed', deps);
  const outcomes = await mapWithConcurrency(page.ids, REACTIVATE_CONCURRENCY, async (taskId) => {
    try {
      await deps.batch.reactivateTask(batchJobId, taskId);
      return 1;
    } catch (e) {
      // 409: already reactivated by an earlier, interrupted step (or the job is ending): not ours to redo.
      if ((e as { status?: unknown }).status !== 409) throw e;
      return 0;
    }
  });
  const tasks = done + outcomes.reduce<number>((n, x) => n + x, 0);
  if (page.continuation)
    return continueLater(message, job, owner, deps, { tasks, cursor: page.continuation });
  const at = deps.clock.now();
  await updateOwned(job, owner, deps, (current, r) => {
    const { cursor: _passed, ...rest } = r;
    return { ...current, retry: finished(rest, at, { status: 'done', mode: 'reactivated', tasks }) };
  });
  return 'reactivated';
}

/** Reactivations in flight at once within a step. */
const REACTIVATE_CONCURRENCY = 8;

async function resubmitStep(
  job: JobDoc,
  message: RetryMessage,
  owner: string,
  batchJobExists: boolean,
  deps: RetryStageDeps,
): Promise<RetryStageResult> {
  const retry = job.retry!;
  const { tenant, jobId } = job;
  // Which tasks did not succeed. Batch lists them by state only (no id ranges), so the ids are held
  // for one step; the task bodies themselves are streamed chunk by chunk.
  let unsucceeded: Set<string> | undefined;
  if (batchJobExists) {
    unsucceeded = new Set();
    for (const id of await deps.batch.listUnsucceededTasks(job.batch!.jobId, { failedOnly: false }))
      unsucceeded.add(id.toLowerCase());
  }
  // A Batch job deleted out of band, or a failed submission, retries every task not known to succeed.
  const keep = (id: string) => unsucceeded === undefined || unsucceeded.has(id.toLowerCase());

  const sourceFrom = retry.sourceNext ?? retry.source.from;
  const sourceTo = Math.min(retry.source.to, sourceFrom + (deps.chunksPerStep ?? 200));
  const outputFrom = retry.output?.from ?? Math.max(job.submission?.chunksTotal ?? 0, retry.source.to);
  let outputNext = retry.output?.to ?? outputFrom;
  let written = retry.tasks;

  let pending: TaskBody[] = [];
  let group: Promise<void>[] = [];
  const flush = async (all: boolean) => {
    if (pending.length > 0 && (all || pending.length >= MAX_TASKS_PER_CHUNK)) {
      group.push(deps.chunks.put(tenant, jobId, outputNext++, pending));
      written += pending.length;
      pending = [];
    }
    if (all || group.length >= 8) {
      await Promise.all(group);
      group = [];
    }
  };
  for await (const chunk of deps.chunks.listAll(tenant, jobId, { from: sourceFrom, to: sourceTo })) {
    for (const task of chunk.tasks) {
      if (!keep(task.id)) continue;
      pending.push(withDependenciesWithin(task, keep, unsucceeded));
      await flush(false);
    }
  }
  await flush(true);

  const progress = { sourceNext: sourceTo, output: { from: outputFrom, to: outputNext }, tasks: written };
  if (sourceTo < retry.source.to) return continueLater(message, job, owner, deps, progress);
  const at = deps.clock.now();
  if (written === 0) {
    await updateOwned(job, owner, deps, (current, r) => ({
      ...current,
      retry: finished({ ...r, ...progress }, at, { status: 'nothing', reason: 'no task is left to retry' }),
    }));
    return 'nothing';
  }
  const newBatchJobId = batchJobIdFor(tenant, jobId, retry.attempt);
  const result = await updateOwned(job, owner, deps, (current, r) => {
    if (current.state !== 'failed' || !current.batch || !current.batchBodies) return undefined;
    const { failure: _cleared, ...rest } = current;
    return transition(
      { ...rest, retry: finished({ ...r, ...progress }, at, { status: 'done', mode: 'resubmitted' }) },
      'submitting',
      at,
      deps.ids.uuid(),
      {
        batch: { ...current.batch, jobId: newBatchJobId },
        batchBodies: { ...current.batchBodies, job: { ...current.batchBodies.job, id: newBatchJobId } },
        taskCounts: { ...zeroTaskCounts },
        submission: {
          chunksTotal: outputNext,
          chunksAdded: current.submission?.chunksAdded ?? 0,
          tasksAdded: current.submission?.tasksAdded ?? 0,
          attempts: 0,
        },
      },
    );
  });
  if (!result?.changed) return 'skipped';
  await deps.queues.send(queueNames.submit, { tenant, jobId: result.job.jobId });
  await announce(result.job, deps.queues);
  return 'resubmitted';
}

function withDependenciesWithin(
  task: TaskBody,
  keep: (id: string) => boolean,
  unsucceeded: ReadonlySet<string> | undefined,
): TaskBody {
  if (!task.dependsOn) return task;
  const { dependsOn: _dropped, ...rest } = task;
  const taskIds = (task.dependsOn.taskIds ?? []).filter(keep);
  const ranges: { start: number; end: number }[] = [];
  for (const r of task.dependsOn.taskIdRanges ?? []) {
    if (unsucceeded === undefined) {
      ranges.push(r); // every task is retried: the range stands as it is
      continue;
    }
    // Walk whichever is smaller: the range or the set of tasks retried.
    if (r.end - r.start + 1 <= unsucceeded.size) {
      for (let n = r.start; n <= r.end; n++) if (unsucceeded.has(String(n))) taskIds.push(String(n));
    } else {
      for (const id of unsucceeded) {
        const n = /^\d+$/.test(id) ? Number(id) : Number.NaN;
        if (n >= r.start && n <= r.end) taskIds.push(id);
      }
    }
  }
  if (taskIds.length === 0 && ranges.length === 0) return rest;
  return {
    ...rest,
    dependsOn: {
      ...(taskIds.length > 0 ? { taskIds } : {}),
      ...(ranges.length > 0 ? { taskIdRanges: ranges } : {}),
    },
  };
}
