/**
 * Queue intake messages.
 *
 * - External, on `job-requests`: `{ "tenant": "<id>", "job": <job request>, "proof": <intake proof> }`
 *   (see intake-proof.ts for how the proof is made and checked).
 * - Internal, on `slotwise-intake-deferred`: a request whose proof was verified but which met a limit
 *   that frees up with time; it waits there (a visibility delay) and is admitted again later. Only the
 *   app can write internal queues, so this message carries no proof of its own.
 */
import { z } from 'zod';
import { tenantIdPattern } from '../adapters/cosmos/tenant-store.js';
import { SlotwiseError } from '../core/errors.js';
import { type IntakeProof, intakeProofSchema } from './intake-proof.js';

const jobObject = z.record(z.string(), z.unknown(), {
  error: (issue) => (issue.input === undefined ? 'is required' : 'must be a JSON object (a job request)'),
});

const envelope = z.strictObject({
  tenant: z.string().regex(tenantIdPattern, 'must be a tenant id'),
  job: jobObject,
  proof: intakeProofSchema.optional(),
});

export type IntakeEnvelope = {
  readonly tenant: string;
  readonly job: Readonly<Record<string, unknown>>;
  readonly proof?: IntakeProof;
};

export function parseIntakeEnvelope(
  message: unknown,
): { ok: true; envelope: IntakeEnvelope } | { ok: false; reason: string } {
  const parsed = envelope.safeParse(message);
  if (parsed.success) return { ok: true, envelope: parsed.data };
  return { ok: false, reason: describeIssues(parsed.error) };
}

const deferredSchema = z.strictObject({
  tenant: z.string().regex(tenantIdPattern),
  /** The job request with its id set (given by the tenant, or derived from the proof id). */
  job: z.record(z.string(), z.unknown()).refine((j) => typeof j.id === 'string', 'must carry its id'),
  /** The proof that was verified when the message arrived on `job-requests`. */
  proofVerified: z.strictObject({ id: z.string().min(1).max(128), at: z.iso.datetime() }),
  /** How many times the request has waited so far (1 on its first wait). */
  waits: z.number().int().positive(),
});

export type DeferredIntake = z.infer<typeof deferredSchema>;

/** Throws a non-retryable error: a malformed internal message ends in the poison queue. */
export function parseDeferredIntake(message: unknown): DeferredIntake {
  const parsed = deferredSchema.safeParse(message);
  if (!parsed.success)
    throw new SlotwiseError(
      'InvalidDeferredIntake',
      `Malformed deferred intake: ${describeIssues(parsed.error)}`,
    );
  return parsed.data;
}

/** Upper bound of one wait before jitter: a freed quota is noticed within about this long. */
export const MAX_DEFER_SECONDS = 900;

/**
 * How long a limited request waits before its next try: the limit's `Retry-After`, doubling with each
 * wait, capped at MAX_DEFER_SECONDS, then jittered (×0.75..1.25) so a burst that was limited together
 * does not come back together. Never shorter than `Retry-After` (trying earlier cannot succeed).
 */
export function deferDelaySeconds(retryAfterSeconds: number, waits: number, random: () => number): number {
  const base = Math.max(1, Math.ceil(retryAfterSeconds));
  const grown = Math.min(MAX_DEFER_SECONDS, base * 2 ** Math.min(Math.max(waits - 1, 0), 16));
  return Math.max(base, Math.ceil(grown * (0.75 + 0.5 * random())));
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ');
}
