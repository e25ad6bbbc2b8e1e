/**
 * A non-blocking keyed semaphore: at most `limit` holders per key (per process). `tryAcquire` never
 * waits: a caller over the limit does something else (the notifier re-queues its message) instead of
 * holding a worker while another key's slow work finishes.
 */
export interface KeyedLimiter {
  /** A release function, or undefined when `key` is at its limit. Releasing twice is harmless. */
  tryAcquire(key: string): (() => void) | undefined;
  inFlight(key: string): number;
}

export function createKeyedLimiter(limit: number): KeyedLimiter {
  const counts = new Map<string, number>();
  return {
    tryAcquire(key) {
      const n = counts.get(key) ?? 0;
      if (n >= limit) return undefined;
      counts.set(key, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(key) ?? 1) - 1;
        if (left <= 0) counts.delete(key);
        else counts.set(key, left);
      };
    },
    inFlight: (key) => counts.get(key) ?? 0,
  };
}
