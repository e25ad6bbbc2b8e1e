/**
 * Retry (POST /api/jobs/{id}/retry): run the failed tasks again.
 *
 * Batch can reactivate a failed task only while its job is still active. Once the job has completed
 * (Slotwise sets `onAllTasksComplete: terminatejob`, so a failed job has), Batch refuses, so the retry
 * becomes a new attempt: a fresh Batch job `<batch job id>-r<n>` on the same pool holding every task
 * that did not succeed (failed, and those never run because a dependency failed), added by the
 * ordinary submitter from new chunks. Dependencies on tasks that succeeded are dropped (they are
 * satisfied). Task counts then describe the current attempt.
 */
import type { Clock, Ids } from '../clock.js';
import { announce } from '../pipeline/announce.js';
import type { BatchGateway } from '../pipeline/batch-gateway.js';
import type { TaskBody } from '../planner/batch-bodies.js';
import { batchJobIdFor, isOwnJob } from '../planner/batch-names.js';
import { MAX_TASKS_PER_CHUNK } from '../planner/plan-job.js';
import { queueNames } from '../queues/names.js';
import type { QueueGateway } from '../queues/queue-gateway.js';
import type { ChunkStore } from '../store/chunk-store.js';
import type { JobStore } from '../store/job-store.js';
import { type JobDoc, zeroTaskCounts } from './job.js';
import { transition } from './lifecycle.js';

export type RetryResult =
  | { readonly kind: 'reactivated'; readonly job: JobDoc; readonly tasks: number }
  | { readonly kind: 'resubmitted'; readonly job: JobDoc; readonly tasks: number }
  | { readonly kind: 'nothingToRetry'; readonly job: JobDoc; readonly reason: string }
  | { readonly kind: 'notFound' };

export interface RetryDeps {
  readonly jobs: JobStore;
  readonly chunks: ChunkStore;
  readonly batch: BatchGateway;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
}

export async function retryJob(tenant: string, jobId: string, deps: RetryDeps): Promise<RetryResult> {
  const job = await deps.jobs.get(tenant, jobId);
  if (!job) return { kind: 'notFound' };
  if ((job.state !== 'failed' && job.state !== 'running') || !job.batch || !job.batchBodies) {
    return { kind: 'nothingToRetry', job, reason: `a ${job.state} job has no failed tasks to retry` };
  }
  const batchJob = await deps.batch.getJob(job.batch.jobId);
  if (batchJob && !isOwnJob(batchJob.metadata, { tenant, jobId: job.jobId })) {
    // Never reactivate tasks in a Batch job that is not this job's.
    return { kind: 'nothingToRetry', job, reason: `Batch job '${job.batch.jobId}' is not this job's` };
  }
  if (batchJob?.state === 'active') {
    const failed = await deps.batch.listUnsucceededTasks(job.batch.jobId, { failedOnly: true });
    if (failed.length === 0) return { kind: 'nothingToRetry', job, reason: 'no task has failed' };
    for (const taskId of failed) await deps.batch.reactivateTask(job.batch.jobId, taskId);
    return { kind: 'reactivated', job, tasks: failed.length };
  }
  if (job.state !== 'failed') return { kind: 'nothingToRetry', job, reason: 'the job is still running' };

  const retry = new Set<string>();
  if (batchJob) {
    for (const id of await deps.batch.listUnsucceededTasks(job.batch.jobId, { failedOnly: false }))
      retry.add(id.toLowerCase());
  }
  // A Batch job deleted out of band, or a failed submission, retries every task not known to succeed.
  const everything = !batchJob;
  const tasks: TaskBody[] = [];
  const all = new Set<string>();
  let lastIndex = -1;
  for await (const chunk of deps.chunks.listAll(tenant, jobId)) {
    lastIndex = Math.max(lastIndex, chunk.index);
    for (const t of chunk.tasks) {
      all.add(t.id.toLowerCase());
      if (everything || retry.has(t.id.toLowerCase())) tasks.push(t);
    }
  }
  if (tasks.length === 0) return { kind: 'nothingToRetry', job, reason: 'no task is left to retry' };
  const kept = new Set(tasks.map((t) => t.id.toLowerCase()));
  const attempt = Math.max(1, job.history.filter((h) => h.state === 'submitting').length);
  const newBatchJobId = batchJobIdFor(tenant, job.jobId, attempt);
  const rewritten = tasks.map((t) => withDependenciesWithin(t, kept));
  let index = lastIndex + 1;
  for (let i = 0; i < rewritten.length; i += MAX_TASKS_PER_CHUNK) {
    await deps.chunks.put(tenant, jobId, index++, rewritten.slice(i, i + MAX_TASKS_PER_CHUNK));
  }
  const result = await deps.jobs.update(tenant, jobId, (current) => {
    if (current.state !== 'failed' || !current.batch || !current.batchBodies) return undefined;
    const { failure: _cleared, ...rest } = current;
    return transition(rest, 'submitting', deps.clock.now(), deps.ids.uuid(), {
      batch: { ...current.batch, jobId: newBatchJobId },
      batchBodies: { ...current.batchBodies, job: { ...current.batchBodies.job, id: newBatchJobId } },
      taskCounts: { ...zeroTaskCounts },
      submission: {
        chunksTotal:
          (current.submission?.chunksTotal ?? 0) + Math.ceil(rewritten.length / MAX_TASKS_PER_CHUNK),
        chunksAdded: current.submission?.chunksAdded ?? 0,
        tasksAdded: current.submission?.tasksAdded ?? 0,
        attempts: 0,
      },
    });
  });
  if (!result?.changed)
    return { kind: 'nothingToRetry', job: result?.job ?? job, reason: 'the job changed meanwhile' };
  await deps.queues.send(queueNames.submit, { tenant, jobId: result.job.jobId });
  await announce(result.job, deps.queues);
  return { kind: 'resubmitted', job: result.job, tasks: rewritten.length };
}

function withDependenciesWithin(task: TaskBody, kept: ReadonlySet<string>): TaskBody {
  if (!task.dependsOn) return task;
  const taskIds = [
    ...(task.dependsOn.taskIds ?? []).filter((id) => kept.has(id.toLowerCase())),
    ...(task.dependsOn.taskIdRanges ?? []).flatMap((r) => {
      const ids: string[] = [];
      for (const id of kept) {
        const n = /^\d+$/.test(id) ? Number(id) : Number.NaN;
        if (n >= r.start && n <= r.end) ids.push(id);
      }
      return ids;
    }),
  ];
  const { dependsOn: _dropped, ...rest } = task;
  return taskIds.length > 0 ? { ...rest, dependsOn: { taskIds } } : rest;
}
