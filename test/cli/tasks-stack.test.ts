/**
 * `slotwise tasks`, `logs`, `outputs`, `download` and the failed-task summary of `submit --watch`
 * against the real local stack (the API's task and output routes, the Batch emulator running the
 * command lines, the results store in Azurite).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlotwiseStack, startSlotwise, TEST_API_KEY, waitForJobState } from '../support/stack.js';
import { assertCliBuilt, runCli } from './run-cli.js';

let stack: SlotwiseStack;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  assertCliBuilt();
  [stack, dir] = await Promise.all([startSlotwise(), mkdtemp(join(tmpdir(), 'slotwise-tasks-stack-'))]);
  env = { SLOTWISE_URL: stack.api, SLOTWISE_API_KEY: TEST_API_KEY };
}, 120_000);

afterAll(async () => {
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pool = { vmSize: 'standard_d2s_v3', maxNodes: 1 };
const stderrLines = Array.from({ length: 25 }, (_, i) => `problem ${i + 1}`);

describe('the task commands on the local stack', () => {
  beforeAll(async () => {
    const file = join(dir, 'job.json');
    await writeFile(
      file,
      JSON.stringify({
        id: 'cli-tasks',
        pool,
        tasks: [
          {
            id: 'good',
            commandLine: '/bin/sh -c "echo hello > result.txt; echo all done"',
            outputFiles: [{ filePattern: 'result.txt' }],
          },
          {
            id: 'bad',
            commandLine: `/bin/sh -c "echo starting; ${stderrLines.map((l) => `echo ${l} >&2`).join('; ')}; exit 3"`,
          },
        ],
      }),
    );
    const run = await runCli(['submit', file, '--watch', '--interval', '0.2'], { env });
    submitted = run;
  }, 120_000);
  let submitted: Awaited<ReturnType<typeof runCli>>;

  it('submit --watch names the first failed task with the end of its stderr', () => {
    expect(submitted.code, submitted.stderr).toBe(1);
    const out = submitted.stdout.trimEnd().split('\n');
    const at = out.findIndex((l) => l.startsWith('first failed task: bad, exit code 3 on node '));
    expect(at, submitted.stdout).toBeGreaterThan(0);
    expect(out.slice(at + 1)).toEqual([
      expect.stringMatching(/^ {2}usererror FailureExitCode/),
      '  stderr.txt, last 20 lines:',
      ...stderrLines.slice(-20).map((l) => `  | ${l}`),
    ]);
  });

  it('tasks answers what the API answers, filtered as asked', async () => {
    const json = await runCli(['tasks', 'cli-tasks', '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    const api = (await (await stack.request('/jobs/cli-tasks/tasks')).json()) as unknown;
    expect(JSON.parse(json.stdout)).toEqual(api);

    const failed = await runCli(['tasks', 'cli-tasks', '--result', 'failure'], { env });
    expect(failed.code, failed.stderr).toBe(0);
    const rows = failed.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/^bad +completed +failure +3 +\S+ +0 +\S+ +\S+$/);
  });

  it('logs prints stdout.txt and stderr.txt; --follow of an ended task exits by its result', async () => {
    const out = await runCli(['logs', 'cli-tasks', 'good'], { env });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe('all done\n');
    const err = await runCli(['logs', 'cli-tasks', 'bad', '--stderr'], { env });
    expect(err.stdout).toBe(stderrLines.map((l) => `${l}\n`).join(''));
    const followed = await runCli(['logs', 'cli-tasks', 'bad', '--follow'], { env });
    expect(followed.code).toBe(1);
    expect(followed.stdout).toBe('starting\n');
  });

  it('outputs lists the results store, and download saves one', async () => {
    const list = await runCli(['outputs', 'cli-tasks', '--prefix', 'good/', '--json'], { env });
    expect(list.code, list.stderr).toBe(0);
    const paths = (JSON.parse(list.stdout) as { value: { path: string }[] }).value.map((o) => o.path);
    expect(paths).toContain('good/result.txt');
    const target = join(dir, 'result.txt');
    const saved = await runCli(['download', 'cli-tasks', 'good/result.txt', '-o', target], { env });
    expect(saved.code, saved.stderr).toBe(0);
    expect(await readFile(target, 'utf8')).toBe('hello\n');
  });

  it('logs --follow prints a running task to its end', async () => {
    const file = join(dir, 'slow.json');
    await writeFile(
      file,
      JSON.stringify({
        id: 'cli-follow',
        pool,
        tasks: [{ id: 'slow', commandLine: '/bin/sh -c "echo begin; sleep 1200; echo finish"' }],
      }),
    );
    expect((await runCli(['submit', file], { env })).code).toBe(0);
    await waitForJobState(stack, 'cli-follow', ['running', 'completed']);
    const run = await runCli(['logs', 'cli-follow', 'slow', '--follow', '--interval', '0.2'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('begin\nfinish\n');
  });
});
