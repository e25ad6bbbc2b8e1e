/**
 * `POST /api/jobs?dryRun=true` against the real stack: the plan and the estimate come back, and
 * nothing is stored, queued, sent to Batch or taken from the tenant's submission rate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import type { DryRunAnswer } from '../../shared/usecases/dry-run.js';
import { emulatorClient, type SlotwiseStack, startSlotwise } from '../support/stack.js';

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

const dryRun = (body: unknown, query = '?dryRun=true') =>
  stack.request(`/jobs${query}`, { method: 'POST', body: JSON.stringify(body) });

/** Requests that change something in Batch (everything but reads). */
const batchWrites = async () => {
  const counters = (await (await stack.emulatorControl('counters')).json()) as {
    requests: Record<string, number>;
  };
  return Object.entries(counters.requests)
    .filter(([k]) => !/^(ARM )?(GET|HEAD) /.test(k) && !k.startsWith('fault:'))
    .reduce((n, [, v]) => n + v, 0);
};

describe('dry run', () => {
  it('answers 200 with the plan, the pool and an estimate, and stores, queues and sends nothing', async () => {
    const writesBefore = await batchWrites();
    const res = await dryRun({
      id: 'dry-1',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 4, maxNodes: 10 },
      expectedDuration: 'PT1H',
      tasks: [
        { id: 'a', commandLine: 'sleep 1', requiredSlots: 2 },
        { id: 'b', commandLine: 'sleep 1', requiredSlots: 2 },
        { id: 'c', commandLine: 'sleep 1', requiredSlots: 2 },
        { id: 'd', commandLine: 'sleep 1', requiredSlots: 2, expectedDuration: 'PT2H' },
      ],
      callback: { url: 'http://127.0.0.1:9/never' },
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as DryRunAnswer;
    expect(answer.dryRun).toBe(true);
    expect(answer.plan).toMatchObject({
      nodes: 2,
      lowerBound: 2,
      taskSlotsPerNode: 4,
      poolNodes: 2,
      waves: 1,
      tasks: 4,
      totalSlots: 8,
      chunks: 1,
      nodeFillType: 'pack',
      slotHistogram: [[2, 4]],
      vmSize: 'standard_d4s_v3',
    });
    expect(answer.pool).toMatchObject({
      id: answer.plan.poolId,
      vmSize: 'standard_d4s_v3',
      taskSlotsPerNode: 4,
      taskSchedulingPolicy: { nodeFillType: 'pack' },
    });
    expect(answer.batchJob.poolInfo.poolId).toBe(answer.plan.poolId);
    // Slot-hours 2×1 × 3 + 2×2 = 10 on 2 nodes of 4 slots: max(2 h, 10/8 h) = 2 h → 4 node-hours.
    expect(answer.estimate).toMatchObject({
      slotHours: 10,
      busyNodeHours: 2.5,
      makespanHours: 2,
      nodeHours: 4,
      tasksWithoutDuration: 0,
      price: { perNodeHour: 0.192, currency: 'USD', source: 'table' },
      cost: 0.77,
    });
    expect((await stack.request('/jobs/dry-1')).status).toBe(404);
    expect(await stack.deps.jobs.get('dev', 'dry-1')).toBeUndefined();
    expect(await batchWrites()).toBe(writesBefore);
    const planQueue = stack.queue(queueNames.plan);
    const peeked = (await planQueue.exists())
      ? (await planQueue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems
      : [];
    expect(
      peeked.filter((m) => Buffer.from(m.messageText, 'base64').toString('utf8').includes('dry-1')),
    ).toEqual([]);
  });

  it('estimates no hours when a task gives no duration, and says how many', async () => {
    const res = await dryRun({
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [
        { id: 'a', commandLine: 'x', expectedDuration: 'PT30M' },
        { id: 'b', commandLine: 'x' },
      ],
    });
    const answer = (await res.json()) as DryRunAnswer;
    expect(answer.estimate.tasksWithoutDuration).toBe(1);
    expect(answer.estimate.nodeHours).toBeUndefined();
    expect(answer.estimate.price?.perNodeHour).toBe(0.096);
  });

  it('plans a sweep, with the template’s duration for every task', async () => {
    const res = await dryRun({
      pool: { vmSize: 'standard_d2s_v3', maxNodes: 5 },
      sweep: {
        idTemplate: 'frame-{n}',
        commandLine: 'render {n}',
        expectedDuration: 'PT6M',
        parameters: { n: { from: 1, to: 100 } },
      },
    });
    const answer = (await res.json()) as DryRunAnswer;
    // 100 one-slot tasks, 2 slots per node: 50 nodes capped at 5 → 10 waves; 10 slot-hours / 10 slots = 1 h.
    expect(answer.plan).toMatchObject({ nodes: 50, poolNodes: 5, waves: 10, tasks: 100 });
    expect(answer.estimate).toMatchObject({ slotHours: 10, makespanHours: 1, nodeHours: 5, cost: 0.48 });
  });

  it('goes through the same admission checks: invalid fields, grants and limits', async () => {
    const invalid = await dryRun({
      pool: { vmSize: 'standard_d2s_v3' },
      expectedDuration: 'an hour',
      tasks: [{ id: 'a', commandLine: 'x', expectedDuration: 'PT1X' }],
    });
    expect(invalid.status).toBe(400);
    const fields = ((await invalid.json()) as { errors: { field: string }[] }).errors
      .map((e) => e.field)
      .sort();
    expect(fields).toEqual(['expectedDuration', 'tasks[0].expectedDuration']);
    const notGranted = await dryRun({
      pool: { id: 'someone-elses' },
      tasks: [{ id: 'a', commandLine: 'x' }],
    });
    expect(notGranted.status).toBe(400);
    expect(((await notGranted.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe('pool.id');
    const tooBig = await dryRun({
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 'a', commandLine: 'x', requiredSlots: 3 }],
    });
    expect(tooBig.status).toBe(400);
    await stack.deps.tenants.updatePolicy('dev', { limits: { maxTasksInFlight: 10 } });
    try {
      const over = await dryRun({
        pool: { vmSize: 'standard_d2s_v3' },
        sweep: { idTemplate: 't{i}', commandLine: 'x', parameters: { i: { from: 1, to: 11 } } },
      });
      expect(over.status).toBe(422);
    } finally {
      await stack.deps.tenants.updatePolicy('dev', {});
    }
    const badFlag = await dryRun({ pool: { vmSize: 'standard_d2s_v3' }, tasks: [] }, '?dryRun=maybe');
    expect(badFlag.status).toBe(400);
  });

  it('takes no submission token: many dry runs leave the rate for a real submission', async () => {
    await stack.deps.tenants.updatePolicy('dev', {
      limits: { submissionsPerSecond: 0.01, submissionBurst: 1 },
    });
    try {
      const job = {
        id: 'dry-rate',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 'a', commandLine: 'x' }],
      };
      for (let i = 0; i < 5; i++) expect((await dryRun(job)).status).toBe(200);
      const real = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(job) });
      expect(real.status).toBe(202);
      const again = await stack.request('/jobs', {
        method: 'POST',
        body: JSON.stringify({ ...job, id: 'dry-rate-2' }),
      });
      expect(again.status).toBe(429);
    } finally {
      await stack.deps.tenants.updatePolicy('dev', {});
    }
  });

  it('reads an existing pool from Batch, as the plan stage does', async () => {
    await stack.deps.tenants.updatePolicy('dev', { allowedPools: ['team-pool', 'no-such'] });
    await batch.pools.add({
      id: 'team-pool',
      vmSize: 'standard_d8s_v3',
      virtualMachineConfiguration: {
        imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
      },
      taskSlotsPerNode: 16,
      targetDedicatedNodes: 2,
    });
    const res = await dryRun({
      pool: { id: 'team-pool' },
      expectedDuration: 'PT1H',
      tasks: Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, commandLine: 'x', requiredSlots: 4 })),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as DryRunAnswer;
    expect(answer.plan).toMatchObject({
      nodes: 2,
      taskSlotsPerNode: 16,
      vmSize: 'standard_d8s_v3',
      poolId: 'team-pool',
    });
    expect(answer.pool).toMatchObject({ id: 'team-pool', existing: true, taskSlotsPerNode: 16 });
    expect(answer.estimate.price?.perNodeHour).toBe(0.384);
    const missing = await dryRun({ pool: { id: 'no-such' }, tasks: [{ id: 'a', commandLine: 'x' }] });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { errors: { message: string }[] }).errors[0]?.message).toContain(
      'does not exist',
    );
  });
});
