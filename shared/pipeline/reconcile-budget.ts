/**
 * One account's request budget for one reconcile pass: every gateway call (every page of a paged
 * listing) is counted, and refused before it goes out once the pass has spent its share or the
 * account's guard has no token to give without waiting. A refusal stops the account's work for the
 * pass; the pass records what it left (reconcile-listing.ts).
 */
import type { AccountGuard } from '../adapters/batch/account-guard.js';
import { BatchError } from '../adapters/batch/batch-error.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import { SlotwiseError } from '../core/errors.js';

/** The pass's share of the account is spent, or its guard would make the call wait. */
export class AccountBudgetSpentError extends SlotwiseError {
  constructor(account: string, why: 'share' | 'guard') {
    super(
      'AccountBudgetSpent',
      why === 'share'
        ? `The reconcile pass spent its calls to Batch account ${account}`
        : `Batch account ${account} has no request budget left now`,
      { retryable: true },
    );
  }
}

/** Why an account's work stopped for this pass. */
export type StopReason = 'budget' | 'throttled' | 'unavailable';

/**
 * Whether a failure is the account's (stop its work, keep the rest for the next pass) rather than
 * the job's: the budget, Batch throttling (the guard's `AccountThrottled`, or a 429 / 503 the client
 * gave up retrying), or no answer at all.
 */
export function stopReasonOf(e: unknown): StopReason | undefined {
  if (e instanceof AccountBudgetSpentError) return 'budget';
  if (!(e instanceof BatchError)) return undefined;
  if (e.code === 'AccountThrottled' || e.status === 429 || e.status === 503) return 'throttled';
  if (e.code === 'ConnectionFailed' || e.code === 'RequestTimeout') return 'unavailable';
  return undefined;
}

export interface Meter {
  /** Gateway calls made through the metered gateway (a page of a listing counts one). */
  readonly calls: number;
  /** The gateway whose calls are counted and refused past the budget. */
  readonly gateway: BatchGateway;
}

/** Methods that answer pages one at a time: each page pulled is a call. */
const paged = new Set<string>(['listJobPages', 'listNodeActivityPages']);

export function meterGateway(
  account: string,
  gateway: BatchGateway,
  guard: Pick<AccountGuard, 'available'>,
  maxCalls: number,
): Meter {
  let calls = 0;
  const check = () => {
    if (calls >= maxCalls) throw new AccountBudgetSpentError(account, 'share');
    if (!guard.available()) throw new AccountBudgetSpentError(account, 'guard');
  };
  const count = () => {
    calls++;
  };
  const metered = new Proxy(gateway, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...a: unknown[]) => unknown;
      if (paged.has(String(name))) {
        return (...args: unknown[]) =>
          meteredPages(method.apply(target, args) as AsyncIterable<unknown>, check, count);
      }
      return (...args: unknown[]) => {
        check();
        count();
        return method.apply(target, args);
      };
    },
  });
  return {
    get calls() {
      return calls;
    },
    gateway: metered,
  };
}

/** Checked before each page is asked for; counted when one comes (the end of a listing costs none). */
async function* meteredPages<T>(
  pages: AsyncIterable<T>,
  check: () => void,
  count: () => void,
): AsyncIterable<T> {
  const it = pages[Symbol.asyncIterator]();
  try {
    for (;;) {
      check();
      const next = await it.next();
      if (next.done) return;
      count();
      yield next.value;
    }
  } finally {
    await it.return?.();
  }
}
