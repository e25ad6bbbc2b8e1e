/**
 * Cancellation (DELETE /api/jobs/{id}): idempotent. Terminates the Batch job when there may be one,
 * then moves the job to `cancelled`; stages that pick the job up later see the state and stop.
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import type { JobDoc } from '../model/job.js';
import { canTransition, transition } from '../model/lifecycle.js';
import { announce } from '../pipeline/announce.js';
import { inAccount } from '../pipeline/job-account.js';

export type CancelResult =
  | { readonly kind: 'cancelled'; readonly job: JobDoc }
  | { readonly kind: 'ended'; readonly job: JobDoc }
  | { readonly kind: 'notFound' };

export async function cancelJob(
  tenant: string,
  jobId: string,
  useDeps: {
    jobs: JobStore;
    batch: BatchGateway;
    accounts?: Pick<BatchAccounts, 'gateway'>;
    queues: QueueGateway;
    clock: Clock;
    ids: Ids;
  },
): Promise<CancelResult> {
  const job = await useDeps.jobs.get(tenant, jobId);
  if (!job) return { kind: 'notFound' };
  const deps = inAccount(useDeps, job.batch?.account);
  if (job.state !== 'cancelled' && !canTransition(job.state, 'cancelled')) return { kind: 'ended', job };
  const mayHaveBatchJob = job.batch && job.state !== 'accepted' && job.state !== 'planned';
  if (job.batch && (mayHaveBatchJob || job.state === 'cancelled')) {
    await deps.batch.terminateJob(job.batch.jobId, 'Cancelled in Slotwise', { tenant, jobId: job.jobId });
  }
  const result = await deps.jobs.update(tenant, jobId, (current) =>
    canTransition(current.state, 'cancelled')
      ? transition(current, 'cancelled', deps.clock.now(), deps.ids.uuid())
      : undefined,
  );
  if (!result) return { kind: 'notFound' };
  if (result.changed) {
    // A submission that created the Batch job between our read and this write is caught by the
    // submitter, which re-checks the state after every round.
    if (result.job.batch && !mayHaveBatchJob)
      await deps.batch.terminateJob(result.job.batch.jobId, 'Cancelled in Slotwise', {
        tenant,
        jobId: result.job.jobId,
      });
    await announce(result.job, deps.queues);
  }
  return result.job.state === 'cancelled'
    ? { kind: 'cancelled', job: result.job }
    : { kind: 'ended', job: result.job };
}
