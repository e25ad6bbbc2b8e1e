/**
 * Task callback tokens are bound to the attempt they were minted for (security review 3, finding 7):
 * once a retry resubmits the job as a new attempt, the token the replaced attempt's tasks hold is
 * refused, and the new attempt's tasks get a token of their own.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { batchJobIdFor } from '../../shared/model/batch-names.js';
import {
  attemptOf,
  isCurrentAttempt,
  parseCallbackToken,
  taskCallbackToken,
  verifyTaskCallbackToken,
} from '../../shared/model/callback-token.js';
import { emulatorClient, type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

describe('callback tokens name their attempt', () => {
  const now = new Date('2026-03-01T00:00:00Z');
  const expiresAt = now.getTime() / 1000 + 3600;
  const key = 'acme-callback-key-0123456789';
  const check = (token: string) =>
    verifyTaskCallbackToken({ token, tenant: 'acme', jobId: 'job-1', callbackKey: key, now });

  it('carry the attempt under the MAC: rewriting it breaks the token', () => {
    const token = taskCallbackToken({
      tenant: 'acme',
      jobId: 'job-1',
      attempt: 2,
      callbackKey: key,
      expiresAt,
    });
    expect(parseCallbackToken(token)).toMatchObject({ attempt: 2, expiresAt });
    expect(check(token)).toEqual({ ok: true, attempt: 2 });
    expect(check(token.replace('.2.', '.3.'))).toEqual({ ok: false, code: 'BadMac' });
  });

  it('read a token of the first version as attempt 0', () => {
    const payload = `acme.job-1.${expiresAt}`;
    const mac = createHmac('sha256', key).update(`slotwise-task-callback-v1.${payload}`).digest('base64url');
    expect(check(`${payload}.${mac}`)).toEqual({ ok: true, attempt: 0 });
  });

  it("hold only for the job's current attempt", () => {
    const job = {
      tenant: 'acme',
      jobId: 'job-1',
      history: [{ state: 'submitting' as const, at: '' }],
      batch: { poolId: 'p', jobId: batchJobIdFor('acme', 'job-1', 0), managedPool: true },
    };
    expect(attemptOf(job)).toBe(0);
    expect(isCurrentAttempt(0, job)).toBe(true);
    const retried = {
      ...job,
      history: [...job.history, { state: 'submitting' as const, at: '' }],
      batch: { ...job.batch, jobId: batchJobIdFor('acme', 'job-1', 1) },
    };
    expect(attemptOf(retried)).toBe(1);
    expect(isCurrentAttempt(0, retried)).toBe(false);
    expect(isCurrentAttempt(1, retried)).toBe(true);
    expect(isCurrentAttempt(0, { ...job, batch: undefined })).toBe(false);
  });
});

describe('against the stack', () => {
  let stack: SlotwiseStack;
  let batch: BatchClient;

  beforeAll(async () => {
    stack = await startSlotwise({ env: { SLOTWISE_PUBLIC_URL: 'https://slotwise.example.com' } });
    batch = emulatorClient(stack);
  });

  afterAll(async () => {
    await batch?.close();
    await stack?.close();
  });

  const callback = (jobId: string, token: string) =>
    stack.request(`/jobs/${jobId}/callbacks`, {
      method: 'POST',
      key: token,
      body: JSON.stringify({ taskId: 't', status: 'failed', exitCode: 1 }),
    });

  async function tokenOf(batchJobId: string): Promise<string> {
    const env = (await batch.jobs.get(batchJobId)).commonEnvironmentSettings as {
      name: string;
      value: string;
    }[];
    const token = env.find((e) => e.name === 'SLOTWISE_CALLBACK_TOKEN')?.value;
    expect(token).toBeDefined();
    return token!;
  }

  it('refuses the token of an attempt a retry replaced, and takes the new attempt’s', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'cba-1',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 't', commandLine: 'exit 1' }],
      }),
    });
    expect(res.status).toBe(202);
    const failed = await waitFor(
      () => stack.deps.jobs.get('dev', 'cba-1'),
      (j) => j?.state === 'failed',
      { what: 'cba-1 failed' },
    );
    const first = await tokenOf(failed!.batch!.jobId);
    expect(parseCallbackToken(first)?.attempt).toBe(0);
    expect((await callback('cba-1', first)).status).toBe(202);

    expect((await stack.request('/jobs/cba-1/retry', { method: 'POST' })).status).toBe(202);
    const resubmitted = await waitFor(
      () => stack.deps.jobs.get('dev', 'cba-1'),
      (j) =>
        j?.retry?.status === 'done' &&
        j.batch?.jobId === batchJobIdFor('dev', 'cba-1', 1) &&
        j.state !== 'submitting',
      { what: 'cba-1 resubmitted as attempt 1' },
    );
    const second = await tokenOf(resubmitted!.batch!.jobId);
    expect(parseCallbackToken(second)?.attempt).toBe(1);

    // The replaced attempt's tasks are shut out, whatever their token's expiry says.
    const refused = await callback('cba-1', first);
    expect(refused.status).toBe(401);
    expect((await callback('cba-1', second)).status).toBe(202);
  });
});
