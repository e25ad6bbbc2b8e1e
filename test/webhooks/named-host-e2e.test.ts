/**
 * A job whose callback URL names its host (`http://localhost:<port>`, allowed by the local stack's
 * loopback switch) gets every event delivered through the real stack, with the system resolver and
 * Node's default `autoSelectFamily` connect (review 3, finding 4: every such delivery used to fail
 * with ERR_INVALID_IP_ADDRESS). Signatures are checked with the Standard Webhooks reference library.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJob, type SlotwiseStack, startSlotwise, TEST_WEBHOOK_SECRET, waitFor } from '../support/stack.js';
import { type Receiver, startLocalhostReceiver } from './receivers.js';

let stack: SlotwiseStack;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startLocalhostReceiver();
  stack = await startSlotwise({ env: { SLOTWISE_ALLOCATION_DEADLINE_SECONDS: '600' } });
});

afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

describe('webhooks to a named host, end to end', () => {
  it('delivers every event of a job whose callback is http://localhost:<port>, signed', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'named-host',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 't', commandLine: 'sleep 3' }],
        callback: { url: `http://localhost:${receiver.port}/named` },
      }),
    });
    expect(res.status).toBe(202);
    // Until the last event is delivered, or an attempt failed (what the bug did to every attempt).
    const job = await waitFor(
      () => getJob(stack, 'named-host'),
      (j) =>
        j?.deliveries.some((d) => d.lastError !== undefined) === true ||
        (j?.state === 'completed' && j.deliveries.every((d) => d.status === 'delivered')),
      { what: 'every event of named-host delivered', timeoutMs: 40_000 },
    );
    expect(job?.deliveries.map((d) => d.lastError)).toEqual(job?.deliveries.map(() => undefined));
    expect(job?.deliveries.map((d) => [d.status, d.attempts])).toEqual(
      job?.deliveries.map(() => ['delivered', 1]),
    );

    const webhook = new Webhook(TEST_WEBHOOK_SECRET);
    const got = receiver.received.filter((d) => d.path === '/named');
    expect(got.map((d) => (JSON.parse(d.body) as { type: string }).type)).toEqual([
      'slotwise.job.accepted',
      'slotwise.job.planned',
      'slotwise.job.submitting',
      'slotwise.job.submitted',
      'slotwise.job.running',
      'slotwise.job.completed',
    ]);
    for (const d of got) {
      expect(d.headers.host).toBe(`localhost:${receiver.port}`);
      const headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, String(v)]));
      // Throws when the signature does not match the body as received.
      expect(webhook.verify(d.body, headers)).toEqual(JSON.parse(d.body));
    }
  });
});
