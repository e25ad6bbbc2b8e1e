/** ISO 8601 durations as the request schema accepts them (`P[nY][nM][nW][nD][T[nH][nM][nS]]`). */

/** Seconds in an ISO 8601 duration as the request schema accepts it (years and months as 365 and 30 days). */
export function durationSeconds(iso: string): number {
  const m =
    /^P(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/.exec(
      iso,
    );
  if (!m) return Number.NaN;
  const n = (i: number) => Number((m[i] ?? '0').replace(',', '.'));
  return (
    n(1) * 31_536_000 + n(2) * 2_592_000 + n(3) * 604_800 + n(4) * 86_400 + n(5) * 3600 + n(6) * 60 + n(7)
  );
}
