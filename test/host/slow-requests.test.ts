/**
 * Slow requests do not hold the dev host's connections: like Azure's front end, a request must arrive
 * whole within a deadline (230 s by default, shortened here so the test runs quickly), and its head
 * sooner; a client that trickles bytes gets 408 and its connection closed.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostJson } from '../../dev/host/config.js';
import { type DevHost, startHost } from '../../dev/host/host.js';
import { createHttpHost, HTTP_TIMEOUTS } from '../../dev/host/http-server.js';
import { createWorker } from '../../dev/host/invoke.js';
import { memoryLogger } from '../support/stack.js';

let host: DevHost;

beforeAll(async () => {
  host = await startHost({
    functions: [
      {
        kind: 'http',
        name: 'echo',
        methods: ['POST'],
        route: 'echo',
        handler: async (req) => ({ body: await req.text() }),
      },
    ],
    deps: async () => undefined,
    host: parseHostJson(JSON.stringify({ version: '2.0' })),
    env: {},
    port: 0,
    logger: memoryLogger(),
    httpTimeouts: { requestMs: 1500, headersMs: 1000 },
  });
});

afterAll(async () => {
  await host?.close();
});

/** Sends `head` (nothing more) on a raw connection; resolves with what the server wrote until it closed. */
function trickle(head: string): Promise<{ answer: string; closedByServer: boolean }> {
  const url = new URL(host.url);
  return new Promise((resolve, reject) => {
    let answer = '';
    let closedByServer = false;
    const socket = connect(Number(url.port), url.hostname, () => socket.write(head));
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
    });
    socket.on('end', () => {
      closedByServer = true;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer, closedByServer }));
  });
}

describe('dev host: slow requests', () => {
  it('answers 408 and closes a connection whose body never finishes arriving', async () => {
    const { answer, closedByServer } = await trickle(
      `POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\na`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedByServer).toBe(true);
  });

  it('answers 408 and closes a connection whose head never finishes arriving', async () => {
    const { answer, closedByServer } = await trickle('POST /api/echo HTTP/1.1\r\nHost: x\r\nX-Slow: a');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedByServer).toBe(true);
  });

  it('defaults to the timeouts of Azure’s front end', () => {
    const server = createHttpHost({
      functions: [],
      routePrefix: 'api',
      worker: createWorker({
        deps: async () => undefined,
        functionTimeoutMs: undefined,
        onRestart: () => {},
      }),
      logger: memoryLogger(),
      inFlight: { add: () => undefined },
      accepting: () => true,
    });
    expect(HTTP_TIMEOUTS).toEqual({ requestMs: 230_000, headersMs: 30_000, idleMs: 230_000 });
    expect(server.requestTimeout).toBe(HTTP_TIMEOUTS.requestMs);
    expect(server.headersTimeout).toBe(HTTP_TIMEOUTS.headersMs);
    expect(server.timeout).toBe(HTTP_TIMEOUTS.idleMs);
  });
});
