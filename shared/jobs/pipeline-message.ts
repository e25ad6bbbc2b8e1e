/** Internal pipeline messages (plan, submit, notify, reconcile): `{ tenant, jobId }`. */
import { z } from 'zod';
import { SlotwiseError } from '../errors.js';
import type { PipelineMessage } from './accept-job.js';

const schema = z.strictObject({ tenant: z.string().min(1).max(64), jobId: z.string().min(1).max(64) });

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
