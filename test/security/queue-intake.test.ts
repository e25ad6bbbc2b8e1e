/**
 * Attacks on the `job-requests` intake: each message below claims a tenant without being able to
 * prove it, or replays a proven one. Each must end in `job-requests-poison`, byte for byte, with
 * nothing stored for the claimed tenant; a replay inside the window maps to the one job it made.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import azureFunctions from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intake } from '../../functions/intake.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import { encodeQueueMessage } from '../../shared/adapters/queues/queue-gateway.js';
import { canonicalJson } from '../../shared/usecases/accept-job.js';
import {
  IntakeProofError,
  jobIdFromProof,
  signIntakeMessage,
  verifyIntakeProof,
} from '../../shared/usecases/intake-proof.js';
import { signedIntake, signedIntakeText } from '../support/intake.js';
import { type SlotwiseStack, startSlotwise, TEST_INTAKE_SECRET, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
const malloryKey = 'mallory-api-key-0123456789';
const mallorySecret = `whsec_${Buffer.from('mallory-own-intake-secret-32byte').toString('base64')}`;

beforeAll(async () => {
  stack = await startSlotwise({ env: { SLOTWISE_QUOTA_RETRY_SECONDS: '1' } });
  await stack.deps.tenants.upsert('mallory', {
    apiKey: malloryKey,
    intakeSecret: mallorySecret,
    now: new Date(),
  });
});

afterAll(async () => {
  await stack?.close();
});

const job = (id?: string) => ({
  ...(id ? { id } : {}),
  pool: { vmSize: 'standard_d2s_v3' },
  tasks: [{ id: 't', commandLine: 'sleep 1000' }],
});

async function send(text: string): Promise<void> {
  const q = stack.queue(queueNames.jobRequests);
  await q.createIfNotExists();
  await q.sendMessage(text);
}

async function poisonTexts(): Promise<string[]> {
  const poison = stack.queue(`${queueNames.jobRequests}-poison`);
  if (!(await poison.exists())) return [];
  return (await poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => m.messageText);
}

/** Waits until every text is in the poison queue (the intake found no valid proof). */
async function waitForPoison(...texts: string[]): Promise<void> {
  await waitFor(poisonTexts, (all) => texts.every((t) => all.includes(t)), { what: 'poisoned messages' });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('queue intake proves its tenant', () => {
  it('poisons an unsigned, a forged, a stale and a mis-signed message; nothing is stored', async () => {
    const unsigned = encodeQueueMessage({ tenant: 'dev', job: job('att-unsigned') });
    // Signed with a key that is not dev's.
    const forged = signedIntakeText(job('att-forged'), { secret: mallorySecret });
    // Signed correctly, but ten minutes before it was put on the queue.
    const stale = signedIntakeText(job('att-stale'), { timestamp: nowSeconds() - 600 });
    const future = signedIntakeText(job('att-future'), { timestamp: nowSeconds() + 600 });
    // A valid signature over another body, pasted onto this one.
    const good = signedIntake(job('att-pasted'));
    const pasted = encodeQueueMessage({
      ...good,
      job: { ...good.job, tasks: [{ id: 't', commandLine: 'rm' }] },
    });
    for (const text of [unsigned, forged, stale, future, pasted]) await send(text);
    await waitForPoison(unsigned, forged, stale, future, pasted);
    for (const id of ['att-unsigned', 'att-forged', 'att-stale', 'att-future', 'att-pasted']) {
      expect(await stack.deps.jobs.get('dev', id)).toBeUndefined();
    }
    // The control: the same request, signed properly now, is stored.
    await send(signedIntakeText(job('att-control')));
    const control = await waitFor(
      () => stack.deps.jobs.get('dev', 'att-control'),
      (j) => j !== undefined,
      { what: 'the signed control job' },
    );
    expect(control?.tenant).toBe('dev');
  });

  it("poisons a message that claims another tenant, signed with the sender's own key", async () => {
    // mallory is a real tenant with a real intake secret, and claims dev.
    const claimed = signedIntakeText(job('mallory-as-dev'), { tenant: 'dev', secret: mallorySecret });
    // mallory's own message, relabelled to dev after signing.
    const own = signedIntake(job('mallory-relabelled'), { tenant: 'mallory', secret: mallorySecret });
    const relabelled = encodeQueueMessage({ ...own, tenant: 'dev' });
    await send(claimed);
    await send(relabelled);
    await waitForPoison(claimed, relabelled);
    expect(await stack.deps.jobs.get('dev', 'mallory-as-dev')).toBeUndefined();
    expect(await stack.deps.jobs.get('dev', 'mallory-relabelled')).toBeUndefined();
    expect(await stack.deps.jobs.get('mallory', 'mallory-as-dev')).toBeUndefined();
    // mallory signing as mallory works (and lands in mallory's partition only).
    await send(encodeQueueMessage(own));
    await waitFor(
      () => stack.deps.jobs.get('mallory', 'mallory-relabelled'),
      (j) => j !== undefined,
      { what: "mallory's own job" },
    );
    expect(await stack.deps.jobs.get('dev', 'mallory-relabelled')).toBeUndefined();
  });

  it('maps a signed message sent twice to one job, derived from the proof id when the job names none', async () => {
    const proofId = randomUUID();
    const text = signedIntakeText(job(), { id: proofId });
    await send(text);
    await send(text);
    const jobId = jobIdFromProof('dev', proofId);
    await waitFor(
      () => stack.deps.jobs.get('dev', jobId),
      (j) => j !== undefined,
      { what: 'the job of the replayed message' },
    );
    // Both copies are consumed (none is left, none was poisoned) ...
    await waitFor(
      async () => (await stack.queue(queueNames.jobRequests).getProperties()).approximateMessagesCount ?? -1,
      (n) => n === 0,
      { what: 'job-requests drained' },
    );
    expect(await poisonTexts()).not.toContain(text);
    // ... and the tenant has exactly one job from them.
    const res = await stack.request('/jobs?limit=100');
    const list = (await res.json()) as { value: { id: string }[] };
    expect(list.value.filter((j) => /^(q|job)-/.test(j.id))).toEqual([
      expect.objectContaining({ id: jobId }),
    ]);
  });

  it('poisons a copy of a proven message put on the queue again after the window', async () => {
    // The original went through six minutes ago (its insertion time is what the host reports).
    const proofId = randomUUID();
    const signedAt = nowSeconds() - 360;
    const envelope = signedIntake(job(), { id: proofId, timestamp: signedAt });
    const text = encodeQueueMessage(envelope);
    const context = new azureFunctions.InvocationContext({
      functionName: 'intake',
      triggerMetadata: {
        id: randomUUID(),
        queueTrigger: JSON.stringify(envelope),
        insertionTime: new Date((signedAt + 1) * 1000).toISOString(),
        dequeueCount: 1,
      },
      logHandler: () => undefined,
    });
    await intake.handler(envelope, context, stack.deps);
    const jobId = jobIdFromProof('dev', proofId);
    const original = await stack.deps.jobs.get('dev', jobId);
    expect(original?.state).toBeDefined();
    // The attacker copied the message and sends it now: a new insertion time, outside the window.
    await send(text);
    await waitForPoison(text);
    const after = await stack.deps.jobs.get('dev', jobId);
    expect(after?.createdAt).toBe(original?.createdAt);
  });

  it('the test signing secret is the one the stack seeded for dev', async () => {
    expect((await stack.deps.tenants.get('dev'))?.intakeSecret).toBe(TEST_INTAKE_SECRET);
  });
});

describe('signatures and signed content are read strictly (review 3, finding 18)', () => {
  const proofOf = (text: string) =>
    (JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as { proof: { signature: string } }).proof;

  it('poisons a valid signature with anything appended to it; nothing is stored', async () => {
    const variants = {
      'sig-appended': (sig: string) => `${sig}!!!!,extra`,
      'sig-padded': (sig: string) => `${sig}=`,
      'sig-trailing': (sig: string) => `${sig}AAAA`,
    };
    const texts = Object.entries(variants).map(([id, change]) => {
      const envelope = signedIntake(job(id));
      return encodeQueueMessage({
        ...envelope,
        proof: { ...envelope.proof, signature: change(envelope.proof.signature) },
      });
    });
    for (const text of texts) await send(text);
    await waitForPoison(...texts);
    for (const id of Object.keys(variants)) expect(await stack.deps.jobs.get('dev', id)).toBeUndefined();
    expect(proofOf(texts[0]!).signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=!!!!,extra$/);
    expect(
      stack.logger.lines.some((l) =>
        l.includes('IntakeProofBadSignature: proof.signature has no well-formed'),
      ),
    ).toBe(true);
  });

  it('poisons a __proto__ member added to a signed job: it is outside the signature', async () => {
    const envelope = signedIntake(job('proto-added'));
    const json = JSON.stringify(envelope).replace('"job":{', '"job":{"__proto__":{"admin":true},');
    const text = Buffer.from(json, 'utf8').toString('base64');
    await send(text);
    await waitForPoison(text);
    expect(await stack.deps.jobs.get('dev', 'proto-added')).toBeUndefined();
  });

  it("stores an honest signer's job with a __proto__ key as rejected, naming the key", async () => {
    // A job read from JSON has `__proto__` as an own key, and the README's `canonical` signs it.
    const withProto = JSON.parse(
      '{"__proto__":{"note":"x"},"id":"proto-honest","pool":{"vmSize":"standard_d2s_v3"},"tasks":[{"id":"t","commandLine":"x"}]}',
    ) as Record<string, unknown>;
    expect(Object.keys(withProto)).toContain('__proto__');
    const text = signedIntakeText(withProto);
    await send(text);
    const stored = await waitFor(
      () => stack.deps.jobs.get('dev', 'proto-honest'),
      (j) => j !== undefined,
      { what: 'the rejected job' },
    );
    expect(stored?.state).toBe('rejected');
    expect(stored?.errors?.map((e) => e.message)).toContain('unknown property __proto__');
    expect(await poisonTexts()).not.toContain(text);
  });
});

describe('the canonical form senders sign', () => {
  const secret = TEST_INTAKE_SECRET;
  const sign = (job: unknown) => signIntakeMessage({ secret, id: 'p', timestamp: 1_000, tenant: 'dev', job });
  const verify = (job: unknown, signature: string) =>
    verifyIntakeProof({
      proof: { id: 'p', timestamp: 1_000, signature },
      tenant: 'dev',
      job,
      secret,
      insertedAt: new Date(1_000_000),
    });

  it('accepts only canonical base64 after v1, (one valid signature among several is enough)', () => {
    const job = { a: 1 };
    const good = sign(job).signature;
    const mac = good.slice('v1,'.length);
    expect(() => verify(job, good)).not.toThrow();
    expect(() => verify(job, `v1,${'A'.repeat(43)}= ${good}`)).not.toThrow();
    for (const bad of [
      `${good}!!!!,extra`,
      `${good}=`,
      `v1,${mac.replace(/=$/, '')}`,
      `v1,-${mac.slice(1)}`,
      `v1, ${mac}`,
      `v2,${mac}`,
      'v1,',
    ]) {
      expect(() => verify(job, bad), bad).toThrow(IntakeProofError);
    }
  });

  it("matches the README's `canonical` function, from parsed values (1e2 is signed as 100)", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const source = /const canonical = [\s\S]*?JSON\.stringify\(v\);/.exec(readme)?.[0];
    expect(source).toBeDefined();
    const readmeCanonical = new Function(`${source}\nreturn canonical;`)() as (v: unknown) => string;
    const parsed = JSON.parse(
      '{"b":1e2,"a":-0,"s":"\\u0041\\u00e9\\n","__proto__":{"z":[1.50,{"y":null,"x":true}]},"n":1000.00000000000001}',
    );
    expect(canonicalJson(parsed)).toBe(
      '{"__proto__":{"z":[1.5,{"x":true,"y":null}]},"a":0,"b":100,"n":1000,"s":"Aé\\n"}',
    );
    expect(readmeCanonical(parsed)).toBe(canonicalJson(parsed));
  });
});

describe('queue submissions over a limit wait instead of being rejected', () => {
  it('admits a burst above the submission rate later, through the deferred queue', async () => {
    await stack.deps.tenants.upsert('bursty', {
      apiKey: 'bursty-api-key-0123456789',
      intakeSecret: mallorySecret,
      policy: { limits: { submissionsPerSecond: 1, submissionBurst: 1 } },
      now: new Date(),
    });
    const ids = ['burst-1', 'burst-2', 'burst-3'];
    await Promise.all(
      ids.map((id) => send(signedIntakeText(job(id), { tenant: 'bursty', secret: mallorySecret }))),
    );
    const jobs = await waitFor(
      () => Promise.all(ids.map((id) => stack.deps.jobs.get('bursty', id))),
      (all) => all.every((j) => j !== undefined),
      { what: 'every job of the burst admitted', timeoutMs: 40_000 },
    );
    expect(jobs.map((j) => j?.state === 'rejected')).toEqual([false, false, false]);
    // At most one fit the burst at once: the others waited on the deferred queue.
    expect(await stack.queue(queueNames.intakeDeferred).exists()).toBe(true);
  });

  it('stores a queued job that could never fit as rejected, naming the limit', async () => {
    await stack.deps.tenants.upsert('small', {
      apiKey: 'small-api-key-0123456789',
      intakeSecret: mallorySecret,
      policy: { limits: { maxTasksInFlight: 1 } },
      now: new Date(),
    });
    await send(
      signedIntakeText(
        {
          id: 'too-big',
          pool: { vmSize: 'standard_d2s_v3' },
          tasks: [
            { id: 'a', commandLine: 'x' },
            { id: 'b', commandLine: 'x' },
          ],
        },
        { tenant: 'small', secret: mallorySecret },
      ),
    );
    const stored = await waitFor(
      () => stack.deps.jobs.get('small', 'too-big'),
      (j) => j !== undefined,
      { what: 'the rejected job' },
    );
    expect(stored?.state).toBe('rejected');
    expect(stored?.errors?.[0]?.message).toContain('maxTasksInFlight');
  });
});

describe('queue submissions over a quota', () => {
  it('wait on the deferred queue while the active-job quota is full, and are admitted once a job ends', async () => {
    const key = 'quota-q-api-key-0123456789';
    await stack.deps.tenants.upsert('quota-q', {
      apiKey: key,
      intakeSecret: mallorySecret,
      policy: { limits: { maxActiveJobs: 1, submissionsPerSecond: 100, submissionBurst: 100 } },
      now: new Date(),
    });
    const first = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(job('holder')), key });
    expect(first.status).toBe(202);
    await send(signedIntakeText(job('waiter'), { tenant: 'quota-q', secret: mallorySecret }));
    // The intake saw the quota full and parked the request on the deferred queue, storing nothing.
    await waitFor(
      async () => {
        const q = stack.queue(queueNames.intakeDeferred);
        return (await q.exists()) ? ((await q.getProperties()).approximateMessagesCount ?? 0) : 0;
      },
      (n) => n > 0,
      { what: 'the request parked on the deferred queue' },
    );
    expect(await stack.deps.jobs.get('quota-q', 'waiter')).toBeUndefined();
    expect((await stack.request('/jobs/holder', { method: 'DELETE', key })).status).toBeLessThan(300);
    const admitted = await waitFor(
      () => stack.deps.jobs.get('quota-q', 'waiter'),
      (j) => j !== undefined,
      { what: 'the waiting request admitted', timeoutMs: 30_000 },
    );
    expect(admitted?.state).not.toBe('rejected');
  });
});
