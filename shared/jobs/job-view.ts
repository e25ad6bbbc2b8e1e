/** The API representation of a job (GET /api/jobs/{id}, list items, POST answers). */

import type { DeliveryStatus, JobDoc } from './job.js';
import { isExistingPool } from './request-schema.js';

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
  readonly batch?: { readonly poolId: string; readonly jobId: string; readonly managedPool: boolean };
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
  readonly history: JobDoc['history'];
  /**
   * Once Batch ended the job: node-seconds it occupied, slot-seconds its tasks used, and their ratio
   * (slot-seconds over node-seconds × slots per node). See shared/jobs/efficiency.ts.
   */
  readonly efficiency?: JobDoc['efficiency'];
  /** Failed tasks whose exit conditions say `jobAction: none`: they did not fail the job. */
  readonly toleratedFailures?: JobDoc['toleratedFailures'];
  readonly callback?: { readonly url: string };
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
    ...(job.errors ? { errors: job.errors } : {}),
    ...(job.failure ? { failure: job.failure } : {}),
    ...(job.waiting ? { waiting: job.waiting } : {}),
    history: job.history,
    ...(job.efficiency ? { efficiency: job.efficiency } : {}),
    ...(job.toleratedFailures ? { toleratedFailures: job.toleratedFailures } : {}),
    ...(request?.callback ? { callback: { url: request.callback.url } } : {}),
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
