/**
 * The API representation of a job: the full view (GET /api/jobs/{id}, POST answers) and the list
 * item (GET /api/jobs), which the store reads by projection, without the stored request.
 */

import { redactSas } from '../core/redact-sas.js';
import type { DeliveryStatus, JobDoc, JobFailure, PreparationStatus, WaitingReason } from './job.js';
import { isExistingPool, type TaskEventKind } from './request-schema.js';

/*
 * Texts that can quote what Batch said (a failure message naming a resource file's URL) pass through
 * `redactSas` on the way out, whatever wrote them: a SAS in the caller's URLs never reaches an answer.
 */
const failureOut = (f: JobFailure): JobFailure => ({
  ...f,
  message: redactSas(f.message),
  ...(f.failedTasks
    ? {
        failedTasks: f.failedTasks.map((t) =>
          t.failureMessage === undefined ? t : { ...t, failureMessage: redactSas(t.failureMessage) },
        ),
      }
    : {}),
});
const waitingOut = (w: WaitingReason): WaitingReason => ({ ...w, message: redactSas(w.message) });
const preparationOut = (p: PreparationStatus): PreparationStatus => ({
  ...p,
  nodes: p.nodes.map((n) =>
    n.failure ? { ...n, failure: { ...n.failure, message: redactSas(n.failure.message) } } : n,
  ),
});

export interface JobView {
  readonly id: string;
  readonly state: JobDoc['state'];
  readonly displayName?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly endedAt?: string;
  readonly pool?: { readonly id: string } | { readonly vmSize: string };
  readonly tasks?: number;
  readonly plan?: JobDoc['plan'];
  /** The Batch pool and job; `jobPreparation` when the Batch job has a preparation task. */
  readonly batch?: JobDoc['batch'];
  readonly taskCounts: JobDoc['taskCounts'];
  readonly submission?: {
    readonly chunksTotal: number;
    readonly chunksAdded: number;
    readonly tasksAdded: number;
  };
  readonly errors?: JobDoc['errors'];
  readonly failure?: JobDoc['failure'];
  /** While the job's pool cannot allocate nodes: Batch's code and message, and when the job fails. */
  readonly waiting?: JobDoc['waiting'];
  /** The job preparation task per node (counts, and up to 100 nodes, failed first). */
  readonly preparation?: JobDoc['preparation'];
  /** Tasks put back in the queue by a preemption of their Spot node (absent before the first). */
  readonly preemptions?: number;
  readonly history: JobDoc['history'];
  /**
   * Once Batch ended the job: node-seconds it occupied, slot-seconds its tasks used, and their ratio
   * (slot-seconds over node-seconds × slots per node). See shared/model/efficiency.ts.
   */
  readonly efficiency?: JobDoc['efficiency'];
  /** Failed tasks whose exit conditions say `jobAction: none`: they did not fail the job. */
  readonly toleratedFailures?: JobDoc['toleratedFailures'];
  readonly callback?: { readonly url: string; readonly taskEvents?: readonly TaskEventKind[] };
  readonly deliveries: readonly {
    readonly eventId: string;
    readonly type: string;
    readonly status: DeliveryStatus;
    readonly attempts: number;
    readonly lastStatus?: number;
    readonly lastError?: string;
    readonly nextAttemptAt?: string;
    readonly deliveredAt?: string;
  }[];
  readonly links: { readonly self: string };
}

export function toJobView(job: JobDoc, basePath = '/api'): JobView {
  const request = job.request;
  const view: JobView = {
    id: job.jobId,
    state: job.state,
    ...(request?.displayName ? { displayName: request.displayName } : {}),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.endedAt ? { endedAt: job.endedAt } : {}),
    ...(request
      ? { pool: isExistingPool(request.pool) ? { id: request.pool.id } : { vmSize: request.pool.vmSize } }
      : {}),
    ...(job.plan
      ? { tasks: job.plan.tasks, plan: job.plan }
      : request?.tasks
        ? { tasks: request.tasks.length }
        : {}),
    ...(job.batch ? { batch: job.batch } : {}),
    taskCounts: job.taskCounts,
    ...(job.submission
      ? {
          submission: {
            chunksTotal: job.submission.chunksTotal,
            chunksAdded: job.submission.chunksAdded,
            tasksAdded: job.submission.tasksAdded,
          },
        }
      : {}),
    ...(job.errors ? { errors: job.errors.map((e) => ({ ...e, message: redactSas(e.message) })) } : {}),
    ...(job.failure ? { failure: failureOut(job.failure) } : {}),
    ...(job.waiting ? { waiting: waitingOut(job.waiting) } : {}),
    ...(job.preparation ? { preparation: preparationOut(job.preparation) } : {}),
    ...(job.preemptions ? { preemptions: job.preemptions } : {}),
    history: job.history,
    ...(job.efficiency ? { efficiency: job.efficiency } : {}),
    ...(job.toleratedFailures ? { toleratedFailures: job.toleratedFailures } : {}),
    ...(request?.callback
      ? {
          callback: {
            url: request.callback.url,
            ...(request.callback.taskEvents ? { taskEvents: request.callback.taskEvents } : {}),
          },
        }
      : {}),
    deliveries: job.events
      .filter((e) => e.delivery.status !== 'none')
      .map((e) => ({
        eventId: e.id,
        type: e.type,
        status: e.delivery.status,
        attempts: e.delivery.attempts,
        ...(e.delivery.lastStatus !== undefined ? { lastStatus: e.delivery.lastStatus } : {}),
        ...(e.delivery.lastError ? { lastError: e.delivery.lastError } : {}),
        ...(e.delivery.status === 'pending' && e.delivery.nextAttemptAt
          ? { nextAttemptAt: e.delivery.nextAttemptAt }
          : {}),
        ...(e.delivery.deliveredAt ? { deliveredAt: e.delivery.deliveredAt } : {}),
      })),
    links: { self: `${basePath}/jobs/${encodeURIComponent(job.jobId)}` },
  };
  return view;
}

/**
 * What a list item is built from: the fields the job store projects for `GET /api/jobs` (see
 * `SUMMARY_FIELDS` in shared/adapters/cosmos/job-store.ts), so a page of 200 jobs never reads 200 requests.
 */
export interface JobSummary {
  readonly jobId: string;
  readonly state: JobDoc['state'];
  readonly displayName?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly endedAt?: string;
  readonly pool?: { readonly id: string } | { readonly vmSize: string };
  readonly tasks?: number;
  readonly batch?: JobDoc['batch'];
  readonly taskCounts: JobDoc['taskCounts'];
  readonly submission?: JobView['submission'];
  readonly failure?: { readonly code: string; readonly message: string };
  readonly waiting?: JobDoc['waiting'];
}

/**
 * A job in `GET /api/jobs`: what the CLI's `list` and the dashboard's job table show (state,
 * progress, pool, when) and a link to the full view. The plan, history, deliveries and failed-task
 * detail are in the full view only.
 */
export interface JobListItem extends Omit<JobSummary, 'jobId'> {
  readonly id: string;
  readonly links: { readonly self: string };
}

/** The list item's source fields from a full document: what the store's projection returns. */
export function summarizeJob(job: JobDoc): JobSummary {
  const request = job.request;
  const tasks = job.plan ? job.plan.tasks : request?.tasks?.length;
  return {
    jobId: job.jobId,
    state: job.state,
    ...(request?.displayName ? { displayName: request.displayName } : {}),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.endedAt ? { endedAt: job.endedAt } : {}),
    ...(request
      ? { pool: isExistingPool(request.pool) ? { id: request.pool.id } : { vmSize: request.pool.vmSize } }
      : {}),
    ...(tasks !== undefined ? { tasks } : {}),
    ...(job.batch ? { batch: job.batch } : {}),
    taskCounts: job.taskCounts,
    ...(job.submission
      ? {
          submission: {
            chunksTotal: job.submission.chunksTotal,
            chunksAdded: job.submission.chunksAdded,
            tasksAdded: job.submission.tasksAdded,
          },
        }
      : {}),
    ...(job.failure ? { failure: { code: job.failure.code, message: job.failure.message } } : {}),
    ...(job.waiting ? { waiting: job.waiting } : {}),
  };
}

export function toJobListItem(summary: JobSummary, basePath = '/api'): JobListItem {
  const { jobId, ...rest } = summary;
  return {
    id: jobId,
    ...rest,
    ...(rest.failure
      ? { failure: { code: rest.failure.code, message: redactSas(rest.failure.message) } }
      : {}),
    ...(rest.waiting ? { waiting: waitingOut(rest.waiting) } : {}),
    links: { self: `${basePath}/jobs/${encodeURIComponent(jobId)}` },
  };
}
