/**
 * Tokens of a tenant's submission rate (the GCRA cell in its usage documents), taken together.
 *
 * A workflow engine posts TES tasks many at once; each would otherwise race on the tenant's one rate
 * document: every loser re-reads and tries again, and past a bound of conflicts the task is told to
 * slow down although the rate had room. Here the creates of a tenant waiting in this instance take
 * their tokens in one write per batch, one batch in flight per tenant and cell; instances still share
 * the cell through its ETag. (Jobs keep one token per submission: each admitted job also writes the
 * tenant's usage ledger, where taking many tokens at once would only move the race.)
 */
import type { UsageStore } from '../adapters/cosmos/usage-store.js';

export type RateCell = 'jobs' | 'tes';
export type TokenOutcome = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

interface Batch {
  readonly rate: { readonly perSecond: number; readonly burst: number };
  readonly waiters: { resolve: (o: TokenOutcome) => void; reject: (e: unknown) => void }[];
}

const batches = new Map<string, Batch>();
const flushes = new Map<string, Promise<void>>();

export function takeRateToken(
  tenant: string,
  cell: RateCell,
  rate: { readonly perSecond: number; readonly burst: number },
  deps: { readonly usage: Pick<UsageStore, 'takeSubmissions'>; readonly clock: { now(): Date } },
): Promise<TokenOutcome> {
  const key = `${cell}\n${tenant}`;
  return new Promise((resolve, reject) => {
    let batch = batches.get(key);
    if (!batch) {
      const created: Batch = { rate, waiters: [] };
      batch = created;
      batches.set(key, created);
      const flush = (flushes.get(key) ?? Promise.resolve()).then(async () => {
        batches.delete(key);
        try {
          const { granted, retryAfterMs } = await deps.usage.takeSubmissions(
            tenant,
            created.rate,
            deps.clock,
            cell,
            created.waiters.length,
          );
          for (const [i, w] of created.waiters.entries())
            w.resolve(i < granted ? { ok: true } : { ok: false, retryAfterMs });
        } catch (e) {
          // The store failed (not a limit): each waiter fails as its own request would have.
          for (const w of created.waiters) w.reject(e);
        }
      });
      flushes.set(key, flush);
      void flush.finally(() => {
        if (flushes.get(key) === flush) flushes.delete(key);
      });
    }
    batch.waiters.push({ resolve, reject });
  });
}
