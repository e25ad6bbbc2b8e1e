/**
 * py-tes, the GA4GH reference client for TES, against the local stack (test/tes/interop/pytes_client.py):
 * create with a `content` input and tags, wait, get in MINIMAL, BASIC and FULL (py-tes refuses any
 * field the spec does not name), the executor's exit code and stdout tail, every page of a listing of
 * one task per page, and a cancel to CANCELED; once with a Bearer token and once with HTTP Basic.
 *
 * py-tes lives in test-artifacts/tes-venv, which .ci/run makes; without it this file skips itself and
 * says why (`npm test` needs only Node).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../support/run-process.js';
import { type SlotwiseStack, startSlotwise, TEST_API_KEY } from '../support/stack.js';

const VENV = 'test-artifacts/tes-venv';
const python = fileURLToPath(new URL(`../../${VENV}/bin/python`, import.meta.url));
const script = fileURLToPath(new URL('./interop/pytes_client.py', import.meta.url));

/** Why py-tes cannot run here, or undefined when it can. */
function missing(): string | undefined {
  if (!existsSync(python)) return `no ${VENV}/bin/python`;
  const probe = spawnSync(python, ['-c', 'import tes; print(tes.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return `${VENV} has no py-tes (${probe.stderr.trim().split('\n').at(-1)})`;
  return undefined;
}

const why = missing();
const skipReason =
  why &&
  `py-tes interop skipped: ${why}; run .ci/run or create ${VENV} (python3 -m venv ${VENV} && ${VENV}/bin/pip install 'py-tes==1.1.4')`;
if (skipReason) console.warn(skipReason);

interface Run {
  auth: 'bearer' | 'basic';
  task_id: string;
  state: string;
  exit_code: number;
  stdout: string;
  views: Record<'MINIMAL' | 'BASIC' | 'FULL', string[]>;
  cancel: { task_id: string; states: string[] };
  list: { pages: number; tasks: number };
  service_info: { type: { artifact: string } };
}
interface Summary {
  ok: boolean;
  py_tes: string;
  runs: Run[];
  error?: { auth: string; reason: string };
}

/** Runs the script to its end: exit code, stdout, stderr. */
function runScript(env: Record<string, string>) {
  return runProcess(python, [script], { env });
}

describe.skipIf(skipReason !== undefined)('py-tes 1.1.4 against the running API', () => {
  let stack: SlotwiseStack;
  beforeAll(async () => {
    // A slower clock than the default: the cancelled task's `sleep 3600` must still run when cancelled.
    stack = await startSlotwise({ clockFactor: 60 });
  }, 120_000);
  afterAll(() => stack?.close());

  it('creates, waits, reads every view, lists page by page and cancels, with Bearer and with Basic', async () => {
    const { code, stdout, stderr } = await runScript({
      TES_URL: stack.api,
      TES_KEY: TEST_API_KEY,
      TES_TENANT: 'dev',
      TES_TIMEOUT_SECONDS: '90',
    });
    expect(code, `pytes_client.py exited ${code}\nstderr:\n${stderr}\nstdout:\n${stdout}`).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as Summary;
    expect(summary.ok).toBe(true);
    expect(summary.py_tes).toBe('1.1.4');
    expect(summary.runs.map((r) => r.auth)).toEqual(['bearer', 'basic']);
    for (const run of summary.runs) {
      expect(run.service_info.type.artifact).toBe('tes');
      expect(run.state).toBe('COMPLETE');
      expect(run.exit_code).toBe(0);
      expect(run.stdout).toContain('hello from py-tes');
      expect(run.views.MINIMAL).toEqual(['id', 'state']);
      expect(run.views.BASIC).toEqual(
        expect.arrayContaining(['name', 'tags', 'inputs', 'executors', 'logs']),
      );
      expect(run.cancel.states.at(-1)).toBe('CANCELED');
      expect(run.cancel.states).toContain('RUNNING');
      // One task per page: at least as many pages as tasks, and every task of the round among them.
      expect(run.list.pages).toBeGreaterThanOrEqual(run.list.tasks);
    }
    // The second round lists the first round's tasks too: one tenant, whichever way it signed in.
    expect(summary.runs[1]!.list.tasks).toBe(4);
    // What py-tes saw is what the store holds.
    for (const run of summary.runs) {
      expect((await stack.deps.tesTasks.get('dev', run.task_id))?.state).toBe('COMPLETE');
      expect((await stack.deps.tesTasks.get('dev', run.cancel.task_id))?.state).toBe('CANCELED');
    }
  }, 300_000);
});

if (skipReason) {
  describe('py-tes 1.1.4 against the running API', () => {
    it('is skipped', (ctx) => {
      ctx.skip(skipReason);
    });
  });
}
