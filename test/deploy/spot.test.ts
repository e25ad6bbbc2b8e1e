/**
 * Spot (low-priority) nodes and the Batch account's pool allocation mode. Batch retired low-priority
 * nodes for Batch-service accounts (30 September 2025) and no longer provisions them there; Spot nodes
 * need a user-subscription account. The template sets BATCH_POOL_ALLOCATION_MODE from its parameter:
 * - the app refuses `pool.lowPriority: true` at the door on a Batch-service account (400, naming the
 *   field and why; nothing stored), over HTTP and in the dry run, and accepts it in user subscription mode;
 * - the Batch emulator knows its account's mode and answers a low-priority pool or resize on a
 *   Batch-service account with Batch's refusal of a property value, naming targetLowPriorityNodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { ACCOUNT, call, KEY, poolBody } from '../batch-emulator/helpers.js';
import { type SlotwiseStack, startSlotwise, waitFor, waitForJobState } from '../support/stack.js';

const spotJob = (id: string) => ({
  id,
  pool: { vmSize: 'Standard_D2s_v3', lowPriority: true, maxNodes: 1 },
  tasks: [{ id: 't1', commandLine: 'echo hi' }],
});

describe('a job asking for Spot nodes', () => {
  let batchService: SlotwiseStack;
  let userSubscription: SlotwiseStack;
  beforeAll(async () => {
    [batchService, userSubscription] = await Promise.all([
      // No setting: Batch's default, Batch service mode (as the template's default).
      startSlotwise(),
      startSlotwise({ env: { BATCH_POOL_ALLOCATION_MODE: 'UserSubscription' } }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([batchService?.close(), userSubscription?.close()]);
  });

  it('is refused at the door on a Batch-service account, naming pool.lowPriority and why, and nothing is stored', async () => {
    const res = await batchService.request('/jobs', {
      method: 'POST',
      body: JSON.stringify(spotJob('spot-1')),
    });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { errors: { field: string; pointer: string; message: string }[] };
    expect(problem.errors).toEqual([
      {
        field: 'pool.lowPriority',
        pointer: '/pool/lowPriority',
        message: expect.stringMatching(
          /Batch service mode.*retired low-priority nodes.*user subscription mode/,
        ),
      },
    ]);
    expect((await batchService.request('/jobs/spot-1')).status).toBe(404);
    // The dry run says the same before anything is planned.
    const dry = await batchService.request('/jobs?dryRun=true', {
      method: 'POST',
      body: JSON.stringify(spotJob('spot-2')),
    });
    expect(dry.status).toBe(400);
    // Dedicated nodes on the same account are fine.
    const dedicated = await batchService.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({ ...spotJob('dedicated-1'), pool: { vmSize: 'Standard_D2s_v3', maxNodes: 1 } }),
    });
    expect(dedicated.status).toBe(202);
  });

  it('runs on Spot nodes on a user-subscription account', async () => {
    const res = await userSubscription.request('/jobs', {
      method: 'POST',
      body: JSON.stringify(spotJob('spot-3')),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const done = await waitForJobState(userSubscription, 'spot-3', ['completed', 'failed'], 60_000);
    expect(done.state).toBe('completed');
  });
});

describe('the Batch emulator, by account mode', () => {
  let batchServiceAccount: BatchEmulator;
  let userSubscriptionAccount: BatchEmulator;
  beforeAll(async () => {
    [batchServiceAccount, userSubscriptionAccount] = await Promise.all([
      startBatchEmulator({
        port: 0,
        accountName: ACCOUNT,
        accountKey: KEY,
        poolAllocationMode: 'BatchService',
      }),
      startBatchEmulator({
        port: 0,
        accountName: ACCOUNT,
        accountKey: KEY,
        poolAllocationMode: 'UserSubscription',
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([batchServiceAccount?.close(), userSubscriptionAccount?.close()]);
  });

  const refusal = {
    code: 'InvalidPropertyValue',
    values: [
      { key: 'PropertyName', value: 'targetLowPriorityNodes' },
      {
        key: 'Reason',
        value: expect.stringContaining('retired for Batch accounts in Batch service pool allocation mode'),
      },
    ],
  };

  it('refuses low-priority nodes on a Batch-service account, on create and on resize', async () => {
    const create = await call(
      batchServiceAccount,
      'POST',
      '/pools',
      poolBody('lp', { targetLowPriorityNodes: 2 }),
    );
    expect(create.status).toBe(400);
    expect(create.json).toMatchObject(refusal);
    expect((await call(batchServiceAccount, 'GET', '/pools/lp')).status).toBe(404);
    // Dedicated nodes, and a pool that asks for no low-priority node, are created.
    const dedicated = await call(
      batchServiceAccount,
      'POST',
      '/pools',
      poolBody('d', { targetDedicatedNodes: 1, targetLowPriorityNodes: 0 }),
    );
    expect(dedicated.status).toBe(201);
    await waitFor(
      async () => (await call(batchServiceAccount, 'GET', '/pools/d')).json as { allocationState: string },
      (p) => p.allocationState === 'steady',
      { what: 'the pool to be allocated' },
    );
    const resize = await call(batchServiceAccount, 'POST', '/pools/d/resize', {
      targetDedicatedNodes: 0,
      targetLowPriorityNodes: 1,
    });
    expect(resize.status).toBe(400);
    expect(resize.json).toMatchObject(refusal);
  });

  it('allocates Spot nodes on a user-subscription account', async () => {
    const create = await call(
      userSubscriptionAccount,
      'POST',
      '/pools',
      poolBody('spot', { targetLowPriorityNodes: 2 }),
    );
    expect(create.status).toBe(201);
    expect((await call(userSubscriptionAccount, 'GET', '/pools/spot')).json).toMatchObject({
      targetLowPriorityNodes: 2,
    });
  });
});
