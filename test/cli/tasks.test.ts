/**
 * `slotwise tasks`, `logs`, `outputs`, `download` and the failed-task summary of `watch`, as a child
 * process against a server that answers the API's task, file and output shapes: paging with
 * nextLink, filters sent as the query, files read by Range (in parts, and as they grow), and the
 * bounded wait on 429 and 409 with Retry-After.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_KEY, type FakeTask, type FakeTaskApi, jobView, startFakeTaskApi } from './fake-task-api.js';
import { assertCliBuilt, runCli } from './run-cli.js';

let fake: FakeTaskApi;
let dir: string;
let env: Record<string, string>;

/** 250 tasks: every 25th failed with exit code 3, the last ten still running. */
const manyTasks: FakeTask[] = Array.from({ length: 250 }, (_, i) => {
  const id = `t-${String(i).padStart(3, '0')}`;
  if (i >= 240) return { id, state: 'running', nodeId: 'node-2', startTime: '2026-01-01T00:00:02.000Z' };
  const failed = i % 25 === 7;
  return {
    id,
    state: 'completed',
    result: failed ? 'failure' : 'success',
    exitCode: failed ? 3 : 0,
    ...(failed
      ? { failure: { category: 'usererror', code: 'FailureExitCode', message: 'The task exited with 3' } }
      : {}),
    nodeId: i % 2 === 0 ? 'node-0' : 'node-1',
    retryCount: failed ? 2 : 0,
    startTime: '2026-01-01T00:00:01.000Z',
    endTime: '2026-01-01T00:00:03.000Z',
  };
});

const lines = (n: number, prefix = 'line') =>
  Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}\n`).join('');

beforeAll(async () => {
  assertCliBuilt();
  [fake, dir] = await Promise.all([startFakeTaskApi(), mkdtemp(join(tmpdir(), 'slotwise-tasks-'))]);
  env = { SLOTWISE_URL: fake.api, SLOTWISE_API_KEY: FAKE_KEY };
  fake.jobs.set('big', {
    view: jobView('big', 'running', { active: 0, running: 10, succeeded: 230, failed: 10 }),
    tasks: manyTasks,
    files: new Map(),
    outputs: [],
  });
});

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.seen.length = 0;
  fake.intercept = undefined;
  fake.onTaskRead = undefined;
  fake.fileCap = 4 * 1024 * 1024;
});

const paths = () => fake.seen.map((s) => s.path);
type Page = { value: { id: string; result?: string }[]; nextLink?: string };

describe('slotwise tasks', () => {
  it('shows the first page with a hint, or every page with --all', async () => {
    const first = await runCli(['tasks', 'big', '--json'], { env });
    expect(first.code, first.stderr).toBe(0);
    const page = JSON.parse(first.stdout) as Page;
    expect(page.value.map((t) => t.id)).toEqual(manyTasks.slice(0, 100).map((t) => t.id));
    expect(page.nextLink).toBe('/api/jobs/big/tasks?limit=100&continuation=100');

    const text = await runCli(['tasks', 'big'], { env });
    expect(text.stdout.split('\n').at(-2)).toBe('(more: --all, or --limit up to 1000)');

    fake.seen.length = 0;
    const all = await runCli(['tasks', 'big', '--all', '--limit', '60', '--json'], { env });
    expect(all.code, all.stderr).toBe(0);
    const every = JSON.parse(all.stdout) as Page;
    expect(every.value.map((t) => t.id)).toEqual(manyTasks.map((t) => t.id));
    expect(every.nextLink).toBeUndefined();
    expect(paths()).toEqual([
      '/api/jobs/big/tasks?limit=60',
      '/api/jobs/big/tasks?limit=60&continuation=60',
      '/api/jobs/big/tasks?limit=60&continuation=120',
      '/api/jobs/big/tasks?limit=60&continuation=180',
      '/api/jobs/big/tasks?limit=60&continuation=240',
    ]);
    for (const s of fake.seen) expect(s.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it('sends the filters as the query and prints a table', async () => {
    const run = await runCli(['tasks', 'big', '--state', 'completed', '--result', 'failure'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(paths()).toEqual(['/api/jobs/big/tasks?state=completed&result=failure&limit=100']);
    const [head, ...rows] = run.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^ID +STATE +RESULT +EXIT +NODE +RETRIES +START +END$/);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toMatch(
      /^t-007 +completed +failure +3 +node-1 +2 +2026-01-01T00:00:01\.000Z +2026-01-01T00:00:03\.000Z$/,
    );
    expect(rows.every((r) => / failure +3 /.test(r))).toBe(true);

    const running = await runCli(['tasks', 'big', '--state', 'running', '--json'], { env });
    expect((JSON.parse(running.stdout) as Page).value.map((t) => t.id)).toEqual(
      manyTasks.slice(240).map((t) => t.id),
    );
  });

  it('reads past an empty page with a nextLink (a filtered scan that ran out of time)', async () => {
    fake.intercept = (req) =>
      req.path === '/api/jobs/big/tasks?result=failure&limit=100'
        ? {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              value: [],
              nextLink: '/api/jobs/big/tasks?result=failure&limit=100&continuation=0',
            }),
          }
        : undefined;
    const run = await runCli(['tasks', 'big', '--result', 'failure', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as Page).value).toHaveLength(10);
    expect(paths()).toEqual([
      '/api/jobs/big/tasks?result=failure&limit=100',
      '/api/jobs/big/tasks?result=failure&limit=100&continuation=0',
    ]);
  });

  it('refuses a state the API does not know, sending nothing', async () => {
    const run = await runCli(['tasks', 'big', '--state', 'finished'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/argument 'finished' is invalid/);
    expect(fake.seen).toEqual([]);
  });

  it('an unknown job exits 3 with the API problem', async () => {
    const run = await runCli(['tasks', 'nope'], { env });
    expect(run.code).toBe(3);
    expect(run.stderr).toBe("slotwise: 404 Not found: Job 'nope' was not found.\n");
  });
});

describe('slotwise logs', () => {
  const out = lines(300, 'out'); // 2,800 bytes: three parts of 1,000
  beforeAll(() => {
    fake.jobs.set('logs', {
      view: jobView('logs', 'completed', { active: 0, running: 0, succeeded: 1, failed: 0 }),
      tasks: [{ id: 'a', state: 'completed', result: 'success', exitCode: 0 }],
      files: new Map([
        ['a/stdout.txt', () => Buffer.from(out)],
        ['a/stderr.txt', () => Buffer.from('warning: <script>x</script>\n')],
      ]),
      outputs: [],
    });
  });

  it('prints stdout.txt whole, reading it in parts by Range', async () => {
    fake.fileCap = 1000;
    const run = await runCli(['logs', 'logs', 'a'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(out);
    expect(fake.seen.map((s) => [s.path, s.range])).toEqual([
      ['/api/jobs/logs/tasks/a/files/stdout.txt', undefined],
      ['/api/jobs/logs/tasks/a/files/stdout.txt', 'bytes=1000-'],
      ['/api/jobs/logs/tasks/a/files/stdout.txt', 'bytes=2000-'],
    ]);
  });

  it('prints stderr.txt with --stderr', async () => {
    const run = await runCli(['logs', 'logs', 'a', '--stderr'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('warning: <script>x</script>\n');
  });

  it('--follow reads from the last byte on each poll until the task completes, then exits by its result', async () => {
    // The log grows as the task is read: nothing yet (404), two lines, no change (416), more, done.
    const task: FakeTask = { id: 'grow', state: 'running', nodeId: 'node-0' };
    let reads = 0;
    let content: string | undefined;
    const steps: (string | undefined)[] = [undefined, 'one\ntwo\n', 'one\ntwo\n', 'one\ntwo\nthree\n'];
    fake.onTaskRead = () => {
      reads++;
      content = steps[Math.min(reads - 1, steps.length - 1)];
      if (reads === 5) {
        content = 'one\ntwo\nthree\nfour (the last)\n';
        Object.assign(task, { state: 'completed', result: 'failure', exitCode: 2 });
      }
    };
    fake.jobs.set('follow', {
      view: jobView('follow', 'running', { active: 0, running: 1, succeeded: 0, failed: 0 }),
      tasks: [task],
      files: new Map([['grow/stdout.txt', () => (content === undefined ? undefined : Buffer.from(content))]]),
      outputs: [],
    });
    const run = await runCli(['logs', 'follow', 'grow', '--follow', '--interval', '0.01'], { env });
    expect(run.stdout).toBe('one\ntwo\nthree\nfour (the last)\n');
    expect(run.code, run.stderr).toBe(1);
    expect(reads).toBe(5);
    const fileReads = fake.seen.filter((s) => s.path.includes('/files/')).map((s) => s.range ?? 'whole');
    expect(fileReads).toEqual(['whole', 'whole', 'bytes=8-', 'bytes=8-', 'bytes=14-']);
  });
});

describe('the failed-task summary of watch and submit --watch', () => {
  beforeAll(() => {
    // 2,000 lines of stderr (about 17 KB): more than one read of the tail's size.
    fake.jobs.set('broken', {
      view: {
        ...jobView('broken', 'failed', { active: 0, running: 0, succeeded: 1, failed: 1 }),
        failure: {
          code: 'TaskFailed',
          message: '1 task failed',
          failedTasks: [{ taskId: 'bad', exitCode: 3 }],
        },
      },
      tasks: [
        { id: 'good', state: 'completed', result: 'success', exitCode: 0 },
        {
          id: 'bad',
          state: 'completed',
          result: 'failure',
          exitCode: 3,
          nodeId: 'tvm-1',
          failure: { category: 'usererror', code: 'FailureExitCode', message: 'The task exited with 3' },
        },
      ],
      files: new Map([['bad/stderr.txt', () => Buffer.from(lines(2000, 'err'))]]),
      outputs: [],
    });
  });

  const expected = [
    'first failed task: bad, exit code 3 on node tvm-1',
    '  usererror FailureExitCode: The task exited with 3',
    '  stderr.txt, last 20 lines:',
    ...Array.from({ length: 20 }, (_, i) => `  | err ${1981 + i}`),
  ];

  it('watch prints the first failed task, its exit code and the last 20 lines of its stderr', async () => {
    const run = await runCli(['watch', 'broken'], { env });
    expect(run.code).toBe(1);
    const out = run.stdout.trimEnd().split('\n');
    expect(out[0]).toMatch(/^job broken failed in 5\.0 s/);
    expect(out.slice(-expected.length)).toEqual(expected);
    const tail = fake.seen.filter((s) => s.path.includes('/files/'));
    expect(fake.seen.map((s) => s.path)).toContain('/api/jobs/broken/tasks?result=failure&limit=1');
    // The head first (a small file would be whole), then only the tail: never the whole 17 KB.
    expect(tail.map((s) => s.range)).toEqual(['bytes=0-16383', expect.stringMatching(/^bytes=\d+-\d+$/)]);
  });

  it('submit --watch prints it too; --json prints the job only', async () => {
    const file = join(dir, 'job.json');
    await writeFile(file, JSON.stringify({ id: 'broken', pool: { vmSize: 'x' }, tasks: [] }));
    const run = await runCli(['submit', file, '--watch', '--interval', '0.01'], { env });
    expect(run.code).toBe(1);
    expect(run.stdout.trimEnd().split('\n').slice(-expected.length)).toEqual(expected);

    const json = await runCli(['watch', 'broken', '--json'], { env });
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { id: string }).id).toBe('broken');
  });
});

describe('slotwise outputs and download', () => {
  beforeAll(() => {
    fake.jobs.set('out', {
      view: jobView('out', 'completed'),
      tasks: [],
      files: new Map(),
      outputs: [
        {
          path: 't-001/result.txt',
          content: Buffer.from('forty-two\n'),
          lastModified: '2026-01-01T00:01:00.000Z',
        },
        {
          path: 't-001/frames/0001.png',
          content: Buffer.alloc(3000, 7),
          lastModified: '2026-01-01T00:01:01.000Z',
        },
        {
          path: 't-002/result.txt',
          content: Buffer.from('forty-three\n'),
          lastModified: '2026-01-01T00:01:02.000Z',
        },
      ],
    });
  });

  it('lists outputs with sizes, by prefix', async () => {
    const run = await runCli(['outputs', 'out', '--prefix', 't-001/'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(paths()).toEqual(['/api/jobs/out/outputs?prefix=t-001%2F&limit=100']);
    expect(run.stdout.trimEnd().split('\n')).toEqual([
      'PATH                   SIZE     MODIFIED',
      't-001/result.txt       10 B     2026-01-01T00:01:00.000Z',
      't-001/frames/0001.png  2.9 KiB  2026-01-01T00:01:01.000Z',
    ]);
  });

  it('downloads one output to a file (never leaving half a file) or to standard output', async () => {
    const named = join(dir, 'mine.png');
    const run = await runCli(['download', 'out', 't-001/frames/0001.png', '-o', named], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(named)).toEqual(Buffer.alloc(3000, 7));
    expect(run.stdout).toBe(`saved t-001/frames/0001.png to ${named} (2.9 KiB)\n`);

    const piped = await runCli(['download', 'out', 't-002/result.txt', '-o', '-'], { env });
    expect(piped.stdout).toBe('forty-three\n');

    const missing = await runCli(['download', 'out', 't-009/none.txt', '-o', join(dir, 'none.txt')], { env });
    expect(missing.code).toBe(3);
    await expect(readFile(join(dir, 'none.txt'))).rejects.toThrow(/ENOENT/);
    await expect(readFile(join(dir, 'none.txt.part'))).rejects.toThrow(/ENOENT/);
  });
});

describe('Retry-After', () => {
  const busy = (status: number, retryAfter?: string) => ({
    status,
    headers: {
      'content-type': 'application/problem+json',
      ...(retryAfter !== undefined ? { 'retry-after': retryAfter } : {}),
    },
    body: JSON.stringify({
      title: status === 429 ? 'Too many requests' : 'Conflict',
      status,
      detail: 'Later.',
    }),
  });

  it('a command asks again after 429 as Retry-After says, and succeeds', async () => {
    let refused = 0;
    fake.intercept = () => (refused++ < 2 ? busy(429, '0') : undefined);
    const run = await runCli(['tasks', 'big', '--limit', '5', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as Page).value).toHaveLength(5);
    expect(fake.seen).toHaveLength(3);
    expect(run.stderr).toBe(
      'slotwise: the API answered 429; asking again in 0.0 s (try 2)\n' +
        'slotwise: the API answered 429; asking again in 0.0 s (try 3)\n',
    );
  });

  it('gives up after 5 tries with exit code 3', async () => {
    fake.intercept = () => busy(429, '0');
    const run = await runCli(['logs', 'logs', 'a'], { env });
    expect(run.code).toBe(3);
    expect(fake.seen).toHaveLength(5);
    expect(run.stderr.split('\n').at(-2)).toBe(
      'slotwise: 429 Too many requests: Later. (gave up after 5 tries)',
    );
  });

  it('does not start a wait past 60 s in all', async () => {
    fake.intercept = () => busy(429, '3600');
    const run = await runCli(['tasks', 'big'], { env });
    expect(run.code).toBe(3);
    expect(fake.seen).toHaveLength(1);
    expect(run.stderr).toBe(
      'slotwise: 429 Too many requests: Later. (gave up: the API asked to wait 3600 s, past the 60 s the CLI waits in all)\n',
    );
  });

  it('a 409 with Retry-After (an HTTP date) is asked again; a 409 without it is final', async () => {
    let refused = 0;
    const past = new Date(Date.now() - 5000).toUTCString();
    fake.intercept = () => (refused++ < 1 ? busy(409, past) : undefined);
    const run = await runCli(['outputs', 'out', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(fake.seen).toHaveLength(2);

    fake.seen.length = 0;
    fake.intercept = () => busy(409);
    const final = await runCli(['outputs', 'out'], { env });
    expect(final.code).toBe(3);
    expect(fake.seen).toHaveLength(1);
    expect(final.stderr).toBe('slotwise: 409 Conflict: Later.\n');
  });
});
