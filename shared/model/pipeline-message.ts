/**
 * Internal pipeline messages (plan, submit, notify, reconcile): `{ tenant, jobId }`, and the W3C
 * `traceparent` of the job's trace when telemetry runs (the queue gateway adds it; the function
 * wrapper reads it and takes it off, so it reaches this parser only from other readers).
 */
import { z } from 'zod';
import { SlotwiseError } from '../core/errors.js';

/** A W3C `traceparent`: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>` (other versions may append fields). */
export const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$/;

/** What every internal stage queue carries: which job of which tenant to work on. */
export interface PipelineMessage {
  readonly tenant: string;
  readonly jobId: string;
}

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
