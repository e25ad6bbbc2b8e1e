/**
 * One Batch account's guard, shared by every call this instance makes to the account: a request
 * budget (token bucket), Batch's `Retry-After` honoured for the whole account, and the account's
 * health judged from recent calls with hysteresis.
 */
import { type AccountHealth, type AccountHealthState, healthRank } from '../../model/accounts.js';
import { BatchError } from './batch-error.js';

/** What one HTTP attempt came to, as the client saw it. */
export interface AttemptOutcome {
  /** The HTTP status; absent when no answer came (`failure` says why). */
  readonly status?: number;
  readonly failure?: 'network' | 'timeout';
  readonly retryAfterMs?: number;
  /** Batch's error code when it answered with one (never a message: it may quote a request). */
  readonly code?: string;
}

export interface AccountGuard {
  /**
   * Before each HTTP attempt to the account: waits for a budget token and for a `Retry-After` pause
   * to pass, up to `maxWaitMs` (default the guard's), else throws `BatchError` with code
   * `AccountThrottled` (status 429, retryable, `retryAfterMs` set) without calling Batch.
   */
  beforeRequest(options?: { maxWaitMs?: number; signal?: AbortSignal }): Promise<void>;
  /** After each attempt (every retry counts). */
  afterAttempt(outcome: AttemptOutcome): void;
  /** May a call go now without waiting (for passes that record what they could not do). */
  available(): boolean;
  /** The health as this instance judges it now. */
  health(): AccountHealth;
  /** Calls made and refused here since start (for reports and the health endpoint). */
  stats(): { readonly attempts: number; readonly refused: number; readonly failures: number };
}

/** A request budget: `perSecond` tokens added continuously, at most `burst` kept. */
export interface RequestBudget {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * The default budget for one Batch account. Batch publishes no request rate limit: "Batch service
 * quotas and limits" (learn.microsoft.com/azure/batch/batch-quota-limit) bounds resources (cores,
 * pools, active jobs), and "Error handling and detection in Azure Batch" (learn.microsoft.com/azure/
 * batch/error-handling) says only that throttling comes back as 429 or 503 with `Retry-After`. So
 * the budget is a conservative ceiling, not Batch's number: 100 calls a second is 10,000 tasks a
 * second through add-task-collection (100 tasks a call), more than one instance ever submits, and
 * a burst of 200 lets a submit round or a reconcile page go at once.
 */
export const defaultBatchBudget: RequestBudget = { perSecond: 100, burst: 200 };

/** When an account counts as unhealthy, degraded, and healthy again. */
export interface HealthThresholds {
  /** How far back the window reaches. Default 60,000 ms. */
  readonly windowMs: number;
  /** The most recent attempts the window keeps. Default 100. */
  readonly windowCount: number;
  /** Failures in a row that make the account unhealthy. Default 5. */
  readonly unhealthyConsecutive: number;
  /** Share of failed attempts in the window that makes it unhealthy… Default 0.5. */
  readonly unhealthyRatio: number;
  /** …once the window holds at least this many attempts. Default 10. */
  readonly unhealthyMinAttempts: number;
  /** Failures in the window that make it degraded. Default 2 (one failure now and then is noise). */
  readonly degradedFailures: number;
  /** Throttled answers (429) in the window that make it degraded. Default 1. */
  readonly degradedThrottled: number;
  /** Successes in a row before the state may get better. Default 3. */
  readonly recoverSuccesses: number;
  /** Time since the last failure or throttled answer before the state may get better. Default 30,000 ms. */
  readonly recoverAfterMs: number;
}

export const defaultHealthThresholds: HealthThresholds = {
  windowMs: 60_000,
  windowCount: 100,
  unhealthyConsecutive: 5,
  unhealthyRatio: 0.5,
  unhealthyMinAttempts: 10,
  degradedFailures: 2,
  degradedThrottled: 1,
  recoverSuccesses: 3,
  recoverAfterMs: 30_000,
};

export interface AccountGuardOptions {
  /** Wall-clock milliseconds (`Date.now` in production; a fake clock in tests). */
  readonly now: () => number;
  /** Waits `ms` (rejecting when `signal` aborts). Default: a timer. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Default `defaultBatchBudget`. */
  readonly budget?: RequestBudget;
  /** How long `beforeRequest` may wait for a token or a pause. Default 2,000 ms. */
  readonly maxWaitMs?: number;
  /**
   * The longest pause one `Retry-After` imposes. Default 60,000 ms (the client's longest backoff):
   * one odd header must not stop every call to the account for hours.
   */
  readonly maxPauseMs?: number;
  readonly health?: Partial<HealthThresholds>;
}

type Verdict = 'success' | 'failure' | 'throttled';

interface Recorded {
  readonly at: number;
  readonly verdict: Verdict;
  /** `503 ServerBusy`, `network`: what the reason line quotes. */
  readonly label: string;
}

const safeCode = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * What an attempt says of the account. 401/403 count as failures (a rotated key or a missing role
 * assignment stops every call), 408 and 5xx as failures, 429 as throttling; any other answer, 4xx
 * included, shows the account working (a 404 or a 409 is the caller's business).
 */
export function classifyAttempt(outcome: AttemptOutcome): { verdict: Verdict; label: string } {
  // A code the client made up from the status (`Http503`, for an answer without a body) adds nothing.
  const code =
    outcome.code !== undefined && safeCode.test(outcome.code) && outcome.code !== `Http${outcome.status}`
      ? ` ${outcome.code}`
      : '';
  if (outcome.status === undefined)
    return { verdict: 'failure', label: outcome.failure === 'timeout' ? 'timeout' : 'network' };
  const label = `${outcome.status}${code}`;
  if (outcome.status === 429) return { verdict: 'throttled', label };
  if (outcome.status >= 500 || outcome.status === 401 || outcome.status === 403 || outcome.status === 408)
    return { verdict: 'failure', label };
  return { verdict: 'success', label };
}

/**
 * The guard of one account. The budget is a token bucket where a caller reserves its token up front
 * (the count may go below zero), so waiters are served in the order they came and none waits longer
 * than its reservation says. Health is a small state machine over a window of recent attempts:
 * worse at once when the window says so, better only once the account has been clean for
 * `recoverAfterMs` with `recoverSuccesses` successes in a row, so an account failing every other
 * call does not flip on each one.
 */
export function createAccountGuard(options: AccountGuardOptions): AccountGuard {
  const { now } = options;
  const sleep = options.sleep ?? abortableSleep;
  const budget = options.budget ?? defaultBatchBudget;
  const defaultMaxWait = options.maxWaitMs ?? 2_000;
  const maxPauseMs = options.maxPauseMs ?? 60_000;
  const limits: HealthThresholds = { ...defaultHealthThresholds, ...options.health };
  if (!(budget.perSecond > 0) || !(budget.burst >= 1))
    throw new RangeError('An account budget needs perSecond > 0 and burst >= 1');

  let tokens = budget.burst;
  let refilledAt = now();
  let pausedUntil = 0;

  let window: Recorded[] = [];
  let consecutiveFailures = 0;
  let consecutiveSuccesses = 0;
  let lastBadAt: number | undefined;
  let lastFailureLabel = '';
  let state: AccountHealth = { state: 'healthy', since: new Date(refilledAt).toISOString() };
  const counts = { attempts: 0, refused: 0, failures: 0 };

  function refill(t: number): void {
    if (t > refilledAt) {
      tokens = Math.min(budget.burst, tokens + ((t - refilledAt) / 1000) * budget.perSecond);
      refilledAt = t;
    }
  }

  function giveBack(): void {
    tokens = Math.min(budget.burst, tokens + 1);
  }

  function refuse(waitMs: number): BatchError {
    counts.refused++;
    const retryAfterMs = Math.max(1, Math.ceil(waitMs));
    return new BatchError({
      code: 'AccountThrottled',
      message: `The Batch account is throttled here: the next call may go in ${retryAfterMs} ms`,
      status: 429,
      retryAfterMs,
      retryable: true,
    });
  }

  /** Drops what is older than the window or beyond its count. */
  function prune(t: number): void {
    const from = t - limits.windowMs;
    let first = 0;
    while (first < window.length && window[first]!.at < from) first++;
    const overCount = window.length - first - limits.windowCount;
    if (overCount > 0) first += overCount;
    if (first > 0) window = window.slice(first);
  }

  /** What the window alone says, with the reason for anything but healthy. */
  function judge(): { state: AccountHealthState; reason?: string } {
    const total = window.length;
    const failed = window.filter((r) => r.verdict === 'failure');
    const throttled = window.filter((r) => r.verdict === 'throttled');
    const seconds = Math.round(limits.windowMs / 1000);
    const last = (rs: Recorded[]) => rs[rs.length - 1]?.label ?? lastFailureLabel;
    if (consecutiveFailures >= limits.unhealthyConsecutive)
      return {
        state: 'unhealthy',
        reason: `${consecutiveFailures} calls in a row failed (last: ${lastFailureLabel})`,
      };
    if (total >= limits.unhealthyMinAttempts && failed.length / total >= limits.unhealthyRatio)
      return {
        state: 'unhealthy',
        reason: `${failed.length} of the last ${total} calls in ${seconds} s failed (last: ${last(failed)})`,
      };
    if (failed.length >= limits.degradedFailures)
      return {
        state: 'degraded',
        reason: `${failed.length} of the last ${total} calls in ${seconds} s failed (last: ${last(failed)})`,
      };
    if (throttled.length >= limits.degradedThrottled)
      return {
        state: 'degraded',
        reason: `${throttled.length} of the last ${total} calls in ${seconds} s were throttled (last: ${last(throttled)})`,
      };
    return { state: 'healthy' };
  }

  function evaluate(t: number): AccountHealth {
    prune(t);
    const verdict = judge();
    const current = state.state;
    const worse = healthRank[verdict.state] > healthRank[current];
    const better =
      healthRank[verdict.state] < healthRank[current] &&
      consecutiveSuccesses >= limits.recoverSuccesses &&
      (lastBadAt === undefined || t - lastBadAt >= limits.recoverAfterMs);
    if (worse || better) {
      state = {
        state: verdict.state,
        since: new Date(t).toISOString(),
        ...(verdict.reason ? { reason: verdict.reason } : {}),
      };
    } else if (verdict.state === current && verdict.reason && verdict.reason !== state.reason) {
      // Same state, fresher counts.
      state = { ...state, reason: verdict.reason };
    }
    return state;
  }

  return {
    async beforeRequest(request = {}) {
      const limit = request.maxWaitMs ?? defaultMaxWait;
      const { signal } = request;
      const started = now();
      const deadline = started + limit;
      refill(started);
      const readyAt = started + (tokens >= 1 ? 0 : ((1 - tokens) / budget.perSecond) * 1000);
      const firstWait = Math.max(readyAt, pausedUntil) - started;
      if (firstWait > limit) throw refuse(firstWait);
      tokens -= 1;
      for (;;) {
        const t = now();
        // A pause may begin while this caller waits for its token: it then waits for that too.
        const wait = Math.max(readyAt, pausedUntil) - t;
        if (wait <= 0) return;
        if (t + wait > deadline) {
          giveBack();
          throw refuse(wait);
        }
        try {
          await sleep(wait, signal);
        } catch (e) {
          giveBack();
          throw new BatchError({
            code: 'Aborted',
            message: 'The call was abandoned while it waited for the Batch account',
            retryable: false,
            cause: e,
          });
        }
      }
    },

    afterAttempt(outcome) {
      const t = now();
      const { verdict, label } = classifyAttempt(outcome);
      counts.attempts++;
      if (
        (outcome.status === 429 || outcome.status === 503) &&
        outcome.retryAfterMs !== undefined &&
        outcome.retryAfterMs > 0
      )
        pausedUntil = Math.max(pausedUntil, t + Math.min(outcome.retryAfterMs, maxPauseMs));
      if (verdict === 'failure') {
        counts.failures++;
        consecutiveFailures++;
        consecutiveSuccesses = 0;
        lastBadAt = t;
        lastFailureLabel = label;
      } else if (verdict === 'throttled') {
        // Neither a failure of the account nor proof it is well.
        consecutiveSuccesses = 0;
        lastBadAt = t;
      } else {
        consecutiveFailures = 0;
        consecutiveSuccesses++;
      }
      window.push({ at: t, verdict, label });
      evaluate(t);
    },

    available() {
      const t = now();
      refill(t);
      return tokens >= 1 && t >= pausedUntil;
    },

    health() {
      return evaluate(now());
    },

    stats() {
      return { ...counts };
    },
  };
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
