/**
 * Webhook retry schedule, as data: about a day in all (Standard Webhooks' suggested steps). Each delay
 * is jittered ±20 % with an injected random source and fits one queue visibility delay (≤ 7 days).
 */
export const webhookRetryScheduleMs: readonly number[] = [
  5_000, // after the first failure
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

/** Delay after failed attempt number `attempt` (1-based), or undefined when it is time to give up. */
export function nextAttemptDelay(attempt: number, random: () => number): number | undefined {
  const base = webhookRetryScheduleMs[attempt - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (0.8 + 0.4 * random()));
}
