/**
 * Admission of a queued job whose tenant is proven. Over a limit that frees up with time the request
 * waits instead of being rejected; one that could never fit is stored as a `rejected` job by acceptJob
 * itself.
 *
 * A waiting request is stored in Cosmos (one wait document per tenant and job id) and a small pointer
 * waits on `slotwise-intake-deferred` (a visibility delay). So:
 * - the pointer fits a queue message whatever the request's size: a request that filled `job-requests`
 *   to its 64 KiB is not lost when it has to wait;
 * - one request waits once: copies of it (a sender's retries, a replayed message) find the wait
 *   document and end at once, spending neither Cosmos admission work nor the tenant's rate tokens;
 * - only the pointer whose `waits` matches the document is live, so a pointer delivered twice, or one
 *   that turns up after its loop was taken over, ends at once.
 *
 * Every step is safe to repeat (at-least-once delivery): the message that wrote the document's state is
 * named in it, and when that message is delivered again (its pointer send failed) it sends the pointer
 * again instead of ending as a copy.
 */
import type { IntakeWait, IntakeWaitStore } from '../adapters/cosmos/intake-wait-store.js';
import { queueNames } from '../adapters/queues/names.js';
import { type AcceptDeps, type AcceptResult, acceptJob, requestHash } from './accept-job.js';
import { deferDelaySeconds, type IntakePointer, MAX_DEFER_SECONDS } from './intake-message.js';

export type AdmitOutcome =
  | { readonly kind: 'accepted'; readonly jobId: string; readonly created: boolean }
  | { readonly kind: 'rejected'; readonly jobId: string; readonly errors: number }
  | { readonly kind: 'conflict'; readonly jobId: string }
  | {
      readonly kind: 'deferred';
      readonly jobId: string;
      readonly limit: string;
      readonly delaySeconds: number;
      readonly waits: number;
    }
  /** A copy of a request that already waits: it ends here, the waiting one goes on. */
  | { readonly kind: 'alreadyWaiting'; readonly jobId: string; readonly waits: number }
  /** A pointer that is no longer the live one (its request was answered, or a later try took over). */
  | { readonly kind: 'stale'; readonly jobId: string };

export interface AdmitLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface AdmitDeps extends AcceptDeps {
  readonly random: () => number;
  readonly intakeWaits: IntakeWaitStore;
}

/** A request whose proof was verified on `job-requests`. */
export interface VerifiedRequest {
  readonly tenant: string;
  /** The job request as signed, with its id (given by the tenant, or derived from the proof id). */
  readonly job: Readonly<Record<string, unknown>>;
  readonly proofVerified: { readonly id: string; readonly at: string };
}

/**
 * How long past its pointer's due time a wait counts as lost (its pointer went to the poison queue or
 * expired). A new copy of the request then takes the wait over; the old pointer, should it turn up, is
 * stale. Well above the host's polling interval and retry visibility, so a merely late pointer is rare;
 * a wrong take-over costs one extra try, never a second loop.
 */
export const WAIT_LOST_AFTER_SECONDS = 600;

/** Ids a wait document can be keyed by (job ids are narrower; anything else fails validation first). */
const WAITABLE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * A verified request from `job-requests` (or an old-format deferred message). `messageId` is the queue
 * message's id, the same on every delivery of that message.
 */
export async function admitVerifiedRequest(
  request: VerifiedRequest,
  messageId: string,
  log: AdmitLog,
  deps: AdmitDeps,
): Promise<AdmitOutcome> {
  const jobId = String(request.job.id);
  const hash = requestHash(request.job);
  const waiting = WAITABLE_ID.test(jobId) ? await deps.intakeWaits.get(request.tenant, jobId) : undefined;
  if (waiting) {
    const copy = await answerCopy(waiting, hash, messageId, log, deps);
    if (copy) return copy;
    // The wait was lost: this copy takes it over.
  }
  const result = await acceptJob(
    { tenant: request.tenant, body: request.job, source: 'queue' },
    { ...deps, log: (m) => log.warn(m) },
  );
  if (result.kind !== 'limited') {
    if (waiting) await deps.intakeWaits.remove(request.tenant, jobId);
    return answered(result, jobId, log);
  }
  const now = deps.clock.now();
  const waits = (waiting?.waits ?? 0) + 1;
  const delaySeconds = deferDelaySeconds(result.retryAfterSeconds, waits, deps.random);
  const state = {
    waits,
    limit: result.limit,
    advancedBy: messageId,
    nextTryAt: new Date(now.getTime() + delaySeconds * 1000).toISOString(),
    updatedAt: now.toISOString(),
  };
  if (waiting) {
    if (!(await deps.intakeWaits.advance(waiting, state))) return alreadyWaiting(waiting, log);
  } else {
    const made = await deps.intakeWaits.create({
      tenant: request.tenant,
      jobId,
      requestHash: hash,
      request: request.job,
      proofVerified: request.proofVerified,
      createdAt: now.toISOString(),
      ...state,
    });
    // Another copy made it first: that copy's loop is the one.
    if (!made.created)
      return made.wait.requestHash === hash ? alreadyWaiting(made.wait, log) : conflict(made.wait, log);
  }
  return sendPointer({ tenant: request.tenant, jobId, waits }, result.limit, delaySeconds, log, deps);
}

/** A pointer from `slotwise-intake-deferred`: tries the waiting request again if it is the live one. */
export async function admitWaitingRequest(
  pointer: IntakePointer,
  messageId: string,
  log: AdmitLog,
  deps: AdmitDeps,
): Promise<AdmitOutcome> {
  const { tenant, jobId } = pointer;
  const waiting = await deps.intakeWaits.get(tenant, jobId);
  if (!waiting) {
    log.info(`Job ${jobId} no longer waits (its request was answered); pointer ${pointer.waits} ends`);
    return { kind: 'stale', jobId };
  }
  if (waiting.waits !== pointer.waits) {
    // This message advanced the wait and its send failed: send the live pointer again.
    if (waiting.advancedBy === messageId) return resendPointer(waiting, deps, log);
    log.info(`Job ${jobId}: pointer ${pointer.waits} is stale (the wait is at ${waiting.waits}); it ends`);
    return { kind: 'stale', jobId };
  }
  const result = await acceptJob(
    { tenant, body: waiting.request, source: 'queue' },
    { ...deps, log: (m) => log.warn(m) },
  );
  if (result.kind !== 'limited') {
    await deps.intakeWaits.remove(tenant, jobId);
    return answered(result, jobId, log);
  }
  const now = deps.clock.now();
  const waits = pointer.waits + 1;
  const delaySeconds = deferDelaySeconds(result.retryAfterSeconds, waits, deps.random);
  const advanced = await deps.intakeWaits.advance(waiting, {
    waits,
    limit: result.limit,
    advancedBy: messageId,
    nextTryAt: new Date(now.getTime() + delaySeconds * 1000).toISOString(),
    updatedAt: now.toISOString(),
  });
  if (!advanced) {
    log.info(`Job ${jobId}: another try advanced the wait first; pointer ${pointer.waits} ends`);
    return { kind: 'stale', jobId };
  }
  return sendPointer({ tenant, jobId, waits }, result.limit, delaySeconds, log, deps);
}

/** What a copy of a waiting request does; undefined when the wait is lost and the copy takes it over. */
async function answerCopy(
  waiting: IntakeWait,
  hash: string,
  messageId: string,
  log: AdmitLog,
  deps: AdmitDeps,
): Promise<AdmitOutcome | undefined> {
  if (waiting.requestHash !== hash) return conflict(waiting, log);
  if (waiting.advancedBy === messageId) return resendPointer(waiting, deps, log);
  const lostAt = Date.parse(waiting.nextTryAt) + WAIT_LOST_AFTER_SECONDS * 1000;
  if (deps.clock.now().getTime() > lostAt) {
    log.warn(
      `Job ${waiting.jobId}: its wait was due at ${waiting.nextTryAt} and is lost; this copy resumes it`,
    );
    return undefined;
  }
  return alreadyWaiting(waiting, log);
}

function alreadyWaiting(waiting: IntakeWait, log: AdmitLog): AdmitOutcome {
  log.info(`Job ${waiting.jobId} already waits (wait ${waiting.waits}); this copy of the request ends here`);
  return { kind: 'alreadyWaiting', jobId: waiting.jobId, waits: waiting.waits };
}

function conflict(waiting: IntakeWait, log: AdmitLog): AdmitOutcome {
  log.warn(`Job ${waiting.jobId} already waits with a different request; message ignored`);
  return { kind: 'conflict', jobId: waiting.jobId };
}

async function resendPointer(waiting: IntakeWait, deps: AdmitDeps, log: AdmitLog): Promise<AdmitOutcome> {
  const remaining = Math.ceil((Date.parse(waiting.nextTryAt) - deps.clock.now().getTime()) / 1000);
  const delaySeconds = Math.min(Math.max(0, remaining), MAX_DEFER_SECONDS * 2);
  return sendPointer(
    { tenant: waiting.tenant, jobId: waiting.jobId, waits: waiting.waits },
    waiting.limit,
    delaySeconds,
    log,
    deps,
  );
}

async function sendPointer(
  pointer: IntakePointer,
  limit: string,
  delaySeconds: number,
  log: AdmitLog,
  deps: AdmitDeps,
): Promise<AdmitOutcome> {
  await deps.queues.send(queueNames.intakeDeferred, pointer, { delaySeconds });
  log.info(`Job ${pointer.jobId} waits ${delaySeconds} s (over the '${limit}' limit; wait ${pointer.waits})`);
  return { kind: 'deferred', jobId: pointer.jobId, limit, delaySeconds, waits: pointer.waits };
}

function answered(
  result: Exclude<AcceptResult, { kind: 'limited' }>,
  jobId: string,
  log: AdmitLog,
): AdmitOutcome {
  switch (result.kind) {
    case 'accepted':
      return { kind: 'accepted', jobId: result.job.jobId, created: result.created };
    case 'conflict':
      log.warn(`Job ${result.job.jobId} already exists with a different request; message ignored`);
      return { kind: 'conflict', jobId: result.job.jobId };
    case 'rejected':
      log.info(`Job ${result.job.jobId} rejected: ${result.job.errors?.length ?? 0} invalid field(s)`);
      return { kind: 'rejected', jobId: result.job.jobId, errors: result.job.errors?.length ?? 0 };
    case 'overLimit':
      // Over the queue acceptJob has stored the job as rejected, naming the limit.
      log.info(`Job ${jobId} rejected: it can never fit the tenant's '${result.limit}' limit`);
      return { kind: 'rejected', jobId, errors: result.errors.length };
    case 'invalid':
      // acceptJob stores queue requests as rejected instead; kept for exhaustiveness.
      log.warn(`Job ${jobId} invalid: ${result.errors.length} invalid field(s)`);
      return { kind: 'rejected', jobId, errors: result.errors.length };
  }
}
