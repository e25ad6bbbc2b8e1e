/**
 * The job state machine.
 *
 *   accepted ──plan──▶ planned ──submit──▶ submitting ──▶ submitted ──▶ running ──▶ completed
 *      │                  │                    │              │            │   └──▶ failed
 *      └──▶ rejected      └────────────────────┴──────────────┴────────────┴──▶ cancelled / failed
 *
 * `rejected` is for requests that can never run (invalid, or tasks that fit no node); `failed` for
 * jobs that ran into Batch (or the pipeline) and did not succeed. A failed job goes back to
 * `submitting` when its failed tasks are retried as a new attempt. Every transition is a pure function of the
 * document: it appends to `history` and to the outbox (`events`) in the same write.
 */
import { SlotwiseError } from '../core/errors.js';
import { type JobDoc, type JobEvent, type JobState, jobDocId, zeroTaskCounts } from './job.js';
import type { JobRequest } from './request-schema.js';

const allowed: Readonly<Record<JobState, readonly JobState[]>> = {
  accepted: ['planned', 'rejected', 'cancelled', 'failed'],
  planned: ['submitting', 'cancelled', 'failed'],
  submitting: ['submitted', 'running', 'completed', 'failed', 'cancelled'],
  submitted: ['running', 'completed', 'failed', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  completed: [],
  failed: ['submitting'],
  cancelled: [],
  rejected: [],
};

export class TransitionError extends SlotwiseError {
  constructor(from: JobState, to: JobState) {
    super('InvalidTransition', `A job cannot go from ${from} to ${to}`);
    this.name = 'TransitionError';
  }
}

export function canTransition(from: JobState, to: JobState): boolean {
  return allowed[from].includes(to);
}

/**
 * Returns the document moved to `to`, with the event appended. `hasCallback` decides whether the
 * event waits for delivery or is recorded as having no receiver.
 */
export function transition(
  job: JobDoc,
  to: JobState,
  at: Date,
  eventId: string,
  patch: Partial<
    Pick<JobDoc, 'failure' | 'plan' | 'batch' | 'batchBodies' | 'submission' | 'taskCounts' | 'errors'>
  > = {},
): JobDoc {
  if (!canTransition(job.state, to)) throw new TransitionError(job.state, to);
  const iso = at.toISOString();
  const next: JobDoc = {
    ...job,
    ...patch,
    state: to,
    updatedAt: iso,
    history: [...job.history, { state: to, at: iso }],
  };
  if (to === 'completed' || to === 'failed' || to === 'cancelled' || to === 'rejected') next.endedAt = iso;
  else delete next.endedAt;
  next.events = [...job.events, makeEvent(next, to, iso, eventId)];
  return next;
}

export function makeEvent(job: JobDoc, state: JobState, at: string, eventId: string): JobEvent {
  const seq = job.events.length === 0 ? 1 : job.events[job.events.length - 1]!.seq + 1;
  const hasCallback = job.request?.callback !== undefined;
  return {
    seq,
    id: eventId,
    type: `slotwise.job.${state}`,
    state,
    at,
    taskCounts: { ...job.taskCounts },
    // After a 410 Gone the receiver hears nothing more of this job.
    delivery: !hasCallback
      ? { status: 'none', attempts: 0 }
      : job.callbackGoneAt
        ? { status: 'gone', attempts: 0 }
        : { status: 'pending', attempts: 0, nextAttemptAt: at },
  };
}

export function hasPendingEvents(job: JobDoc): boolean {
  return job.events.some((e) => e.delivery.status === 'pending');
}

/** A new job document in `accepted`, with its first event. */
export function newJobDoc(
  tenant: string,
  jobId: string,
  request: JobRequest | null,
  hash: string,
  now: Date,
  eventId: string,
  extra: Pick<JobDoc, 'lane'> = {},
): JobDoc {
  const iso = now.toISOString();
  const doc: JobDoc = {
    id: jobDocId(jobId),
    type: 'job',
    tenant,
    jobId,
    state: 'accepted',
    createdAt: iso,
    updatedAt: iso,
    sortKey: `${iso}|${jobId.toLowerCase()}`,
    requestHash: hash,
    request,
    taskCounts: { ...zeroTaskCounts },
    history: [{ state: 'accepted', at: iso }],
    events: [],
    // Kept apart from the request so the reconcile pass finds it in its projection.
    ...(request?.callback?.taskEvents ? { taskEvents: { kinds: [...request.callback.taskEvents] } } : {}),
    ...(extra.lane ? { lane: extra.lane } : {}),
  };
  doc.events = [makeEvent(doc, 'accepted', iso, eventId)];
  return doc;
}
