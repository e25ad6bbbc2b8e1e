import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import {
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

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

async function jobStatus(id: string) {
  return (await stack.request(`/jobs/${id}`)).status;
}

const waitForState = (id: string, states: string[]) => waitForJobState(stack, id, states);

describe('jobs over HTTP through the whole pipeline', () => {
  it('accepts a job, packs it into slots, submits it to Batch and follows it to completed', async () => {
    const request = {
      id: 'render-1',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8, maxNodes: 4 },
      tasks: [
        { id: 'a', commandLine: "/bin/sh -c 'sleep 20'", requiredSlots: 6 },
        { id: 'b', commandLine: "/bin/sh -c 'sleep 20'", requiredSlots: 2 },
        { id: 'c', commandLine: "/bin/sh -c 'sleep 10'", requiredSlots: 4 },
        { id: 'd', commandLine: "/bin/sh -c 'sleep 10'", requiredSlots: 4 },
        { id: 'e', commandLine: 'echo done', dependsOn: { taskIds: ['a'] } },
      ],
    };
    const res = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(request) });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe('/api/jobs/render-1');
    expect(((await res.json()) as { state: string }).state).toBe('accepted');

    const done = await waitForState('render-1', ['completed', 'failed']);
    expect(done.state).toBe('completed');
    // 6+2, 4+4, 1 → three nodes of 8 slots; the volume bound (17/8) is 3 as well.
    expect(done.plan).toMatchObject({
      nodes: 3,
      lowerBound: 3,
      taskSlotsPerNode: 8,
      poolNodes: 3,
      waves: 1,
      tasks: 5,
    });
    expect(done.taskCounts).toEqual({ active: 0, running: 0, succeeded: 5, failed: 0 });
    expect(done.history.map((h) => h.state)).toEqual([
      'accepted',
      'planned',
      'submitting',
      'submitted',
      'running',
      'completed',
    ]);

    const pool = await batch.pools.get(done.batch!.poolId);
    expect(pool).toMatchObject({
      vmSize: 'standard_d4s_v3',
      taskSlotsPerNode: 8,
      taskSchedulingPolicy: { nodeFillType: 'pack' },
      targetDedicatedNodes: 3,
    });
    const job = await batch.jobs.get(done.batch!.jobId);
    expect(job).toMatchObject({
      usesTaskDependencies: true,
      onAllTasksComplete: 'terminatejob',
      poolInfo: { poolId: pool.id },
    });
    const tasks: Record<string, unknown>[] = [];
    for await (const t of batch.tasks.list(done.batch!.jobId)) tasks.push(t);
    expect(Object.fromEntries(tasks.map((t) => [t.id, t.requiredSlots]))).toEqual({
      a: 6,
      b: 2,
      c: 4,
      d: 4,
      e: 1,
    });
  });

  it('replays the same id and body, and refuses the same id with another body', async () => {
    const request = {
      id: 'idem-1',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'echo 1' }],
    };
    const first = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(request) });
    expect(first.status).toBe(202);
    const again = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(request) });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe('idem-1');
    const other = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({ ...request, tasks: [{ id: 't', commandLine: 'echo 2' }] }),
    });
    expect(other.status).toBe(409);
    expect(other.headers.get('content-type')).toBe('application/problem+json');
  });

  it('answers bad input with problem details naming every field, and stores nothing', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'bad-1',
        pool: { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 99 },
        tasks: [{ id: 'x', commandLine: 'echo', requiredSlots: 0 }],
      }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await res.json()) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field).sort()).toEqual([
      'pool.taskSlotsPerNode',
      'tasks[0].requiredSlots',
    ]);
    expect(await jobStatus('bad-1')).toBe(404);

    const slots = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'bad-2',
        pool: { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 99 },
        tasks: [{ id: 'x', commandLine: 'e' }],
      }),
    });
    expect(((await slots.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([
      'pool.taskSlotsPerNode',
    ]);

    const malformed = await stack.request('/jobs', { method: 'POST', body: '{"id": ' });
    expect(malformed.status).toBe(400);
    const tooLarge = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({ pad: 'x'.repeat(1_100_000) }),
    });
    expect(tooLarge.status).toBe(413);
    const counters = (await (await stack.emulatorControl('counters')).json()) as {
      requests: Record<string, number>;
    };
    expect(Object.keys(counters.requests).filter((k) => k.includes('bad-'))).toEqual([]);
  });

  it('requires the API key and keeps tenants apart (404, not 403)', async () => {
    expect((await stack.request('/jobs', { key: null })).status).toBe(401);
    expect((await stack.request('/jobs', { key: 'wrong-key' })).status).toBe(401);
    await stack.deps.tenants.upsert('other', {
      apiKey: 'other-key-123',
      webhookSecret: 'whsec_b3RoZXItdGVuYW50LXNlY3JldC0xMjM0NTY=',
      now: new Date(),
    });
    const res = await stack.request('/jobs/render-1', { key: 'other-key-123' });
    expect(res.status).toBe(404);
    const list = (await (await stack.request('/jobs', { key: 'other-key-123' })).json()) as {
      value: unknown[];
    };
    expect(list.value).toEqual([]);
  });

  it('lists jobs newest first with a state filter and a continuation link', async () => {
    const page1 = (await (await stack.request('/jobs?limit=1')).json()) as {
      value: { id: string }[];
      nextLink: string;
    };
    expect(page1.value).toHaveLength(1);
    expect(page1.nextLink).toMatch(/^\/api\/jobs\?limit=1&continuation=/);
    const page2 = (await (await stack.request(page1.nextLink.replace(/^\/api/, ''))).json()) as {
      value: { id: string }[];
    };
    expect(page2.value[0]?.id).not.toBe(page1.value[0]?.id);
    const completed = (await (await stack.request('/jobs?state=completed')).json()) as {
      value: { state: string }[];
    };
    expect(completed.value.every((j) => j.state === 'completed')).toBe(true);
    expect((await stack.request('/jobs?state=bogus')).status).toBe(400);
  });

  it('cancels a running job: terminates it in Batch, idempotently', async () => {
    await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'long-1',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 't', commandLine: 'sleep 100000' }],
      }),
    });
    const running = await waitForState('long-1', ['submitted', 'running']);
    const cancel = await stack.request('/jobs/long-1', { method: 'DELETE' });
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as { state: string }).state).toBe('cancelled');
    expect((await stack.request('/jobs/long-1', { method: 'DELETE' })).status).toBe(200);
    const batchJob = await waitFor(
      () => batch.jobs.get(running.batch!.jobId),
      (j) => j.state === 'completed',
    );
    expect((batchJob.executionInfo as { terminateReason: string }).terminateReason).toBe(
      'Cancelled in Slotwise',
    );
    expect((await stack.request('/jobs/render-1', { method: 'DELETE' })).status).toBe(409);
  });

  it('fails a job whose task exits non-zero, naming the task and exit code', async () => {
    await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'fail-1',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [
          { id: 'good', commandLine: 'echo ok' },
          { id: 'bad', commandLine: "/bin/sh -c 'exit 3'" },
        ],
      }),
    });
    const failed = await waitForState('fail-1', ['failed', 'completed']);
    expect(failed.state).toBe('failed');
    expect(failed.failure).toMatchObject({
      code: 'TaskFailed',
      failedTasks: [{ taskId: 'bad', exitCode: 3, failureCode: 'FailureExitCode' }],
    });
    expect(failed.taskCounts).toEqual({ active: 0, running: 0, succeeded: 1, failed: 1 });
  });

  it('serves the health report and the OpenAPI description', async () => {
    // Details need a tenant key (without one: only up/down).
    const health = await stack.request('/health');
    expect(health.status).toBe(200);
    const report = (await health.json()) as { dependencies: { name: string; status: string }[] };
    expect(report.dependencies.map((d) => [d.name, d.status])).toEqual([
      ['queues', 'up'],
      ['cosmos', 'up'],
      ['batch', 'up'],
    ]);
    const openapi = (await (await stack.request('/openapi.json', { key: null })).json()) as {
      openapi: string;
      paths: object;
    };
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.paths)).toContain('/jobs/{id}');
  });
});
