/**
 * Admission of a queued job whose tenant is proven (first from `job-requests`, later from
 * `slotwise-intake-deferred`). Over a limit that frees up with time the request waits on the deferred
 * queue (a visibility delay) instead of being rejected; one that could never fit is stored as a
 * `rejected` job by acceptJob itself.
 */
import { queueNames } from '../adapters/queues/names.js';
import { type AcceptDeps, acceptJob } from './accept-job.js';
import { type DeferredIntake, deferDelaySeconds } from './intake-message.js';

export type AdmitOutcome =
  | { readonly kind: 'accepted'; readonly jobId: string; readonly created: boolean }
  | { readonly kind: 'rejected'; readonly jobId: string; readonly errors: number }
  | { readonly kind: 'conflict'; readonly jobId: string }
  | {
      readonly kind: 'deferred';
      readonly limit: string;
      readonly delaySeconds: number;
      readonly waits: number;
    };

export interface AdmitLog {
  info(message: string): void;
  warn(message: string): void;
}

/** `request.waits` is how many times it has waited already (0 when it comes from `job-requests`). */
export async function admitQueuedJob(
  request: DeferredIntake | (Omit<DeferredIntake, 'waits'> & { waits: 0 }),
  log: AdmitLog,
  deps: AcceptDeps & { readonly random: () => number },
): Promise<AdmitOutcome> {
  const result = await acceptJob(
    { tenant: request.tenant, body: request.job, source: 'queue' },
    { ...deps, log: (m) => log.warn(m) },
  );
  const jobId = String(request.job.id);
  switch (result.kind) {
    case 'accepted':
      return { kind: 'accepted', jobId: result.job.jobId, created: result.created };
    case 'conflict':
      log.warn(`Job ${result.job.jobId} already exists with a different request; message ignored`);
      return { kind: 'conflict', jobId: result.job.jobId };
    case 'rejected':
      log.info(`Job ${result.job.jobId} rejected: ${result.job.errors?.length ?? 0} invalid field(s)`);
      return { kind: 'rejected', jobId: result.job.jobId, errors: result.job.errors?.length ?? 0 };
    case 'overLimit':
      // Over the queue acceptJob has stored the job as rejected, naming the limit.
      log.info(`Job ${jobId} rejected: it can never fit the tenant's '${result.limit}' limit`);
      return { kind: 'rejected', jobId, errors: result.errors.length };
    case 'invalid':
      // acceptJob stores queue requests as rejected instead; kept for exhaustiveness.
      log.warn(`Job ${jobId} invalid: ${result.errors.length} invalid field(s)`);
      return { kind: 'rejected', jobId, errors: result.errors.length };
    case 'limited': {
      const waits = request.waits + 1;
      const delaySeconds = deferDelaySeconds(result.retryAfterSeconds, waits, deps.random);
      const deferred: DeferredIntake = {
        tenant: request.tenant,
        job: request.job,
        proofVerified: request.proofVerified,
        waits,
      };
      await deps.queues.send(queueNames.intakeDeferred, deferred, { delaySeconds });
      log.info(`Job ${jobId} waits ${delaySeconds} s (over the '${result.limit}' limit; wait ${waits})`);
      return { kind: 'deferred', limit: result.limit, delaySeconds, waits };
    }
  }
}
