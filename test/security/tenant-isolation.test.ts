/**
 * Attacks one tenant could try on another through what they share beyond Cosmos: Batch ids, pools,
 * and the API. Each must fail, and the victim's resources must stay as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { batchJobIdFor } from '../../shared/model/batch-names.js';
import { jobRequestSchema } from '../../shared/model/request-schema.js';
import { planJob } from '../../shared/planner/plan-job.js';
import { emulatorClient, getJob, type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;
const ACME = 'acme-key-0123456789';
const ACME_PROD = 'acme-prod-key-0123456789';

beforeAll(async () => {
  stack = await startSlotwise();
  batch = emulatorClient(stack);
  const now = new Date();
  await stack.deps.tenants.upsert('acme', { apiKey: ACME, now });
  await stack.deps.tenants.upsert('acme-prod', { apiKey: ACME_PROD, now });
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const post = (key: string, body: unknown) =>
  stack.request('/jobs', { method: 'POST', body: JSON.stringify(body), key });

const vmImage = {
  imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
  nodeAgentSKUId: 'batch.node.ubuntu 22.04',
};

describe('Batch names and ownership', () => {
  it('runs acme/prod-nightly and acme-prod/nightly side by side, neither touching the other', async () => {
    const victim = await post(ACME_PROD, {
      id: 'nightly',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'sleep 3600' }],
    });
    expect(victim.status).toBe(202);
    const running = await waitFor(
      () => getJob(stack, 'nightly', ACME_PROD),
      (j) => j?.state === 'submitted' || j?.state === 'running',
      { what: 'victim submitted' },
    );
    const attacker = await post(ACME, {
      id: 'prod-nightly',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'sleep 1' }],
    });
    expect(attacker.status).toBe(202);
    const done = await waitFor(
      () => getJob(stack, 'prod-nightly', ACME),
      (j) => j?.state === 'completed' || j?.state === 'failed',
      { what: 'attacker job ended', timeoutMs: 30_000 },
    );
    expect(done?.state).toBe('completed');
    expect(done?.batch?.jobId).not.toBe(running?.batch?.jobId);
    expect(done?.batch?.poolId).not.toBe(running?.batch?.poolId);
    const victimBatchJob = await batch.jobs.get(running!.batch!.jobId);
    expect(victimBatchJob.state).toBe('active');
    // Untouched by the other tenant's DELETE: never cancelled (it may have completed by now on a busy
    // machine, since its simulated hour passes in seconds).
    expect((await getJob(stack, 'nightly', ACME_PROD))?.state).toMatch(/^(submitted|running|completed)$/);
  });

  it('fails a new job whose Batch job id is taken by a foreign job, and leaves that job running', async () => {
    // Someone else's Batch job sits on the id this job would get (made outside Slotwise).
    await batch.pools.add({
      id: 'outsider-pool',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: vmImage,
      targetDedicatedNodes: 1,
    });
    const takenId = batchJobIdFor('acme', 'report');
    await batch.jobs.add({
      id: takenId,
      poolInfo: { poolId: 'outsider-pool' },
      metadata: [
        { name: 'slotwise.tenant', value: 'acme-prod' },
        { name: 'slotwise.job', value: 'something-else' },
      ],
    });
    await batch.tasks.add(takenId, { id: 'long', commandLine: 'sleep 3600' });
    expect(
      (
        await post(ACME, {
          id: 'report',
          pool: { vmSize: 'standard_d2s_v3' },
          tasks: [{ id: 't', commandLine: 'sleep 1' }],
        })
      ).status,
    ).toBe(202);
    const failed = await waitFor(
      () => getJob(stack, 'report', ACME),
      (j) => j?.state === 'failed',
      { what: 'report failed' },
    );
    expect(failed?.failure?.code).toBe('JobExists');
    const foreign = await batch.jobs.get(takenId);
    expect(foreign.state).toBe('active');
    expect((await batch.tasks.get(takenId, 'long')).state).not.toBe('completed');
  });

  it('fails a job whose managed pool id is taken by a pool Slotwise did not make for it, leaving the pool as it was', async () => {
    const request = jobRequestSchema.parse({
      id: 'squat',
      pool: { vmSize: 'standard_d4s_v3', maxNodes: 3 },
      tasks: [{ id: 't', commandLine: 'sleep 1' }],
    });
    const [publisher = '', offer = '', sku = '', version = 'latest'] =
      stack.deps.settings.SLOTWISE_POOL_IMAGE.split(':');
    const plan = planJob({
      tenant: 'acme',
      jobId: 'squat',
      request,
      defaults: {
        image: { publisher, offer, sku, version },
        nodeAgentSkuId: stack.deps.settings.SLOTWISE_POOL_NODE_AGENT_SKU,
      },
    });
    if (!plan.ok) throw new Error('expected a plan');
    // A squatter creates the pool first, under the same id, with metadata claiming to be the tenant's.
    await batch.pools.add({
      id: plan.plan.poolId,
      vmSize: 'standard_d4s_v3',
      virtualMachineConfiguration: vmImage,
      targetDedicatedNodes: 0,
      metadata: [
        { name: 'slotwise.tenant', value: 'acme' },
        { name: 'slotwise.managed', value: 'true' },
        { name: 'slotwise.spec', value: 'not-the-spec' },
      ],
    });
    expect(
      (
        await post(ACME, {
          id: 'squat',
          pool: { vmSize: 'standard_d4s_v3', maxNodes: 3 },
          tasks: [{ id: 't', commandLine: 'sleep 1' }],
        })
      ).status,
    ).toBe(202);
    const failed = await waitFor(
      () => getJob(stack, 'squat', ACME),
      (j) => j?.state === 'failed',
      { what: 'squat failed' },
    );
    expect(failed?.failure?.code).toBe('PoolExists');
    expect((await batch.pools.get(plan.plan.poolId)).targetDedicatedNodes).toBe(0);
  });
});

describe('existing pools', () => {
  it("refuses another tenant's managed pool, and a missing pool, with the same answer", async () => {
    const victim = await getJob(stack, 'nightly', ACME_PROD);
    const answer = async (poolId: string) => {
      const res = await post(ACME, { pool: { id: poolId }, tasks: [{ id: 't', commandLine: 'x' }] });
      const body = (await res.json()) as { errors: { field: string; message: string }[] };
      return {
        status: res.status,
        errors: body.errors.map((e) => ({ ...e, message: e.message.replace(poolId, '<id>') })),
      };
    };
    const foreign = await answer(victim!.batch!.poolId);
    const missing = await answer('no-such-pool-anywhere');
    expect(foreign.status).toBe(400);
    expect(foreign.errors[0]?.field).toBe('pool.id');
    expect(missing).toEqual(foreign);
    const list = (await (await stack.request('/jobs', { key: ACME })).json()) as { value: { id: string }[] };
    expect(list.value.map((j) => j.id).sort()).toEqual(['prod-nightly', 'report', 'squat']);
  });

  it('runs on a pool the operator granted', async () => {
    await batch.pools.add({
      id: 'acme-granted',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: vmImage,
      taskSlotsPerNode: 2,
      targetDedicatedNodes: 1,
    });
    await stack.deps.tenants.updatePolicy('acme', { allowedPools: ['acme-granted'] });
    expect(
      (
        await post(ACME, {
          id: 'on-granted',
          pool: { id: 'ACME-granted' },
          tasks: [{ id: 't', commandLine: 'sleep 1' }],
        })
      ).status,
    ).toBe(202);
    const done = await waitFor(
      () => getJob(stack, 'on-granted', ACME),
      (j) => j?.state === 'completed' || j?.state === 'failed' || j?.state === 'rejected',
      { what: 'on-granted ended' },
    );
    expect(done?.state).toBe('completed');
    // acme-prod was not granted it.
    const res = await post(ACME_PROD, {
      pool: { id: 'acme-granted' },
      tasks: [{ id: 't', commandLine: 'x' }],
    });
    expect(res.status).toBe(400);
  });
});

describe('managed pools by name', () => {
  it('refuses a managed pool named as an existing pool even when the operator granted it by mistake', async () => {
    const victim = await getJob(stack, 'nightly', ACME_PROD);
    const poolId = victim!.batch!.poolId;
    await stack.deps.tenants.updatePolicy('acme', { allowedPools: ['acme-granted', poolId] });
    const res = await post(ACME, {
      id: 'borrow',
      pool: { id: poolId },
      tasks: [{ id: 't', commandLine: 'sleep 1' }],
    });
    expect(res.status).toBe(202);
    const rejected = await waitFor(
      () => getJob(stack, 'borrow', ACME),
      (j) => j?.state === 'rejected' || j?.state === 'completed' || j?.state === 'failed',
      { what: 'borrow ended' },
    );
    expect(rejected?.state).toBe('rejected');
    expect(rejected?.errors?.[0]?.field).toBe('pool.id');
    expect(rejected?.errors?.[0]?.message).toContain('managed by Slotwise');
  });
});

describe('the API keeps tenants apart', () => {
  it("answers 404 for another tenant's job on get, cancel and retry, and lists only one's own", async () => {
    for (const [method, path] of [
      ['GET', '/jobs/nightly'],
      ['DELETE', '/jobs/nightly'],
      ['POST', '/jobs/nightly/retry'],
    ] as const) {
      const res = await stack.request(path, { method, key: ACME });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    // Untouched by the other tenant's DELETE: never cancelled (it may have completed by now on a busy
    // machine, since its simulated hour passes in seconds).
    expect((await getJob(stack, 'nightly', ACME_PROD))?.state).toMatch(/^(submitted|running|completed)$/);
    const list = (await (await stack.request('/jobs', { key: ACME_PROD })).json()) as {
      value: { id: string }[];
    };
    expect(list.value.map((j) => j.id)).toEqual(['nightly']);
  });

  it('refuses metadata that would impersonate the owner stamp', async () => {
    const res = await post(ACME, {
      pool: { vmSize: 'standard_d2s_v3' },
      metadata: { 'slotwise.tenant': 'acme-prod' },
      tasks: [{ id: 't', commandLine: 'x' }],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { field: string }[] };
    expect(body.errors.map((e) => e.field)).toContain('metadata.slotwise.tenant');
  });
});
