/**
 * Deliveries as a receiver sees them, read with the official libraries and none of our code: the
 * CloudEvents SDK's HTTP binding (`HTTP.toEvent`) must parse every delivery as a structured-mode event,
 * and the Standard Webhooks reference library must verify every signature.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CloudEventV1, HTTP } from 'cloudevents';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJob, type SlotwiseStack, startSlotwise, TEST_WEBHOOK_SECRET, waitFor } from '../support/stack.js';

interface Delivery {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** What the CloudEvents SDK read, or why it could not. */
  readonly event?: CloudEventV1<Record<string, unknown>>;
  readonly parseError?: string;
  /** What the Standard Webhooks library verified, or why it refused. */
  readonly verified?: unknown;
  readonly verifyError?: string;
}

let stack: SlotwiseStack;
let receiver: Server;
let receiverUrl: string;
const deliveries: Delivery[] = [];
const webhook = new Webhook(TEST_WEBHOOK_SECRET);

function receive(path: string, headers: IncomingHttpHeaders, body: string): Delivery {
  const stringHeaders = Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]),
  );
  let event: Delivery['event'];
  let parseError: string | undefined;
  try {
    const parsed = HTTP.toEvent({ headers, body });
    event = (Array.isArray(parsed) ? parsed[0] : parsed) as Delivery['event'];
  } catch (e) {
    parseError = (e as Error).message;
  }
  let verified: unknown;
  let verifyError: string | undefined;
  try {
    verified = webhook.verify(body, stringHeaders);
  } catch (e) {
    verifyError = (e as Error).message;
  }
  return {
    path,
    headers,
    body,
    ...(event ? { event } : {}),
    ...(parseError ? { parseError } : {}),
    ...(verifyError ? { verifyError } : { verified }),
  };
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push(receive(req.url ?? '', req.headers, Buffer.concat(chunks).toString('utf8')));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  stack = await startSlotwise({ env: { SLOTWISE_ALLOCATION_DEADLINE_SECONDS: '600' } });
});

afterAll(async () => {
  await stack?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

const at = (hook: string) => deliveries.filter((d) => d.path === `/${hook}`);

describe('deliveries read by the receivers’ libraries', () => {
  it('every event parses with the CloudEvents SDK (structured mode) and verifies with Standard Webhooks', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'ce-ok',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 't', commandLine: 'sleep 3' }],
        callback: { url: `${receiverUrl}/ok` },
      }),
    });
    expect(res.status).toBe(202);
    await waitFor(
      () => at('ok').map((d) => d.event?.type),
      (types) => types.includes('slotwise.job.completed'),
      { what: 'completed event' },
    );
    const got = at('ok');
    expect(got.map((d) => d.parseError)).toEqual(got.map(() => undefined));
    expect(got.map((d) => d.verifyError)).toEqual(got.map(() => undefined));
    expect(
      got.every((d) => String(d.headers['content-type']).startsWith('application/cloudevents+json')),
    ).toBe(true);
    expect(got.map((d) => d.event?.type)).toEqual([
      'slotwise.job.accepted',
      'slotwise.job.planned',
      'slotwise.job.submitting',
      'slotwise.job.submitted',
      'slotwise.job.running',
      'slotwise.job.completed',
    ]);
    const last = got.at(-1)!;
    expect(last.event).toMatchObject({
      specversion: '1.0',
      source: '/slotwise/tenants/dev/jobs',
      subject: 'ce-ok',
      datacontenttype: 'application/json',
      data: { jobId: 'ce-ok', state: 'completed', sequence: 6, taskCounts: { succeeded: 1, failed: 0 } },
    });
    // The Standard Webhooks library hands back the same payload the SDK read; the ids agree.
    expect(last.verified).toEqual(JSON.parse(last.body));
    expect(got.every((d) => d.event?.id === d.headers['webhook-id'])).toBe(true);
  });

  it('a body changed on the way fails the Standard Webhooks check', async () => {
    const original = at('ok')[0]!;
    const tampered = receive('/x', original.headers, original.body.replace('"accepted"', '"completed"'));
    expect(tampered.verifyError).toBeDefined();
    expect(tampered.event?.data?.state).toBe('completed');
  });

  it('a waiting event carries the waiting reason in its data', async () => {
    await stack.emulatorControl('quotas', {
      method: 'PUT',
      body: JSON.stringify({ dedicatedCoreQuotaPerVMFamily: [{ name: 'standardESv3Family', coreQuota: 0 }] }),
    });
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'ce-waiting',
        pool: { vmSize: 'standard_e4s_v3', maxNodes: 1 },
        tasks: [{ id: 't', commandLine: 'sleep 10' }],
        callback: { url: `${receiverUrl}/waiting` },
      }),
    });
    expect(res.status).toBe(202);
    const delivery = await waitFor(
      () => at('waiting').find((d) => d.event?.type === 'slotwise.job.waiting'),
      (d) => d !== undefined,
      { what: 'waiting event', timeoutMs: 30_000 },
    );
    expect(delivery?.verifyError).toBeUndefined();
    const job = await getJob(stack, 'ce-waiting');
    const waiting = delivery?.event?.data?.waiting as Record<string, string>;
    expect(waiting).toMatchObject({ code: 'AccountCoreQuotaReached' });
    expect(waiting).toEqual(job?.waiting);
    // An account quota is a wait with no deadline: the job never fails for it.
    expect(Date.parse(String(waiting.since))).not.toBeNaN();
    expect(waiting.failAt).toBeUndefined();
    // Other events carry no waiting field.
    expect(
      at('waiting')
        .filter((d) => d.event?.type !== 'slotwise.job.waiting')
        .map((d) => d.event?.data?.waiting),
    ).toEqual(
      at('waiting')
        .filter((d) => d.event?.type !== 'slotwise.job.waiting')
        .map(() => undefined),
    );
    await stack.request('/jobs/ce-waiting', { method: 'DELETE' });
  });
});
