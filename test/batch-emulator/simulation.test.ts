/**
 * Simulation semantics on a manual clock (clockFactor 0, time moved by /_emulator/clock):
 * slots, pack vs spread, priority, dependencies, retries, exit codes, wall clock, job completion,
 * terminate and delete.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { advance, call, control, poolBody } from './helpers.js';

let emulator: BatchEmulator;

beforeEach(async () => {
  emulator = await (await import('./helpers.js')).start({
    clockFactor: 0,
    allocationSeconds: 30,
    nodeStartSeconds: 0,
  });
});

afterEach(async () => {
  await emulator.close();
});

type Task = {
  id: string;
  state: string;
  executionInfo: Record<string, unknown>;
  nodeInfo?: { nodeId: string };
};
type Job = { state: string; executionInfo: { terminateReason?: string } };

async function ok(method: string, path: string, body?: unknown) {
  const r = await call(emulator, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as Record<string, unknown>;
}
const task = async (job: string, id: string) =>
  (await ok('GET', `/jobs/${job}/tasks/${id}`)) as unknown as Task;
const job = async (id: string) => (await ok('GET', `/jobs/${id}`)) as unknown as Job;
const counts = async (id: string) =>
  (await ok('GET', `/jobs/${id}/taskcounts`)) as unknown as {
    taskCounts: Record<string, number>;
    taskSlotCounts: Record<string, number>;
  };
async function addTasks(jobId: string, tasks: Record<string, unknown>[]) {
  const r = await ok('POST', `/jobs/${jobId}/addtaskcollection`, { value: tasks });
  const results = r.value as { status: string }[];
  expect(results.every((x) => x.status === 'success')).toBe(true);
}
async function readyPool(id: string, extra: Record<string, unknown>) {
  await ok('POST', '/pools', poolBody(id, extra));
  await advance(emulator, 30);
  const pool = await ok('GET', `/pools/${id}`);
  expect(pool.allocationState).toBe('steady');
}

describe('slot-aware scheduling', () => {
  it('runs two 2-slot tasks per 4-slot node and leaves a task larger than a node active', async () => {
    await readyPool('p', { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 4, targetDedicatedNodes: 2 });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [
      ...Array.from({ length: 5 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 100', requiredSlots: 2 })),
      { id: 'huge', commandLine: 'sleep 1', requiredSlots: 5 },
    ]);
    const c = await counts('j');
    expect(c.taskCounts).toMatchObject({ running: 4, active: 2 });
    expect(c.taskSlotCounts).toMatchObject({ running: 8, active: 7 });
    const nodes = (await ok('GET', '/pools/p/nodes')).value as {
      runningTaskSlotsCount: number;
      state: string;
    }[];
    expect(nodes.map((n) => n.runningTaskSlotsCount)).toEqual([4, 4]);
    expect(nodes.every((n) => n.state === 'running')).toBe(true);
    await advance(emulator, 100);
    expect((await task('j', 't4')).state).toBe('running');
    await advance(emulator, 1000);
    expect((await task('j', 'huge')).state).toBe('active');
    expect((await counts('j')).taskCounts).toMatchObject({ active: 1, succeeded: 5 });
  });

  it('packs tasks onto one node before the next, or spreads them', async () => {
    const placement = async (fill: string) => {
      const id = `p-${fill}`;
      await readyPool(id, {
        vmSize: 'standard_d4s_v3',
        taskSlotsPerNode: 4,
        targetDedicatedNodes: 2,
        taskSchedulingPolicy: { nodeFillType: fill },
      });
      await ok('POST', '/jobs', { id: `j-${fill}`, poolInfo: { poolId: id } });
      await addTasks(
        `j-${fill}`,
        Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 50' })),
      );
      const nodes = (await ok('GET', `/pools/${id}/nodes`)).value as { runningTasksCount: number }[];
      return nodes.map((n) => n.runningTasksCount).sort();
    };
    expect(await placement('pack')).toEqual([0, 4]);
    expect(await placement('Spread')).toEqual([2, 2]);
  });

  it('serves the higher-priority job first', async () => {
    await readyPool('p', { targetDedicatedNodes: 1 });
    await ok('POST', '/jobs', { id: 'low', poolInfo: { poolId: 'p' }, priority: -10 });
    await ok('POST', '/jobs', { id: 'high', poolInfo: { poolId: 'p' }, priority: 500 });
    await ok('POST', '/jobs', { id: 'blocker', poolInfo: { poolId: 'p' }, priority: 1000 });
    await addTasks('blocker', [{ id: 'b', commandLine: 'sleep 10' }]);
    await addTasks('low', [{ id: 'l', commandLine: 'sleep 10' }]);
    await addTasks('high', [{ id: 'h', commandLine: 'sleep 10' }]);
    await advance(emulator, 10);
    expect((await task('high', 'h')).state).toBe('running');
    expect((await task('low', 'l')).state).toBe('active');
    await advance(emulator, 10);
    expect((await task('low', 'l')).state).toBe('running');
  });
});

describe('task lifecycle', () => {
  it('runs for the slept time, reports exit codes and retries failures', async () => {
    await readyPool('p', { targetDedicatedNodes: 1, taskSlotsPerNode: 4 });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' }, constraints: { maxTaskRetryCount: 2 } });
    await addTasks('j', [
      { id: 'ok', commandLine: "/bin/sh -c 'sleep 2.5'" },
      { id: 'bad', commandLine: "/bin/sh -c 'sleep 1; exit 3'" },
      { id: 'once', commandLine: 'exit 4', constraints: { maxTaskRetryCount: 0 } },
    ]);
    await advance(emulator, 2);
    const okTask = await task('j', 'ok');
    expect(okTask.state).toBe('running');
    await advance(emulator, 1);
    const done = await task('j', 'ok');
    expect(done.state).toBe('completed');
    expect(done.executionInfo).toMatchObject({ exitCode: 0, result: 'success', retryCount: 0 });
    expect(
      Date.parse(String(done.executionInfo.endTime)) - Date.parse(String(done.executionInfo.startTime)),
    ).toBe(2500);
    const bad = await task('j', 'bad');
    expect(bad.state).toBe('completed');
    expect(bad.executionInfo).toMatchObject({
      exitCode: 3,
      result: 'failure',
      retryCount: 2,
      failureInfo: { category: 'usererror', code: 'FailureExitCode' },
    });
    expect((await task('j', 'once')).executionInfo).toMatchObject({
      exitCode: 4,
      retryCount: 0,
      result: 'failure',
    });
    expect((await counts('j')).taskCounts).toMatchObject({ completed: 3, succeeded: 1, failed: 2 });
  });

  it('retries without limit when maxTaskRetryCount is -1', async () => {
    await readyPool('p', { targetDedicatedNodes: 1 });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [
      { id: 'loop', commandLine: 'sleep 1 && exit 1', constraints: { maxTaskRetryCount: -1 } },
    ]);
    await advance(emulator, 10.5);
    const t = await task('j', 'loop');
    expect(t.state).toBe('running');
    expect(t.executionInfo.retryCount).toBe(10);
  });

  it('ends a task at its maxWallClockTime', async () => {
    await readyPool('p', { targetDedicatedNodes: 1 });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' }, constraints: { maxTaskRetryCount: 3 } });
    await addTasks('j', [
      { id: 'slow', commandLine: 'sleep 600', constraints: { maxWallClockTime: 'PT1M' } },
    ]);
    await advance(emulator, 59);
    expect((await task('j', 'slow')).state).toBe('running');
    await advance(emulator, 1);
    const t = await task('j', 'slow');
    expect(t.state).toBe('completed');
    expect(t.executionInfo).toMatchObject({
      result: 'failure',
      retryCount: 0,
      failureInfo: { code: 'TaskEnded' },
    });
  });

  it('holds dependents until their dependencies succeed, and blocks them on failure', async () => {
    await readyPool('p', { targetDedicatedNodes: 1, vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8 });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' }, usesTaskDependencies: true });
    await addTasks('j', [
      {
        id: 'after',
        commandLine: 'sleep 1',
        dependsOn: { taskIds: ['a'], taskIdRanges: [{ start: 1, end: 3 }] },
      },
      { id: 'a', commandLine: 'sleep 5' },
      ...[1, 2, 3].map((n) => ({ id: String(n), commandLine: `sleep ${n}` })),
      { id: 'bad', commandLine: 'exit 2' },
      { id: 'blocked', commandLine: 'sleep 1', dependsOn: { taskIds: ['bad'] } },
      {
        id: 'lenient',
        commandLine: 'exit 7',
        exitConditions: { exitCodes: [{ code: 7, exitOptions: { dependencyAction: 'satisfy' } }] },
      },
      { id: 'unblocked', commandLine: 'sleep 1', dependsOn: { taskIds: ['lenient'] } },
    ]);
    expect((await task('j', 'after')).state).toBe('active');
    await advance(emulator, 4);
    expect((await task('j', 'after')).state).toBe('active');
    await advance(emulator, 1);
    expect((await task('j', 'after')).state).toBe('running');
    expect((await task('j', 'unblocked')).state).not.toBe('active');
    await advance(emulator, 100);
    expect((await task('j', 'blocked')).state).toBe('active');
    const noDeps = await call(emulator, 'POST', '/jobs', { id: 'plain', poolInfo: { poolId: 'p' } });
    expect(noDeps.status).toBe(201);
    const rejected = await call(emulator, 'POST', '/jobs/plain/tasks', {
      id: 'x',
      commandLine: 'echo',
      dependsOn: { taskIds: ['y'] },
    });
    expect(rejected.status).toBe(400);
    expect(rejected.json).toMatchObject({ code: 'TaskDependenciesNotSpecifiedOnJob' });
  });

  it('reactivates a failed task and requeues running tasks when nodes leave', async () => {
    await readyPool('p', { targetDedicatedNodes: 2 });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [
      { id: 'fail', commandLine: 'exit 1' },
      { id: 'long', commandLine: 'sleep 1000' },
    ]);
    expect((await task('j', 'fail')).executionInfo.result).toBe('failure');
    expect((await call(emulator, 'POST', '/jobs/j/tasks/fail/reactivate')).status).toBe(204);
    const again = await task('j', 'fail');
    expect(again.executionInfo).toMatchObject({ result: 'failure', retryCount: 0 });
    const resize = await call(emulator, 'POST', '/pools/p/resize', { targetDedicatedNodes: 0 });
    expect(resize.status).toBe(202);
    const long = await task('j', 'long');
    expect(long.state).toBe('active');
    expect(long.executionInfo.requeueCount).toBe(1);
    const busy = await call(emulator, 'POST', '/pools/p/resize', { targetDedicatedNodes: 1 });
    expect(busy.status).toBe(409);
    await advance(emulator, 30);
    expect((await ok('GET', '/pools/p')).currentDedicatedNodes).toBe(0);
  });
});

describe('job lifecycle', () => {
  it('terminates with AllTasksComplete when the last task completes, and at once for an empty job', async () => {
    await readyPool('p', { targetDedicatedNodes: 1 });
    await ok('POST', '/jobs', { id: 'empty', poolInfo: { poolId: 'p' }, onAllTasksComplete: 'terminatejob' });
    await advance(emulator, 1);
    expect(await job('empty')).toMatchObject({
      state: 'completed',
      executionInfo: { terminateReason: 'AllTasksComplete' },
    });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [{ id: 'a', commandLine: 'sleep 20' }]);
    await ok('PATCH', '/jobs/j', { onAllTasksComplete: 'TerminateJob' });
    expect((await job('j')).state).toBe('active');
    await advance(emulator, 20);
    expect((await job('j')).state).toBe('terminating');
    await advance(emulator, 1);
    expect(await job('j')).toMatchObject({
      state: 'completed',
      executionInfo: { terminateReason: 'AllTasksComplete' },
    });
    const late = await call(emulator, 'POST', '/jobs/j/tasks', { id: 'late', commandLine: 'echo' });
    expect(late.status).toBe(409);
    expect(late.json).toMatchObject({ code: 'JobCompleted' });
  });

  it('terminates the job on a task failure when exit options say so', async () => {
    await readyPool('p', { targetDedicatedNodes: 1 });
    await ok('POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      onTaskFailure: 'performExitOptionsJobAction',
    });
    await addTasks('j', [
      {
        id: 'tolerated',
        commandLine: 'exit 5',
        exitConditions: { exitCodes: [{ code: 5, exitOptions: { jobAction: 'none' } }] },
      },
      { id: 'later', commandLine: 'sleep 5' },
    ]);
    await advance(emulator, 5);
    expect((await job('j')).state).toBe('active');
    await addTasks('j', [{ id: 'fatal', commandLine: 'exit 9' }]);
    await advance(emulator, 1);
    expect(await job('j')).toMatchObject({
      state: 'completed',
      executionInfo: { terminateReason: 'TaskFailed' },
    });
    const noOptions = await call(emulator, 'POST', '/jobs', { id: 'k', poolInfo: { poolId: 'p' } });
    expect(noOptions.status).toBe(201);
    const invalid = await call(emulator, 'POST', '/jobs/k/tasks', {
      id: 't',
      commandLine: 'exit 1',
      exitConditions: { default: { jobAction: 'terminate' } },
    });
    expect(invalid.status).toBe(400);
  });

  it('kills running tasks on terminate and leaves active ones active', async () => {
    await readyPool('p', { targetDedicatedNodes: 1 });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [
      { id: 'running', commandLine: 'sleep 100' },
      { id: 'waiting', commandLine: 'sleep 100' },
    ]);
    expect((await call(emulator, 'POST', '/jobs/j/terminate', { terminateReason: 'Enough' })).status).toBe(
      202,
    );
    expect((await job('j')).state).toBe('terminating');
    await advance(emulator, 1);
    expect(await job('j')).toMatchObject({
      state: 'completed',
      executionInfo: { terminateReason: 'Enough' },
    });
    const killed = await task('j', 'running');
    expect(killed.state).toBe('completed');
    expect(killed.executionInfo).toMatchObject({ result: 'failure', failureInfo: { code: 'TaskEnded' } });
    expect((await task('j', 'waiting')).state).toBe('active');
    await advance(emulator, 500);
    expect((await task('j', 'waiting')).state).toBe('active');
    const nodes = (await ok('GET', '/pools/p/nodes')).value as { state: string }[];
    expect(nodes[0]?.state).toBe('idle');
  });

  it('terminates a job at its maxWallClockTime and deletes jobs and pools through a deleting state', async () => {
    await readyPool('p', { targetDedicatedNodes: 1 });
    await ok('POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      constraints: { maxWallClockTime: 'PT10M' },
    });
    await addTasks('j', [{ id: 'a', commandLine: 'sleep 100000' }]);
    await advance(emulator, 601);
    expect(await job('j')).toMatchObject({
      state: 'completed',
      executionInfo: { terminateReason: 'MaxWallClockTimeExpiry' },
    });
    expect((await call(emulator, 'DELETE', '/jobs/j')).status).toBe(202);
    expect((await job('j')).state).toBe('deleting');
    const update = await call(emulator, 'PATCH', '/jobs/j', { priority: 1 });
    expect(update.json).toMatchObject({ code: 'JobBeingDeleted' });
    const recreate = await call(emulator, 'POST', '/jobs', { id: 'J', poolInfo: { poolId: 'p' } });
    expect(recreate.status).toBe(409);
    await advance(emulator, 10);
    expect((await call(emulator, 'GET', '/jobs/j')).status).toBe(404);
    expect((await call(emulator, 'DELETE', '/pools/p')).status).toBe(202);
    expect((await ok('GET', '/pools/p')).state).toBe('deleting');
    expect((await call(emulator, 'POST', '/pools/p/resize', { targetDedicatedNodes: 2 })).json).toMatchObject(
      {
        code: 'PoolBeingDeleted',
      },
    );
    await advance(emulator, 10);
    expect((await call(emulator, 'HEAD', '/pools/p')).status).toBe(404);
  });

  it('stops a resize, fails an allocation on request and enforces the active job quota', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 3 }));
    expect((await call(emulator, 'POST', '/pools/p/stopresize')).status).toBe(202);
    expect((await ok('GET', '/pools/p')).allocationState).toBe('stopping');
    await advance(emulator, 60);
    expect(await ok('GET', '/pools/p')).toMatchObject({
      allocationState: 'steady',
      currentDedicatedNodes: 0,
    });
    expect((await control(emulator, 'POST', 'pools/p/fail-allocation', {})).status).toBe(204);
    await ok('POST', '/pools/p/resize', { targetDedicatedNodes: 2 });
    await advance(emulator, 30);
    const failed = await ok('GET', '/pools/p');
    expect(failed).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 0 });
    expect(failed.resizeErrors).toEqual([{ code: 'AccountCoreQuotaReached', message: expect.any(String) }]);
    await control(emulator, 'PUT', 'quotas', { activeJobs: 1 });
    await ok('POST', '/jobs', { id: 'one', poolInfo: { poolId: 'p' } });
    const two = await call(emulator, 'POST', '/jobs', { id: 'two', poolInfo: { poolId: 'p' } });
    expect(two.status).toBe(409);
    expect(two.json).toMatchObject({ code: 'ActiveJobAndScheduleQuotaReached' });
    await ok('POST', '/jobs/one/terminate');
    await advance(emulator, 1);
    expect((await call(emulator, 'POST', '/jobs', { id: 'two', poolInfo: { poolId: 'p' } })).status).toBe(
      201,
    );
  });
});
