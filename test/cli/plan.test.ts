/**
 * `slotwise plan <file>`: the dry run (`POST /api/jobs?dryRun=true`, 200 with `{ plan, estimate? }`)
 * rendered as text with a packing picture. Run against a small HTTP server that answers as the
 * contract says (and records what the CLI sent), so the rendering is pinned independently of the
 * server's planner.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt, runCli } from './run-cli.js';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

const answer = {
  plan: {
    nodes: 3,
    lowerBound: 3,
    taskSlotsPerNode: 8,
    vmSize: 'standard_d4s_v3',
    poolNodes: 2,
    waves: 2,
    tasks: 7,
    totalSlots: 20,
    chunks: 1,
    slotHistogram: [
      [1, 2],
      [2, 2],
      [4, 2],
      [6, 1],
    ],
    applicationPackages: { placement: 'pool', reason: 'every node runs tasks' },
    containerImages: ['contoso.azurecr.io/render:1'],
    nodeFillType: 'pack',
  },
  estimate: { nodeHours: 1.5, pricePerNodeHour: { usd: 0.192, source: 'table 2025-01' }, currency: 'USD' },
};

let server: Server;
let url: string;
let dir: string;
const seen: Seen[] = [];

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  assertCliBuilt();
  dir = await mkdtemp(join(tmpdir(), 'slotwise-plan-'));
  server = createServer((req, res) => {
    void readBody(req).then((body) => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      if (req.method !== 'POST' || req.url !== '/api/jobs?dryRun=true') {
        res.writeHead(404).end();
      } else if (req.headers.authorization !== 'Bearer plan-key') {
        res
          .writeHead(401, { 'content-type': 'application/problem+json' })
          .end('{"title":"Unauthorized","status":401}');
      } else if (JSON.parse(body).tasks.length === 0) {
        res.writeHead(400, { 'content-type': 'application/problem+json' }).end(
          JSON.stringify({
            title: 'Invalid request',
            status: 400,
            errors: [{ field: 'tasks', message: 'needs at least one task' }],
          }),
        );
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
  server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const env = () => ({ SLOTWISE_URL: url, SLOTWISE_API_KEY: 'plan-key' });

async function requestFile(tasks: number): Promise<string> {
  const path = join(dir, `plan-${tasks}.json`);
  const request = {
    pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8 },
    tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, commandLine: 'echo' })),
  };
  await writeFile(path, JSON.stringify(request, null, 2));
  return path;
}

describe('slotwise plan', () => {
  it('sends the file to the dry run and draws the packing', async () => {
    const file = await requestFile(7);
    seen.length = 0;
    const run = await runCli(['plan', file], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/api/jobs?dryRun=true',
      authorization: 'Bearer plan-key',
      contentType: 'application/json',
    });
    // The file's bytes go as they are: the server, not the CLI, validates.
    expect(seen[0]!.body).toBe(JSON.stringify(JSON.parse(seen[0]!.body), null, 2));
    expect(run.stdout.split('\n')).toEqual([
      'plan       3 nodes (lower bound 3), 8 slots per node of standard_d4s_v3, 20 of 24 slots used, pool 2 nodes, 2 waves',
      'tasks      7',
      'packages   on the pool: every node runs tasks',
      'images     contoso.azurecr.io/render:1',
      'estimate',
      '  nodeHours                1.5',
      '  pricePerNodeHour.usd     0.192',
      '  pricePerNodeHour.source  table 2025-01',
      '  currency                 USD',
      'packing    (each row a kind of node: × how many, then its slots; █▒ tasks, · free)',
      // 6+2, 4+4, 2+1+1: three nodes, the fullest first.
      '  1 × ██████▒▒  6+2  8/8 slots',
      '  1 × ████▒▒▒▒  4+4  8/8 slots',
      '  1 × ██▒█····  2+1+1  4/8 slots',
      '',
    ]);
  });

  it('--json prints the dry run answer unchanged', async () => {
    const run = await runCli(['plan', await requestFile(7), '--json'], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(answer);
  });

  it('a refused request exits 2 naming the field', async () => {
    const run = await runCli(['plan', await requestFile(0)], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('slotwise: 400 Invalid request\n  tasks: needs at least one task\n');
  });

  it('reads standard input', async () => {
    const run = await runCli(['plan', '-', '--json'], {
      env: env(),
      input: JSON.stringify({
        pool: { vmSize: 'standard_d4s_v3' },
        tasks: [{ id: 'a', commandLine: 'echo' }],
      }),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(answer);
  });
});
