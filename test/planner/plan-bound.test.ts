import { describe, expect, it } from 'vitest';
import { tripletInstance } from '../../bench/pack-instances.js';
import type { JobRequest } from '../../shared/model/request-schema.js';
import { planJob } from '../../shared/planner/plan-job.js';

const defaults = {
  image: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
  nodeAgentSkuId: 'batch.node.ubuntu 22.04',
};

function summaryFor(slots: readonly number[], vmSize: string, taskSlotsPerNode: number) {
  const request: JobRequest = {
    id: 'bound',
    pool: { vmSize, taskSlotsPerNode, maxNodes: 1000 },
    tasks: slots.map((requiredSlots, i) => ({ id: `t${i}`, commandLine: 'run', requiredSlots })),
  };
  const outcome = planJob({ tenant: 't', jobId: 'bound', request, defaults });
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors));
  return outcome.plan.summary;
}

describe('plan summary bounds', () => {
  it('stores the LP bound and says the plan is proven optimal on a triplet job', () => {
    const { sizes, optimum } = tripletInstance(40, 60, 3);
    const summary = summaryFor(sizes, 'standard_d16s_v3', 60);
    expect(summary).toMatchObject({
      nodes: optimum,
      lpBound: optimum,
      provenOptimal: true,
      poolNodes: optimum,
    });
    expect(summary.lowerBound).toBeLessThanOrEqual(optimum);
  });

  it('stores an LP bound above lowerBound where L2 is weak', () => {
    const summary = summaryFor([21, 4, 28, 5, 21, 4], 'standard_d8s_v3', 28);
    expect(summary).toMatchObject({ nodes: 4, lowerBound: 3, lpBound: 4, provenOptimal: true });
  });
});
