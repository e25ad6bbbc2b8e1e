/**
 * Retries against the real stack (security review 3, findings 1, 2 and 8):
 * - one POST /retry on a running job whose tasks keep failing ends: the failed tasks are taken once,
 *   page by page, each reactivated once; re-failures need a second request;
 * - a retry counts against the tenant's quotas (`maxActiveJobs`, `maxTasksInFlight`: 409 + Retry-After,
 *   nothing stored), its submission rate (429) and a cap per job (`maxRetriesPerJob`, 409);
 * - the Batch job of an attempt a resubmission replaced is deleted once it has ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { batchJobIdFor } from '../../shared/model/batch-names.js';
import { emulatorClient, getJob, type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise();
  batch = emulatorClient(stack);
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const generous = { submissionsPerSecond: 1000, submissionBurst: 1000 };

async function tenant(name: string, limits: Record<string, unknown>): Promise<string> {
  const key = `${name}-key-0123456789`;
  await stack.deps.tenants.upsert(name, { apiKey: key, now: new Date(), policy: { limits } });
  return key;
}

const post = (key: string | undefined, body: unknown) =>
  stack.request('/jobs', { method: 'POST', body: JSON.stringify(body), ...(key ? { key } : {}) });
const retry = (key: string | undefined, id: string) =>
  stack.request(`/jobs/${id}/retry`, { method: 'POST', ...(key ? { key } : {}) });

const failingJob = (id: string, tasks = 1) => ({
  id,
  pool: { vmSize: 'standard_d2s_v3' },
  tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, commandLine: 'exit 1' })),
});
const longJob = (id: string) => ({
  id,
  pool: { vmSize: 'standard_d2s_v3' },
  tasks: [{ id: 't', commandLine: 'sleep 100000' }],
});

async function waitForState(key: string, id: string, states: string[], timeoutMs = 60_000) {
  return waitFor(
    () => getJob(stack, id, key),
    (j) => j !== undefined && states.includes(j.state),
    { what: `job ${id} in ${states.join('/')}`, timeoutMs },
  );
}

interface Counters {
  requests: Record<string, number>;
}
async function requestCount(op: string): Promise<number> {
  const counters = (await (await stack.emulatorControl('counters')).json()) as Counters;
  return counters.requests[op] ?? 0;
}
const REACTIVATE = 'POST /jobs/{id}/tasks/{id}/reactivate';
const LIST_TASKS = 'GET /jobs/{id}/tasks';

interface Problem {
  status: number;
  limit?: string;
  detail?: string;
}

describe('a retry of a running job whose tasks keep failing (finding 1)', () => {
  it('ends: each failed task is reactivated once, and re-failures need a second request', async () => {
    const failing = 620;
    expect(
      (
        await post(undefined, {
          id: 'spin1',
          pool: { vmSize: 'standard_d2s_v3' },
          tasks: [{ id: 'keep-alive', commandLine: 'sleep 100000' }],
          sweep: { idTemplate: 'f-{i}', commandLine: 'exit 1', parameters: { i: { from: 1, to: failing } } },
        })
      ).status,
    ).toBe(202);
    await waitFor(
      () => getJob(stack, 'spin1'),
      (j) => j?.state === 'running' && j.taskCounts.failed === failing,
      { what: 'spin1 running with every sweep task failed', timeoutMs: 120_000 },
    );
    const reactivatedBefore = await requestCount(REACTIVATE);
    const listsBefore = await requestCount(LIST_TASKS);

    const first = await retry(undefined, 'spin1');
    expect(first.status).toBe(202);
    const firstId = ((await first.json()) as { retry: { requestId: string } }).retry.requestId;
    const done = await waitFor(
      () => stack.deps.jobs.get('dev', 'spin1'),
      (j) => j?.retry?.requestId === firstId && j.retry.status === 'done',
      { what: 'the first retry done', timeoutMs: 120_000 },
    );
    expect(done?.retry).toMatchObject({ mode: 'reactivated', tasks: failing });
    // Every task failed when the pass reached it was reactivated exactly once, listing each page once.
    expect((await requestCount(REACTIVATE)) - reactivatedBefore).toBe(failing);
    expect((await requestCount(LIST_TASKS)) - listsBefore).toBeLessThanOrEqual(Math.ceil(failing / 500) + 1);

    // The tasks fail again; this request is over and does not retry them.
    await waitFor(
      async () => (await batch.jobs.getTaskCounts(done!.batch!.jobId)).taskCounts,
      (c) => c.failed === failing && c.active === 0,
      { what: 'the reactivated tasks failed again', timeoutMs: 120_000 },
    );
    expect((await stack.deps.jobs.get('dev', 'spin1'))?.retry).toMatchObject({
      requestId: firstId,
      status: 'done',
    });
    expect((await requestCount(REACTIVATE)) - reactivatedBefore).toBe(failing);

    // A second request retries the re-failures, once each again.
    await waitFor(
      () => getJob(stack, 'spin1'),
      (j) => j?.taskCounts.failed === failing,
      { what: 'the re-failures reconciled' },
    );
    const second = await retry(undefined, 'spin1');
    expect(second.status).toBe(202);
    const secondId = ((await second.json()) as { retry: { requestId: string } }).retry.requestId;
    expect(secondId).not.toBe(firstId);
    await waitFor(
      () => stack.deps.jobs.get('dev', 'spin1'),
      (j) => j?.retry?.requestId === secondId && j.retry.status === 'done',
      { what: 'the second retry done', timeoutMs: 120_000 },
    );
    expect((await requestCount(REACTIVATE)) - reactivatedBefore).toBe(2 * failing);
    expect((await stack.request('/jobs/spin1', { method: 'DELETE' })).status).toBeLessThan(300);
  }, 300_000);
});

describe('a retry counts against the tenant limits (findings 2 and 8)', () => {
  it('is refused past maxActiveJobs with 409 and Retry-After, changing nothing, and goes once room frees', async () => {
    const key = await tenant('acme', { ...generous, maxActiveJobs: 3 });
    for (const id of ['f1', 'f2', 'f3']) expect((await post(key, failingJob(id))).status).toBe(202);
    for (const id of ['f1', 'f2', 'f3']) await waitForState(key, id, ['failed']);
    // acme's longest-running work fills its three places.
    for (const id of ['L1', 'L2', 'L3']) expect((await post(key, longJob(id))).status).toBe(202);
    expect((await post(key, longJob('L4'))).status).toBe(409);

    for (const id of ['f1', 'f2', 'f3']) {
      const before = await stack.deps.jobs.get('acme', id);
      const res = await retry(key, id);
      expect(res.status).toBe(409);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      const problem = (await res.json()) as Problem;
      expect(problem.limit).toBe('maxActiveJobs');
      const after = await stack.deps.jobs.get('acme', id);
      expect(after?.state).toBe('failed');
      expect(after?.retry).toEqual(before?.retry);
      expect(after?.updatedAt).toBe(before?.updatedAt);
    }
    const list = (await (await stack.request('/jobs?limit=50', { key })).json()) as {
      value: { state: string }[];
    };
    expect(
      list.value.filter((j) => !['completed', 'failed', 'cancelled', 'rejected'].includes(j.state)),
    ).toHaveLength(3);

    // L1 ends: one retry fits again, and the next does not.
    expect((await stack.request('/jobs/L1', { method: 'DELETE', key })).status).toBeLessThan(300);
    expect((await retry(key, 'f1')).status).toBe(202);
    const over = await retry(key, 'f2');
    expect(over.status).toBe(409);
    expect(((await over.json()) as Problem).limit).toBe('maxActiveJobs');
  });

  it('is refused past maxTasksInFlight with 409', async () => {
    const key = await tenant('tasky', { ...generous, maxTasksInFlight: 10 });
    expect((await post(key, failingJob('g1', 6))).status).toBe(202);
    await waitForState(key, 'g1', ['failed']);
    expect(
      (
        await post(key, {
          ...longJob('big'),
          tasks: Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 100000' })),
        })
      ).status,
    ).toBe(202);
    const res = await retry(key, 'g1');
    expect(res.status).toBe(409);
    expect(((await res.json()) as Problem).limit).toBe('maxTasksInFlight');
    expect((await stack.deps.jobs.get('tasky', 'g1'))?.retry).toBeUndefined();
  });

  it('is capped per job (maxRetriesPerJob), and the replaced attempts leave no Batch job behind', async () => {
    const key = await tenant('capped', { ...generous, maxRetriesPerJob: 2 });
    expect((await post(key, failingJob('rloop'))).status).toBe(202);
    await waitForState(key, 'rloop', ['failed']);
    for (let n = 1; n <= 2; n++) {
      const res = await retry(key, 'rloop');
      expect(res.status).toBe(202);
      const requestId = ((await res.json()) as { retry: { requestId: string } }).retry.requestId;
      await waitFor(
        () => stack.deps.jobs.get('capped', 'rloop'),
        (j) =>
          j?.retry?.requestId === requestId &&
          j.retry.status === 'done' &&
          j.state === 'failed' &&
          j.history.filter((h) => h.state === 'submitting').length === n + 1,
        { what: `attempt ${n} failed`, timeoutMs: 60_000 },
      );
      // The attempt this retry replaced has ended: its Batch job is deleted.
      await waitFor(
        () =>
          batch.jobs.get(batchJobIdFor('capped', 'rloop', n - 1)).then(
            (j) => String(j.state),
            () => 'gone',
          ),
        (state) => state === 'gone' || state === 'deleting',
        { what: `the Batch job of attempt ${n - 1} deleted` },
      );
    }
    const before = await stack.deps.jobs.get('capped', 'rloop');
    const capped = await retry(key, 'rloop');
    expect(capped.status).toBe(409);
    expect(capped.headers.get('retry-after')).toBeNull();
    const problem = (await capped.json()) as Problem;
    expect(problem.limit).toBe('maxRetriesPerJob');
    expect(problem.detail).toContain('retried 2 times');
    expect((await stack.deps.jobs.get('capped', 'rloop'))?.retry).toEqual(before?.retry);
    // Only the current attempt's Batch job is left.
    const left: string[] = [];
    for await (const j of batch.jobs.list({ filter: "startswith(id,'capped_')", select: 'id,state' }))
      if (j.state !== 'deleting') left.push(String(j.id));
    expect(left).toEqual([before!.batch!.jobId]);
  }, 180_000);

  it('takes a token of the submission rate: 429 with Retry-After past it, changing nothing', async () => {
    // One token per 100 s: the job takes the first, the first retry the second, the next is refused.
    const key = await tenant('slow', { submissionsPerSecond: 0.01, submissionBurst: 2 });
    expect((await post(key, failingJob('r1'))).status).toBe(202);
    await waitForState(key, 'r1', ['failed']);
    const first = await retry(key, 'r1');
    expect(first.status).toBe(202);
    const requestId = ((await first.json()) as { retry: { requestId: string } }).retry.requestId;
    await waitFor(
      () => stack.deps.jobs.get('slow', 'r1'),
      (j) => j?.retry?.requestId === requestId && j.retry.status === 'done' && j.state === 'failed',
      { what: 'the retried attempt failed', timeoutMs: 60_000 },
    );
    const before = await stack.deps.jobs.get('slow', 'r1');
    const limited = await retry(key, 'r1');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as Problem).limit).toBe('submissionsPerSecond');
    expect((await stack.deps.jobs.get('slow', 'r1'))?.retry).toEqual(before?.retry);
  });
});
