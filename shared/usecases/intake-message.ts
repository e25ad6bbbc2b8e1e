/**
 * Queue intake messages.
 *
 * - External, on `job-requests`: `{ "tenant": "<id>", "job": <job request>, "proof": <intake proof> }`
 *   (see intake-proof.ts for how the proof is made and checked).
 * - Internal, on `slotwise-intake-deferred`: a pointer `{ tenant, jobId, waits }` to a request whose
 *   proof was verified but which met a limit that frees up with time. The request itself waits in
 *   Cosmos (intake-wait-store.ts), so the pointer stays small whatever the request's size (a queue
 *   message holds at most 64 KiB of base64, and a request may fill `job-requests` to that limit).
 *   Only the app can write internal queues, so the pointer carries no proof of its own.
 */
import { z } from 'zod';
import { tenantIdPattern } from '../adapters/cosmos/tenant-store.js';
import { SlotwiseError } from '../core/errors.js';
import { type IntakeProof, intakeProofSchema } from './intake-proof.js';

/**
 * The job is kept exactly as parsed (the same object): a record schema would copy it and silently drop
 * an own `__proto__` key, which then sits outside what the signature is checked against. Kept, the key
 * is signed like any other and the job is refused by validation ("unknown property __proto__").
 */
const jobObject = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  {
    error: (issue) => (issue.input === undefined ? 'is required' : 'must be a JSON object (a job request)'),
  },
);

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

const pointerSchema = z.strictObject({
  tenant: z.string().regex(tenantIdPattern),
  /** The waiting request's job id (its document is keyed by it). */
  jobId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
  /** Which try this pointer is for: one whose number the wait document has left behind is stale. */
  waits: z.number().int().positive(),
});

export type IntakePointer = z.infer<typeof pointerSchema>;

/**
 * The deferred message of earlier versions, which carried the request itself (and failed to send when
 * the request was near 64 KiB). Still read, so requests waiting during an upgrade are not lost.
 */
const legacyDeferredSchema = z.strictObject({
  tenant: z.string().regex(tenantIdPattern),
  job: z.record(z.string(), z.unknown()).refine((j) => typeof j.id === 'string', 'must carry its id'),
  proofVerified: z.strictObject({ id: z.string().min(1).max(128), at: z.iso.datetime() }),
  waits: z.number().int().positive(),
});

export type LegacyDeferredIntake = z.infer<typeof legacyDeferredSchema>;

export type DeferredMessage =
  | { readonly kind: 'pointer'; readonly pointer: IntakePointer }
  | { readonly kind: 'legacy'; readonly request: LegacyDeferredIntake };

/** Throws a non-retryable error: a malformed internal message ends in the poison queue. */
export function parseDeferredMessage(message: unknown): DeferredMessage {
  const pointer = pointerSchema.safeParse(message);
  if (pointer.success) return { kind: 'pointer', pointer: pointer.data };
  const legacy = legacyDeferredSchema.safeParse(message);
  if (legacy.success) return { kind: 'legacy', request: legacy.data };
  throw new SlotwiseError(
    'InvalidDeferredIntake',
    `Malformed deferred intake: ${describeIssues(pointer.error)}`,
  );
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
