/**
 * Pools_RemoveNodes and broken nodes, over HTTP on a manual clock: the named nodes leave and the
 * target drops by as many, their tasks are requeued (`requeueCount`), a resizing pool or an unknown
 * node is refused as Batch refuses it, and a scripted bad node either fails every task sent to it
 * (each failure using a retry) or goes `unusable` / `starttaskfailed` and takes no tasks. A node's
 * `recentTasks` and `totalTasksRun` as the pool controller reads them after a preemption.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { advance, call, control, poolBody, start } from './helpers.js';

let emulator: BatchEmulator;

beforeEach(async () => {
  emulator = await start({ clockFactor: 0, allocationSeconds: 30, nodeStartSeconds: 5 });
});

afterEach(async () => {
  await emulator.close();
});

type Node = {
  id: string;
  state: string;
  runningTasksCount: number;
  totalTasksRun: number;
  totalTasksSucceeded: number;
};
type Task = {
  id: string;
  state: string;
  executionInfo: {
    retryCount: number;
    requeueCount: number;
    result?: string;
    failureInfo?: { category: string; code: string };
  };
  nodeInfo?: { nodeId: string };
};

async function ok(method: string, path: string, body?: unknown) {
  const r = await call(emulator, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as Record<string, unknown>;
}
const nodes = async () => (await ok('GET', '/pools/p/nodes')).value as Node[];
const pool = async () => ok('GET', '/pools/p');
const tasks = async () => (await ok('GET', '/jobs/j/tasks')).value as Task[];

/** Three single-slot nodes in service, a job of `n` tasks of `seconds` each. */
async function busyPool(n: number, seconds: number, retries = 0) {
  await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 3 }));
  await advance(emulator, 35);
  await ok('POST', '/jobs', {
    id: 'j',
    poolInfo: { poolId: 'p' },
    constraints: { maxTaskRetryCount: retries },
  });
  await ok('POST', '/jobs/j/addtaskcollection', {
    value: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, commandLine: `sleep ${seconds}` })),
  });
}

describe('Pools_RemoveNodes', () => {
  it('removes the named node, requeues its task and lowers the target by one', async () => {
    await busyPool(3, 100);
    const victim = (await tasks()).find((t) => t.id === 't0')?.nodeInfo?.nodeId as string;
    const r = await call(emulator, 'POST', '/pools/p/removenodes', { nodeList: [victim] });
    expect(r.status).toBe(202);
    expect(await pool()).toMatchObject({ allocationState: 'resizing', targetDedicatedNodes: 2 });
    const t0 = (await tasks()).find((t) => t.id === 't0');
    expect(t0).toMatchObject({ state: 'active', executionInfo: { retryCount: 0, requeueCount: 1 } });
    // A pool being resized takes no other removal (Batch: only from a steady pool).
    const again = await call(emulator, 'POST', '/pools/p/removenodes', {
      nodeList: [(await nodes()).find((n) => n.id !== victim)?.id],
    });
    expect(again.status).toBe(409);
    expect((again.json as { code: string }).code).toBe('PoolBeingResized');
    await advance(emulator, 30);
    expect(await pool()).toMatchObject({
      allocationState: 'steady',
      targetDedicatedNodes: 2,
      currentDedicatedNodes: 2,
    });
    expect((await nodes()).map((n) => n.id)).not.toContain(victim);
  });

  it('refuses an unknown node and a bad body, and removes nothing', async () => {
    await busyPool(1, 100);
    const unknown = await call(emulator, 'POST', '/pools/p/removenodes', { nodeList: ['tvm-none'] });
    expect(unknown.status).toBe(404);
    expect((unknown.json as { code: string }).code).toBe('NodeNotFound');
    const empty = await call(emulator, 'POST', '/pools/p/removenodes', { nodeList: [] });
    expect(empty.status).toBe(400);
    const missing = await call(emulator, 'POST', '/pools/p/removenodes', {});
    expect((missing.json as { code: string }).code).toBe('MissingRequiredProperty');
    const option = await call(emulator, 'POST', '/pools/p/removenodes', {
      nodeList: [(await nodes())[0]?.id],
      nodeDeallocationOption: 'later',
    });
    expect(option.status).toBe(400);
    expect(await pool()).toMatchObject({ allocationState: 'steady', targetDedicatedNodes: 3 });
    expect(await nodes()).toHaveLength(3);
  });

  it('with taskcompletion, lets the running task finish before the node goes', async () => {
    await busyPool(3, 100);
    const victim = (await tasks()).find((t) => t.id === 't1')?.nodeInfo?.nodeId as string;
    await ok('POST', '/pools/p/removenodes', {
      nodeList: [victim],
      nodeDeallocationOption: 'taskcompletion',
    });
    await advance(emulator, 30);
    expect(await pool()).toMatchObject({ allocationState: 'resizing' });
    expect((await nodes()).find((n) => n.id === victim)?.state).toBe('leavingpool');
    await advance(emulator, 75);
    expect((await tasks()).find((t) => t.id === 't1')).toMatchObject({
      state: 'completed',
      executionInfo: { result: 'success', requeueCount: 0 },
    });
    expect(await pool()).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 2 });
  });
});

describe('scripted bad nodes', () => {
  it('fails every task sent to a failTasks node, each failure using a retry', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 1 }));
    await advance(emulator, 35);
    const bad = await control(emulator, 'POST', 'pools/p/bad-node', { fault: 'failTasks' });
    expect(bad).toMatchObject({ status: 200, json: { failsTasks: true } });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' }, constraints: { maxTaskRetryCount: 2 } });
    await ok('POST', '/jobs/j/tasks', { id: 't0', commandLine: 'sleep 10' });
    await advance(emulator, 5);
    const [t0] = await tasks();
    expect(t0).toMatchObject({
      state: 'completed',
      executionInfo: {
        result: 'failure',
        retryCount: 2,
        failureInfo: { category: 'servererror', code: 'DiskFull' },
      },
      nodeInfo: { nodeId: bad.json?.nodeId },
    });
    expect((await nodes())[0]).toMatchObject({ totalTasksRun: 3, totalTasksSucceeded: 0 });
    // Healed, the node runs tasks again.
    await control(emulator, 'POST', 'pools/p/bad-node', { nodeId: bad.json?.nodeId, fault: 'healthy' });
    await ok('POST', '/jobs/j/tasks', { id: 't1', commandLine: 'sleep 10' });
    await advance(emulator, 11);
    expect((await tasks()).find((t) => t.id === 't1')?.executionInfo.result).toBe('success');
  });

  it('an unusable node loses its task to the queue and takes no more; a removal takes it away', async () => {
    await busyPool(4, 100);
    const victim = (await tasks()).find((t) => t.id === 't0')?.nodeInfo?.nodeId as string;
    const r = await control(emulator, 'POST', 'pools/p/bad-node', { nodeId: victim, fault: 'unusable' });
    expect(r.json).toMatchObject({ nodeId: victim, state: 'unusable' });
    expect((await nodes()).find((n) => n.id === victim)).toMatchObject({
      state: 'unusable',
      runningTasksCount: 0,
    });
    expect((await tasks()).filter((t) => t.state === 'active').map((t) => t.id)).toEqual(['t0', 't3']);
    await ok('POST', '/pools/p/removenodes', { nodeList: [victim] });
    await advance(emulator, 30);
    expect(await pool()).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 2 });
    // The pool grows again on a resize: the new node takes the waiting task.
    await ok('POST', '/pools/p/resize', { targetDedicatedNodes: 3 });
    await advance(emulator, 36);
    expect((await tasks()).filter((t) => t.state === 'running')).toHaveLength(3);
  });

  it('a starttaskfailed node takes no tasks', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 1 }));
    await advance(emulator, 35);
    await control(emulator, 'POST', 'pools/p/bad-node', { fault: 'starttaskfailed' });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await ok('POST', '/jobs/j/tasks', { id: 't0', commandLine: 'sleep 10' });
    await advance(emulator, 20);
    expect((await tasks())[0]?.state).toBe('active');
    expect((await nodes())[0]?.state).toBe('starttaskfailed');
  });

  it('a preempted node lists the task it lost in recentTasks, and counts no run for it', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 0, targetLowPriorityNodes: 1 }));
    await advance(emulator, 35);
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await ok('POST', '/jobs/j/tasks', { id: 'first', commandLine: 'sleep 5' });
    await advance(emulator, 6);
    await ok('POST', '/jobs/j/tasks', { id: 'lost', commandLine: 'sleep 100' });
    await advance(emulator, 1);
    const [victim] = await nodes();
    await control(emulator, 'POST', 'pools/p/preempt', { nodeIds: [victim?.id], recoverAfterSeconds: null });
    const node = (await ok('GET', `/pools/p/nodes/${victim?.id}`)) as unknown as Node & {
      recentTasks: { taskId: string; taskState: string }[];
    };
    expect(node).toMatchObject({ state: 'preempted', totalTasksRun: 1, totalTasksSucceeded: 1 });
    expect(node.recentTasks.map((t) => [t.taskId, t.taskState])).toEqual([
      ['lost', 'active'],
      ['first', 'completed'],
    ]);
  });
});
