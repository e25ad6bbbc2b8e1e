/**
 * Queued requests that wait for a limit (security review 3, findings 12 and 13): a request that
 * filled `job-requests` to its 64 KiB still waits and is admitted later (the waiting message is a
 * pointer; the request is kept in Cosmos), and many copies of one signed request wait once.
 *
 * The quota's Retry-After is 20 s here, so a waiting request's pointer stays invisible for at least
 * 20 s: long enough to count the deferred queue after a burst has been read, short enough to see the
 * request admitted once room frees.
 */
import { randomUUID } from 'node:crypto';
import azureFunctions from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intake } from '../../functions/intake.js';
import { intakeDeferred } from '../../functions/intake-deferred.js';
import { intakeWaitId } from '../../shared/adapters/cosmos/intake-wait-store.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import type { QueueGateway } from '../../shared/adapters/queues/queue-gateway.js';
import { encodeQueueMessage } from '../../shared/adapters/queues/queue-gateway.js';
import { requestHash } from '../../shared/usecases/accept-job.js';
import { jobIdFromProof } from '../../shared/usecases/intake-proof.js';
import { signedIntake, signedIntakeText } from '../support/intake.js';
import { type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
const secret = `whsec_${Buffer.from('waiting-tenants-intake-secret-32').toString('base64')}`;
const MAX_QUEUE_MESSAGE_BASE64 = 64 * 1024;

beforeAll(async () => {
  stack = await startSlotwise({ env: { SLOTWISE_QUOTA_RETRY_SECONDS: '20' } });
});

afterAll(async () => {
  await stack?.close();
});

const job = (id: string | undefined, environment?: Record<string, string>) => ({
  ...(id ? { id } : {}),
  pool: { vmSize: 'standard_d2s_v3' },
  tasks: [{ id: 't', commandLine: 'sleep 1000', ...(environment ? { environment } : {}) }],
});

/** Runs for weeks of emulator time: the tenant stays at its limit until the test cancels it. */
const holderJob = {
  id: 'holder',
  pool: { vmSize: 'standard_d2s_v3' },
  tasks: [{ id: 't', commandLine: 'sleep 100000000' }],
};

/** A tenant at its active-job limit (one job, `holder`, running), with a generous submission rate. */
async function tenantAtLimit(tenant: string): Promise<{ key: string }> {
  const key = `${tenant}-api-key-0123456789`;
  await stack.deps.tenants.upsert(tenant, {
    apiKey: key,
    intakeSecret: secret,
    policy: { limits: { maxActiveJobs: 1, submissionsPerSecond: 100, submissionBurst: 100 } },
    now: new Date(),
  });
  const holder = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(holderJob), key });
  expect(holder.status).toBe(202);
  return { key };
}

async function count(queue: string): Promise<number> {
  const q = stack.queue(queue);
  return (await q.exists()) ? ((await q.getProperties()).approximateMessagesCount ?? 0) : 0;
}

async function poisonTexts(): Promise<string[]> {
  const poison = stack.queue(`${queueNames.jobRequests}-poison`);
  if (!(await poison.exists())) return [];
  return (await poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => m.messageText);
}

/** Every `job-requests` message was handled (a message being handled still counts). */
const intakeDrained = () =>
  waitFor(
    () => count(queueNames.jobRequests),
    (n) => n === 0,
    { what: 'job-requests drained', timeoutMs: 30_000 },
  );

/**
 * A signed message for `tenant` whose text is exactly `length` characters of base64. Its job names no
 * id (the usual queued job): the id derived from the proof is added when the request is admitted.
 */
function messageOfLength(tenant: string, proofId: string, length: number): string {
  const padded = (pad: number) => {
    const envelope = signedIntake(job(undefined, { PAD_A: 'a'.repeat(30_000), PAD_B: 'b'.repeat(pad) }), {
      tenant,
      secret,
      id: proofId,
    });
    return encodeQueueMessage(envelope);
  };
  // Each padding character is one more byte of JSON; base64 writes 3 bytes as 4 characters.
  const bytes = Buffer.from(padded(0), 'base64').length;
  const text = padded((length / 4) * 3 - bytes);
  expect(text.length).toBe(length);
  return text;
}

describe('a queued request near 64 KiB that has to wait (finding 12)', () => {
  it('waits and is admitted once room frees, instead of ending in the poison queue unrecorded', async () => {
    const { key } = await tenantAtLimit('bigq');
    const proofId = randomUUID();
    const jobId = jobIdFromProof('bigq', proofId);
    const text = messageOfLength('bigq', proofId, MAX_QUEUE_MESSAGE_BASE64);
    expect(text.length).toBe(65_536);
    await stack.queue(queueNames.jobRequests).sendMessage(text);
    await intakeDrained();
    // Handled at once, not retried into the poison queue ...
    expect(await poisonTexts()).not.toContain(text);
    // ... and waiting: the request is kept whole in Cosmos, a small pointer is on the deferred queue.
    const sent = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as { job: object };
    const waiting = await stack.deps.intakeWaits.get('bigq', jobId);
    expect(waiting?.request).toEqual({ ...sent.job, id: jobId });
    expect(await stack.deps.jobs.get('bigq', jobId)).toBeUndefined();

    expect((await stack.request('/jobs/holder', { method: 'DELETE', key })).status).toBeLessThan(300);
    const admitted = await waitFor(
      () => stack.deps.jobs.get('bigq', jobId),
      (j) => j !== undefined,
      { what: 'the big request admitted', timeoutMs: 60_000 },
    );
    expect(admitted?.state).not.toBe('rejected');
    expect(admitted?.request?.tasks?.[0]?.environment?.PAD_A).toHaveLength(30_000);
    // The wait is over: its document is gone and no pointer is left.
    await waitFor(
      () => count(queueNames.intakeDeferred),
      (n) => n === 0,
      { what: 'the deferred queue empty' },
    );
    expect(await stack.deps.intakeWaits.get('bigq', jobId)).toBeUndefined();
  });
});

describe('copies of one signed request while its tenant is at its limit (finding 13)', () => {
  it('wait once: 30 copies make one deferred loop, and one job once room frees', async () => {
    // Nothing else waits now (the previous test's loop has ended).
    await waitFor(
      () => count(queueNames.intakeDeferred),
      (n) => n === 0,
      { what: 'the deferred queue empty' },
    );
    const { key } = await tenantAtLimit('dupq');
    const text = signedIntakeText(job('dup-waiter'), { tenant: 'dupq', secret });
    const q = stack.queue(queueNames.jobRequests);
    await Promise.all(Array.from({ length: 30 }, () => q.sendMessage(text)));
    await intakeDrained();
    // Every copy was handled; exactly one waits on the deferred queue, the rest ended as copies.
    expect(await count(queueNames.intakeDeferred)).toBe(1);
    expect(await poisonTexts()).not.toContain(text);
    const waiting = await stack.deps.intakeWaits.get('dupq', 'dup-waiter');
    expect(waiting?.waits).toBe(1);
    const copies = stack.logger.lines.filter((l) =>
      l.includes('Job dup-waiter already waits (wait 1); this copy of the request ends here'),
    );
    expect(copies).toHaveLength(29);

    expect((await stack.request('/jobs/holder', { method: 'DELETE', key })).status).toBeLessThan(300);
    await waitFor(
      () => stack.deps.jobs.get('dupq', 'dup-waiter'),
      (j) => j !== undefined,
      { what: 'the waiting request admitted', timeoutMs: 60_000 },
    );
    await waitFor(
      () => count(queueNames.intakeDeferred),
      (n) => n === 0,
      { what: 'the one loop ended' },
    );
    const list = (await (await stack.request('/jobs?limit=100', { key })).json()) as {
      value: { id: string; state: string }[];
    };
    expect(list.value.map((j) => j.id).sort()).toEqual(['dup-waiter', 'holder']);
    expect(list.value.find((j) => j.id === 'dup-waiter')?.state).not.toBe('rejected');
    expect(await stack.deps.intakeWaits.get('dupq', 'dup-waiter')).toBeUndefined();
  });
});

describe('a waiting request survives at-least-once delivery', () => {
  const invocation = (functionName: string, id: string, payload: unknown) =>
    new azureFunctions.InvocationContext({
      functionName,
      triggerMetadata: {
        id,
        queueTrigger: JSON.stringify(payload),
        insertionTime: new Date().toISOString(),
        dequeueCount: 1,
      },
      logHandler: () => undefined,
    });

  /** The real queues, except that sends to the deferred queue fail while `failing` is set. */
  const flakyQueues = (state: { failing: boolean }): QueueGateway => ({
    ...stack.deps.queues,
    async send(queue, message, options) {
      if (state.failing && queue === queueNames.intakeDeferred) throw new Error('queue unavailable');
      return stack.deps.queues.send(queue, message, options);
    },
  });

  it('a message whose pointer send failed sends it when delivered again; a copy does not', async () => {
    await tenantAtLimit('flaky');
    const envelope = signedIntake(job('flaky-waiter'), { tenant: 'flaky', secret });
    const state = { failing: true };
    const deps = { ...stack.deps, queues: flakyQueues(state) };
    const before = await count(queueNames.intakeDeferred);
    await expect(intake.handler(envelope, invocation('intake', 'm-1', envelope), deps)).rejects.toThrow(
      'queue unavailable',
    );
    // The wait was written, but nothing waits on the queue yet.
    expect((await stack.deps.intakeWaits.get('flaky', 'flaky-waiter'))?.advancedBy).toBe('m-1');
    // A copy (another message id) ends at once: the wait is not lost, so it does not take over.
    state.failing = false;
    await intake.handler(envelope, invocation('intake', 'm-2', envelope), deps);
    expect(await count(queueNames.intakeDeferred)).toBe(before);
    // The same message, delivered again, finishes what it started.
    await intake.handler(envelope, invocation('intake', 'm-1', envelope), deps);
    expect(await count(queueNames.intakeDeferred)).toBe(before + 1);
  });

  it('a lost wait (its pointer gone) is resumed by a new copy of the request', async () => {
    const { key } = await tenantAtLimit('lost');
    const request = job('lost-waiter');
    const due = new Date(Date.now() - 3600_000).toISOString();
    // As a loop leaves it when its pointer went to the poison queue an hour ago.
    await stack.deps.intakeWaits.create({
      tenant: 'lost',
      jobId: 'lost-waiter',
      requestHash: requestHash(request),
      request,
      proofVerified: { id: 'earlier', at: due },
      waits: 3,
      limit: 'maxActiveJobs',
      advancedBy: 'gone',
      nextTryAt: due,
      createdAt: due,
      updatedAt: due,
    });
    expect((await stack.request('/jobs/holder', { method: 'DELETE', key })).status).toBeLessThan(300);
    await stack
      .queue(queueNames.jobRequests)
      .sendMessage(signedIntakeText(request, { tenant: 'lost', secret }));
    await waitFor(
      () => stack.deps.jobs.get('lost', 'lost-waiter'),
      (j) => j !== undefined,
      { what: 'the lost wait resumed and admitted' },
    );
    await waitFor(
      () => stack.deps.intakeWaits.get('lost', 'lost-waiter'),
      (w) => w === undefined,
      { what: 'the wait removed once answered' },
    );
  });

  it('a pointer delivered twice, or left behind by a later try, ends without a second loop', async () => {
    await tenantAtLimit('twice');
    const envelope = signedIntake(job('twice-waiter'), { tenant: 'twice', secret });
    await intake.handler(envelope, invocation('intake', 'p-0', envelope), stack.deps);
    const first = await stack.deps.intakeWaits.get('twice', 'twice-waiter');
    expect(first?.waits).toBe(1);
    const before = await count(queueNames.intakeDeferred);
    const pointer = { tenant: 'twice', jobId: 'twice-waiter', waits: 1 };
    // The live pointer's try: still at the limit, so it waits again (wait 2, one new pointer).
    await intakeDeferred.handler(pointer, invocation('intakeDeferred', 'p-1', pointer), stack.deps);
    expect((await stack.deps.intakeWaits.get('twice', 'twice-waiter'))?.waits).toBe(2);
    expect(await count(queueNames.intakeDeferred)).toBe(before + 1);
    // A second delivery of pointer 1 under another id (a duplicate) is stale: nothing new is sent.
    await intakeDeferred.handler(pointer, invocation('intakeDeferred', 'p-1-copy', pointer), stack.deps);
    expect(await count(queueNames.intakeDeferred)).toBe(before + 1);
    expect((await stack.deps.intakeWaits.get('twice', 'twice-waiter'))?.waits).toBe(2);
  });

  it('still admits a deferred message in the earlier format, which carried the request itself', async () => {
    const { key } = await tenantAtLimit('legacy');
    expect((await stack.request('/jobs/holder', { method: 'DELETE', key })).status).toBeLessThan(300);
    await stack.queue(queueNames.intakeDeferred).sendMessage(
      encodeQueueMessage({
        tenant: 'legacy',
        job: job('legacy-waiter'),
        proofVerified: { id: randomUUID(), at: new Date().toISOString() },
        waits: 2,
      }),
    );
    const admitted = await waitFor(
      () => stack.deps.jobs.get('legacy', 'legacy-waiter'),
      (j) => j !== undefined,
      { what: 'the old-format deferred request admitted' },
    );
    expect(admitted?.state).not.toBe('rejected');
  });

  it('keys a wait by the job id ignoring case, as jobs are', () => {
    expect(intakeWaitId('Job-A')).toBe(intakeWaitId('job-a'));
  });
});
