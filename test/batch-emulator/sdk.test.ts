/**
 * The official `@azure/batch` SDK (api-version 2022-10-01.16.0, Shared Key) against the emulator:
 * a client the project did not write, sending real Batch requests and reading real Batch answers.
 */
import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { ACCOUNT, control, KEY, start, until, vmConfig } from './helpers.js';

let emulator: BatchEmulator;
let client: BatchServiceClient;

beforeAll(async () => {
  emulator = await start({ clockFactor: 600, allocationSeconds: 30, nodeStartSeconds: 5 });
  client = new BatchServiceClient(new BatchSharedKeyCredentials(ACCOUNT, KEY), emulator.url);
});

afterAll(async () => {
  await emulator?.close();
});

const rejection = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; statusCode?: number; body?: unknown };
  }
  throw new Error('expected a rejection');
};

describe('official @azure/batch SDK against the emulator', () => {
  it('adds, gets, checks, resizes, lists and deletes pools', async () => {
    await client.pool.add({
      id: 'sdkpool',
      vmSize: 'STANDARD_D4S_V3',
      virtualMachineConfiguration: vmConfig,
      targetDedicatedNodes: 2,
      taskSlotsPerNode: 4,
      // Mixed case on purpose: Batch reads enums case-insensitively.
      taskSchedulingPolicy: { nodeFillType: String('Pack') as 'pack' },
    });
    // The SDK resolves exists() with the response: `body` is the boolean.
    expect((await client.pool.exists('sdkpool')).body).toBe(true);
    expect((await client.pool.exists('SDKPOOL')).body).toBe(true);
    expect((await client.pool.exists('missing')).body).toBe(false);
    const steady = await until(
      () => client.pool.get('sdkpool'),
      (p) => p.allocationState === 'steady' && p.currentDedicatedNodes === 2,
    );
    expect(steady).toMatchObject({ vmSize: 'standard_d4s_v3', taskSlotsPerNode: 4, state: 'active' });
    expect(steady.taskSchedulingPolicy?.nodeFillType).toBe('pack');
    // Time stands still while the resize is checked, so the allocation cannot land in between.
    await control(emulator, 'POST', 'clock', { factor: 0 });
    await client.pool.resize('sdkpool', { targetDedicatedNodes: 3 });
    expect((await client.pool.get('sdkpool')).allocationState).toBe('resizing');
    await control(emulator, 'POST', 'clock', { factor: 600 });
    await until(
      () => client.pool.get('sdkpool'),
      (p) => p.allocationState === 'steady' && p.currentDedicatedNodes === 3,
    );
    const nodes = await client.computeNode.list('sdkpool');
    expect(nodes).toHaveLength(3);
    const pools = await client.pool.list({ poolListOptions: { filter: "startswith(id,'sdk')" } });
    expect(pools.map((p) => p.id)).toEqual(['sdkpool']);
    await client.pool.add({
      id: 'doomed',
      vmSize: 'standard_a1_v2',
      virtualMachineConfiguration: vmConfig,
      targetDedicatedNodes: 0,
    });
    await control(emulator, 'POST', 'clock', { factor: 0 });
    await client.pool.deleteMethod('doomed');
    expect((await client.pool.get('doomed')).state).toBe('deleting');
    await control(emulator, 'POST', 'clock', { factor: 600 });
    await until(
      () => client.pool.exists('doomed'),
      (exists) => exists.body === false,
    );
  });

  it('adds jobs, lists them with a filter and pages through listNext', async () => {
    for (let i = 0; i < 5; i++) await client.job.add({ id: `page-${i}`, poolInfo: { poolId: 'sdkpool' } });
    const first = await client.job.list({
      jobListOptions: { filter: "startswith(id,'page-')", maxResults: 2 },
    });
    const ids = first.map((j) => j.id);
    let next = first.odatanextLink;
    while (next) {
      const page = await client.job.listNext(next);
      ids.push(...page.map((j) => j.id));
      next = page.odatanextLink;
    }
    expect(ids).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    const job = await client.job.get('page-3');
    expect(job).toMatchObject({ id: 'page-3', state: 'active', priority: 0, onAllTasksComplete: 'noaction' });
    await client.job.terminate('page-3');
    const done = await until(
      () => client.job.get('page-3'),
      (j) => j.state === 'completed',
    );
    expect(done.executionInfo?.terminateReason).toBe('UserTerminate');
    await control(emulator, 'POST', 'clock', { factor: 0 });
    await client.job.deleteMethod('page-4');
    expect((await client.job.get('page-4')).state).toBe('deleting');
    await control(emulator, 'POST', 'clock', { factor: 600 });
  });

  it('adds a task collection whose tasks run to completion in simulated time', async () => {
    await client.job.add({
      id: 'sdkjob',
      poolInfo: { poolId: 'sdkpool' },
      onAllTasksComplete: String('noAction') as 'noaction',
    });
    const result = await client.task.addCollection(
      'sdkjob',
      Array.from({ length: 12 }, (_, i) => ({
        id: `t${i}`,
        commandLine: `/bin/sh -c 'sleep ${10 + i}'`,
        requiredSlots: 2,
      })),
    );
    expect(result.value?.every((r) => r.status === 'success')).toBe(true);
    const again = await client.task.addCollection('sdkjob', [{ id: 'T0', commandLine: 'echo again' }]);
    expect(again.value?.[0]).toMatchObject({
      status: 'clienterror',
      taskId: 'T0',
      error: { code: 'TaskExists' },
    });
    await client.job.patch('sdkjob', { onAllTasksComplete: String('terminateJob') as 'terminatejob' });
    const job = await until(
      () => client.job.get('sdkjob'),
      (j) => j.state === 'completed',
    );
    expect(job.executionInfo?.terminateReason).toBe('AllTasksComplete');
    const counts = await client.job.getTaskCounts('sdkjob');
    expect(counts.taskCounts).toMatchObject({
      active: 0,
      running: 0,
      completed: 12,
      succeeded: 12,
      failed: 0,
    });
    expect(counts.taskSlotCounts).toMatchObject({ completed: 24, succeeded: 24 });
    const task = await client.task.get('sdkjob', 't5');
    expect(task.state).toBe('completed');
    expect(task.executionInfo).toMatchObject({ exitCode: 0, result: 'success', retryCount: 0 });
    expect(task.nodeInfo?.poolId).toBe('sdkpool');
    const listed = await client.task.list('sdkjob', {
      taskListOptions: { select: 'id,state', maxResults: 5 },
    });
    expect(listed).toHaveLength(5);
    expect(Object.keys(listed[0] ?? {}).sort()).toEqual(['id', 'state']);
  });

  it('reads quota resize errors and preempted low-priority nodes', async () => {
    await control(emulator, 'POST', 'clock', { factor: 0 });
    try {
      await control(emulator, 'PUT', 'quotas', { lowPriorityCoreQuota: 2 });
      await client.pool.add({
        id: 'spot',
        vmSize: 'standard_a2_v2',
        virtualMachineConfiguration: vmConfig,
        targetDedicatedNodes: 0,
        targetLowPriorityNodes: 3,
      });
      await control(emulator, 'POST', 'clock', { advanceSeconds: 35 });
      const spot = await client.pool.get('spot');
      expect(spot).toMatchObject({
        allocationState: 'steady',
        currentLowPriorityNodes: 1,
        targetLowPriorityNodes: 3,
      });
      expect(spot.resizeErrors).toEqual([
        { code: 'AccountLowPriorityCoreQuotaReached', message: expect.stringContaining('1 of 3') },
      ]);
      const preempt = await control(emulator, 'POST', 'pools/spot/preempt', { recoverAfterSeconds: null });
      const [nodeId] = (preempt.json?.preempted ?? []) as string[];
      const node = await client.computeNode.get('spot', nodeId as string);
      expect(node).toMatchObject({ state: 'preempted', isDedicated: false });
    } finally {
      await control(emulator, 'PUT', 'quotas', { lowPriorityCoreQuota: 1_000_000 });
      await control(emulator, 'POST', 'clock', { factor: 600 });
    }
  });

  it("surfaces Batch's error codes through the SDK's RestError", async () => {
    const dup = await rejection(client.job.add({ id: 'SDKJOB', poolInfo: { poolId: 'sdkpool' } }));
    expect(dup).toMatchObject({ code: 'JobExists', statusCode: 409 });
    const missing = await rejection(client.task.get('sdkjob', 'nope'));
    expect(missing).toMatchObject({ code: 'TaskNotFound', statusCode: 404 });
    const completed = await rejection(client.task.add('sdkjob', { id: 'late', commandLine: 'echo' }));
    expect(completed).toMatchObject({ code: 'JobCompleted', statusCode: 409 });
    const badSize = await rejection(
      client.pool.add({
        id: 'bad',
        vmSize: 'standard_nope',
        virtualMachineConfiguration: vmConfig,
        targetDedicatedNodes: 1,
      }),
    );
    expect(badSize).toMatchObject({ code: 'InvalidPropertyValue', statusCode: 400 });
    const wrong = new BatchServiceClient(
      new BatchSharedKeyCredentials(ACCOUNT, Buffer.from('not-the-key').toString('base64')),
      emulator.url,
    );
    const denied = await rejection(wrong.job.get('sdkjob'));
    expect(denied).toMatchObject({ code: 'AuthenticationFailed', statusCode: 403 });
    const counters = await control(emulator, 'GET', 'counters');
    const requests = (counters.json?.requests ?? {}) as Record<string, number>;
    expect(requests['POST /jobs']).toBeGreaterThanOrEqual(7);
  });
});
