/**
 * The simulated clock: simulated time = real elapsed time × factor, plus manual advances.
 * Real time comes from an injected source so tests can drive it.
 */
export interface SimClock {
  /** Simulated now, epoch milliseconds. */
  now(): number;
  readonly factor: number;
  setFactor(factor: number): void;
  advance(ms: number): void;
}

export function createSimClock(factor: number, realNow: () => number = Date.now): SimClock {
  let baseReal = realNow();
  let baseSim = baseReal;
  let rate = factor;
  const now = () => baseSim + (realNow() - baseReal) * rate;
  return {
    now,
    get factor() {
      return rate;
    },
    setFactor(next: number) {
      baseSim = now();
      baseReal = realNow();
      rate = next;
    },
    advance(ms: number) {
      baseSim += ms;
    },
  };
}
