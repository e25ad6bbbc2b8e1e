/**
 * Per-job tokens that let a job's tasks report back (`POST /api/jobs/{id}/callbacks`). Derived from the
 * tenant's secret, so nothing extra is stored and a token works only for its own job:
 * `<tenant>.<base64url HMAC-SHA256(secret, "slotwise-task-callback:<tenant>:<job id lowercased>")>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function taskCallbackToken(tenant: string, jobId: string, secret: string): string {
  const mac = createHmac('sha256', secret)
    .update(`slotwise-task-callback:${tenant}:${jobId.toLowerCase()}`)
    .digest('base64url');
  return `${tenant}.${mac}`;
}

/** The tenant named by a token (not yet verified), or undefined when malformed. */
export function tenantOfToken(token: string): string | undefined {
  const dot = token.indexOf('.');
  return dot > 0 ? token.slice(0, dot) : undefined;
}

export function verifyTaskCallbackToken(
  token: string,
  tenant: string,
  jobId: string,
  secret: string,
): boolean {
  const expected = Buffer.from(taskCallbackToken(tenant, jobId, secret));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
