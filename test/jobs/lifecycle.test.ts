import { describe, expect, it } from 'vitest';
import { canonicalJson, requestHash } from '../../shared/jobs/accept-job.js';
import {
  taskCallbackToken,
  tenantOfToken,
  verifyTaskCallbackToken,
} from '../../shared/jobs/callback-token.js';
import { type JobDoc, jobStates, zeroTaskCounts } from '../../shared/jobs/job.js';
import { canTransition, TransitionError, transition } from '../../shared/jobs/lifecycle.js';

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
  it('verify only for their own tenant, job (ignoring case) and secret', () => {
    const token = taskCallbackToken('acme', 'Job-1', 'whsec_abc');
    expect(tenantOfToken(token)).toBe('acme');
    expect(verifyTaskCallbackToken(token, 'acme', 'job-1', 'whsec_abc')).toBe(true);
    expect(verifyTaskCallbackToken(token, 'acme', 'job-2', 'whsec_abc')).toBe(false);
    expect(verifyTaskCallbackToken(token, 'acme', 'job-1', 'whsec_other')).toBe(false);
    expect(verifyTaskCallbackToken(`${token}x`, 'acme', 'job-1', 'whsec_abc')).toBe(false);
  });
});
