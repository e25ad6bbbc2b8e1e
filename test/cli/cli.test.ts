/**
 * The `slotwise` CLI as a child process against the real local stack (Azurite, Cosmos, the Batch
 * emulator, the dev host): exit codes, JSON answers compared with the API's, and clear errors.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getJob,
  type SlotwiseStack,
  startSlotwise,
  TEST_API_KEY,
  waitForJobState,
} from '../support/stack.js';
import { assertCliBuilt, runCli } from './run-cli.js';

let stack: SlotwiseStack;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  assertCliBuilt();
  [stack, dir] = await Promise.all([startSlotwise(), mkdtemp(join(tmpdir(), 'slotwise-cli-'))]);
  env = { SLOTWISE_URL: stack.api, SLOTWISE_API_KEY: TEST_API_KEY };
});

afterAll(async () => {
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pool = { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8, maxNodes: 4 };

async function jobFile(name: string, request: unknown): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, typeof request === 'string' ? request : JSON.stringify(request));
  return path;
}

const parse = <T = Record<string, unknown>>(text: string) => JSON.parse(text) as T;

describe('slotwise submit --watch', () => {
  it('follows a job that completes and exits 0, printing the final job as JSON', async () => {
    const file = await jobFile('ok', {
      id: 'cli-ok',
      pool,
      tasks: [
        { id: 'a', commandLine: "/bin/sh -c 'sleep 5'", requiredSlots: 4 },
        { id: 'b', commandLine: "/bin/sh -c 'sleep 3'", requiredSlots: 2 },
        { id: 'c', commandLine: 'echo hi' },
      ],
    });
    const run = await runCli(['submit', file, '--watch', '--interval', '0.2', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    const job = parse<{ id: string; state: string; taskCounts: unknown }>(run.stdout);
    expect(job).toMatchObject({ id: 'cli-ok', state: 'completed' });
    expect(job.taskCounts).toEqual({ active: 0, running: 0, succeeded: 3, failed: 0 });
    expect((await getJob(stack, 'cli-ok'))?.state).toBe('completed');
  });

  it('prints progress lines and a summary when not a terminal', async () => {
    const file = await jobFile('plain', {
      id: 'cli-plain',
      pool,
      tasks: [{ id: 'a', commandLine: "/bin/sh -c 'sleep 2'", requiredSlots: 3 }],
    });
    const run = await runCli(['submit', file, '--watch', '--interval', '0.2'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(
      /^job cli-plain completed in [\d.]+ s: 1 succeeded, 0 failed of 1 tasks; 1 node, lower bound 1$/,
    );
    // No terminal: no escape sequences anywhere, progress as plain lines on stderr.
    expect(run.stdout + run.stderr).not.toContain(`${String.fromCharCode(27)}[`);
    expect(run.stderr).toMatch(/completed +active 0 · running 0 · succeeded 1 · failed 0/);
  });

  it('exits non-zero when the job fails, naming the failed task', async () => {
    const file = await jobFile('fail', {
      id: 'cli-fail',
      pool,
      tasks: [
        { id: 'good', commandLine: 'echo fine' },
        { id: 'bad', commandLine: "/bin/sh -c 'exit 1'" },
      ],
    });
    const run = await runCli(['submit', file, '--watch', '--interval', '0.2', '--json'], { env });
    expect(run.code).toBe(1);
    const job = parse<{
      state: string;
      taskCounts: { failed: number };
      failure: { failedTasks: { taskId: string }[] };
    }>(run.stdout);
    expect(job.state).toBe('failed');
    expect(job.taskCounts.failed).toBe(1);
    expect(job.failure.failedTasks.map((t) => t.taskId)).toEqual(['bad']);
  });

  it('reads the request from standard input with -', async () => {
    const request = { id: 'cli-stdin', pool, tasks: [{ id: 'a', commandLine: 'echo hi' }] };
    const run = await runCli(['submit', '-', '--json'], { env, input: JSON.stringify(request) });
    expect(run.code, run.stderr).toBe(0);
    expect(parse<{ id: string; state: string }>(run.stdout)).toMatchObject({
      id: 'cli-stdin',
      state: 'accepted',
    });
    await waitForJobState(stack, 'cli-stdin', ['completed']);
  });
});

describe('slotwise get, list, watch, cancel, retry', () => {
  it('get --json answers what the API answers', async () => {
    const done = await waitForJobState(stack, 'cli-ok', ['completed']);
    const run = await runCli(['get', 'cli-ok', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(parse(run.stdout)).toEqual(JSON.parse(JSON.stringify(done)));
  });

  it('get prints the job with its plan and packing picture', async () => {
    const run = await runCli(['get', 'cli-ok'], { env });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines).toContain('state      completed');
    expect(lines).toContain('tasks      3: active 0 · running 0 · succeeded 3 · failed 0');
    // 4 + 2 + 1 slots on one node of 8: one row, one node.
    expect(lines.filter((l) => /^ {2}1 × /.test(l))).toEqual(['  1 × ████▒▒█·  4+2+1  7/8 slots']);
  });

  it('list --json holds the submitted jobs, newest first', async () => {
    const run = await runCli(['list', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    const ids = parse<{ value: { id: string }[] }>(run.stdout).value.map((j) => j.id);
    expect(ids).toEqual(expect.arrayContaining(['cli-ok', 'cli-fail', 'cli-stdin']));
    expect(ids.indexOf('cli-stdin')).toBeLessThan(ids.indexOf('cli-ok'));

    const failed = await runCli(['list', '--state', 'failed', '--json'], { env });
    expect(parse<{ value: { id: string }[] }>(failed.stdout).value.map((j) => j.id)).toEqual(['cli-fail']);
  });

  it('list --all follows every page', async () => {
    const run = await runCli(['list', '--limit', '1', '--all', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    const page = parse<{ value: { id: string }[]; nextLink?: string }>(run.stdout);
    expect(page.value.map((j) => j.id)).toEqual(expect.arrayContaining(['cli-ok', 'cli-fail', 'cli-stdin']));
    expect(page.nextLink).toBeUndefined();
  });

  it('cancel --json cancels a running job; watch then exits non-zero; cancelling an ended job is an API error', async () => {
    const submitted = await runCli(
      [
        'submit',
        await jobFile('long', {
          id: 'cli-long',
          pool,
          tasks: [{ id: 'a', commandLine: "/bin/sh -c 'sleep 100000'" }],
        }),
      ],
      { env },
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stdout.trim()).toBe('submitted cli-long (accepted)');

    const run = await runCli(['cancel', 'cli-long', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(parse<{ id: string; state: string }>(run.stdout)).toMatchObject({
      id: 'cli-long',
      state: 'cancelled',
    });
    expect((await getJob(stack, 'cli-long'))?.state).toBe('cancelled');

    const watched = await runCli(['watch', 'cli-long', '--json'], { env });
    expect(watched.code).toBe(1);
    expect(parse<{ state: string }>(watched.stdout).state).toBe('cancelled');

    // Cancelling again is harmless; cancelling a completed job is refused.
    expect((await runCli(['cancel', 'cli-long'], { env })).stdout).toBe('cli-long cancelled\n');
    const ended = await runCli(['cancel', 'cli-ok', '--json'], { env });
    expect(ended.code).toBe(3);
    expect(parse<{ error: { problem: { status: number } } }>(ended.stdout).error.problem.status).toBe(409);
    expect(ended.stderr).toBe("slotwise: 409 Conflict: Job 'cli-ok' already ended as completed.\n");
  });

  it('retry --json queues a retry of the failed job', async () => {
    await waitForJobState(stack, 'cli-fail', ['failed']);
    const run = await runCli(['retry', 'cli-fail', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    const answer = parse<{ id: string; retry: { status: string; attempt: number } }>(run.stdout);
    expect(answer.id).toBe('cli-fail');
    expect(answer.retry).toMatchObject({ status: 'queued', attempt: expect.any(Number) });

    const nothing = await runCli(['retry', 'cli-ok'], { env });
    expect(nothing.code).toBe(3);
    expect(nothing.stderr).toMatch(/^slotwise: 409 Conflict: Nothing to retry/);
  });

  it('get of an unknown job exits 3 with the API problem', async () => {
    const run = await runCli(['get', 'no-such-job'], { env });
    expect(run.code).toBe(3);
    expect(run.stderr).toBe("slotwise: 404 Not found: Job 'no-such-job' was not found.\n");
  });
});

describe('npx slotwise', () => {
  it('runs the package bin from the repository', async () => {
    const { execFile } = await import('node:child_process');
    const run = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        'npx',
        ['--no-install', 'slotwise', 'list', '--json'],
        { cwd: new URL('../..', import.meta.url), env: { ...process.env, ...env } },
        (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
      );
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).value.length).toBeGreaterThan(0);
  });
});

describe('bad input', () => {
  it('a missing file exits 2 with a clear message', async () => {
    const run = await runCli(['submit', join(dir, 'missing.json')], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`slotwise: cannot read ${join(dir, 'missing.json')}: no such file\n`);
  });

  it('a file that is not JSON exits 2 and sends nothing', async () => {
    const file = await jobFile('broken', '{ "id": "cli-broken", "tasks": [ ');
    const run = await runCli(['submit', file], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^slotwise: ${file} is not valid JSON: `));
    expect(await getJob(stack, 'cli-broken')).toBeUndefined();
  });

  it('a JSON array is not a job request', async () => {
    const run = await runCli(['submit', await jobFile('array', [])], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/a job request is a JSON object/);
  });

  it('a request the API refuses exits 2, naming each invalid field', async () => {
    const file = await jobFile('invalid', {
      id: 'cli-invalid',
      pool,
      tasks: [{ id: 'big', commandLine: 'echo', requiredSlots: 9 }, { id: 'empty' }],
    });
    const run = await runCli(['submit', file], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^slotwise: 400 Invalid request/);
    expect(run.stderr).toMatch(/tasks\[1\]\.commandLine: /);
  });

  it('no API key exits 2 and says which variable to set', async () => {
    const run = await runCli(['list'], { env: { SLOTWISE_URL: stack.api } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^slotwise: SLOTWISE_API_KEY is not set/);
  });

  it('a wrong API key exits 3 (401) without echoing the key', async () => {
    const run = await runCli(['list'], { env: { ...env, SLOTWISE_API_KEY: 'wrong-key-123' } });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^slotwise: 401 Unauthorized/);
    expect(run.stdout + run.stderr).not.toContain('wrong-key-123');
  });

  it('an unknown command or option is a usage error (exit 2)', async () => {
    expect((await runCli(['launch'], { env })).code).toBe(2);
    expect((await runCli(['list', '--state', 'sleeping'], { env })).code).toBe(2);
  });
});
