/**
 * Task callback tokens (`SLOTWISE_CALLBACK_TOKEN`), which let a job's tasks report back on
 * `POST /api/jobs/{id}/callbacks`:
 *
 *   `<tenant>.<job id>.<attempt>.<expiry, unix seconds>.<base64url HMAC-SHA256(callbackKey, "slotwise-task-callback-v2." + the first four parts)>`
 *
 * Keyed by the tenant's `callbackKey`, a key of its own: rotating the webhook secret leaves running
 * jobs' tokens valid. A token names one tenant, one job and one attempt (the Batch job it was put in:
 * 0 for the first, n for the one the n-th resubmission made) and expires; it is good only while that
 * attempt is the job's current one, so a retry that resubmits the job shuts out the tasks of the
 * attempt it replaced. Tenant ids and job ids hold no dots, so the parts cannot be shifted into one
 * another. Tokens of the first version (`v1`, no attempt: `<tenant>.<job id>.<expiry>.<mac>`) are
 * read as attempt 0.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { batchJobIdFor } from './batch-names.js';
import type { JobDoc } from './job.js';

/** Expiry when the job sets no `maxWallClockTime`. */
export const DEFAULT_CALLBACK_TOKEN_SECONDS = 7 * 24 * 3600;
/** Margin past the job's wall-clock limit, for tasks that report while the job is being ended. */
export const CALLBACK_TOKEN_MARGIN_SECONDS = 3600;

/** Bounds absurd wall-clock limits (P1000Y) so the expiry stays a sane number. */
const MAX_CALLBACK_TOKEN_SECONDS = 10 * 366 * 86400;

/** An attempt number has at most 4 digits (the cap on retries per job is at most 1,000). */
const tokenPattern =
  /^([a-z0-9][a-z0-9-]{0,15})\.([A-Za-z0-9_-]{1,64})\.(?:(\d{1,4})\.)?(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

function mac(key: string, payload: string, version: 'v1' | 'v2'): Buffer {
  return createHmac('sha256', key).update(`slotwise-task-callback-${version}.${payload}`).digest();
}

export function taskCallbackToken(input: {
  tenant: string;
  jobId: string;
  /** The attempt whose Batch job carries the token (`attemptOf`). Default 0, the first. */
  attempt?: number;
  callbackKey: string;
  /** Unix seconds. */
  expiresAt: number;
}): string {
  const payload = `${input.tenant}.${input.jobId}.${Math.floor(input.attempt ?? 0)}.${Math.floor(input.expiresAt)}`;
  return `${payload}.${mac(input.callbackKey, payload, 'v2').toString('base64url')}`;
}

/**
 * The job's current attempt: 0 for its first Batch job, n after the n-th resubmission. Every
 * submission (the first and each resubmission) enters `submitting` once, and the Batch job of attempt
 * n is `batchJobIdFor(tenant, job, n)`.
 */
export function attemptOf(job: Pick<JobDoc, 'history'>): number {
  // Notes (a node removed, …) are not state changes: only entering `submitting` counts.
  return Math.max(0, job.history.filter((h) => h.state === 'submitting' && !h.note).length - 1);
}

/** Whether a token's attempt is the one whose Batch job the job runs now (ids compare ignoring case). */
export function isCurrentAttempt(attempt: number, job: Pick<JobDoc, 'tenant' | 'jobId' | 'batch'>): boolean {
  const current = job.batch?.jobId;
  return (
    current !== undefined &&
    batchJobIdFor(job.tenant, job.jobId, attempt).toLowerCase() === current.toLowerCase()
  );
}

/**
 * When a token issued now for a job should expire: past the job's `maxWallClockTime` (Batch ends the
 * job by then), or after DEFAULT_CALLBACK_TOKEN_SECONDS when it has none.
 */
export function callbackTokenExpiry(now: Date, maxWallClockTime: string | undefined): number {
  const wallClock = maxWallClockTime ? isoDurationSeconds(maxWallClockTime) : undefined;
  const lifetime =
    wallClock === undefined ? DEFAULT_CALLBACK_TOKEN_SECONDS : wallClock + CALLBACK_TOKEN_MARGIN_SECONDS;
  return Math.floor(now.getTime() / 1000) + Math.min(lifetime, MAX_CALLBACK_TOKEN_SECONDS);
}

export interface ParsedCallbackToken {
  readonly tenant: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly expiresAt: number;
  readonly version: 'v1' | 'v2';
}

/** The parts of a well-formed token (nothing verified yet), or undefined. */
export function parseCallbackToken(token: string): ParsedCallbackToken | undefined {
  const m = tokenPattern.exec(token);
  if (!m?.[1] || !m[2] || !m[4]) return undefined;
  return {
    tenant: m[1],
    jobId: m[2],
    attempt: m[3] === undefined ? 0 : Number(m[3]),
    expiresAt: Number(m[4]),
    version: m[3] === undefined ? 'v1' : 'v2',
  };
}

export type CallbackTokenCheck =
  | { readonly ok: true; readonly attempt: number }
  | { readonly ok: false; readonly code: 'Malformed' | 'WrongTenant' | 'WrongJob' | 'Expired' | 'BadMac' };

/**
 * Checks a presented token for the job in the URL: tenant, job id (Batch ids are unique ignoring case),
 * expiry, then the MAC in constant time. The attempt it names is returned: the caller holds it against
 * the job's current attempt (`isCurrentAttempt`).
 */
export function verifyTaskCallbackToken(input: {
  token: string;
  tenant: string;
  jobId: string;
  callbackKey: string;
  now: Date;
}): CallbackTokenCheck {
  const parsed = parseCallbackToken(input.token);
  if (!parsed) return { ok: false, code: 'Malformed' };
  if (parsed.tenant !== input.tenant) return { ok: false, code: 'WrongTenant' };
  if (parsed.jobId.toLowerCase() !== input.jobId.toLowerCase()) return { ok: false, code: 'WrongJob' };
  if (parsed.expiresAt <= input.now.getTime() / 1000) return { ok: false, code: 'Expired' };
  const dot = input.token.lastIndexOf('.');
  const expected = mac(input.callbackKey, input.token.slice(0, dot), parsed.version);
  const given = Buffer.from(input.token.slice(dot + 1), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, code: 'BadMac' };
  return { ok: true, attempt: parsed.attempt };
}

/**
 * Seconds in an ISO 8601 duration (`P[nY][nM][nW][nD][T[nH][nM][nS]]`). Years and months count as
 * 366 and 31 days: the token must outlive the job, so the longer reading is the safe one.
 */
export function isoDurationSeconds(duration: string): number | undefined {
  const m =
    /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      duration,
    );
  if (!m || duration === 'P' || duration.endsWith('T')) return undefined;
  const [, y, mo, w, d, h, mi, s] = m.map((v) => (v === undefined ? 0 : Number(v)));
  const seconds =
    (y ?? 0) * 366 * 86400 +
    (mo ?? 0) * 31 * 86400 +
    (w ?? 0) * 7 * 86400 +
    (d ?? 0) * 86400 +
    (h ?? 0) * 3600 +
    (mi ?? 0) * 60 +
    (s ?? 0);
  return Number.isFinite(seconds) ? Math.ceil(seconds) : undefined;
}
