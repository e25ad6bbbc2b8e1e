/**
 * The sweep timer: heals what at-least-once delivery and crashes can leave behind.
 * - jobs stuck in `accepted`, `planned` or `submitting` (a lost message, a dead lease holder) are
 *   re-driven by re-sending their stage's message (every stage is idempotent);
 * - events whose delivery is overdue (a lost notify message) are re-announced;
 * - managed pools idle past the TTL shrink to zero nodes, and are deleted after a second TTL.
 * A Batch job deleted outside Slotwise is caught by reconcile (its task counts come back 404).
 */

import type { Clock } from '../clock.js';
import { describeError } from '../errors.js';
import { queueNames } from '../queues/names.js';
import type { QueueGateway } from '../queues/queue-gateway.js';
import type { JobStore } from '../store/job-store.js';
import type { PoolStore } from '../store/pool-store.js';
import type { BatchGateway } from './batch-gateway.js';

export interface SweepDeps {
  readonly jobs: JobStore;
  readonly pools: PoolStore;
  readonly batch: BatchGateway;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly stuckAfterMs: number;
  readonly poolIdleTtlMs: number;
  /** Grace before an overdue delivery counts as lost. Default 30 s. */
  readonly deliveryGraceMs?: number;
  readonly log?: (message: string) => void;
}

export interface SweepReport {
  redriven: number;
  reannounced: number;
  poolsShrunk: number;
  poolsDeleted: number;
}

export async function runSweep(deps: SweepDeps): Promise<SweepReport> {
  const now = deps.clock.now().getTime();
  const report: SweepReport = { redriven: 0, reannounced: 0, poolsShrunk: 0, poolsDeleted: 0 };

  const stuck = await deps.jobs.listInStates(['accepted', 'planned', 'submitting'], {
    updatedBefore: new Date(now - deps.stuckAfterMs).toISOString(),
    limit: 500,
  });
  for (const job of stuck) {
    const lease = job.submission?.lease;
    if (job.state === 'submitting' && lease && Date.parse(lease.until) > now) continue;
    const queue = job.state === 'accepted' ? queueNames.plan : queueNames.submit;
    await deps.queues.send(queue, { tenant: job.tenant, jobId: job.jobId });
    report.redriven++;
  }

  const overdue = await deps.jobs.listWithDueDeliveries(
    new Date(now - (deps.deliveryGraceMs ?? 30_000)).toISOString(),
    500,
  );
  for (const job of overdue) {
    await deps.queues.send(queueNames.notify, { tenant: job.tenant, jobId: job.jobId });
    report.reannounced++;
  }

  const idle = await deps.pools.listIdleSince(new Date(now - deps.poolIdleTtlMs).toISOString(), 100);
  for (const pool of idle) {
    try {
      const owner = { tenant: pool.tenant, spec: pool.spec };
      if ((await deps.batch.countActiveJobsOnPool(pool.id)) > 0) {
        await deps.pools.touch(pool.id, owner, deps.clock.now());
        continue;
      }
      if (!pool.shrunkAt) {
        // Guarded: a pool whose metadata is not this owner's is left alone.
        await deps.batch.resizePool(pool.id, { dedicated: 0, lowPriority: 0 }, owner);
        await deps.pools.markShrunk(pool.id, deps.clock.now());
        report.poolsShrunk++;
      } else if (Date.parse(pool.shrunkAt) < now - deps.poolIdleTtlMs) {
        await deps.batch.deletePool(pool.id, owner);
        await deps.pools.remove(pool.id);
        report.poolsDeleted++;
      }
    } catch (e) {
      deps.log?.(`Idle pool ${pool.id} left as is this time: ${describeError(e)}`);
    }
  }
  return report;
}
