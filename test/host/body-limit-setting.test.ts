/**
 * The dev host reads `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` as the Functions host does: bytes, 100 MB
 * when unset or empty, 413 above it whether the length is declared or the body is chunked. A value
 * it cannot read stops the start (the host would ignore it and keep 100 MB).
 */
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_REQUEST_BODY_SIZE_LIMIT,
  HostConfigError,
  parseHostJson,
  requestBodySizeLimit,
} from '../../dev/host/config.js';
import { type DevHost, startHost } from '../../dev/host/host.js';
import type { FunctionDefinition } from '../../functions/definition.js';
import { memoryLogger } from '../support/stack.js';

const functions: FunctionDefinition<undefined>[] = [
  {
    kind: 'http',
    name: 'echo',
    methods: ['POST'],
    route: 'echo',
    handler: async (req) => ({ status: 201, body: await req.text() }),
  },
];

const hosts: DevHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
});

async function hostWith(env: Record<string, string>): Promise<DevHost> {
  const host = await startHost({
    functions,
    deps: async () => undefined,
    host: parseHostJson('{"version":"2.0"}'),
    env,
    port: 0,
    logger: memoryLogger(),
  });
  hosts.push(host);
  return host;
}

/** Sends only a request head declaring `length` bytes; resolves with the status line of the answer. */
function declare(host: DevHost, length: number): Promise<string> {
  const url = new URL(host.url);
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(url.port), url.hostname, () =>
      socket.write(`POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`),
    );
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n')) {
        socket.destroy();
        resolve(text.slice(0, text.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
  });
}

/** A chunked POST of `body` (fetch streams a ReadableStream body with Transfer-Encoding: chunked). */
function chunked(host: DevHost, body: string): Promise<Response> {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(body));
      controller.close();
    },
  });
  return fetch(`${host.url}/api/echo`, {
    method: 'POST',
    body: stream,
    duplex: 'half',
  } as RequestInit & { duplex: 'half' });
}

describe('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT on the dev host', () => {
  it('reads bytes as the host does, 100 MB when unset or empty, and refuses what it cannot read', () => {
    expect(requestBodySizeLimit({})).toBe(DEFAULT_REQUEST_BODY_SIZE_LIMIT);
    expect(DEFAULT_REQUEST_BODY_SIZE_LIMIT).toBe(104_857_600);
    expect(requestBodySizeLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '' })).toBe(104_857_600);
    expect(requestBodySizeLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: ' 1179648 ' })).toBe(1_179_648);
    expect(requestBodySizeLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '+10' })).toBe(10);
    for (const bad of ['-1', '1.5', '1MB', 'abc', '1e6']) {
      expect(() => requestBodySizeLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: bad }), bad).toThrow(
        HostConfigError,
      );
    }
  });

  it('stops the start with the setting named when its value is not a number of bytes', async () => {
    await expect(hostWith({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1 MB' })).rejects.toMatchObject({
      name: 'HostConfigError',
      key: 'Values.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT',
    });
  });

  it('lets a body of exactly the limit through and refuses one byte more, declared or chunked', async () => {
    const host = await hostWith({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '10' });
    const ok = await fetch(`${host.url}/api/echo`, { method: 'POST', body: '0123456789' });
    expect([ok.status, await ok.text()]).toEqual([201, '0123456789']);
    expect((await fetch(`${host.url}/api/echo`, { method: 'POST', body: '0123456789a' })).status).toBe(413);
    expect((await chunked(host, '0123456789')).status).toBe(201);
    expect((await chunked(host, '0123456789a')).status).toBe(413);
    expect(await declare(host, 11)).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('keeps the host’s 100 MB when the setting is unset', async () => {
    const host = await hostWith({});
    expect(await declare(host, DEFAULT_REQUEST_BODY_SIZE_LIMIT + 1)).toMatch(/^HTTP\/1\.1 413 /);
    const big = 'x'.repeat(2 * 1024 * 1024);
    expect((await fetch(`${host.url}/api/echo`, { method: 'POST', body: big })).status).toBe(201);
  });
});
