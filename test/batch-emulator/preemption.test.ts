/**
 * Low-priority node preemption, over HTTP on a manual clock: preempted nodes read `preempted` and
 * stay counted in currentLowPriorityNodes (as the spec describes), their running tasks go back to
 * `active` without consuming a retry, and the node comes back with its id when capacity returns.
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

type Node = { id: string; state: string; isDedicated: boolean; runningTasksCount: number };
type Task = {
  state: string;
  previousState?: string;
  executionInfo: { retryCount: number; requeueCount: number; result?: string };
  nodeInfo?: { nodeId: string };
};

async function ok(method: string, path: string, body?: unknown) {
  const r = await call(emulator, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as Record<string, unknown>;
}
const nodes = async (pool: string) => (await ok('GET', `/pools/${pool}/nodes`)).value as Node[];
const node = async (pool: string, id: string) =>
  (await ok('GET', `/pools/${pool}/nodes/${id}`)) as unknown as Node;
const task = async (id: string) => (await ok('GET', `/jobs/j/tasks/${id}`)) as unknown as Task;
const counts = async () =>
  ((await ok('GET', '/jobs/j/taskcounts')) as { taskCounts: Record<string, number> }).taskCounts;

/** Two single-slot low-priority nodes in service and three 100 s tasks that never retry. */
async function busyLowPriorityPool() {
  await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 0, targetLowPriorityNodes: 2 }));
  await advance(emulator, 35);
  await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' }, constraints: { maxTaskRetryCount: 0 } });
  await ok('POST', '/jobs/j/addtaskcollection', {
    value: ['t0', 't1', 't2'].map((id) => ({ id, commandLine: 'sleep 100' })),
  });
  expect(await counts()).toMatchObject({ running: 2, active: 1 });
}

describe('low-priority preemption', () => {
  it('preempts a node, requeues its task without a retry and brings the node back with its id', async () => {
    await busyLowPriorityPool();
    const victimTask = await task('t0');
    const victim = victimTask.nodeInfo?.nodeId as string;
    const r = await control(emulator, 'POST', 'pools/p/preempt', {
      nodeIds: [victim],
      recoverAfterSeconds: 30,
    });
    expect(r).toEqual({ status: 200, json: { preempted: [victim] } });
    expect(await node('p', victim)).toMatchObject({
      state: 'preempted',
      isDedicated: false,
      runningTasksCount: 0,
    });
    // Preempted nodes are still in the pool and in currentLowPriorityNodes (spec: BatchPool).
    expect(await ok('GET', '/pools/p')).toMatchObject({
      allocationState: 'steady',
      currentLowPriorityNodes: 2,
      targetLowPriorityNodes: 2,
    });
    expect(await task('t0')).toMatchObject({
      state: 'active',
      previousState: 'running',
      executionInfo: { retryCount: 0, requeueCount: 0 },
    });
    expect(await counts()).toMatchObject({ running: 1, active: 2 });
    // Capacity returns after 30 s: the same node starts (5 s) and takes the requeued task first.
    await advance(emulator, 30);
    expect((await node('p', victim)).state).toBe('starting');
    await advance(emulator, 5);
    expect(await node('p', victim)).toMatchObject({ state: 'running', runningTasksCount: 1 });
    expect(await task('t0')).toMatchObject({ state: 'running', nodeInfo: { nodeId: victim } });
    await advance(emulator, 300);
    expect(await counts()).toMatchObject({ succeeded: 3, failed: 0, active: 0, running: 0 });
    expect((await task('t0')).executionInfo).toMatchObject({ result: 'success', retryCount: 0 });
  });

  it('chooses the busiest nodes for a count, keeps them preempted when capacity never returns and lets a shrink remove them', async () => {
    await busyLowPriorityPool();
    await advance(emulator, 100); // t0, t1 done; t2 running on one node, the other idle
    const busy = (await task('t2')).nodeInfo?.nodeId as string;
    const r = await control(emulator, 'POST', 'pools/p/preempt', { count: 1, recoverAfterSeconds: null });
    expect(r.json).toEqual({ preempted: [busy] });
    // The requeued task moves to the other node at once.
    const t2 = await task('t2');
    expect(t2.state).toBe('running');
    expect(t2.nodeInfo?.nodeId).not.toBe(busy);
    await advance(emulator, 3600);
    expect((await node('p', busy)).state).toBe('preempted');
    await ok('POST', '/pools/p/resize', { targetLowPriorityNodes: 1 });
    await advance(emulator, 30);
    const left = await nodes('p');
    expect(left.map((n) => n.id)).toEqual([t2.nodeInfo?.nodeId]);
    expect(await ok('GET', '/pools/p')).toMatchObject({
      allocationState: 'steady',
      currentLowPriorityNodes: 1,
    });
  });

  it('refuses what cannot be preempted', async () => {
    await busyLowPriorityPool();
    expect((await control(emulator, 'POST', 'pools/p/preempt', { count: 3 })).status).toBe(409);
    await ok('POST', '/pools', poolBody('d'));
    await advance(emulator, 35);
    const dedicated = (await nodes('d'))[0]?.id as string;
    expect((await control(emulator, 'POST', 'pools/d/preempt', {})).status).toBe(409);
    expect((await control(emulator, 'POST', 'pools/d/preempt', { nodeIds: [dedicated] })).status).toBe(409);
    expect((await control(emulator, 'POST', 'pools/missing/preempt', {})).status).toBe(404);
    expect((await control(emulator, 'POST', 'pools/p/preempt', { count: 0 })).status).toBe(400);
  });

  it('preempts at a seeded rate per node-hour, the same way on every run', async () => {
    const run = async () => {
      await control(emulator, 'POST', 'reset');
      expect(
        (
          await control(emulator, 'PUT', 'preemption', {
            ratePerNodeHour: 2,
            seed: 7,
            recoverAfterSeconds: null,
          })
        ).json,
      ).toEqual({ ratePerNodeHour: 2, seed: 7, recoverAfterSeconds: null });
      await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 1, targetLowPriorityNodes: 6 }));
      const created = Date.parse((await ok('GET', '/pools/p')).creationTime as string);
      await advance(emulator, 35);
      const nodeStates = async () =>
        ((await ok('GET', '/pools/p/nodes')).value as (Node & { stateTransitionTime: string })[]).map(
          (n) => `${n.isDedicated ? 'd' : 'l'}:${n.state}@${Date.parse(n.stateTransitionTime) - created}`,
        );
      const early = await nodeStates();
      await advance(emulator, 4 * 3600);
      return { early, late: await nodeStates() };
    };
    const first = await run();
    expect(first.early).toEqual(['d:idle@35000', ...Array.from({ length: 6 }, () => 'l:idle@35000')]);
    // Over four hours at two per node-hour every low-priority node is all but certain to go, each at
    // its own time; the dedicated node never does.
    expect(first.late[0]).toBe('d:idle@35000');
    const preemptedAt = first.late.slice(1).map((s) => /^l:preempted@(\d+)$/.exec(s)?.[1]);
    expect(preemptedAt.every((t) => t !== undefined && Number(t) > 35000)).toBe(true);
    expect(new Set(preemptedAt).size).toBe(6);
    expect(await run()).toEqual(first);
    expect((await control(emulator, 'DELETE', 'preemption')).status).toBe(204);
    expect((await control(emulator, 'GET', 'preemption')).json).toEqual({ ratePerNodeHour: 0 });
  });
});
