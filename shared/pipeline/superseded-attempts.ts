/**
 * The Batch jobs of attempts a resubmission replaced. Once ended they do nothing but pile up in the
 * shared account (and one still ending counts against its quota of active jobs), so they are deleted:
 * by the submitter as soon as the new attempt is in Batch, and by reconcile when the job ends (for an
 * old attempt that was still terminating then). Guarded like every Batch action: only a Batch job
 * whose metadata names this tenant's job, and only once it has ended. Best effort and idempotent: a
 * Batch job already gone is skipped, and a failure waits for the next chance.
 */

import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import { describeError } from '../core/errors.js';
import { batchJobIdFor } from '../model/batch-names.js';
import { attemptOf } from '../model/callback-token.js';
import type { JobDoc } from '../model/job.js';

export interface SupersededDeps {
  readonly batch: Pick<BatchGateway, 'deleteEndedJob'>;
  readonly log?: (message: string) => void;
}

/** Batch job ids of the attempts before the job's current one. */
export function supersededBatchJobIds(job: Pick<JobDoc, 'tenant' | 'jobId' | 'history' | 'batch'>): string[] {
  const current = job.batch?.jobId.toLowerCase();
  const ids: string[] = [];
  for (let n = 0; n < attemptOf(job); n++) {
    const id = batchJobIdFor(job.tenant, job.jobId, n);
    if (id.toLowerCase() !== current) ids.push(id);
  }
  return ids;
}

/** Deletes the ended Batch jobs of superseded attempts; returns how many it deleted (or found deleting). */
export async function deleteSupersededAttempts(
  job: Pick<JobDoc, 'tenant' | 'jobId' | 'history' | 'batch'>,
  deps: SupersededDeps,
): Promise<number> {
  let deleted = 0;
  for (const id of supersededBatchJobIds(job)) {
    try {
      if ((await deps.batch.deleteEndedJob(id, { tenant: job.tenant, jobId: job.jobId })) === 'done')
        deleted++;
    } catch (e) {
      deps.log?.(`Batch job ${id} of an earlier attempt stays until the next try: ${describeError(e)}`);
    }
  }
  return deleted;
}
