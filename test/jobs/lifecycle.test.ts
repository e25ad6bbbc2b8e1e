import { describe, expect, it } from 'vitest';
import {
  callbackTokenExpiry,
  isoDurationSeconds,
  parseCallbackToken,
  taskCallbackToken,
  verifyTaskCallbackToken,
} from '../../shared/model/callback-token.js';
import { type JobDoc, jobStates, zeroTaskCounts } from '../../shared/model/job.js';
import { canTransition, TransitionError, transition } from '../../shared/model/lifecycle.js';
import { canonicalJson, requestHash } from '../../shared/usecases/accept-job.js';

function job(state: JobDoc['state'], callback = true): JobDoc {
  return {
    id: 'job:j1',
    type: 'job',
    tenant: 't',
    jobId: 'J1',
    state,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    sortKey: 'x',
    requestHash: 'h',
    request: callback
      ? {
          pool: { vmSize: 'standard_d2s_v3' },
          tasks: [{ id: 'a', commandLine: 'x' }],
          callback: { url: 'https://h.example/x' },
        }
      : { pool: { vmSize: 'standard_d2s_v3' }, tasks: [{ id: 'a', commandLine: 'x' }] },
    taskCounts: { ...zeroTaskCounts },
    history: [],
    events: [],
  };
}

describe('job lifecycle', () => {
  it('allows exactly the documented transitions', () => {
    const table = Object.fromEntries(jobStates.map((s) => [s, jobStates.filter((t) => canTransition(s, t))]));
    expect(table).toEqual({
      accepted: ['planned', 'failed', 'cancelled', 'rejected'],
      planned: ['submitting', 'failed', 'cancelled'],
      submitting: ['submitted', 'running', 'completed', 'failed', 'cancelled'],
      submitted: ['running', 'completed', 'failed', 'cancelled'],
      running: ['completed', 'failed', 'cancelled'],
      completed: [],
      failed: ['submitting'],
      cancelled: [],
      rejected: [],
    });
  });

  it('appends history and an outbox event in the same document, numbering events', () => {
    const at = new Date('2026-02-02T10:00:00Z');
    const planned = transition(job('accepted'), 'planned', at, 'e1');
    const submitting = transition(planned, 'submitting', at, 'e2');
    expect(submitting.state).toBe('submitting');
    expect(submitting.history.map((h) => h.state)).toEqual(['planned', 'submitting']);
    expect(submitting.events.map((e) => [e.seq, e.id, e.type, e.delivery.status])).toEqual([
      [1, 'e1', 'slotwise.job.planned', 'pending'],
      [2, 'e2', 'slotwise.job.submitting', 'pending'],
    ]);
    expect(submitting.endedAt).toBeUndefined();
    expect(transition(submitting, 'cancelled', at, 'e3').endedAt).toBe(at.toISOString());
  });

  it('records events without a receiver as not to be delivered', () => {
    const next = transition(job('accepted', false), 'planned', new Date(), 'e1');
    expect(next.events[0]?.delivery).toEqual({ status: 'none', attempts: 0 });
  });

  it('refuses illegal transitions with a typed error', () => {
    expect(() => transition(job('completed'), 'submitted', new Date(), 'e')).toThrow(TransitionError);
  });
});

describe('request hashing', () => {
  it('ignores key order but not values', () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: 1 }] })).toBe('{"a":[{"x":1,"y":2}],"b":1}');
    expect(requestHash({ a: 1, b: 2 })).toBe(requestHash({ b: 2, a: 1 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
  });
});

describe('task callback tokens', () => {
  const now = new Date('2026-03-01T00:00:00Z');
  const nowSeconds = now.getTime() / 1000;
  const acmeKey = 'acme-callback-key-0123456789';
  const prodKey = 'acme-prod-callback-key-987654';
  const token = taskCallbackToken({
    tenant: 'acme',
    jobId: 'Job-1',
    callbackKey: acmeKey,
    expiresAt: nowSeconds + 3600,
  });
  const check = (t: string, tenant: string, jobId: string, callbackKey: string, at = now) =>
    verifyTaskCallbackToken({ token: t, tenant, jobId, callbackKey, now: at });

  it('verify only for their own tenant, job (ignoring case), key and lifetime', () => {
    expect(parseCallbackToken(token)).toEqual({
      tenant: 'acme',
      jobId: 'Job-1',
      attempt: 0,
      expiresAt: nowSeconds + 3600,
      version: 'v2',
    });
    expect(check(token, 'acme', 'job-1', acmeKey)).toEqual({ ok: true, attempt: 0 });
    expect(check(token, 'acme', 'job-2', acmeKey)).toEqual({ ok: false, code: 'WrongJob' });
    expect(check(token, 'acme', 'job-1', 'another-key-0123456789')).toEqual({ ok: false, code: 'BadMac' });
    expect(check(`${token}x`, 'acme', 'job-1', acmeKey)).toEqual({ ok: false, code: 'Malformed' });
    // The clock moves past the expiry.
    expect(check(token, 'acme', 'job-1', acmeKey, new Date((nowSeconds + 3600) * 1000))).toEqual({
      ok: false,
      code: 'Expired',
    });
  });

  it("never verify for another tenant: neither acme's token at acme-prod nor a relabelled one", () => {
    // acme's token presented for acme-prod's job of the same id.
    expect(check(token, 'acme-prod', 'Job-1', prodKey)).toEqual({ ok: false, code: 'WrongTenant' });
    // acme rewrites the tenant part: the MAC no longer matches acme-prod's key.
    const relabelled = token.replace(/^acme\./, 'acme-prod.');
    expect(check(relabelled, 'acme-prod', 'Job-1', prodKey)).toEqual({ ok: false, code: 'BadMac' });
    // Even signed with acme's own key, a token naming acme-prod fails at acme-prod.
    const forged = taskCallbackToken({
      tenant: 'acme-prod',
      jobId: 'Job-1',
      callbackKey: acmeKey,
      expiresAt: nowSeconds + 3600,
    });
    expect(check(forged, 'acme-prod', 'Job-1', prodKey)).toEqual({ ok: false, code: 'BadMac' });
    // A later expiry written into a real token breaks its MAC.
    const extended = token.replace(`.${nowSeconds + 3600}.`, `.${nowSeconds + 999_999}.`);
    expect(check(extended, 'acme', 'job-1', acmeKey)).toEqual({ ok: false, code: 'BadMac' });
  });

  it("expire past the job's maxWallClockTime, or after 7 days without one", () => {
    expect(callbackTokenExpiry(now, 'PT2H') - nowSeconds).toBe(2 * 3600 + 3600);
    expect(callbackTokenExpiry(now, 'P1DT30M') - nowSeconds).toBe(86400 + 1800 + 3600);
    expect(callbackTokenExpiry(now, undefined) - nowSeconds).toBe(7 * 86400);
    expect(isoDurationSeconds('P1W')).toBe(7 * 86400);
    expect(isoDurationSeconds('PT1.5S')).toBe(2);
    expect(isoDurationSeconds('P')).toBeUndefined();
    expect(isoDurationSeconds('PT')).toBeUndefined();
  });
});
