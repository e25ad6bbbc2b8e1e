/** What a simulated task does, read from its command line, and ISO 8601 durations. */

/** `sleep N` → runs N simulated seconds (fractions allowed); `exit K` → exit code K; else 0 at once. */
export function commandBehaviour(commandLine: string): { durationMs: number; exitCode: number } {
  const sleep = /\bsleep\s+(\d+(?:\.\d+)?)/.exec(commandLine);
  const exit = /\bexit\s+(-?\d+)/.exec(commandLine);
  return {
    durationMs: sleep ? Math.round(Number(sleep[1]) * 1000) : 0,
    exitCode: exit ? Number(exit[1]) : 0,
  };
}

/** ISO 8601 duration (days, hours, minutes, seconds) → milliseconds; undefined if malformed. */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      text,
    );
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  return Math.round(
    ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60_000 +
      Number(m[4] ?? 0) * 1000,
  );
}

/** .NET TimeSpan.MaxValue, which Batch returns for "no limit". */
export const UNLIMITED_DURATION = 'P10675199DT2H48M5.4775807S';
