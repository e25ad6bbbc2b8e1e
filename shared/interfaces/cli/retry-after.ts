/**
 * When the CLI asks the API again: an answer that says "later" (429 over the submission rate, 409
 * or 503 with `Retry-After` for a quota that frees with time or a host still starting) is retried
 * after the wait it names, within a bound, so a script neither fails at the first busy moment nor
 * hangs for good. A 409 or 503 without `Retry-After` is final (the job already ended, say).
 *
 * Pure decisions with the clock passed in, so tests pin them without waiting.
 */

/** How long and how often the CLI waits on "later" answers before giving up. */
export interface RetryBudget {
  /** Requests in all, the first included. Default 5. */
  readonly maxTries: number;
  /** Milliseconds of waiting in all; a wait that would pass it is not started. Default 60 000. */
  readonly maxWaitMs: number;
}

export const defaultRetryBudget: RetryBudget = { maxTries: 5, maxWaitMs: 60_000 };

/** A 429 that names no wait (the API always names one; a proxy may not): wait this long. */
const DEFAULT_429_WAIT_MS = 1000;

/**
 * `Retry-After` in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3), a date in the
 * past being 0; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only dates: `Date.parse` would also take "1.5" or "-3" as a date.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export type RetryDecision =
  | { readonly retry: true; readonly waitMs: number }
  | { readonly retry: false; readonly why?: string };

/**
 * Whether to send a request again after `status`, given the tries made so far (the first counts)
 * and the milliseconds already waited.
 */
export function decideRetry(
  status: number,
  retryAfter: string | null,
  {
    tries,
    waitedMs,
    now,
    budget = defaultRetryBudget,
  }: {
    tries: number;
    waitedMs: number;
    now: number;
    budget?: RetryBudget;
  },
): RetryDecision {
  if (status !== 429 && status !== 409 && status !== 503) return { retry: false };
  const named = parseRetryAfter(retryAfter, now);
  const waitMs = named ?? (status === 429 ? DEFAULT_429_WAIT_MS : undefined);
  if (waitMs === undefined) return { retry: false };
  if (tries >= budget.maxTries) return { retry: false, why: `gave up after ${tries} tries` };
  if (waitedMs + waitMs > budget.maxWaitMs) {
    return {
      retry: false,
      why:
        `gave up: the API asked to wait ${seconds(waitMs)}, past the ${seconds(budget.maxWaitMs)} ` +
        `the CLI waits in all${waitedMs > 0 ? ` (${seconds(waitedMs)} waited already)` : ''}`,
    };
  }
  return { retry: true, waitMs };
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
