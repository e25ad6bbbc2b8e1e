/**
 * Task counts as Batch may serve them: behind the truth. Batch documents `GET /jobs/{id}/taskcounts`
 * as possibly out of date; with a lag of L simulated seconds the emulator answers the counts that
 * were true L seconds ago. Each job keeps its counts at every instant they changed, trimmed to the
 * lag window. A lag of 0 (the default) keeps no history and answers the live counts.
 */
import type { Counts, JobRec } from './model.js';

interface Snapshot {
  at: number;
  counts: Counts;
  slotCounts: Counts;
}

const ZERO: Counts = { active: 0, running: 0, succeeded: 0, failed: 0 };

export class TaskCountHistory {
  private lagMs = 0;
  private readonly byJob = new WeakMap<JobRec, Snapshot[]>();

  get lagSeconds(): number {
    return this.lagMs / 1000;
  }

  /** Starts (or stops) lagging; jobs start their history with what is true now. */
  setLag(seconds: number, jobs: Iterable<JobRec>, now: number): void {
    this.lagMs = seconds * 1000;
    for (const job of jobs) {
      if (this.lagMs === 0) this.byJob.delete(job);
      else this.byJob.set(job, [{ at: now, counts: { ...job.counts }, slotCounts: { ...job.slotCounts } }]);
    }
  }

  /** A new job: before its creation it had no tasks. */
  jobCreated(job: JobRec, at: number): void {
    if (this.lagMs === 0) return;
    this.byJob.set(job, [{ at, counts: { ...ZERO }, slotCounts: { ...ZERO } }]);
  }

  /** The job's counts changed at `at` (the last change within one instant wins). */
  record(job: JobRec, at: number): void {
    if (this.lagMs === 0) return;
    let list = this.byJob.get(job);
    if (!list) {
      list = [];
      this.byJob.set(job, list);
    }
    const last = list[list.length - 1];
    // A run that waited for real I/O ends at its simulated end, which may precede the last change
    // recorded: the history stays in time order.
    if (last && at < last.at) at = last.at;
    const snapshot = { at, counts: { ...job.counts }, slotCounts: { ...job.slotCounts } };
    if (last && last.at === at) list[list.length - 1] = snapshot;
    else list.push(snapshot);
    // Keep one snapshot at or before the horizon: it is what the counts read until the next one.
    const horizon = at - this.lagMs;
    let drop = 0;
    while (drop + 1 < list.length && (list[drop + 1]?.at ?? Number.POSITIVE_INFINITY) <= horizon) drop++;
    if (drop > 0) list.splice(0, drop);
  }

  /** The counts to serve now. */
  read(job: JobRec, now: number): { counts: Counts; slotCounts: Counts } {
    const list = this.lagMs === 0 ? undefined : this.byJob.get(job);
    if (!list || list.length === 0) return { counts: job.counts, slotCounts: job.slotCounts };
    const horizon = now - this.lagMs;
    let pick = list[0] as Snapshot;
    for (const s of list) {
      if (s.at > horizon) break;
      pick = s;
    }
    return { counts: pick.counts, slotCounts: pick.slotCounts };
  }
}
