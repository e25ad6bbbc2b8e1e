/**
 * The client against a scripted server (like undici's retry-handler tests): dropped sockets, 503
 * with Retry-After, HTML error pages and non-JSON success bodies, and which requests are retried.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BatchError,
  backoffDelay,
  createBatchClient,
  defaultRetry,
} from '../../shared/adapters/batch/client.js';

type Step = (req: IncomingMessage, res: ServerResponse) => void;
let script: Step[] = [];
const seen: string[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url?.split('?')[0]}`);
    req.resume();
    const step =
      script.shift() ?? ((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    step(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  script = [];
  seen.length = 0;
});

const drop: Step = (req) => req.socket.destroy();
const busy: Step = (_q, r) =>
  r.writeHead(503, { 'retry-after': '0', 'content-type': 'text/html' }).end('<html>busy</html>');
const ok: Step = (_q, r) =>
  r.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"j1","state":"active"}');
const sleeps: number[] = [];
const client = () =>
  createBatchClient({
    endpoint: url,
    accountName: 'acct',
    accountKey: Buffer.from('key').toString('base64'),
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });

describe('Batch client transport', () => {
  it('retries a read through a dropped socket and a 503, then succeeds', async () => {
    script = [drop, busy, ok];
    const c = client();
    expect(await c.jobs.get('j1')).toMatchObject({ id: 'j1' });
    expect(seen).toEqual(['GET /jobs/j1', 'GET /jobs/j1', 'GET /jobs/j1']);
    await c.close();
  });

  it('turns an HTML error page into a typed BatchError with the status', async () => {
    script = [(_q, r) => r.writeHead(400, { 'content-type': 'text/html' }).end('<html>bad</html>')];
    const c = client();
    const e = await c.jobs.get('j1').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BatchError);
    expect(e).toMatchObject({ code: 'Http400', status: 400, retryable: false });
    expect(seen).toHaveLength(1);
    await c.close();
  });

  it('reports a success body that is not JSON as InvalidResponse', async () => {
    script = [(_q, r) => r.writeHead(200).end('not json')];
    const c = client();
    await expect(c.jobs.get('j1')).rejects.toMatchObject({ code: 'InvalidResponse' });
    await c.close();
  });

  it('never resends an update whose connection dropped (it may have been applied)', async () => {
    script = [drop];
    const c = client();
    await expect(c.jobs.patch('j1', { priority: 1 })).rejects.toMatchObject({ code: 'ConnectionFailed' });
    expect(seen).toEqual(['PATCH /jobs/j1']);
    await c.close();
  });

  it('does resend an update that was throttled (429 proves it was not processed)', async () => {
    script = [(_q, r) => r.writeHead(429, { 'retry-after': '2' }).end(), (_q, r) => r.writeHead(200).end()];
    sleeps.length = 0;
    const c = client();
    await c.jobs.patch('j1', { priority: 1 });
    expect(seen).toEqual(['PATCH /jobs/j1', 'PATCH /jobs/j1']);
    expect(sleeps).toEqual([2000]); // Retry-After wins over the shorter backoff
    await c.close();
  });

  it('backs off exponentially with jitter, capped', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 8, 12].map((n) => backoffDelay(n, defaultRetry, mid))).toEqual([
      375, 750, 1500, 3000, 45000, 45000,
    ]);
    expect(backoffDelay(1, defaultRetry, () => 0, 10_000)).toBe(10_000);
  });
});
