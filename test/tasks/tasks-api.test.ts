/**
 * GET /api/jobs/{id}/tasks and /tasks/{taskId} on the real local stack: paging and the state/result
 * filters over a 10,000-task job with mixed results (one Batch call per page), a task's attempts after
 * retries, running and waiting tasks, a job not in Batch yet, continuations that are not this list's,
 * and another tenant's reads. Every answer is checked against the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeContinuation } from '../../shared/usecases/list-tasks.js';
import type { TaskDetail, TaskItem } from '../../shared/usecases/task-view.js';
import { jobDocFixture } from '../support/job-fixture.js';
import { type SlotwiseStack, startSlotwise, waitFor, waitForJobState } from '../support/stack.js';
import { expectDocumented } from './documented.js';

let stack: SlotwiseStack;
const OTHER = 'other-tenant-key-0123456789';

beforeAll(async () => {
  stack = await startSlotwise();
  await stack.deps.tenants.upsert('other', { apiKey: OTHER, now: new Date() });
}, 120_000);
afterAll(() => stack?.close());

interface Page {
  value: TaskItem[];
  nextLink?: string;
}

const LIST = '/jobs/{id}/tasks';
const ONE = '/jobs/{id}/tasks/{taskId}';

async function page(path: string, key?: string): Promise<{ status: number; body: unknown }> {
  const res = await stack.request(path, key ? { key } : {});
  const { json } = await expectDocumented(LIST, res);
  return { status: res.status, body: json };
}

/** Every page of a listing: the items, and how many pages it took. */
async function pageAll(first: string): Promise<{ items: TaskItem[]; pages: number }> {
  const items: TaskItem[] = [];
  let next: string | undefined = first;
  let pages = 0;
  while (next) {
    const { status, body } = await page(next.replace(/^\/api/, ''));
    expect(status).toBe(200);
    const p = body as Page;
    items.push(...p.value);
    next = p.nextLink;
    pages++;
  }
  return { items, pages };
}

async function taskListCalls(): Promise<number> {
  const counters = (await (await stack.emulatorControl('counters')).json()) as {
    requests: Record<string, number>;
  };
  return counters.requests['GET /jobs/{id}/tasks'] ?? 0;
}

const TASKS = 10_000;
/** Every 7th task fails with exit code 3; the rest succeed. */
const fails = (i: number) => i % 7 === 3;
const taskId = (i: number) => `t${String(i).padStart(5, '0')}`;

describe('a 10,000-task job with mixed results', () => {
  beforeAll(async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'mixed',
        pool: { vmSize: 'standard_d2s_v3', maxNodes: 4 },
        // No log copies: 20,000 uploads would only slow the emulator here (task-files.test.ts has them).
        keepLogs: 'none',
        tasks: Array.from({ length: TASKS }, (_, i) => ({
          id: taskId(i),
          commandLine: fails(i) ? 'exit 3' : 'exit 0',
        })),
      }),
    });
    expect(res.status).toBe(202);
    // TaskFailed: every task ran, the failing ones failed the job; reconcile has stopped looking at it.
    await waitForJobState(stack, 'mixed', ['failed'], 120_000);
  }, 150_000);

  it('pages through every task, 1,000 a page, one Batch call per page', async () => {
    const before = await taskListCalls();
    const { items, pages } = await pageAll('/jobs/mixed/tasks?limit=1000');
    expect(pages).toBe(TASKS / 1000);
    expect(await taskListCalls()).toBe(before + pages);
    expect(new Set(items.map((t) => t.id)).size).toBe(TASKS);
    expect(items.map((t) => t.id).sort()).toEqual(Array.from({ length: TASKS }, (_, i) => taskId(i)));
    expect(items.every((t) => t.state === 'completed')).toBe(true);
  });

  it('filters failed and succeeded tasks in Batch, each with its exit code and failure', async () => {
    const failed = await pageAll('/jobs/mixed/tasks?state=completed&result=failure&limit=500');
    const expected = Array.from({ length: TASKS }, (_, i) => i)
      .filter(fails)
      .map(taskId);
    expect(failed.items.map((t) => t.id).sort()).toEqual(expected);
    expect(failed.pages).toBe(Math.ceil(expected.length / 500));
    const one = failed.items[0]!;
    expect(one).toMatchObject({
      state: 'completed',
      result: 'failure',
      exitCode: 3,
      failure: { category: 'usererror', code: 'FailureExitCode' },
      retryCount: 0,
      requeueCount: 0,
      requiredSlots: 1,
      links: {
        self: `/api/jobs/mixed/tasks/${one.id}`,
        stdout: `/api/jobs/mixed/tasks/${one.id}/files/stdout.txt`,
        stderr: `/api/jobs/mixed/tasks/${one.id}/files/stderr.txt`,
        outputs: `/api/jobs/mixed/outputs?prefix=${one.id}%2F`,
      },
    });
    expect(one.nodeId).toEqual(expect.any(String));
    expect(Date.parse(one.endTime!)).toBeGreaterThanOrEqual(Date.parse(one.startTime!));
    const succeeded = await pageAll('/jobs/mixed/tasks?result=success&limit=1000');
    expect(succeeded.items).toHaveLength(TASKS - expected.length);
    expect(succeeded.items.every((t) => t.result === 'success' && t.exitCode === 0 && !t.failure)).toBe(true);
    for (const state of ['active', 'running'])
      expect((await page(`/jobs/mixed/tasks?state=${state}`)).body).toEqual({ value: [] });
  });

  it('keeps the filters and limit in nextLink, and refuses a continuation made for others', async () => {
    const first = (await page('/jobs/mixed/tasks?result=failure&limit=10')).body as Page;
    expect(first.value).toHaveLength(10);
    const next = new URL(first.nextLink!, 'http://x');
    expect(next.pathname).toBe('/api/jobs/mixed/tasks');
    expect(next.searchParams.get('result')).toBe('failure');
    expect(next.searchParams.get('limit')).toBe('10');
    const continuation = next.searchParams.get('continuation')!;
    const second = (await page(`/jobs/mixed/tasks?result=failure&limit=10&continuation=${continuation}`))
      .body as Page;
    expect(second.value.map((t) => t.id).some((id) => first.value.some((t) => t.id === id))).toBe(false);
    const cases = [
      `/jobs/mixed/tasks?result=success&continuation=${continuation}`,
      `/jobs/mixed/tasks?continuation=${encodeURIComponent('https://evil.example/jobs/x/tasks?$skiptoken=p1')}`,
      // Batch's own link shape, for this job and filter, with a token Batch never gave.
      `/jobs/mixed/tasks?continuation=${encodeContinuation('bogus', (await jobBatchId('mixed'))!, {})}`,
    ];
    for (const path of cases) {
      const { status, body } = await page(path);
      expect(status, path).toBe(400);
      expect((body as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['continuation']);
    }
  });

  it('refuses bad filters and limits, naming each', async () => {
    const { status, body } = await page('/jobs/mixed/tasks?state=done&result=maybe&limit=1001');
    expect(status).toBe(400);
    expect((body as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([
      'state',
      'result',
      'limit',
    ]);
    for (const limit of ['0', '0x10', '1e2', ''])
      expect((await page(`/jobs/mixed/tasks?limit=${limit}`)).status, limit).toBe(400);
  });

  it("answers another tenant's reads of the job and its tasks with 404", async () => {
    expect((await page('/jobs/mixed/tasks', OTHER)).status).toBe(404);
    const res = await stack.request('/jobs/mixed/tasks/t00003', { key: OTHER });
    await expectDocumented(ONE, res);
    expect(res.status).toBe(404);
    const file = await stack.request('/jobs/mixed/tasks/t00003/files/stdout.txt', { key: OTHER });
    await expectDocumented('/jobs/{id}/tasks/{taskId}/files/{path}', file);
    expect(file.status).toBe(404);
  });
});

async function jobBatchId(id: string): Promise<string | undefined> {
  return (await stack.deps.jobs.get('dev', id))?.batch?.jobId;
}

async function getTask(path: string): Promise<{ status: number; task: TaskDetail }> {
  const res = await stack.request(path);
  const { json } = await expectDocumented(ONE, res);
  return { status: res.status, task: json as TaskDetail };
}

describe('one task', () => {
  it('shows a task that failed after its retries: retryCount and the attempts Batch keeps', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'flaky',
        pool: { vmSize: 'standard_d2s_v3', maxNodes: 1 },
        tasks: [{ id: 'Again', commandLine: 'sleep 2; exit 5', maxRetries: 2 }],
      }),
    });
    expect(res.status).toBe(202);
    await waitForJobState(stack, 'flaky', ['failed'], 60_000);
    // Batch ids match ignoring case: the task shows as the job spells it.
    const { status, task } = await getTask('/jobs/flaky/tasks/again');
    expect(status).toBe(200);
    expect(task).toMatchObject({
      id: 'Again',
      state: 'completed',
      result: 'failure',
      exitCode: 5,
      retryCount: 2,
      requeueCount: 0,
      failure: { code: 'FailureExitCode' },
    });
    expect(task.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(task.attempts.slice(0, 2)).toEqual([
      { attempt: 1, result: 'failure' },
      { attempt: 2, result: 'failure' },
    ]);
    expect(task.attempts[2]).toMatchObject({
      attempt: 3,
      exitCode: 5,
      result: 'failure',
      nodeId: task.nodeId,
      startTime: task.startTime,
      endTime: task.endTime,
      failure: task.failure,
    });
    // Two simulated seconds: the last attempt's start and end are its own.
    expect(Date.parse(task.endTime!) - Date.parse(task.startTime!)).toBeGreaterThanOrEqual(2000);
  });

  it('answers 404 for a task the job does not have, and an id that cannot be one', async () => {
    for (const path of ['/jobs/flaky/tasks/nope', '/jobs/flaky/tasks/has%20space', '/jobs/nojob/tasks/t']) {
      const res = await stack.request(path);
      await expectDocumented(ONE, res);
      expect(res.status, path).toBe(404);
    }
  });
});

describe('tasks waiting and running', () => {
  it('filters active and running tasks while the job runs', async () => {
    // One node of two slots and five long tasks: two run, three wait. (A VM size no other job of this
    // file uses: managed pools are shared by jobs of the same spec, whatever their maxNodes.)
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'busy',
        pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 2, maxNodes: 1 },
        tasks: Array.from({ length: 5 }, (_, i) => ({ id: `long-${i}`, commandLine: 'sleep 100000' })),
      }),
    });
    expect(res.status).toBe(202);
    await waitFor(
      async () => ((await page('/jobs/busy/tasks?state=running')).body as Page).value.length,
      (n) => n === 2,
      { what: 'two running tasks', timeoutMs: 30_000 },
    );
    const running = ((await page('/jobs/busy/tasks?state=running')).body as Page).value;
    expect(running.every((t) => t.state === 'running' && t.nodeId && t.startTime && !t.result)).toBe(true);
    const active = ((await page('/jobs/busy/tasks?state=active')).body as Page).value;
    expect(active).toHaveLength(3);
    expect(active.every((t) => t.state === 'active' && !t.nodeId)).toBe(true);
    expect(((await page('/jobs/busy/tasks?state=completed')).body as Page).value).toEqual([]);
    const waiting = await getTask(`/jobs/busy/tasks/${active[0]!.id}`);
    expect(waiting.task.attempts).toEqual([]);
    const run = await getTask(`/jobs/busy/tasks/${running[0]!.id}`);
    expect(run.task.attempts).toEqual([
      { attempt: 1, startTime: running[0]!.startTime, nodeId: running[0]!.nodeId },
    ]);
  });
});

describe('a job not in Batch yet', () => {
  it('lists no tasks and finds none', async () => {
    await stack.deps.jobs.create(jobDocFixture('dev', 'early', 'accepted', new Date().toISOString()));
    expect(await page('/jobs/early/tasks')).toEqual({ status: 200, body: { value: [] } });
    const res = await stack.request('/jobs/early/tasks/t');
    const { json } = await expectDocumented(ONE, res);
    expect(res.status).toBe(404);
    expect((json as { detail: string }).detail).toContain('not in Batch yet');
  });
});
