/**
 * Internal pipeline messages (plan, submit, notify, reconcile): `{ tenant, jobId }`, and the W3C
 * `traceparent` of the job's trace when telemetry runs (the queue gateway adds it; the function
 * wrapper reads it and takes it off, so it reaches this parser only from other readers).
 */
import { z } from 'zod';
import { TRACEPARENT_PATTERN } from '../adapters/telemetry/trace-context.js';
import { SlotwiseError } from '../core/errors.js';
import type { PipelineMessage } from '../usecases/accept-job.js';

const schema = z.strictObject({
  tenant: z.string().min(1).max(64),
  jobId: z.string().min(1).max(64),
  traceparent: z.string().regex(TRACEPARENT_PATTERN).optional(),
});

/** Throws a non-retryable error: a malformed internal message ends in the poison queue. */
export function parsePipelineMessage(message: unknown): PipelineMessage {
  const parsed = schema.safeParse(message);
  if (!parsed.success)
    throw new SlotwiseError(
      'InvalidPipelineMessage',
      `Malformed pipeline message: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
