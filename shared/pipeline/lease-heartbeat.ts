/**
 * Short leases kept alive while the work goes on (issue 18).
 *
 * A stage's claim on a job (or the pool controller's on a tenant) is short — `DEFAULT_LEASE_MS` — so
 * when its holder dies (a worker restart, a killed host) the next message or the sweep takes the job
 * over within about that long, not minutes later. A live holder renews it on a timer of its own,
 * independent of how long one round of work takes. Renewal is ETag-guarded and only by the holder:
 * if it finds the lease gone (it lapsed during a long pause and another holder claimed it) it
 * reports `lost`, and the work stops at its next check, so two holders never go on together.
 */

import type { JobStore } from '../adapters/cosmos/job-store.js';

/** How long a claim lasts without renewal. */
export const DEFAULT_LEASE_MS = 30_000;

/** How often a live holder renews: a third of the lease, so two missed renewals still hold it. */
export function heartbeatEveryMs(leaseMs: number): number {
  return Math.max(50, Math.floor(leaseMs / 3));
}

export interface LeaseHeartbeat {
  /** True once a renewal found the lease held by someone else (or the work gone): stop working. */
  readonly lost: boolean;
  /** Stops renewing (waits for a renewal under way, so none lands after the lease is released). */
  stop(): Promise<void>;
}

/**
 * Calls `renew` every `everyMs` until stopped. `renew` resolves true while this holder still holds
 * the lease; false ends the heartbeat with `lost`. A failed renewal (a Cosmos hiccup) is logged and
 * tried again on the next beat: the lease outlasts two missed beats.
 */
export function keepLeaseAlive(
  renew: () => Promise<boolean>,
  everyMs: number,
  log?: (message: string) => void,
): LeaseHeartbeat {
  let lost = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const beat = () => {
    timer = undefined;
    if (stopped) return;
    running = renew().then(
      (held) => {
        if (!held) lost = true;
      },
      (e: unknown) =>
        log?.(`Lease renewal failed, tried again: ${e instanceof Error ? e.message : String(e)}`),
    );
    void running.then(() => {
      if (!stopped && !lost) schedule();
    });
  };
  const schedule = () => {
    timer = setTimeout(beat, everyMs);
    // Never keeps a process alive on its own.
    timer.unref?.();
  };
  schedule();
  return {
    get lost() {
      return lost;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/** The stages whose lease lives on the job document, and the state the job is in while one holds it. */
const stageStates = { planning: 'accepted', submission: 'submitting' } as const;

/**
 * Renews `owner`'s lease on the job's `planning` or `submission` record, until `until()`; false once
 * another holder has it or the job has left the stage (nothing to renew). `updatedAt` is left alone:
 * a renewal is not progress.
 */
export async function renewStageLease(
  jobs: Pick<JobStore, 'update'>,
  job: { readonly tenant: string; readonly jobId: string },
  stage: keyof typeof stageStates,
  owner: string,
  until: () => string,
): Promise<boolean> {
  let held = true;
  await jobs.update(job.tenant, job.jobId, (current) => {
    held = true;
    const record = current[stage];
    if (current.state !== stageStates[stage] || !record) return undefined;
    if (record.lease?.owner !== owner) {
      held = false;
      return undefined;
    }
    const lease = { owner, until: until() };
    return stage === 'planning'
      ? { ...current, planning: { ...current.planning!, lease } }
      : { ...current, submission: { ...current.submission!, lease } };
  });
  return held;
}
