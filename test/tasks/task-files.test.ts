/**
 * GET /api/jobs/{id}/tasks/{taskId}/files/{path} on the real local stack: stdout, stderr and a file
 * of the working directory while the task's node lives (from Batch's task files), the same logs after
 * the pool is deleted (from the results store's `$TaskLog` copies), `Range`, the 4 MiB cap, paths that
 * leave the task directory, and another tenant's reads. Every answer is checked against the OpenAPI
 * document, and served as text that no browser renders as a page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { MAX_FILE_READ_BYTES } from '../../shared/usecases/read-task-file.js';
import {
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
  waitForJobState,
} from '../support/stack.js';
import { expectDocumented } from './documented.js';

let stack: SlotwiseStack;
let batch: BatchClient;
const OTHER = 'other-tenant-key-0123456789';
const FILES = '/jobs/{id}/tasks/{taskId}/files/{path}';

beforeAll(async () => {
  // Idle managed pools shrink and go after a second, so a finished job's pool (and its nodes' disks)
  // is deleted.
  stack = await startSlotwise({
    env: { SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '1', SLOTWISE_POOL_IDLE_TTL_SECONDS: '1' },
  });
  batch = emulatorClient(stack);
  await stack.deps.tenants.upsert('other', { apiKey: OTHER, now: new Date() });
}, 120_000);
afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

async function read(path: string, init: { range?: string; key?: string } = {}) {
  const res = await stack.request(path, {
    ...(init.key ? { key: init.key } : {}),
    ...(init.range ? { headers: { range: init.range } } : {}),
  });
  const { text, json, bytes } = await expectDocumented(FILES, res);
  return { res, status: res.status, text, json, bytes };
}

function expectText(res: Response): void {
  expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('content-disposition')).toBe('inline');
}

/** A command line printing a line of 1,000 characters 2^13 times: 8,200,192 bytes of stdout. */
function bigOutput(): string {
  const line = 'x'.repeat(1000);
  const doubling = Array.from({ length: 13 }, (_, i) => `cat f${i} f${i} > f${i + 1}`).join('; ');
  return `/bin/sh -c 'echo ${line} > f0; ${doubling}; cat f13; sleep 100000'`;
}
const BIG = 1001 * 2 ** 13;

describe('while the node lives', () => {
  beforeAll(async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'live',
        pool: { vmSize: 'standard_d4s_v3', maxNodes: 1 },
        tasks: [
          {
            id: 'hello',
            commandLine: `/bin/sh -c 'echo hello; echo "<script>alert(1)</script>" >&2; echo data > out.txt; sleep 100000'`,
          },
          { id: 'big', commandLine: bigOutput() },
        ],
      }),
    });
    expect(res.status).toBe(202);
    await waitFor(
      () => read('/jobs/live/tasks/big/files/stdout.txt', { range: 'bytes=0-0' }),
      (r) => r.status === 206,
      { what: 'the big task writing its stdout', timeoutMs: 60_000 },
    );
  }, 90_000);

  it('serves stdout, stderr and a working-directory file from Batch, as text that is never HTML', async () => {
    const out = await read('/jobs/live/tasks/hello/files/stdout.txt');
    expect(out.status).toBe(200);
    expect(out.text).toBe('hello\n');
    expectText(out.res);
    expect(out.res.headers.get('x-slotwise-source')).toBe('batch');
    const err = await read('/jobs/live/tasks/hello/files/stderr.txt');
    expect(err.text).toBe('<script>alert(1)</script>\n');
    expectText(err.res);
    const wd = await read('/jobs/live/tasks/hello/files/wd/out.txt');
    expect(wd.text).toBe('data\n');
  });

  it('serves a Range as 206 with Content-Range, and 416 past the end', async () => {
    const part = await read('/jobs/live/tasks/hello/files/stdout.txt', { range: 'bytes=1-3' });
    expect(part.status).toBe(206);
    expect(part.text).toBe('ell');
    expect(part.res.headers.get('content-range')).toBe('bytes 1-3/6');
    const tail = await read('/jobs/live/tasks/hello/files/stdout.txt', { range: 'bytes=-2' });
    expect([tail.status, tail.text, tail.res.headers.get('content-range')]).toEqual([
      206,
      'o\n',
      'bytes 4-5/6',
    ]);
    const open = await read('/jobs/live/tasks/hello/files/stdout.txt', { range: 'bytes=2-' });
    expect([open.status, open.text]).toEqual([206, 'llo\n']);
    const past = await read('/jobs/live/tasks/hello/files/stdout.txt', { range: 'bytes=6-' });
    expect(past.status).toBe(416);
    expect(past.res.headers.get('content-range')).toBe('bytes */6');
    const bad = await read('/jobs/live/tasks/hello/files/stdout.txt', { range: 'lines=1-2' });
    expect(bad.status).toBe(400);
    expect((bad.json as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['Range']);
  });

  it('answers at most 4 MiB: the first 4 MiB of a larger file, then the rest by Range', async () => {
    const first = await read('/jobs/live/tasks/big/files/stdout.txt');
    expect(first.status).toBe(206);
    expect(first.bytes.length).toBe(MAX_FILE_READ_BYTES);
    expect(first.res.headers.get('content-range')).toBe(`bytes 0-${MAX_FILE_READ_BYTES - 1}/${BIG}`);
    // A range over the cap is cut to it too.
    const over = await read('/jobs/live/tasks/big/files/stdout.txt', { range: 'bytes=100-' });
    expect(over.bytes.length).toBe(MAX_FILE_READ_BYTES);
    expect(over.res.headers.get('content-range')).toBe(`bytes 100-${MAX_FILE_READ_BYTES + 99}/${BIG}`);
    const rest = await read('/jobs/live/tasks/big/files/stdout.txt', {
      range: `bytes=${MAX_FILE_READ_BYTES}-`,
    });
    expect(rest.bytes.length).toBe(BIG - MAX_FILE_READ_BYTES);
    expect(rest.res.headers.get('content-range')).toBe(`bytes ${MAX_FILE_READ_BYTES}-${BIG - 1}/${BIG}`);
    const all = Buffer.concat([first.bytes, rest.bytes]).toString();
    expect(all).toBe(`${'x'.repeat(1000)}\n`.repeat(2 ** 13));
  });

  it('refuses paths that leave the task directory or name a folder, naming the path (400)', async () => {
    for (const path of [
      '..%2F..%2Fetc%2Fpasswd',
      '%2Fetc%2Fpasswd',
      'wd%2F..%2F..%2Fx',
      'wd',
      `${'a/'.repeat(600)}x`,
    ]) {
      const bad = await read(`/jobs/live/tasks/hello/files/${path}`);
      expect(bad.status, path).toBe(400);
      expect(
        (bad.json as { errors: { field: string }[] }).errors.map((e) => e.field),
        path,
      ).toEqual(['path']);
    }
    const missing = await read('/jobs/live/tasks/hello/files/wd/nothing.txt');
    expect(missing.status).toBe(404);
  });

  it("answers another tenant's reads with 404, and reads of tasks that are not the job's", async () => {
    expect((await read('/jobs/live/tasks/hello/files/stdout.txt', { key: OTHER })).status).toBe(404);
    expect((await read('/jobs/live/tasks/nope/files/stdout.txt')).status).toBe(404);
    expect((await read('/jobs/nojob/tasks/hello/files/stdout.txt')).status).toBe(404);
  });
});

describe('after the pool is deleted', () => {
  it("serves stdout and stderr from the results store's copies", async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'gone',
        pool: { vmSize: 'standard_d2s_v3', maxNodes: 1 },
        tasks: [
          { id: 'ok', commandLine: `/bin/sh -c 'echo finished; echo warned >&2'` },
          { id: 'bad', commandLine: `/bin/sh -c 'echo trying; echo broken >&2; exit 2'` },
        ],
      }),
    });
    expect(res.status).toBe(202);
    const job = await waitForJobState(stack, 'gone', ['failed'], 60_000);
    // The pool is idle past its time to live: the pool controller deletes it, and the node's disk with it.
    await waitFor(
      () => batch.pools.exists(job.batch!.poolId),
      (exists) => !exists,
      { what: 'the pool deleted', timeoutMs: 60_000 },
    );
    const out = await read('/jobs/gone/tasks/ok/files/stdout.txt');
    expect([out.status, out.text, out.res.headers.get('x-slotwise-source')]).toEqual([
      200,
      'finished\n',
      'results',
    ]);
    expectText(out.res);
    expect((await read('/jobs/gone/tasks/ok/files/stderr.txt')).text).toBe('warned\n');
    expect((await read('/jobs/gone/tasks/bad/files/stderr.txt')).text).toBe('broken\n');
    const part = await read('/jobs/gone/tasks/bad/files/stdout.txt', { range: 'bytes=3-' });
    expect([part.status, part.text, part.res.headers.get('content-range')]).toEqual([
      206,
      'ing\n',
      'bytes 3-6/7',
    ]);
    expect((await read('/jobs/gone/tasks/bad/files/stdout.txt', { range: 'bytes=7-' })).status).toBe(416);
    // Only the logs are kept: another file of the task directory went with the node.
    expect((await read('/jobs/gone/tasks/ok/files/wd/anything.txt')).status).toBe(404);
    expect((await read('/jobs/gone/tasks/ok/files/stdout.txt', { key: OTHER })).status).toBe(404);
  });
});
