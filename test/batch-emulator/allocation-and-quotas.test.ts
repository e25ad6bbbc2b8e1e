/**
 * Allocation on Batch's bad days, over HTTP on a manual clock: allocation takes simulated time, core
 * quotas per VM family (dedicated) and per account (dedicated, low priority) cut a resize short with
 * the resize errors Batch reports, and allocations fail or time out on request.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { vmFamilyOf } from '../../shared/model/vm-sizes.js';
import { advance, call, control, poolBody, start } from './helpers.js';

let emulator: BatchEmulator;

beforeEach(async () => {
  emulator = await start({ clockFactor: 0, allocationSeconds: 30, nodeStartSeconds: 0 });
});

afterEach(async () => {
  await emulator.close();
});

type Pool = {
  allocationState: string;
  currentDedicatedNodes: number;
  currentLowPriorityNodes: number;
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  resizeErrors?: { code: string; message: string }[];
};

async function ok(method: string, path: string, body?: unknown) {
  const r = await call(emulator, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as Record<string, unknown>;
}
const pool = async (id: string) => (await ok('GET', `/pools/${id}`)) as unknown as Pool;
async function setControl(method: string, path: string, body?: unknown) {
  const r = await control(emulator, method, path, body);
  if (r.status >= 300)
    throw new Error(`${method} /_emulator/${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

describe('allocation time', () => {
  it('keeps a pool resizing until its nodes are allocated, on create and on resize', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 2 }));
    expect(await pool('p')).toMatchObject({ allocationState: 'resizing', currentDedicatedNodes: 0 });
    await advance(emulator, 29);
    expect(await pool('p')).toMatchObject({ allocationState: 'resizing', currentDedicatedNodes: 0 });
    expect((await call(emulator, 'POST', '/pools/p/resize', { targetDedicatedNodes: 3 })).json).toMatchObject(
      {
        code: 'PoolBeingResized',
      },
    );
    await advance(emulator, 1);
    expect(await pool('p')).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 2 });
    await ok('POST', '/pools/p/resize', { targetDedicatedNodes: 3 });
    expect(await pool('p')).toMatchObject({ allocationState: 'resizing', currentDedicatedNodes: 2 });
    await advance(emulator, 30);
    const steady = await pool('p');
    expect(steady).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 3 });
    expect(steady.resizeErrors).toBeUndefined();
  });

  it('follows timings changed through the control', async () => {
    expect(await setControl('PUT', 'timings', { allocationSeconds: 120 })).toMatchObject({
      allocationSeconds: 120,
      nodeStartSeconds: 0,
    });
    await ok('POST', '/pools', poolBody('p'));
    await advance(emulator, 119);
    expect((await pool('p')).allocationState).toBe('resizing');
    await advance(emulator, 1);
    expect(await pool('p')).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 1 });
  });
});

describe('VM families', () => {
  it('derives Azure family names from size names', () => {
    expect(vmFamilyOf('standard_d4s_v3')).toBe('standardDSv3Family');
    expect(vmFamilyOf('STANDARD_D4_V3')).toBe('standardDv3Family');
    expect(vmFamilyOf('standard_a1_v2')).toBe('standardAv2Family');
    expect(vmFamilyOf('standard_e16s_v5')).toBe('standardESv5Family');
    expect(vmFamilyOf('standard_f8s_v2')).toBe('standardFSv2Family');
    expect(vmFamilyOf('standard_nc6s_v3')).toBe('standardNCSv3Family');
    expect(vmFamilyOf('standard_m128s')).toBe('standardMSFamily');
    expect(vmFamilyOf('standard_hc44rs')).toBe('standardHCSFamily');
    expect(vmFamilyOf('standard_nc4as_t4_v3')).toBe('standardNCASv3_T4Family');
    expect(vmFamilyOf('standard_hb120rs_v3')).toBe('standardHBrsv3Family');
  });
});

describe('core quotas', () => {
  it('defaults to quotas nothing reaches and reports usage', async () => {
    expect(await setControl('GET', 'quotas')).toEqual({
      activeJobs: 10_000,
      pools: 1_000,
      dedicatedCoreQuota: 1_000_000,
      lowPriorityCoreQuota: 1_000_000,
      dedicatedCoreQuotaPerVMFamily: [],
      dedicatedCoreQuotaPerVMFamilyEnforced: true,
      usage: { dedicatedCores: 0, lowPriorityCores: 0, dedicatedCoresPerVMFamily: {} },
    });
    await ok('POST', '/pools', poolBody('big', { vmSize: 'standard_d64s_v3', targetDedicatedNodes: 100 }));
    await advance(emulator, 30);
    expect(await pool('big')).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 100 });
    expect((await setControl('GET', 'quotas'))?.usage).toEqual({
      dedicatedCores: 6400,
      lowPriorityCores: 0,
      dedicatedCoresPerVMFamily: { standardDSv3Family: 6400 },
    });
  });

  it('allocates what fits the family and total dedicated quotas and ends steady with AccountCoreQuotaReached', async () => {
    await setControl('PUT', 'quotas', {
      dedicatedCoreQuota: 12,
      dedicatedCoreQuotaPerVMFamily: [{ name: 'standardDSv3Family', coreQuota: 8 }],
    });
    // standard_d2s_v3: 2 cores, family standardDSv3Family (8 cores) → 4 of 5 nodes.
    await ok('POST', '/pools', poolBody('v3', { targetDedicatedNodes: 5 }));
    await advance(emulator, 30);
    const v3 = await pool('v3');
    expect(v3).toMatchObject({
      allocationState: 'steady',
      currentDedicatedNodes: 4,
      targetDedicatedNodes: 5,
    });
    expect(v3.resizeErrors).toEqual([{ code: 'AccountCoreQuotaReached', message: expect.any(String) }]);
    expect(v3.resizeErrors?.[0]?.message).toContain('standardDSv3Family (8 cores, 0 in use): 4 of 5');
    // Another family is bounded by the total only: 12 − 8 = 4 cores → 2 of 3 standard_d2s_v5 nodes.
    await ok('POST', '/pools', poolBody('v5', { vmSize: 'standard_d2s_v5', targetDedicatedNodes: 3 }));
    await advance(emulator, 30);
    const v5 = await pool('v5');
    expect(v5).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 2 });
    expect(v5.resizeErrors?.[0]?.code).toBe('AccountCoreQuotaReached');
    expect(v5.resizeErrors?.[0]?.message).toContain('dedicated core quota (12 cores, 8 in use)');
    expect((await setControl('GET', 'quotas'))?.usage).toEqual({
      dedicatedCores: 12,
      lowPriorityCores: 0,
      dedicatedCoresPerVMFamily: { standardDSv3Family: 8, standardDSv5Family: 4 },
    });
    // A raised quota lets the next resize reach the target and clears the errors.
    await setControl('PUT', 'quotas', {
      dedicatedCoreQuota: 100,
      dedicatedCoreQuotaPerVMFamily: [{ name: 'standardDSv3Family', coreQuota: 10 }],
    });
    await ok('POST', '/pools/v3/resize', { targetDedicatedNodes: 5 });
    await advance(emulator, 30);
    const recovered = await pool('v3');
    expect(recovered).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 5 });
    expect(recovered.resizeErrors).toBeUndefined();
  });

  it('ignores family quotas when they are not enforced', async () => {
    await setControl('PUT', 'quotas', {
      dedicatedCoreQuotaPerVMFamily: [{ name: 'standardDSv3Family', coreQuota: 2 }],
      dedicatedCoreQuotaPerVMFamilyEnforced: false,
    });
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 3 }));
    await advance(emulator, 30);
    const p = await pool('p');
    expect(p).toMatchObject({ currentDedicatedNodes: 3 });
    expect(p.resizeErrors).toBeUndefined();
  });

  it('bounds low-priority nodes by the account low-priority quota with AccountLowPriorityCoreQuotaReached', async () => {
    expect(await setControl('PUT', 'quotas', { lowPriorityCoreQuota: 4 })).toMatchObject({
      lowPriorityCoreQuota: 4,
    });
    // standard_d4s_v3: 4 cores → 1 of 2 low-priority nodes; the dedicated node is unaffected.
    await ok(
      'POST',
      '/pools',
      poolBody('lp', { vmSize: 'standard_d4s_v3', targetDedicatedNodes: 1, targetLowPriorityNodes: 2 }),
    );
    await advance(emulator, 30);
    const lp = await pool('lp');
    expect(lp).toMatchObject({
      allocationState: 'steady',
      currentDedicatedNodes: 1,
      currentLowPriorityNodes: 1,
      targetLowPriorityNodes: 2,
    });
    expect(lp.resizeErrors).toEqual([
      { code: 'AccountLowPriorityCoreQuotaReached', message: expect.stringContaining('(4 cores, 0 in use)') },
    ]);
  });

  it('rejects malformed quota settings', async () => {
    const bad = await control(emulator, 'PUT', 'quotas', { dedicatedCoreQuota: -1 });
    expect(bad.status).toBe(400);
    const badFamily = await control(emulator, 'PUT', 'quotas', {
      dedicatedCoreQuotaPerVMFamily: [{ name: 'x' }],
    });
    expect(badFamily.status).toBe(400);
  });
});

describe('failed and timed-out allocations', () => {
  it('ends a resize that cannot allocate within resizeTimeout steady with AllocationTimedout', async () => {
    await setControl('PUT', 'timings', { allocationSeconds: 600 });
    await ok('POST', '/pools', poolBody('slow', { targetDedicatedNodes: 2, resizeTimeout: 'PT5M' }));
    await advance(emulator, 299);
    expect((await pool('slow')).allocationState).toBe('resizing');
    await advance(emulator, 1);
    const slow = await pool('slow');
    expect(slow).toMatchObject({
      allocationState: 'steady',
      currentDedicatedNodes: 0,
      targetDedicatedNodes: 2,
    });
    expect(slow.resizeErrors).toEqual([
      { code: 'AllocationTimedout', message: expect.stringContaining('resize timeout (PT5M)') },
    ]);
  });

  it('holds an injected AllocationTimedout in resizing until the resize timeout', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 0 }));
    await advance(emulator, 30);
    expect(
      (await control(emulator, 'POST', 'pools/p/fail-allocation', { code: 'AllocationTimedout' })).status,
    ).toBe(204);
    await ok('POST', '/pools/p/resize', { targetDedicatedNodes: 2, resizeTimeout: 'PT10M' });
    await advance(emulator, 30);
    expect((await pool('p')).allocationState).toBe('resizing');
    await advance(emulator, 569);
    expect((await pool('p')).allocationState).toBe('resizing');
    await advance(emulator, 1);
    const p = await pool('p');
    expect(p).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 0 });
    expect(p.resizeErrors).toEqual([
      {
        code: 'AllocationTimedout',
        message: 'Desired number of nodes could not be allocated as the resize timeout was reached.',
      },
    ]);
    // The injection is spent: the next resize allocates.
    await ok('POST', '/pools/p/resize', { targetDedicatedNodes: 2 });
    await advance(emulator, 30);
    expect(await pool('p')).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 2 });
  });

  it('fails the next allocation with AllocationFailed at allocation time', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 0 }));
    await advance(emulator, 30);
    await control(emulator, 'POST', 'pools/p/fail-allocation', {
      code: 'AllocationFailed',
      message: 'No capacity.',
    });
    await ok('POST', '/pools/p/resize', { targetDedicatedNodes: 1 });
    await advance(emulator, 30);
    const p = await pool('p');
    expect(p).toMatchObject({ allocationState: 'steady', currentDedicatedNodes: 0 });
    expect(p.resizeErrors).toEqual([{ code: 'AllocationFailed', message: 'No capacity.' }]);
  });
});
