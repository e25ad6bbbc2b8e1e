/**
 * Batch answering 401/403 (a key being rotated, a role assignment still propagating) must not fail or
 * terminate anything at once: the submission waits and carries on, and only a problem that outlasts
 * the grace period fails the job, still without any action on Batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlotwiseStack, startSlotwise, waitFor, waitForJobState } from '../support/stack.js';

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise({
    env: { SLOTWISE_SUBMIT_RETRY_BASE_SECONDS: '1', SLOTWISE_BATCH_AUTH_GRACE_SECONDS: '3' },
  });
});

afterAll(async () => {
  await stack?.close();
});

const faults = (config: object | null) =>
  stack.emulatorControl('faults', {
    method: config ? 'PUT' : 'DELETE',
    headers: { 'content-type': 'application/json' },
    ...(config ? { body: JSON.stringify(config) } : {}),
  });

async function requests(): Promise<Record<string, number>> {
  const res = await stack.emulatorControl('counters');
  return ((await res.json()) as { requests: Record<string, number> }).requests;
}

const terminations = (all: Record<string, number>) =>
  Object.entries(all)
    .filter(([k]) => k.includes('/terminate'))
    .reduce((n, [, v]) => n + v, 0);

describe('Batch authentication errors during submission', () => {
  it('waits out a passing 403 and submits the job', async () => {
    await faults({ rate403: 1, count: 1, pathPrefix: '/subscriptions' });
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'auth-blip',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 't', commandLine: 'sleep 1' }],
      }),
    });
    expect(res.status).toBe(202);
    const job = await waitForJobState(stack, 'auth-blip', ['completed', 'failed'], 30_000);
    expect(job.state).toBe('completed');
    expect((await requests())['fault:403']).toBe(1);
    await faults(null);
  });

  it('fails the job after the grace period without terminating anything in Batch', async () => {
    const before = terminations(await requests());
    await faults({ rate403: 1, pathPrefix: '/subscriptions' });
    try {
      const res = await stack.request('/jobs', {
        method: 'POST',
        body: JSON.stringify({
          id: 'auth-gone',
          pool: { vmSize: 'standard_d4s_v3' },
          tasks: [{ id: 't', commandLine: 'sleep 1' }],
        }),
      });
      expect(res.status).toBe(202);
      const waiting = await waitFor(
        () => stack.deps.jobs.get('dev', 'auth-gone'),
        (j) => j?.submission?.authFailingSince !== undefined,
        { what: 'the submission waiting on authentication' },
      );
      expect(waiting?.state).toBe('submitting');
      const job = await waitForJobState(stack, 'auth-gone', ['failed', 'completed'], 30_000);
      expect(job.failure?.code).toBe('BatchAuthenticationFailed');
      expect(terminations(await requests())).toBe(before);
    } finally {
      await faults(null);
    }
  });
});
