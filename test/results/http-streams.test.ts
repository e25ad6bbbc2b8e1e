/**
 * Outputs can be larger than an instance's memory, so HTTP responses stream: the Azure entry turns
 * on the library's HTTP streams, and the dev host, which reads the same switch
 * (functions/http-streams.ts), sends a body as the handler's stream yields it — as the host does then.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostJson } from '../../dev/host/config.js';
import { type DevHost, startHost } from '../../dev/host/host.js';
import type { FunctionDefinition } from '../../functions/definition.js';
import { HTTP_STREAMS } from '../../functions/http-streams.js';
import { memoryLogger } from '../support/stack.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const encoder = new TextEncoder();

/** Released by the test once it has read the first chunk: a host that buffers never gets there. */
let releaseRest: () => void = () => undefined;
let failMidway = false;
/** Resolves once the handler's stream has given its first chunk and waits for `releaseRest`. */
let started: Promise<void> = Promise.resolve();
let markStarted: () => void = () => undefined;
const expectStart = () => {
  started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
};

const functions: FunctionDefinition<object>[] = [
  {
    kind: 'http',
    name: 'stream',
    methods: ['GET'],
    route: 'stream',
    handler: async () => {
      const rest = new Promise<void>((resolve) => {
        releaseRest = resolve;
      });
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode('first,'));
          markStarted();
          await rest;
          if (failMidway) {
            controller.error(new Error('the source broke'));
            return;
          }
          controller.enqueue(encoder.encode('second'));
          controller.close();
        },
      });
      return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body };
    },
  },
  {
    kind: 'http',
    name: 'json',
    methods: ['GET'],
    route: 'json',
    handler: async () => ({ jsonBody: { a: 1 } }),
  },
];

const hosts: DevHost[] = [];
async function host(httpStreams?: boolean): Promise<DevHost> {
  const started = await startHost({
    functions,
    deps: async () => ({}),
    host: parseHostJson(JSON.stringify({ version: '2.0', extensions: { http: { routePrefix: 'api' } } })),
    env: {},
    port: 0,
    logger: memoryLogger(),
    ...(httpStreams === undefined ? {} : { httpStreams }),
  });
  hosts.push(started);
  return started;
}

let streaming: DevHost;
beforeAll(async () => {
  streaming = await host();
});
afterAll(async () => {
  releaseRest();
  await Promise.all(hosts.map((h) => h.close()));
});

describe('HTTP streams', () => {
  it('are on for the app, in the Azure entry as in the dev host', async () => {
    expect(HTTP_STREAMS).toBe(true);
    // The built entry, loaded as the worker loads it: asked for its capabilities, the library reports
    // the proxy address it streams through (only when app.setup turned streams on).
    const main = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { main: string }).main;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--require',
        fileURLToPath(new URL('./support/functions-core-capabilities.cjs', import.meta.url)),
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(`${root}${main}`)}); const caps = await globalThis.__programmingModel.getCapabilities({}); console.log(JSON.stringify(caps)); process.exit(0);`,
      ],
      { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } },
    );
    const capabilities = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string>;
    expect(capabilities.HttpUri).toMatch(/^http:\/\/localhost:\d+\/$/);
  });

  it('the dev host sends the first bytes before the handler’s stream has ended', async () => {
    failMidway = false;
    const res = await fetch(`${streaming.url}/api/stream`);
    expect(res.status).toBe(200);
    // No length was declared: the body goes out chunked, as the host's proxy sends it.
    expect(res.headers.get('content-length')).toBeNull();
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('first,');
    releaseRest();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value);
    expect(rest).toBe('second');
  });

  it('cuts the connection when the stream fails part-way, so a short answer never looks complete', async () => {
    failMidway = true;
    const res = await fetch(`${streaming.url}/api/stream`);
    const reader = res.body!.getReader();
    await reader.read();
    releaseRest();
    await expect(
      (async () => {
        for (let r = await reader.read(); !r.done; r = await reader.read());
      })(),
    ).rejects.toThrow();
    failMidway = false;
  });

  it('writes JSON answers as the library makes them; with streams off, bodies are read whole first', async () => {
    const json = await fetch(`${streaming.url}/api/json`);
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(await json.json()).toEqual({ a: 1 });
    const buffered = await host(false);
    expectStart();
    const pending = fetch(`${buffered.url}/api/stream`);
    await started;
    releaseRest();
    const res = await pending;
    // The whole body was read before the answer started: its length is declared.
    expect(res.headers.get('content-length')).toBe('12');
    expect(await res.text()).toBe('first,second');
  });
});
