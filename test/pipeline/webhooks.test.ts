import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/model/job-view.js';
import { type SlotwiseStack, startSlotwise, TEST_WEBHOOK_SECRET, waitFor } from '../support/stack.js';

interface Received {
  path: string;
  verified: boolean;
  id: string;
  event: {
    type: string;
    id: string;
    subject: string;
    specversion: string;
    data: { state: string; sequence: number; failure?: { code: string } };
  };
}

/** The receiver's own Standard Webhooks check: HMAC-SHA256 over `id.timestamp.body`, key = base64 after `whsec_`. */
function verify(id: string, timestamp: string, body: string, header: string): boolean {
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(TEST_WEBHOOK_SECRET.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return header.split(' ').some((sig) => {
    const [v, b64] = sig.split(',');
    const given = Buffer.from(b64 ?? '', 'base64');
    return v === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

let stack: SlotwiseStack;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
let answers: number[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const h = (n: string) => String(req.headers[n] ?? '');
      const status = answers.length > 0 ? answers.shift()! : 204;
      received.push({
        path: req.url ?? '',
        verified: verify(h('webhook-id'), h('webhook-timestamp'), body, h('webhook-signature')),
        id: h('webhook-id'),
        event: JSON.parse(body),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // Short retry delays here; the real schedule (about a day) is pinned by a unit test.
  stack = await startSlotwise({
    overrides: { nextAttemptDelay: (attempt) => (attempt <= 6 ? 150 : undefined) },
  });
});

afterAll(async () => {
  await stack?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

beforeEach(() => {
  answers = [];
});

const submit = (id: string, tasks: { id: string; commandLine: string }[], hook: string) =>
  stack.request('/jobs', {
    method: 'POST',
    body: JSON.stringify({
      id,
      pool: { vmSize: 'standard_d2s_v3' },
      tasks,
      callback: { url: `${receiverUrl}/${hook}` },
    }),
  });

const job = async (id: string) => (await (await stack.request(`/jobs/${id}`)).json()) as JobView;
const hooks = (name: string) => received.filter((r) => r.path === `/${name}`);

describe('webhook callbacks', () => {
  it('delivers every state change, signed, as CloudEvents, in order', async () => {
    await submit('wh-ok', [{ id: 't', commandLine: 'sleep 5' }], 'ok');
    await waitFor(
      () => hooks('ok').map((r) => r.event.data.state),
      (s) => s.includes('completed'),
      { what: 'completed event' },
    );
    const events = hooks('ok');
    expect(events.every((r) => r.verified)).toBe(true);
    expect(events.map((r) => r.event.type)).toEqual([
      'slotwise.job.accepted',
      'slotwise.job.planned',
      'slotwise.job.submitting',
      'slotwise.job.submitted',
      'slotwise.job.running',
      'slotwise.job.completed',
    ]);
    expect(events.map((r) => r.event.data.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events[0]?.event).toMatchObject({ specversion: '1.0', subject: 'wh-ok' });
    expect(events.every((r) => r.id === r.event.id)).toBe(true);
    const view = await waitFor(
      () => job('wh-ok'),
      (j) => j.deliveries.every((d) => d.status === 'delivered'),
    );
    expect(view.deliveries).toHaveLength(6);
  });

  it('tells the owner of a failed job why, in the failed event', async () => {
    await submit('wh-fail', [{ id: 'bad', commandLine: "/bin/sh -c 'exit 3'" }], 'fail');
    const last = await waitFor(
      () => hooks('fail').at(-1),
      (r) => r?.event.data.state === 'failed',
      { what: 'failed event' },
    );
    expect(last?.event.data.failure?.code).toBe('TaskFailed');
  });

  it('loses nothing while the receiver is down, and keeps the order when it is back', async () => {
    answers = [503, 503, 500, 503];
    await submit('wh-down', [{ id: 't', commandLine: 'sleep 2' }], 'down');
    await waitFor(
      () => hooks('down').filter((r) => r.event.data.state === 'completed').length,
      (n) => n > 0,
      { what: 'completed after outage' },
    );
    const firstSeen: string[] = [];
    for (const r of hooks('down'))
      if (!firstSeen.includes(r.event.data.state)) firstSeen.push(r.event.data.state);
    expect(firstSeen).toEqual(['accepted', 'planned', 'submitting', 'submitted', 'running', 'completed']);
    const view = await waitFor(
      () => job('wh-down'),
      (j) => j.deliveries.every((d) => d.status === 'delivered'),
    );
    expect(view.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 5, lastStatus: 204 });
  });

  it('stops delivering when the receiver answers 410 Gone', async () => {
    answers = [410];
    await submit('wh-gone', [{ id: 't', commandLine: 'sleep 1' }], 'gone');
    const view = await waitFor(
      () => job('wh-gone'),
      (j) => j.state === 'completed' && j.deliveries.every((d) => d.status !== 'pending'),
    );
    expect(hooks('gone')).toHaveLength(1);
    expect(view.deliveries.every((d) => d.status === 'gone')).toBe(true);
  });

  it('dead-letters an event after the last retry and shows it on the job', async () => {
    answers = Array(20).fill(500);
    await submit('wh-dead', [{ id: 't', commandLine: 'sleep 1' }], 'dead');
    const view = await waitFor(
      () => job('wh-dead'),
      (j) => j.deliveries.length > 0 && j.deliveries[0]!.status === 'failed',
      { timeoutMs: 30_000 },
    );
    expect(view.deliveries[0]).toMatchObject({ status: 'failed', attempts: 7, lastStatus: 500 });
  });

  it('refuses callback URLs that are not https or point at private addresses', async () => {
    const refuse = async (url: string) => {
      const res = await stack.request('/jobs', {
        method: 'POST',
        body: JSON.stringify({
          pool: { vmSize: 'standard_d2s_v3' },
          tasks: [{ id: 't', commandLine: 'x' }],
          callback: { url },
        }),
      });
      return { status: res.status, errors: ((await res.json()) as { errors?: { field: string }[] }).errors };
    };
    for (const url of [
      'http://example.com/h',
      'https://10.0.0.5/h',
      'https://169.254.169.254/latest',
      'https://[::ffff:192.168.1.1]/h',
      'https://user:pw@example.com/',
    ]) {
      const r = await refuse(url);
      expect(r.status, url).toBe(400);
      expect(r.errors?.[0]?.field).toBe('callback.url');
    }
  });
});
