/**
 * The official `@azure/batch` SDK (a client this project did not write, api-version 2022-10-01.16.0)
 * against the emulator: proof that the emulator speaks real Batch.
 */
import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { waitFor } from '../support/stack.js';

const account = 'sdkacct';
const key = Buffer.from('official-sdk-test-key-0123456789').toString('base64');
let emulator: BatchEmulator;
let client: BatchServiceClient;

beforeAll(async () => {
  emulator = await startBatchEmulator({ port: 0, accountName: account, accountKey: key, clockFactor: 600 });
  client = new BatchServiceClient(new BatchSharedKeyCredentials(account, key), emulator.url);
});

afterAll(async () => {
  await emulator?.close();
});

const poolSpec = {
  id: 'sdk-pool',
  vmSize: 'STANDARD_D4S_V3',
  virtualMachineConfiguration: {
    imageReference: {
      publisher: 'canonical',
      offer: '0001-com-ubuntu-server-jammy',
      sku: '22_04-lts',
      version: 'latest',
    },
    nodeAgentSKUId: 'batch.node.ubuntu 22.04',
  },
  taskSlotsPerNode: 8,
  taskSchedulingPolicy: { nodeFillType: 'pack' as const },
  targetDedicatedNodes: 2,
};

describe('official @azure/batch SDK against the emulator', () => {
  it('creates, reads, resizes and lists pools', async () => {
    await client.pool.add(poolSpec);
    expect((await client.pool.exists('sdk-pool')).body).toBe(true);
    expect((await client.pool.exists('missing-pool')).body).toBe(false);
    const pool = await waitFor(
      () => client.pool.get('sdk-pool'),
      (p) => p.allocationState === 'steady' && p.currentDedicatedNodes === 2,
    );
    expect(pool).toMatchObject({
      taskSlotsPerNode: 8,
      taskSchedulingPolicy: { nodeFillType: 'pack' },
      vmSize: 'standard_d4s_v3',
    });
    await client.pool.resize('sdk-pool', { targetDedicatedNodes: 3 });
    await waitFor(
      () => client.pool.get('sdk-pool'),
      (p) => p.currentDedicatedNodes === 3 && p.allocationState === 'steady',
    );
    const pools = await client.pool.list();
    expect(pools.map((p) => p.id)).toContain('sdk-pool');
  });

  it('adds 1,000 tasks in collections and watches them complete in simulated time, with task counts', async () => {
    await client.job.add({ id: 'sdk-job', poolInfo: { poolId: 'sdk-pool' }, onAllTasksComplete: 'noaction' });
    for (let start = 0; start < 1000; start += 100) {
      const result = await client.task.addCollection(
        'sdk-job',
        Array.from({ length: 100 }, (_, i) => ({
          id: `task-${start + i}`,
          commandLine: `/bin/sh -c "sleep ${1 + ((start + i) % 5)}"`,
          requiredSlots: 1 + (i % 4),
        })),
      );
      expect(result.value?.every((r) => r.status === 'success')).toBe(true);
    }
    await client.job.patch('sdk-job', { onAllTasksComplete: 'terminatejob' });
    const job = await waitFor(
      () => client.job.get('sdk-job'),
      (j) => j.state === 'completed',
      { timeoutMs: 30_000 },
    );
    expect(job.executionInfo?.terminateReason).toBe('AllTasksComplete');
    const counts = await client.job.getTaskCounts('sdk-job');
    expect(counts.taskCounts).toMatchObject({
      active: 0,
      running: 0,
      completed: 1000,
      succeeded: 1000,
      failed: 0,
    });
    expect(counts.taskSlotCounts.succeeded).toBe(2500);
  });

  it('filters and pages task lists', async () => {
    const firstPage = await client.task.list('sdk-job', {
      taskListOptions: { maxResults: 300, select: 'id,state' },
    });
    expect(firstPage).toHaveLength(300);
    expect(firstPage.odatanextLink).toBeDefined();
    let total = firstPage.length;
    let next = firstPage.odatanextLink;
    while (next) {
      const page = await client.task.listNext(next);
      total += page.length;
      next = page.odatanextLink;
    }
    expect(total).toBe(1000);
    const filtered = await client.job.list({ jobListOptions: { filter: "state eq 'completed'" } });
    expect(filtered.map((j) => j.id)).toEqual(['sdk-job']);
  });

  it("surfaces Batch's error codes through the SDK", async () => {
    const exists = await client.job
      .add({ id: 'SDK-JOB', poolInfo: { poolId: 'sdk-pool' } })
      .catch((e: { code?: string; statusCode?: number }) => e);
    expect(exists).toMatchObject({ code: 'JobExists', statusCode: 409 });
    const missing = await client.job.get('nope').catch((e: { code?: string; statusCode?: number }) => e);
    expect(missing).toMatchObject({ code: 'JobNotFound', statusCode: 404 });
    const completed = await client.task
      .add('sdk-job', { id: 'late', commandLine: 'echo' })
      .catch((e: { code?: string }) => e);
    expect(completed).toMatchObject({ code: 'JobCompleted' });
    const wrong = new BatchServiceClient(
      new BatchSharedKeyCredentials(account, Buffer.from('not-the-key').toString('base64')),
      emulator.url,
    );
    const denied = await wrong.job.get('sdk-job').catch((e: { code?: string; statusCode?: number }) => e);
    expect(denied).toMatchObject({ code: 'AuthenticationFailed', statusCode: 403 });
  });

  it('terminates and deletes jobs and pools', async () => {
    await client.job.add({ id: 'sdk-term', poolInfo: { poolId: 'sdk-pool' } });
    await client.task.add('sdk-term', { id: 'forever', commandLine: 'sleep 1000000' });
    await waitFor(
      () => client.task.get('sdk-term', 'forever'),
      (t) => t.state === 'running',
    );
    await client.job.terminate('sdk-term');
    const job = await waitFor(
      () => client.job.get('sdk-term'),
      (j) => j.state === 'completed',
    );
    expect(job.executionInfo?.terminateReason).toBe('UserTerminate');
    await client.job.deleteMethod('sdk-term');
    // Time stands still while the state is read: a fast clock could finish the delete first.
    await fetch(`${emulator.url}/_emulator/clock`, { method: 'POST', body: JSON.stringify({ factor: 0 }) });
    await client.pool.deleteMethod('sdk-pool');
    expect((await client.pool.get('sdk-pool')).state).toBe('deleting');
  });
});
