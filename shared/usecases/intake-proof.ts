/**
 * Proof that a `job-requests` message comes from the tenant it names, in the Standard Webhooks style
 * used for outgoing events. The sender signs
 *
 *   `${proof.id}.${proof.timestamp}.${tenant}.${canonicalJson(job)}`
 *
 * with HMAC-SHA256 keyed by the tenant's intake secret (the base64 bytes after `whsec_`) and sends
 * `proof: { id, timestamp, signature: "v1,<base64>" }`. Canonical JSON is the job with object keys
 * sorted by UTF-16 code units and no whitespace, so any language can reproduce the signed text. It is
 * written from the parsed job (JSON.stringify's forms: `1e2` is signed as `100`), and every own key
 * counts, `__proto__` included (which validation then refuses, as over HTTP).
 *
 * The timestamp is checked against the message's insertion time, which the Storage service sets: a
 * sender cannot forge it, a backlog does not make an honest message stale, and a copy of an old
 * message put on the queue again gets a new insertion time and fails.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { parseWebhookSecret } from '../adapters/webhooks/signature.js';
import { SlotwiseError } from '../core/errors.js';
import { canonicalJson } from './accept-job.js';

/** Largest allowed distance between `proof.timestamp` and the message's insertion time. */
export const INTAKE_PROOF_WINDOW_SECONDS = 300;

export const intakeProofSchema = z.strictObject({
  /** Unique per message: a job without an id gets one derived from it (so a replay maps to the same job). */
  id: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 letters, digits, hyphens, underscores, dots or colons'),
  /** Unix seconds when the sender signed. */
  timestamp: z.number().int().nonnegative(),
  /** One or more space-separated `v1,<base64>` signatures (several while a secret is being rotated). */
  signature: z.string().min(1).max(2048),
});

export type IntakeProof = z.infer<typeof intakeProofSchema>;

export type ProofFailureCode = 'IntakeProofStale' | 'IntakeProofBadSignature' | 'IntakeProofNoSecret';

export class IntakeProofError extends SlotwiseError {
  constructor(code: ProofFailureCode, message: string) {
    super(code, message);
    this.name = 'IntakeProofError';
  }
}

/** The exact text that is signed. */
export function intakeSignedContent(
  proof: Pick<IntakeProof, 'id' | 'timestamp'>,
  tenant: string,
  job: unknown,
) {
  return `${proof.id}.${proof.timestamp}.${tenant}.${canonicalJson(job)}`;
}

/** What a tenant's sender does; used by the tests and by operators' tooling. */
export function signIntakeMessage(input: {
  secret: string;
  id: string;
  timestamp: number;
  tenant: string;
  job: unknown;
}): IntakeProof {
  const timestamp = Math.floor(input.timestamp);
  const mac = createHmac('sha256', parseWebhookSecret(input.secret))
    .update(intakeSignedContent({ id: input.id, timestamp }, input.tenant, input.job))
    .digest('base64');
  return { id: input.id, timestamp, signature: `v1,${mac}` };
}

/**
 * Throws `IntakeProofError` unless the proof was made with `secret` for exactly this tenant and job,
 * within the window around `insertedAt`. The MAC comparison is constant-time.
 */
export function verifyIntakeProof(input: {
  proof: IntakeProof;
  tenant: string;
  job: unknown;
  secret: string | undefined;
  insertedAt: Date;
  windowSeconds?: number;
}): void {
  const { proof } = input;
  if (!input.secret) throw new IntakeProofError('IntakeProofNoSecret', 'the tenant has no intake secret');
  const window = input.windowSeconds ?? INTAKE_PROOF_WINDOW_SECONDS;
  const skew = Math.abs(input.insertedAt.getTime() / 1000 - proof.timestamp);
  if (!(skew <= window)) {
    throw new IntakeProofError(
      'IntakeProofStale',
      `proof.timestamp is ${Math.round(skew)} s from the message's insertion time (at most ${window} s)`,
    );
  }
  let key: Buffer;
  try {
    key = parseWebhookSecret(input.secret);
  } catch {
    throw new IntakeProofError('IntakeProofNoSecret', "the tenant's intake secret is not usable");
  }
  const expected = createHmac('sha256', key)
    .update(intakeSignedContent(proof, input.tenant, input.job))
    .digest();
  const signatures = proof.signature
    .split(' ')
    .map(parseSignature)
    .filter((mac) => mac !== undefined);
  if (signatures.length === 0) {
    throw new IntakeProofError(
      'IntakeProofBadSignature',
      "proof.signature has no well-formed signature: expected 'v1,' and the HMAC in standard padded base64 (44 characters), nothing after it",
    );
  }
  const matches = signatures.some(
    (given) => given.length === expected.length && timingSafeEqual(given, expected),
  );
  if (!matches) {
    throw new IntakeProofError(
      'IntakeProofBadSignature',
      'proof.signature does not match this tenant, job and timestamp',
    );
  }
}

/**
 * The MAC of one `v1,<base64>` signature, or undefined. Strict: standard base64 that decodes and
 * re-encodes to exactly the same text, so nothing can be appended to a valid signature (Node's
 * decoder alone stops at the padding and skips characters outside the alphabet).
 */
function parseSignature(part: string): Buffer | undefined {
  const comma = part.indexOf(',');
  if (comma < 0 || part.slice(0, comma) !== 'v1') return undefined;
  const value = part.slice(comma + 1);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  const mac = Buffer.from(value, 'base64');
  return mac.toString('base64') === value ? mac : undefined;
}

/**
 * Job id for a queued job that names none: a function of tenant and proof id, so a redelivered or
 * replayed message maps to the same job and never creates a second one.
 */
export function jobIdFromProof(tenant: string, proofId: string): string {
  return `q-${createHash('sha256').update(`${tenant}\n${proofId}`).digest('hex').slice(0, 32)}`;
}
