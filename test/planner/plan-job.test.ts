import { describe, expect, it } from 'vitest';
import type { JobRequest } from '../../shared/model/request-schema.js';
import { tryGetVmSize } from '../../shared/model/vm-sizes.js';
import { decidePackagePlacement, planJob, slotsFor } from '../../shared/planner/plan-job.js';

const defaults = {
  image: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
  nodeAgentSkuId: 'batch.node.ubuntu 22.04',
};

describe('planner decisions', () => {
  it('derives slots from the larger of the CPU and memory shares', () => {
    const size = tryGetVmSize('standard_e4s_v5')!; // 4 vCPUs, 32 GiB
    expect(slotsFor({ resources: { cpus: 1, memoryGiB: 16 } }, size, 8)).toBe(4);
    expect(slotsFor({ resources: { cpus: 3 } }, size, 8)).toBe(6);
    expect(slotsFor({ resources: { memoryGiB: 1 } }, size, 8)).toBe(1);
    expect(slotsFor({ requiredSlots: 5, resources: undefined }, size, 8)).toBe(5);
  });

  it('places job packages on the pool unless the pool exists or the job has fewer tasks than nodes', () => {
    expect(decidePackagePlacement(0, 10, 2, false).placement).toBe('none');
    expect(decidePackagePlacement(1, 10, 2, false).placement).toBe('pool');
    expect(decidePackagePlacement(1, 10, 2, true)).toMatchObject({
      placement: 'task',
      reason: expect.stringContaining('node restarts'),
    });
    expect(decidePackagePlacement(1, 2, 5, false)).toMatchObject({
      placement: 'task',
      reason: expect.stringContaining('fewer tasks'),
    });
  });

  it('reuses a managed pool for the same spec, and not for another', () => {
    const plan = (request: JobRequest) => {
      const outcome = planJob({ tenant: 't', jobId: request.id ?? 'j', request, defaults });
      if (!outcome.ok) throw new Error('expected a plan');
      return outcome.plan;
    };
    const a = plan({ id: 'a', pool: { vmSize: 'standard_d4s_v3' }, tasks: [{ id: 'x', commandLine: 'e' }] });
    const b = plan({
      id: 'b',
      pool: { vmSize: 'standard_d4s_v3' },
      tasks: [
        { id: 'y', commandLine: 'f' },
        { id: 'z', commandLine: 'g' },
      ],
    });
    const c = plan({
      id: 'c',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8 },
      tasks: [{ id: 'x', commandLine: 'e' }],
    });
    expect(a.poolId).toBe(b.poolId);
    expect(c.poolId).not.toBe(a.poolId);
  });

  it('caps nodes at maxNodes and says how many waves that takes', () => {
    const outcome = planJob({
      tenant: 't',
      jobId: 'w',
      request: {
        id: 'w',
        pool: { vmSize: 'standard_d2s_v3', maxNodes: 3 },
        tasks: Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, commandLine: 'e', requiredSlots: 2 })),
      },
      defaults,
    });
    expect(outcome.ok && outcome.plan.summary).toMatchObject({
      nodes: 10,
      lowerBound: 10,
      poolNodes: 3,
      waves: 4,
    });
    expect(outcome.ok && outcome.plan.pool?.targetDedicatedNodes).toBe(3);
  });

  it('chunks tasks by count and by body size', () => {
    const big = 'x'.repeat(20_000);
    const outcome = planJob({
      tenant: 't',
      jobId: 'c',
      request: {
        id: 'c',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: Array.from({ length: 250 }, (_, i) => ({
          id: `t${i}`,
          commandLine: `echo ${i < 100 ? big : 'small'}`,
        })),
      },
      defaults,
    });
    if (!outcome.ok) throw new Error('expected a plan');
    const chunks = [...outcome.plan.chunks()];
    expect(
      chunks.every((c) => c.length <= 100 && Buffer.byteLength(JSON.stringify({ value: c })) < 1_000_000),
    ).toBe(true);
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(250);
    expect(chunks.length).toBeGreaterThan(3);
  });
});
