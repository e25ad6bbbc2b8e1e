/**
 * Task counts that lag the truth, over HTTP on a manual clock: with a lag of L simulated seconds,
 * `GET /jobs/{id}/taskcounts` answers what was true L seconds ago, while task lists (the exact
 * source Batch recommends) and the job state stay current.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { advance, call, control, poolBody, start } from './helpers.js';

let emulator: BatchEmulator;

beforeEach(async () => {
  emulator = await start({ clockFactor: 0, allocationSeconds: 30, nodeStartSeconds: 0 });
});

afterEach(async () => {
  await emulator.close();
});

async function ok(method: string, path: string, body?: unknown) {
  const r = await call(emulator, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as Record<string, unknown>;
}
const counts = async (job: string) =>
  (await ok('GET', `/jobs/${job}/taskcounts`)) as {
    taskCounts: Record<string, number>;
    taskSlotCounts: Record<string, number>;
  };
const failedIds = async (job: string) =>
  (
    (
      await ok(
        'GET',
        `/jobs/${job}/tasks?$filter=${encodeURIComponent("executionInfo/result eq 'failure'")}&$select=id`,
      )
    ).value as { id: string }[]
  ).map((t) => t.id);

/** One node with one slot: `a` (fails after 10 s) runs first, then `b` (succeeds after 10 s). */
async function twoTaskJob() {
  await ok('POST', '/pools', poolBody('p'));
  await advance(emulator, 30);
  await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
  await ok('POST', '/jobs/j/addtaskcollection', {
    value: [
      { id: 'a', commandLine: "/bin/sh -c 'sleep 10; exit 1'" },
      { id: 'b', commandLine: "/bin/sh -c 'sleep 10'" },
    ],
  });
  await ok('PATCH', '/jobs/j', { onAllTasksComplete: 'terminatejob' });
}

describe('task counts that lag', () => {
  it('are exact by default', async () => {
    expect((await control(emulator, 'GET', 'taskcounts')).json).toEqual({ lagSeconds: 0 });
    await twoTaskJob();
    expect((await counts('j')).taskCounts).toEqual({
      active: 1,
      running: 1,
      completed: 0,
      succeeded: 0,
      failed: 0,
    });
    await advance(emulator, 10);
    expect((await counts('j')).taskCounts).toEqual({
      active: 0,
      running: 1,
      completed: 1,
      succeeded: 0,
      failed: 1,
    });
  });

  it('answer what was true lagSeconds ago while lists and the job state are current', async () => {
    expect((await control(emulator, 'PUT', 'taskcounts', { lagSeconds: 60 })).json).toEqual({
      lagSeconds: 60,
    });
    await twoTaskJob();
    const start = { active: 1, running: 1, completed: 0, succeeded: 0, failed: 0 };
    expect((await counts('j')).taskCounts).toEqual(start);
    await advance(emulator, 10); // a failed, b running
    expect((await counts('j')).taskCounts).toEqual(start);
    expect(await failedIds('j')).toEqual(['a']);
    await advance(emulator, 11); // b succeeded, the job terminates
    expect((await ok('GET', '/jobs/j')).state).toBe('completed');
    const stale = await counts('j');
    expect(stale.taskCounts).toEqual(start);
    expect(stale.taskSlotCounts).toEqual(start);
    // 60 s after each change, the counts catch up with it.
    await advance(emulator, 39); // t = 60: the state at t = 0
    expect((await counts('j')).taskCounts).toEqual(start);
    await advance(emulator, 10); // t = 70: the state at t = 10
    expect((await counts('j')).taskCounts).toEqual({
      active: 0,
      running: 1,
      completed: 1,
      succeeded: 0,
      failed: 1,
    });
    await advance(emulator, 10); // t = 80: the state at t = 20
    expect((await counts('j')).taskCounts).toEqual({
      active: 0,
      running: 0,
      completed: 2,
      succeeded: 1,
      failed: 1,
    });
  });

  it('read zero for a job younger than the lag and turn exact again when the lag is removed', async () => {
    await control(emulator, 'PUT', 'taskcounts', { lagSeconds: 30 });
    await twoTaskJob();
    await advance(emulator, 10);
    expect((await counts('j')).taskCounts).toMatchObject({ active: 1, running: 1, failed: 0 });
    await ok('POST', '/jobs', { id: 'late', poolInfo: { poolId: 'p' } });
    await advance(emulator, 1);
    await ok('POST', '/jobs/late/tasks', { id: 'x', commandLine: 'sleep 1000' });
    expect((await counts('late')).taskCounts).toEqual({
      active: 0,
      running: 0,
      completed: 0,
      succeeded: 0,
      failed: 0,
    });
    await control(emulator, 'PUT', 'taskcounts', { lagSeconds: 0 });
    expect((await counts('j')).taskCounts).toEqual({
      active: 0,
      running: 1,
      completed: 1,
      succeeded: 0,
      failed: 1,
    });
    expect((await counts('late')).taskCounts).toMatchObject({ active: 1 });
  });

  it('rejects a negative lag', async () => {
    expect((await control(emulator, 'PUT', 'taskcounts', { lagSeconds: -1 })).status).toBe(400);
  });
});
