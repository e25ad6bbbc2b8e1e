import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStandardWebhook } from '../../dev/webhook-inbox/inbox.js';
import { forbiddenAddressReason, validateCallbackUrl } from '../../shared/adapters/webhooks/address-guard.js';
import { nextAttemptDelay, webhookRetryScheduleMs } from '../../shared/adapters/webhooks/backoff.js';
import {
  createWebhookDispatcher,
  DELIVERY_TIMEOUT_MS,
  deliverWebhook,
} from '../../shared/adapters/webhooks/deliver.js';
import { parseWebhookSecret, signWebhook, verifyWebhook } from '../../shared/adapters/webhooks/signature.js';

// The reference vector of the Standard Webhooks specification (standard-webhooks/standard-webhooks,
// libraries' "sign function works" tests).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('Standard Webhooks signatures', () => {
  it('match the reference vector', () => {
    expect(signWebhook(VECTOR)).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    });
  });

  it('verify, with rotation, and reject tampering and stale or future timestamps', () => {
    const headers = {
      id: VECTOR.id,
      timestamp: String(VECTOR.timestamp),
      signature: `v1,bogus ${VECTOR.signature}`,
    };
    const check = (over: Partial<Parameters<typeof verifyWebhook>[0]>) =>
      verifyWebhook({
        secret: VECTOR.secret,
        headers,
        body: VECTOR.body,
        nowSeconds: VECTOR.timestamp + 10,
        ...over,
      });
    expect(check({})).toBe(true);
    expect(check({ body: '{"test": 2432232315}' })).toBe(false);
    expect(check({ nowSeconds: VECTOR.timestamp + 301 })).toBe(false);
    expect(check({ nowSeconds: VECTOR.timestamp - 301 })).toBe(false);
    expect(check({ secret: 'whsec_c29tZS1vdGhlci1zZWNyZXQtMTIzNA==' })).toBe(false);
  });

  it('refuses malformed secrets without echoing them', () => {
    expect.assertions(4);
    expect(() => parseWebhookSecret('hunter2-not-a-secret')).toThrow(/whsec_/);
    // Must throw: a secret that is accepted here would make the checks below vacuous.
    let thrown: unknown;
    try {
      parseWebhookSecret('whsec_!!!');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toMatch(/whsec_/);
    expect((thrown as Error).message).not.toContain('!!!');
  });

  it("are accepted by the demo inbox's independent check", () => {
    expect(
      verifyStandardWebhook(
        VECTOR.secret,
        VECTOR.id,
        String(VECTOR.timestamp),
        VECTOR.body,
        VECTOR.signature,
      ),
    ).toBe(true);
  });
});

describe('callback address guard', () => {
  const strict = { allowHttpLoopback: false };
  it.each([
    ['https://hooks.example.com/x', undefined],
    ['http://hooks.example.com/x', 'must be an https URL'],
    ['https://user:pw@hooks.example.com/', 'must not carry credentials'],
    ['https://127.0.0.1/', 'host is a non-public address (127.0.0.1)'],
    ['https://0x7f.1/', 'host is a non-public address (127.0.0.1)'],
    ['https://2130706433/', 'host is a non-public address (127.0.0.1)'],
    ['https://10.1.2.3/', 'host is a non-public address (10.1.2.3)'],
    ['https://172.20.0.1/', 'host is a non-public address (172.20.0.1)'],
    ['https://192.168.0.10/', 'host is a non-public address (192.168.0.10)'],
    ['https://169.254.169.254/latest/meta-data', 'host is a non-public address (169.254.169.254)'],
    ['https://100.64.0.1/', 'host is a non-public address (100.64.0.1)'],
    ['https://[::1]/', 'host is a non-public address (::1)'],
    ['https://[::ffff:127.0.0.1]/', 'host is a non-public address (127.0.0.1)'],
    ['https://[fd00:ec2::254]/', 'host is a non-public address (fd00:ec2::254)'],
    ['https://[fe80::1]/', 'host is a non-public address (fe80::1)'],
    ['https://localhost./', 'must not point at this machine'],
    ['ftp://hooks.example.com/', 'must be an https URL'],
  ])('%s → %s', (url, reason) => {
    expect(validateCallbackUrl(url, strict)).toBe(reason);
  });

  it('allows http to loopback only when the local stack says so', () => {
    expect(validateCallbackUrl('http://127.0.0.1:7072/hooks/a', { allowHttpLoopback: true })).toBeUndefined();
    expect(validateCallbackUrl('http://localhost:7072/hooks/a', { allowHttpLoopback: true })).toBeUndefined();
    expect(validateCallbackUrl('http://10.0.0.1/hooks/a', { allowHttpLoopback: true })).toBe(
      'must be an https URL',
    );
    expect(forbiddenAddressReason('8.8.8.8', strict)).toBeUndefined();
    expect(forbiddenAddressReason('2606:4700::1111', strict)).toBeUndefined();
  });
});

describe('webhook retry schedule', () => {
  it('spans about a day, jittered ±20 %, then gives up', () => {
    expect(webhookRetryScheduleMs).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    const total = webhookRetryScheduleMs.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeCloseTo(27.6, 1);
    expect(nextAttemptDelay(1, () => 0)).toBe(4_000);
    expect(nextAttemptDelay(1, () => 1)).toBe(6_000);
    expect(nextAttemptDelay(7, () => 0.5)).toBe(36_000_000);
    expect(nextAttemptDelay(8, () => 0.5)).toBeUndefined();
    for (const d of webhookRetryScheduleMs) expect(d).toBeLessThan(7 * 24 * 3_600_000);
  });
});

describe('webhook delivery', () => {
  let receiver: Server;
  let port: number;
  const loopback = { allowHttpLoopback: true };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const path = req.url ?? '';
      req.resume();
      if (path === '/ok') res.writeHead(204).end();
      else if (path === '/gone') res.writeHead(410).end();
      else if (path === '/busy') res.writeHead(503, { 'retry-after': '120' }).end();
      else if (path === '/redirect') res.writeHead(302, { location: '/ok' }).end();
      else if (path === '/slow') setTimeout(() => res.writeHead(204).end(), 2000);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    port = (receiver.address() as AddressInfo).port;
  });

  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  const send = (
    path: string,
    options: { timeoutMs?: number } = {},
    lookup?: Parameters<typeof createWebhookDispatcher>[1],
    host = '127.0.0.1',
  ) =>
    deliverWebhook(
      { url: `http://${host}:${port}${path}`, body: '{}', headers: { 'webhook-id': 'x' } },
      { policy: loopback, dispatcher: createWebhookDispatcher(loopback, lookup), ...options },
    );

  it('maps answers to outcomes: 2xx delivered, 410 gone, 5xx retry with Retry-After, 3xx not followed', async () => {
    expect(await send('/ok')).toEqual({ kind: 'delivered', status: 204 });
    expect(await send('/gone')).toEqual({ kind: 'gone', status: 410 });
    expect(await send('/busy')).toMatchObject({ kind: 'retry', status: 503, retryAfterMs: 120_000 });
    expect(await send('/redirect')).toMatchObject({
      kind: 'retry',
      status: 302,
      reason: 'redirect (302) not followed',
    });
  });

  it('treats a timeout as a failed attempt to retry', async () => {
    expect(await send('/slow', { timeoutMs: 200 })).toMatchObject({
      kind: 'retry',
      reason: 'delivery failed: timed out',
    });
  });

  it('bounds every attempt: a longer timeout asked for is capped', async () => {
    expect(DELIVERY_TIMEOUT_MS).toBeLessThanOrEqual(10_000);
    const hang = createServer(() => undefined); // accepts, reads, never answers
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const hangPort = (hang.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const outcome = await deliverWebhook(
        { url: `http://127.0.0.1:${hangPort}/never`, body: '{}', headers: {} },
        { policy: loopback, dispatcher: createWebhookDispatcher(loopback), timeoutMs: 3_600_000 },
      );
      expect(outcome).toMatchObject({ kind: 'retry', reason: 'delivery failed: timed out' });
      expect(Date.now() - started).toBeLessThan(DELIVERY_TIMEOUT_MS + 5_000);
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  }, 20_000);

  it('checks the resolved address at send time: a name that resolves to a private address is refused', async () => {
    const privateLookup = async () => [{ address: '10.0.0.7', family: 4 }];
    const outcome = await deliverWebhook(
      { url: 'https://hooks.example.com/ok', body: '{}', headers: {} },
      {
        policy: { allowHttpLoopback: false },
        dispatcher: createWebhookDispatcher({ allowHttpLoopback: false }, privateLookup),
      },
    );
    expect(outcome).toEqual({
      kind: 'rejected',
      reason: 'the callback host resolves to a non-public address (10.0.0.7)',
    });
  });

  it('refuses a name that resolves to a public and a private address (rebinding), and a blocked URL up front', async () => {
    const mixed = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ];
    const outcome = await deliverWebhook(
      { url: 'https://hooks.example.com/ok', body: '{}', headers: {} },
      {
        policy: { allowHttpLoopback: false },
        dispatcher: createWebhookDispatcher({ allowHttpLoopback: false }, mixed),
      },
    );
    expect(outcome).toMatchObject({ kind: 'rejected' });
    expect(await send('/ok', {}, undefined, '10.0.0.1')).toMatchObject({ kind: 'rejected' });
  });
});
