/**
 * Webhooks to host names (review 3, finding 4). Node's connect asks the lookup for a list of addresses
 * when `autoSelectFamily` is on (the default since Node 20) and for one address when it is off; the
 * guarded lookup must answer both, and still refuse a name if any address it resolves to is forbidden.
 * Receivers are real servers on loopback; "public" names are mapped to them by a test resolver under
 * the local switch (which allows loopback), or to forbidden addresses under the strict policy.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { connect, type LookupFunction } from 'node:net';
import { type Dispatcher, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWebhookDispatcher,
  deliverWebhook,
  guardedLookup,
  type LookupAll,
} from '../../shared/adapters/webhooks/deliver.js';
import {
  ipv6LoopbackUnavailable,
  type Receiver,
  startLocalhostReceiver,
  startReceiver,
} from './receivers.js';

const strict = { allowHttpLoopback: false };
const local = { allowHttpLoopback: true };

/** A resolver that knows `names` only, and records the options it was asked with. */
function resolver(names: Record<string, readonly string[]>): LookupAll & { asked: unknown[] } {
  const asked: unknown[] = [];
  const resolve = async (hostname: string, options?: { hints?: number }) => {
    asked.push(options);
    const addresses = names[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
    // The claimed family is deliberately wrong: the lookup must take it from the address.
    return addresses.map((address) => ({ address, family: 0 }));
  };
  return Object.assign(resolve, { asked });
}

interface Answer {
  readonly error: NodeJS.ErrnoException | null;
  readonly address: string | LookupAddress[];
  readonly family: number | undefined;
}

/** Calls the lookup the way Node's connect does. */
function ask(lookup: LookupFunction, hostname: string, options: LookupOptions): Promise<Answer> {
  return new Promise((resolve) =>
    lookup(hostname, options, (error, address, family) => resolve({ error, address, family })),
  );
}

// Undefined, or why this machine cannot listen on [::1] (then the IPv6 cases are skipped, saying so).
const v6Missing = await ipv6LoopbackUnavailable();

const PUBLIC_V4 = '93.184.216.34';
const PUBLIC_V6 = '2606:2800:220:1:248:1893:25c8:1946';

describe('the connect-time lookup', () => {
  it('answers `all: true` with every checked address, families read from the addresses', async () => {
    const resolve = resolver({ 'hooks.example.com': [PUBLIC_V6, PUBLIC_V4] });
    const answer = await ask(guardedLookup(strict, resolve), 'hooks.example.com', { all: true, hints: 32 });
    expect(answer.error).toBeNull();
    expect(answer.address).toEqual([
      { address: PUBLIC_V6, family: 6 },
      { address: PUBLIC_V4, family: 4 },
    ]);
    // Node's ADDRCONFIG hint reaches the resolver, so the answer is what Node would have asked for.
    expect(resolve.asked).toEqual([{ hints: 32 }]);
  });

  it('answers `all: false` (and no `all`) with one address and its family; `family` picks among them', async () => {
    const lookup = guardedLookup(strict, resolver({ 'hooks.example.com': [PUBLIC_V6, PUBLIC_V4] }));
    expect(await ask(lookup, 'hooks.example.com', { all: false })).toEqual({
      error: null,
      address: PUBLIC_V6,
      family: 6,
    });
    expect(await ask(lookup, 'hooks.example.com', {})).toEqual({
      error: null,
      address: PUBLIC_V6,
      family: 6,
    });
    expect(await ask(lookup, 'hooks.example.com', { all: false, family: 4 })).toEqual({
      error: null,
      address: PUBLIC_V4,
      family: 4,
    });
    expect(await ask(lookup, 'hooks.example.com', { all: true, family: 6 })).toEqual({
      error: null,
      address: [{ address: PUBLIC_V6, family: 6 }],
      family: undefined,
    });
  });

  it.each([
    [[PUBLIC_V4, '10.0.0.7'], '10.0.0.7'],
    [['169.254.169.254', PUBLIC_V4], '169.254.169.254'],
    [[PUBLIC_V6, 'fd00::7'], 'fd00::7'],
    [[PUBLIC_V4, PUBLIC_V6, '168.63.129.16'], '168.63.129.16'],
    [[PUBLIC_V6, '3fff::1'], '3fff::1'],
  ])('refuses a name that resolves to public and private addresses %j, asked for one or all', async (addresses, bad) => {
    const lookup = guardedLookup(strict, resolver({ 'hooks.example.com': addresses }));
    for (const all of [true, false]) {
      const answer = await ask(lookup, 'hooks.example.com', { all });
      expect(answer.error).toMatchObject({
        code: 'CallbackAddressBlocked',
        message: `the callback host resolves to a non-public address (${bad})`,
      });
      // No address is handed to Node with the refusal.
      expect(answer.address).toEqual(all ? [] : '');
    }
  });

  it.each([
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::ffff:10.0.0.7', '10.0.0.7'],
    ['::ffff:a9fe:a9fe', '169.254.169.254'],
    ['0:0:0:0:0:ffff:a83f:8110', '168.63.129.16'],
    ['0:0:0:0:0:0:7f00:1', '127.0.0.1'],
  ])('refuses the IPv4-mapped or -compatible answer %s, asked for one or all', async (address, v4) => {
    const lookup = guardedLookup(strict, resolver({ 'hooks.example.com': [address] }));
    for (const all of [true, false])
      expect((await ask(lookup, 'hooks.example.com', { all })).error).toMatchObject({
        code: 'CallbackAddressBlocked',
        message: `the callback host resolves to a non-public address (${v4})`,
      });
    // The local switch opens loopback, however it is written, and nothing else.
    const open = await ask(guardedLookup(local, resolver({ localhost: [address] })), 'localhost', {
      all: true,
    });
    if (v4 === '127.0.0.1')
      expect(open).toEqual({ error: null, address: [{ address, family: 6 }], family: undefined });
    else expect(open.error).toMatchObject({ code: 'CallbackAddressBlocked' });
  });

  it('passes a failed resolution through as it is (a retry, not a refusal), and an empty answer is refused', async () => {
    const lookup = guardedLookup(
      strict,
      resolver({ 'v4only.example.com': [PUBLIC_V4], 'empty.example.com': [] }),
    );
    expect((await ask(lookup, 'nowhere.example.com', { all: true })).error).toMatchObject({
      code: 'ENOTFOUND',
    });
    expect((await ask(lookup, 'v4only.example.com', { all: false, family: 6 })).error).toMatchObject({
      code: 'ENOTFOUND',
    });
    expect((await ask(lookup, 'empty.example.com', { all: true })).error).toMatchObject({
      code: 'CallbackAddressBlocked',
      message: 'the callback host resolves to nothing',
    });
  });
});

describe('Node connects to a named host through the lookup', () => {
  let v4: Receiver;
  let v6: Receiver | undefined;

  beforeAll(async () => {
    v4 = await startReceiver('127.0.0.1');
    if (!v6Missing) v6 = await startReceiver('::1');
  });
  afterAll(async () => {
    await v4?.close();
    await v6?.close();
  });

  /** Opens a socket as undici does (`net.connect` with a `lookup`) and reports where it went. */
  function open(port: number, lookup: LookupFunction, autoSelectFamily: boolean) {
    return new Promise<{ remoteAddress?: string; error?: NodeJS.ErrnoException }>((resolve) => {
      const socket = connect({ host: 'hooks.example.com', port, lookup, autoSelectFamily });
      socket.once('connect', () => {
        const remoteAddress = socket.remoteAddress ?? '';
        socket.destroy();
        resolve({ remoteAddress });
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve({ error }));
    });
  }

  it.each([true, false])('connects over IPv4 with autoSelectFamily %s', async (autoSelectFamily) => {
    const lookup = guardedLookup(local, resolver({ 'hooks.example.com': ['127.0.0.1'] }));
    expect(await open(v4.port, lookup, autoSelectFamily)).toEqual({ remoteAddress: '127.0.0.1' });
  });

  it.skipIf(v6Missing !== undefined).each([true, false])(
    `connects over IPv6 with autoSelectFamily %s${v6Missing ? ` (skipped: ${v6Missing})` : ''}`,
    async (autoSelectFamily) => {
      const lookup = guardedLookup(local, resolver({ 'hooks.example.com': ['::1'] }));
      expect(await open(v6!.port, lookup, autoSelectFamily)).toEqual({ remoteAddress: '::1' });
    },
  );

  it.each([
    true,
    false,
  ])('refuses a forbidden answer before connecting, autoSelectFamily %s', async (autoSelectFamily) => {
    const lookup = guardedLookup(strict, resolver({ 'hooks.example.com': [PUBLIC_V4, '127.0.0.1'] }));
    const result = await open(v4.port, lookup, autoSelectFamily);
    expect(result.error).toMatchObject({ code: 'CallbackAddressBlocked' });
    expect(v4.received).toEqual([]);
  });
});

describe('webhook deliveries to named hosts', () => {
  const receivers: Receiver[] = [];
  const dispatchers: Dispatcher[] = [];
  afterAll(async () => {
    for (const d of dispatchers) await d.close();
    for (const r of receivers) await r.close();
  });

  const deliver = (url: string, policy: typeof local, lookup?: LookupAll) => {
    const dispatcher = createWebhookDispatcher(policy, lookup);
    dispatchers.push(dispatcher);
    return deliverWebhook(
      { url, body: '{"n":1}', headers: { 'webhook-id': 'msg_named' } },
      { policy, dispatcher },
    );
  };

  it('reaches localhost through the system resolver under the local switch', async () => {
    const receiver = await startLocalhostReceiver();
    receivers.push(receiver);
    expect(await deliver(`http://localhost:${receiver.port}/system`, local)).toEqual({
      kind: 'delivered',
      status: 204,
    });
    expect(receiver.received).toMatchObject([
      { path: '/system', body: '{"n":1}', headers: { host: `localhost:${receiver.port}` } },
    ]);
  });

  it('reaches localhost resolved to 127.0.0.1', async () => {
    const receiver = await startReceiver('127.0.0.1');
    receivers.push(receiver);
    const outcome = await deliver(
      `http://localhost:${receiver.port}/v4`,
      local,
      resolver({ localhost: ['127.0.0.1'] }),
    );
    expect(outcome).toEqual({ kind: 'delivered', status: 204 });
    expect(receiver.received).toMatchObject([{ path: '/v4', localAddress: '127.0.0.1' }]);
  });

  it.skipIf(v6Missing !== undefined)(
    `reaches localhost resolved to ::1, a receiver listening on [::1]${v6Missing ? ` (skipped: ${v6Missing})` : ''}`,
    async () => {
      const receiver = await startReceiver('::1');
      receivers.push(receiver);
      const outcome = await deliver(
        `http://localhost:${receiver.port}/v6`,
        local,
        resolver({ localhost: ['::1'] }),
      );
      expect(outcome).toEqual({ kind: 'delivered', status: 204 });
      expect(receiver.received).toMatchObject([{ path: '/v6', localAddress: '::1' }]);
    },
  );

  it('reaches a public name whose every address passes the guard', async () => {
    // The send-time URL check lets only https on 443 through for a name that is not localhost, and no
    // test can listen there; so this drives the dispatcher (the connect-time guard) directly, with the
    // name mapped to a receiver on 127.0.0.1, which the local switch allows.
    const receiver = await startReceiver('127.0.0.1');
    receivers.push(receiver);
    const dispatcher = createWebhookDispatcher(local, resolver({ 'hooks.example.com': ['127.0.0.1'] }));
    try {
      const response = await request(`http://hooks.example.com:${receiver.port}/public`, {
        method: 'POST',
        body: '{}',
        dispatcher,
      });
      await response.body.dump();
      expect(response.statusCode).toBe(204);
      expect(receiver.received).toMatchObject([
        { path: '/public', headers: { host: `hooks.example.com:${receiver.port}` } },
      ]);
    } finally {
      await dispatcher.close();
    }
  });

  it.each([
    [['127.0.0.1'], '127.0.0.1'],
    [['::ffff:127.0.0.1'], '127.0.0.1'],
    [[PUBLIC_V4, '::1'], '::1'],
  ])('refuses a public name that resolves to %j (reason names %s)', async (addresses, bad) => {
    expect(
      await deliver('https://hooks.example.com/hook', strict, resolver({ 'hooks.example.com': addresses })),
    ).toEqual({
      kind: 'rejected',
      reason: `the callback host resolves to a non-public address (${bad})`,
    });
  });
});
