/**
 * Signed `job-requests` messages, as a tenant's sender makes them (docs/security.md: "Queue intake proves its
 * tenant"). `signedIntake` returns the envelope; `signedIntakeText` the base64 text to put on the queue.
 */
import { randomUUID } from 'node:crypto';
import { encodeQueueMessage } from '../../shared/adapters/queues/queue-gateway.js';
import { signIntakeMessage } from '../../shared/usecases/intake-proof.js';
import { TEST_INTAKE_SECRET } from './stack.js';

export interface SignOptions {
  /** Default tenant `dev`. */
  readonly tenant?: string;
  /** Default the test stack's `dev` intake secret. */
  readonly secret?: string;
  /** Default a fresh UUID. */
  readonly id?: string;
  /** Unix seconds; default now. */
  readonly timestamp?: number;
}

export function signedIntake<J>(job: J, options: SignOptions = {}) {
  const tenant = options.tenant ?? 'dev';
  const proof = signIntakeMessage({
    secret: options.secret ?? TEST_INTAKE_SECRET,
    id: options.id ?? randomUUID(),
    timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
    tenant,
    job,
  });
  return { tenant, job, proof };
}

export function signedIntakeText(job: unknown, options: SignOptions = {}): string {
  return encodeQueueMessage(signedIntake(job, options));
}
