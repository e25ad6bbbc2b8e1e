import type { AppDeps } from '../shared/app.js';
import { acceptJob } from '../shared/jobs/accept-job.js';
import { parseIntakeEnvelope } from '../shared/jobs/intake-message.js';
import { queueNames } from '../shared/queues/names.js';
import type { StorageQueueFunction } from './definition.js';

/**
 * Queue intake on `job-requests`. A message whose envelope cannot be understood, or whose tenant does
 * not exist, is moved to `job-requests-poison` at once with the reason logged (retrying cannot fix it);
 * a well-formed envelope with an invalid job is stored as a `rejected` job carrying its errors.
 */
export const intake: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'intake',
  queueName: queueNames.jobRequests,
  handler: async (message, context, deps) => {
    const parsed = parseIntakeEnvelope(message);
    const tenant = parsed.ok ? await deps.tenants.get(parsed.envelope.tenant) : undefined;
    if (!parsed.ok || !tenant) {
      const reason = parsed.ok ? `unknown tenant '${parsed.envelope.tenant}'` : parsed.reason;
      context.warn(
        `Moving message ${String(context.triggerMetadata?.id)} to ${queueNames.jobRequests}-poison: ${reason}`,
      );
      await deps.queues.sendRaw(
        `${queueNames.jobRequests}-poison`,
        rawPayload(message, context.triggerMetadata),
      );
      return;
    }
    const result = await acceptJob(
      { tenant: tenant.id, body: parsed.envelope.job, source: 'queue' },
      { ...deps, log: (m) => context.warn(m) },
    );
    if (result.kind === 'conflict') {
      context.warn(`Job ${result.job.jobId} already exists with a different request; message ignored`);
    } else if (result.kind === 'rejected') {
      context.info(`Job ${result.job.jobId} rejected: ${result.job.errors?.length ?? 0} invalid field(s)`);
    }
  },
};

/** The original message text (the host gives it as `queueTrigger`), re-encoded as the host expects. */
function rawPayload(message: unknown, metadata: Record<string, unknown> | undefined): string {
  const text = metadata?.queueTrigger;
  if (typeof text === 'string') return text;
  return typeof message === 'string' ? message : JSON.stringify(message);
}
