/**
 * A task's callback asks for its job to be reconciled now (POST /api/jobs/{id}/callbacks). The token
 * that asks lives in every task's environment for days, so asking is coalesced per job: at most one
 * reconcile every `RECONCILE_COALESCE_MS`. The first call in a quiet window queues one at once; a call
 * inside a window schedules one more at its end (the reconcile that already ran cannot have seen what
 * this call reports); calls while that one is pending add nothing. However many calls come, Batch
 * sees one reconcile per window, and none of them goes unanswered by a reconcile that starts after it.
 */
import type { JobStore } from '../adapters/cosmos/job-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock } from '../core/clock.js';
import type { JobDoc, JobState } from '../model/job.js';

/**
 * 5 s: a burst of tasks finishing together still shows within seconds, while one task (or one leaked
 * token) in a loop costs Batch at most one reconcile (two calls) per job per 5 s; the timer remains
 * the source of truth either way.
 */
export const RECONCILE_COALESCE_MS = 5_000;

/** The states a reconcile acts on (shared/pipeline/reconcile.ts); in any other, asking does nothing. */
const RECONCILED_STATES: ReadonlySet<JobState> = new Set(['submitted', 'running']);

export type ReconcileRequest =
  | { readonly kind: 'notFound' }
  /** `queued`: at once; `scheduled`: at the end of the current window; `coalesced`: one is already
   * pending; `notNeeded`: the job is in a state a reconcile does not act on. */
  | { readonly kind: 'queued' | 'scheduled' | 'coalesced' | 'notNeeded'; readonly job: JobDoc };

/**
 * When the next reconcile should run, given when the last one asked for runs (`previous`), or
 * undefined when the pending one already comes after `now`. Pure; times are ISO strings.
 */
export function nextReconcileAt(
  previous: string | undefined,
  now: Date,
  windowMs: number,
): string | undefined {
  const last = previous === undefined ? Number.NaN : Date.parse(previous);
  // None yet, unreadable, or the last window has closed: at once.
  if (!Number.isFinite(last) || last + windowMs <= now.getTime()) return now.toISOString();
  // The pending one runs after this call: it will see what this call reports.
  if (last > now.getTime()) return undefined;
  return new Date(last + windowMs).toISOString();
}

/**
 * Asks for a reconcile of `job` (just read, with its `_etag`), coalesced as above. Idempotent in
 * effect: a repeated call is coalesced. The mark is stored before the message is sent; if the send
 * fails, the error goes to the caller, and until the window ends only the reconcile timer sees the job.
 */
export async function requestReconcile(
  job: JobDoc,
  deps: { jobs: JobStore; queues: QueueGateway; clock: Clock },
  windowMs = RECONCILE_COALESCE_MS,
): Promise<ReconcileRequest> {
  if (!RECONCILED_STATES.has(job.state)) return { kind: 'notNeeded', job };
  const now = deps.clock.now();
  const marked = await deps.jobs.requestReconcile(
    job.tenant,
    job.jobId,
    (previous, current) =>
      RECONCILED_STATES.has(current.state) ? nextReconcileAt(previous, now, windowMs) : undefined,
    job,
  );
  if (!marked) return { kind: 'notFound' };
  if (marked.set === undefined)
    return { kind: RECONCILED_STATES.has(marked.job.state) ? 'coalesced' : 'notNeeded', job: marked.job };
  const delayMs = Date.parse(marked.set) - now.getTime();
  await deps.queues.send(
    queueNames.reconcile,
    { tenant: job.tenant, jobId: job.jobId },
    delayMs > 0 ? { delaySeconds: Math.ceil(delayMs / 1000) } : {},
  );
  return { kind: delayMs > 0 ? 'scheduled' : 'queued', job: marked.job };
}
