/**
 * The sweep timer: heals what at-least-once delivery and crashes can leave behind.
 * - jobs stuck in `accepted`, `planned` or `submitting` (a lost message, a dead lease holder) are
 *   re-driven by re-sending their stage's message (every stage is idempotent): those with no progress
 *   for `stuckAfterMs`, and at once those whose stage lease lapsed (its holder died; a live holder
 *   renews its short lease on a heartbeat, `lease-heartbeat.ts`);
 * - retry requests whose retrier died (its short lease lapsed while the request was in progress) are
 *   handed to the retrier again; it takes over the lapsed lease and carries on where the list stopped;
 * - events whose delivery is overdue (a lost notify message) are re-announced;
 * A Batch job deleted outside Slotwise is caught by reconcile (its task counts come back 404).
 *
 * Stuck jobs and overdue deliveries are taken fairly (`fair-order.ts`): a bounded share per tenant,
 * oldest first, round-robin across tenants, so one tenant's thousands of jobs never crowd out another's.
 */

import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { JobStore, WorkItem } from '../adapters/cosmos/job-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import { jobTraceField } from '../adapters/telemetry/spans.js';
import type { Clock } from '../core/clock.js';
import { type FairShare, takeFairly } from './fair-order.js';

export interface SweepDeps {
  readonly jobs: JobStore;
  readonly batch: BatchGateway;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly stuckAfterMs: number;
  /** Grace before an overdue delivery counts as lost. Default 30 s. */
  readonly deliveryGraceMs?: number;
  /** Jobs per tenant and per pass, for stuck jobs and for overdue deliveries each. Default 50 of 500. */
  readonly share?: FairShare;
  readonly log?: (message: string) => void;
}

export interface SweepReport {
  redriven: number;
  /** Retry requests handed to the retrier again because their retrier died. */
  retriesResumed: number;
  reannounced: number;
  /** Which jobs were re-driven and re-announced (at most `share.total` each), tenant by tenant. */
  redrivenJobs: { tenant: string; jobId: string }[];
  reannouncedJobs: { tenant: string; jobId: string }[];
  /** Stuck jobs skipped because a stage holds a live lease on them (or waits to retry). */
  leased: number;
}

const defaultShare: FairShare = { perTenant: 50, total: 500 };

export async function runSweep(deps: SweepDeps): Promise<SweepReport> {
  const now = deps.clock.now().getTime();
  const report: SweepReport = {
    redriven: 0,
    retriesResumed: 0,
    reannounced: 0,
    redrivenJobs: [],
    reannouncedJobs: [],
    leased: 0,
  };
  const share = deps.share ?? defaultShare;

  const stuck = await takeFairly(
    deps.jobs,
    'sweep-stuck',
    {
      states: ['accepted', 'planned', 'submitting'],
      updatedBefore: new Date(now - deps.stuckAfterMs).toISOString(),
      // A dead holder's job is re-driven as soon as its (short) lease lapses, not `stuckAfterMs`
      // after its last progress.
      leaseLapsedBefore: new Date(now).toISOString(),
    },
    share,
  );
  for (const job of stuck) {
    if (isHeld(job, now)) {
      report.leased++;
      continue;
    }
    const queue = job.state === 'accepted' ? queueNames.plan : queueNames.submit;
    await deps.queues.send(queue, { tenant: job.tenant, jobId: job.jobId, ...jobTraceField(job) });
    report.redriven++;
    report.redrivenJobs.push({ tenant: job.tenant, jobId: job.jobId });
  }

  const orphanedRetries = await takeFairly(
    deps.jobs,
    'sweep-retries',
    { retryLeaseLapsedBefore: new Date(now).toISOString() },
    share,
  );
  for (const job of orphanedRetries) {
    if (!job.retry) continue;
    await deps.queues.send(queueNames.retry, {
      tenant: job.tenant,
      jobId: job.jobId,
      requestId: job.retry.requestId,
    });
    report.retriesResumed++;
  }

  const overdue = await takeFairly(
    deps.jobs,
    'sweep-deliveries',
    { deliveryDueBefore: new Date(now - (deps.deliveryGraceMs ?? 30_000)).toISOString() },
    share,
  );
  for (const job of overdue) {
    await deps.queues.send(queueNames.notify, {
      tenant: job.tenant,
      jobId: job.jobId,
      ...jobTraceField(job),
    });
    report.reannounced++;
    report.reannouncedJobs.push({ tenant: job.tenant, jobId: job.jobId });
  }

  return report;
}

/** A stage is working on the job (live lease) or its own delayed retry is on the way. */
function isHeld(job: WorkItem, now: number): boolean {
  const live = (until: string | undefined) => until !== undefined && Date.parse(until) > now;
  if (job.state === 'submitting') return live(job.submission?.lease?.until);
  if (job.state === 'accepted') return live(job.planning?.lease?.until) || live(job.planning?.retryAt);
  return false;
}
