/**
 * Security review 3, finding 11: `slotwise list --all` follows `nextLink` with the tenant's key, so a
 * nextLink naming another origin (or another path on the API's host) must not be followed. A fake API
 * answers such links; a second server stands for the attacker's and must never see a request.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt, runCli } from './run-cli.js';

const KEY = `sw_${'k'.repeat(20)}SECRETKEY123`;

interface Seen {
  readonly path: string;
  readonly authorization?: string;
}

/** A server that records every request and answers with `answer(path)` as JSON. */
async function recorder(
  answer: (path: string) => unknown,
): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    req.resume();
    seen.push({
      path: req.url ?? '',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(req.url ?? '')));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const job = (id: string) => ({
  id,
  state: 'completed',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  taskCounts: { active: 0, running: 0, succeeded: 1, failed: 0 },
});

let foreign: Awaited<ReturnType<typeof recorder>>;
let api: Awaited<ReturnType<typeof recorder>>;
/** What the fake API answers as the first page's nextLink, set by each test. */
let nextLink = '';

beforeAll(async () => {
  assertCliBuilt();
  foreign = await recorder(() => ({ value: [] }));
  api = await recorder((path) =>
    path.startsWith('/api/jobs?limit=')
      ? { value: [job('first')], nextLink }
      : path.startsWith('/api/jobs?continuation=')
        ? { value: [job('second')] }
        : { value: [job('not-the-api')] },
  );
});

afterAll(() => {
  foreign?.server.close();
  api?.server.close();
});

const list = () =>
  runCli(['list', '--all', '--json'], { env: { SLOTWISE_URL: `${api.url}/api`, SLOTWISE_API_KEY: KEY } });

describe('slotwise list --all and nextLink', () => {
  it('follows a nextLink below the API', async () => {
    nextLink = '/api/jobs?continuation=abc';
    api.seen.length = 0;
    const run = await list();
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { value: { id: string }[] }).value.map((j) => j.id)).toEqual([
      'first',
      'second',
    ]);
    expect(api.seen.map((s) => s.path)).toEqual(['/api/jobs?limit=50', '/api/jobs?continuation=abc']);
  });

  it('never sends the key to another origin or outside the API path, and exits 3', async () => {
    const foreignPort = new URL(foreign.url).port;
    const attacks = [
      `${foreign.url}/steal`,
      `//127.0.0.1:${foreignPort}/api/jobs?continuation=abc`,
      `http://localhost:${new URL(api.url).port}/api/jobs?continuation=abc`,
      `${api.url.replace('http:', 'https:')}/api/jobs?continuation=abc`,
      `http://user:pw@127.0.0.1:${new URL(api.url).port}/api/jobs?continuation=abc`,
      '/other/jobs?continuation=abc',
      '/api/../admin?continuation=abc',
    ];
    for (const link of attacks) {
      nextLink = link;
      api.seen.length = 0;
      const run = await list();
      expect(run.code, `${link}: ${run.stderr}`).toBe(3);
      expect(run.stderr, link).toContain(`the API answered a nextLink outside ${api.url}/api/; not followed`);
      expect(JSON.parse(run.stdout), link).toMatchObject({ error: { code: 'ApiForeignNextLink' } });
      // Only the first page was asked for; the key went nowhere else.
      expect(
        api.seen.map((s) => s.path),
        link,
      ).toEqual(['/api/jobs?limit=50']);
      expect(run.stdout + run.stderr, link).not.toContain(KEY);
    }
    expect(foreign.seen).toEqual([]);
  });
});
