import type { InvocationContext } from '@azure/functions';
import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { admitVerifiedRequest } from '../shared/usecases/admit-queued-job.js';
import { type IntakeEnvelope, parseIntakeEnvelope } from '../shared/usecases/intake-message.js';
import { IntakeProofError, jobIdFromProof, verifyIntakeProof } from '../shared/usecases/intake-proof.js';
import type { StorageQueueFunction } from './definition.js';

/**
 * Queue intake on `job-requests`. A message must prove its tenant (intake-proof.ts). A message whose
 * envelope cannot be understood, whose tenant does not exist or whose proof is missing, forged or
 * stale is moved to `job-requests-poison` at once, byte for byte, with the reason logged (retrying
 * cannot fix it), and nothing is stored for the tenant it claims. A proven envelope with an invalid
 * job is stored as a `rejected` job carrying its errors; one that meets a limit that frees up with
 * time waits (admit-queued-job.ts), once per job however many copies of it arrive.
 */
export const intake: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'intake',
  queueName: queueNames.jobRequests,
  handler: async (message, context, deps) => {
    const poison = async (reason: string) => {
      context.warn(
        `Moving message ${String(context.triggerMetadata?.id)} to ${queueNames.jobRequests}-poison: ${reason}`,
      );
      await deps.queues.sendRaw(
        `${queueNames.jobRequests}-poison`,
        rawPayload(message, context.triggerMetadata),
      );
    };
    const parsed = parseIntakeEnvelope(message);
    if (!parsed.ok) return poison(parsed.reason);
    const { envelope } = parsed;
    const tenant = await deps.tenants.get(envelope.tenant);
    if (!tenant) return poison(`unknown tenant '${envelope.tenant}'`);
    if (!envelope.proof) return poison('proof: is required (the message must be signed by its tenant)');
    try {
      verifyIntakeProof({
        proof: envelope.proof,
        tenant: tenant.id,
        job: envelope.job,
        secret: tenant.intakeSecret,
        insertedAt: insertionTime(context, deps),
      });
    } catch (e) {
      if (e instanceof IntakeProofError) return poison(`${e.code}: ${e.message}`);
      throw e;
    }
    await admitVerifiedRequest(
      {
        tenant: tenant.id,
        job: withJobId(envelope.tenant, envelope.job, envelope.proof.id),
        proofVerified: { id: envelope.proof.id, at: deps.clock.now().toISOString() },
      },
      messageIdOf(context, deps),
      { info: (m) => context.info(m), warn: (m) => context.warn(m) },
      deps,
    );
  },
};

/**
 * When Storage enqueued the message (trigger metadata, set by the service, not by the sender). Missing
 * only if the host gives no metadata; then the time of processing is the closest honest stand-in.
 */
function insertionTime(context: InvocationContext, deps: AppDeps): Date {
  const raw = context.triggerMetadata?.insertionTime;
  const at = typeof raw === 'string' || raw instanceof Date ? new Date(raw) : undefined;
  return at && !Number.isNaN(at.getTime()) ? at : deps.clock.now();
}

/**
 * The queue message's id (the same on every delivery of it), which lets a redelivered message finish
 * what it started. Both hosts give it; a fresh id only loses that recovery, never a request.
 */
export function messageIdOf(context: InvocationContext, deps: Pick<AppDeps, 'ids'>): string {
  const id = context.triggerMetadata?.id;
  return typeof id === 'string' && id !== '' ? id : `local-${deps.ids.uuid()}`;
}

/** The job as signed, with an id derived from the proof when it names none. */
function withJobId(tenant: string, job: IntakeEnvelope['job'], proofId: string): Record<string, unknown> {
  if (job.id !== undefined) return { ...job };
  return { ...job, id: jobIdFromProof(tenant, proofId) };
}

/** The original message text (the host gives it as `queueTrigger`), re-encoded as the host expects. */
function rawPayload(message: unknown, metadata: Record<string, unknown> | undefined): string {
  const text = metadata?.queueTrigger;
  if (typeof text === 'string') return text;
  return typeof message === 'string' ? message : JSON.stringify(message);
}
