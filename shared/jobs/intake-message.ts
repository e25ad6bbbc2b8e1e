/** The external intake message on `job-requests`: `{ "tenant": "<id>", "job": <job request> }`. */
import { z } from 'zod';
import { tenantIdPattern } from '../tenants/tenant-store.js';

const envelope = z.strictObject({
  tenant: z.string().regex(tenantIdPattern, 'must be a tenant id'),
  job: z.unknown().refine((v) => v !== undefined, 'is required'),
});

export type IntakeEnvelope = { readonly tenant: string; readonly job: unknown };

export function parseIntakeEnvelope(
  message: unknown,
): { ok: true; envelope: IntakeEnvelope } | { ok: false; reason: string } {
  const parsed = envelope.safeParse(message);
  if (parsed.success) return { ok: true, envelope: parsed.data };
  return {
    ok: false,
    reason: parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '),
  };
}
