import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostJson } from '../../dev/host/config.js';
import { type DevHost, startHost } from '../../dev/host/host.js';
import type { FunctionDefinition } from '../../functions/definition.js';
import { memoryLogger } from '../support/stack.js';

const functions: FunctionDefinition<{ greeting: string }>[] = [
  {
    kind: 'http',
    name: 'hello',
    methods: ['GET'],
    route: 'hello/{name:alpha}/{times:int?}',
    handler: async (req, ctx, deps) => ({
      jsonBody: {
        text: `${deps.greeting} ${req.params.name}`,
        times: req.params.times ?? null,
        q: req.query.get('q'),
        fn: ctx.functionName,
      },
      headers: { 'x-custom': 'yes' },
    }),
  },
  {
    kind: 'http',
    name: 'echo',
    methods: ['POST', 'PUT'],
    route: 'echo',
    handler: async (req) => ({ status: 201, body: await req.text() }),
  },
  {
    kind: 'http',
    name: 'files',
    methods: ['GET'],
    route: 'files/{*path}',
    handler: async (req) => ({ body: req.params.path ?? '' }),
  },
  {
    kind: 'http',
    name: 'boom',
    methods: ['GET'],
    route: 'boom',
    handler: async () => {
      throw new Error('secret connection string AccountKey=abc');
    },
  },
  {
    kind: 'http',
    name: 'nothing',
    methods: ['GET'],
    route: 'nothing',
    handler: async () => undefined as never,
  },
  { kind: 'http', name: 'defaults', handler: async (req) => ({ body: req.method }) },
];

let host: DevHost;
const logger = memoryLogger();

beforeAll(async () => {
  host = await startHost({
    functions,
    deps: async () => ({ greeting: 'hi' }),
    host: parseHostJson(JSON.stringify({ version: '2.0', extensions: { http: { routePrefix: 'api' } } })),
    env: {},
    port: 0,
    logger,
    maxBodyBytes: 1024,
  });
});

afterAll(async () => {
  await host?.close();
});

const url = (path: string) => `${host.url}${path}`;

describe('dev host: HTTP trigger', () => {
  it('routes templates with constraints, optional parameters and the prefix, case-insensitively', async () => {
    const res = await fetch(url('/api/HELLO/ada?q=1'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-custom')).toBe('yes');
    expect(await res.json()).toEqual({ text: 'hi ada', times: null, q: '1', fn: 'hello' });
    expect(await (await fetch(url('/api/hello/ada/3'))).json()).toMatchObject({ times: '3' });
    expect((await fetch(url('/api/hello/ada/three'))).status).toBe(404);
    expect((await fetch(url('/api/hello/ada1'))).status).toBe(404);
    expect((await fetch(url('/hello/ada'))).status).toBe(404);
    expect(await (await fetch(url('/api/files/a/b/c.txt'))).text()).toBe('a/b/c.txt');
  });

  it('defaults to the function name as route and GET/POST as methods', async () => {
    expect(await (await fetch(url('/api/defaults'))).text()).toBe('GET');
    expect(await (await fetch(url('/api/defaults'), { method: 'POST' })).text()).toBe('POST');
    expect((await fetch(url('/api/defaults'), { method: 'DELETE' })).status).toBe(404);
  });

  it('writes status and body as returned; a method the route does not take is 404, as in the host', async () => {
    const res = await fetch(url('/api/echo'), { method: 'POST', body: 'payload' });
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('payload');
    expect((await fetch(url('/api/echo'))).status).toBe(404);
    expect((await fetch(url('/api/unknown'))).status).toBe(404);
  });

  it('answers 500 with an empty body when a handler throws, and logs the error', async () => {
    const res = await fetch(url('/api/boom'));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
    expect(logger.lines.some((l) => l.includes('Executed (Failed') && l.includes('Function.boom'))).toBe(
      true,
    );
  });

  it('answers 200 with an empty body when a handler returns nothing', async () => {
    const res = await fetch(url('/api/nothing'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('enforces the body and URL limits', async () => {
    expect((await fetch(url('/api/echo'), { method: 'POST', body: 'x'.repeat(2048) })).status).toBe(413);
    expect((await fetch(url(`/api/files/${'a'.repeat(5000)}`))).status).toBe(414);
  });

  it('logs each invocation with the function name and invocation id', () => {
    expect(
      logger.lines.some((l) =>
        /Function\.hello: Executing \(Reason='HTTP GET \/api\/HELLO\/ada', Id=[0-9a-f-]{36}\)/.test(l),
      ),
    ).toBe(true);
  });
});

describe('dev host: HTTP throttles', () => {
  it('runs maxConcurrentRequests at once, queues up to maxOutstandingRequests, and answers 429 beyond', async () => {
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const throttled = await startHost({
      functions: [
        {
          kind: 'http',
          name: 'slow',
          handler: async () => {
            running++;
            peak = Math.max(peak, running);
            await new Promise<void>((r) => gates.push(r));
            running--;
            return { body: 'done' };
          },
        },
      ],
      deps: async () => undefined,
      host: parseHostJson(
        JSON.stringify({
          version: '2.0',
          extensions: { http: { maxConcurrentRequests: 1, maxOutstandingRequests: 2 } },
        }),
      ),
      env: {},
      port: 0,
      logger: memoryLogger(),
    });
    const first = fetch(`${throttled.url}/api/slow`);
    while (gates.length < 1) await new Promise((r) => setTimeout(r, 5));
    // Two more at once: one waits behind the first (2 outstanding), the other is over the limit.
    const more = [fetch(`${throttled.url}/api/slow`), fetch(`${throttled.url}/api/slow`)];
    const refused = await Promise.race(more.map((p, i) => p.then((r) => ({ i, r }))));
    expect(refused.r.status).toBe(429);
    gates.shift()!();
    expect((await first).status).toBe(200);
    while (gates.length < 1) await new Promise((r) => setTimeout(r, 5));
    gates.shift()!();
    expect((await more[1 - refused.i]!).status).toBe(200);
    expect(peak).toBe(1);
    await throttled.close();
  });
});
