/**
 * Task callback tokens against the real stack: the token Slotwise puts in the Batch job's environment
 * works for its own job only, not for another tenant's or another job's, not after it expires, and it
 * keeps working when the tenant's webhook secret is rotated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { parseCallbackToken, taskCallbackToken } from '../../shared/model/callback-token.js';
import {
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  TEST_API_KEY,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;
/** Added to the app's clock: lets a test move time past a token's expiry. */
let clockOffsetMs = 0;

beforeAll(async () => {
  stack = await startSlotwise({
    env: { SLOTWISE_PUBLIC_URL: 'https://slotwise.example.com' },
    overrides: {
      clock: {
        now: () => new Date(Date.now() + clockOffsetMs),
        monotonicMs: () => performance.now(),
      },
    },
  });
  batch = emulatorClient(stack);
  await stack.deps.tenants.upsert('acme', { apiKey: 'acme-api-key-0123456789', now: new Date() });
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const callback = (jobId: string, token: string) =>
  stack.request(`/jobs/${jobId}/callbacks`, {
    method: 'POST',
    key: token,
    body: JSON.stringify({ taskId: 't', status: 'progress' }),
  });

/** Posts a job as dev and returns the callback token from its Batch job's environment. */
async function tokenFromBatch(id: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await stack.request('/jobs', {
    method: 'POST',
    body: JSON.stringify({
      id,
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'sleep 100000' }],
      ...extra,
    }),
  });
  expect(res.status).toBe(202);
  const job = await waitForJobState(stack, id, ['submitted', 'running']);
  const env = (await batch.jobs.get(job.batch!.jobId)).commonEnvironmentSettings as
    | { name: string; value: string }[]
    | undefined;
  const token = env?.find((e) => e.name === 'SLOTWISE_CALLBACK_TOKEN')?.value;
  expect(env?.find((e) => e.name === 'SLOTWISE_CALLBACK_URL')?.value).toBe(
    `https://slotwise.example.com/api/jobs/${id}/callbacks`,
  );
  expect(token).toBeDefined();
  return token!;
}

describe('task callback tokens', () => {
  let token: string;

  beforeAll(async () => {
    token = await tokenFromBatch('cbt-1');
  });

  it('accept the token from the job environment for its own job', async () => {
    expect((await callback('cbt-1', token)).status).toBe(202);
    expect((await callback('CBT-1', token)).status).toBe(202); // Batch ids ignore case
  });

  it("refuse another tenant's token, and a token relabelled to another tenant", async () => {
    const acme = (await stack.deps.tenants.get('acme'))!;
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    // acme's genuine token for a job id that exists at dev.
    const acmeToken = taskCallbackToken({
      tenant: 'acme',
      jobId: 'cbt-1',
      callbackKey: acme.callbackKey!,
      expiresAt,
    });
    expect((await callback('cbt-1', acmeToken)).status).toBe(404); // acme has no such job
    // acme's MAC under a token that names dev.
    const relabelled = acmeToken.replace(/^acme\./, 'dev.');
    expect((await callback('cbt-1', relabelled)).status).toBe(401);
    // dev's token presented at acme (acme has no such job, and the token names dev).
    const acmeCall = await stack.request('/jobs/cbt-1/callbacks', {
      method: 'POST',
      key: token.replace(/^dev\./, 'acme.'),
      body: '{}',
    });
    expect(acmeCall.status).toBe(401);
    // A tenant API key is not a callback token.
    expect((await callback('cbt-1', TEST_API_KEY)).status).toBe(401);
  });

  it("refuse another job's token", async () => {
    const other = await tokenFromBatch('cbt-2');
    expect((await callback('cbt-1', other)).status).toBe(401);
    expect((await callback('cbt-2', token)).status).toBe(401);
    expect((await callback('cbt-2', other)).status).toBe(202);
  });

  it('refuse an expired token (the clock moves past its expiry)', async () => {
    const dev = (await stack.deps.tenants.get('dev'))!;
    const shortLived = taskCallbackToken({
      tenant: 'dev',
      jobId: 'cbt-1',
      callbackKey: dev.callbackKey!,
      expiresAt: Math.floor(Date.now() / 1000) + 60,
    });
    expect((await callback('cbt-1', shortLived)).status).toBe(202);
    clockOffsetMs = 120_000;
    try {
      expect((await callback('cbt-1', shortLived)).status).toBe(401);
    } finally {
      clockOffsetMs = 0;
    }
    // The environment token outlives the job: no maxWallClockTime → 7 days.
    const days = (parseCallbackToken(token)!.expiresAt - Date.now() / 1000) / 86400;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
  });

  it("expire past the job's maxWallClockTime", async () => {
    const limited = await tokenFromBatch('cbt-wall', { maxWallClockTime: 'PT2H' });
    const hours = (parseCallbackToken(limited)!.expiresAt - Date.now() / 1000) / 3600;
    expect(hours).toBeGreaterThan(2);
    expect(hours).toBeLessThanOrEqual(3);
  });

  it('keep working after the webhook secret is rotated', async () => {
    const before = (await stack.deps.tenants.get('dev'))!;
    const rotated = `whsec_${Buffer.from('a-brand-new-webhook-secret-32byt').toString('base64')}`;
    await stack.deps.tenants.upsert('dev', { apiKey: TEST_API_KEY, webhookSecret: rotated, now: new Date() });
    const after = await waitFor(
      () => stack.deps.tenants.get('dev'),
      (t) => t?.webhookSecret === rotated,
      { what: 'rotated secret stored' },
    );
    expect(after?.webhookSecret).not.toBe(before.webhookSecret);
    expect((await callback('cbt-1', token)).status).toBe(202);
  });
});
