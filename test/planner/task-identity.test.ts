import { describe, expect, it } from 'vitest';
import type { JobRequest } from '../../shared/model/request-schema.js';
import { planJob } from '../../shared/planner/plan-job.js';

const defaults = {
  image: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
  nodeAgentSkuId: 'batch.node.ubuntu 22.04',
};

function taskBodies(request: JobRequest) {
  const outcome = planJob({ tenant: 't', jobId: request.id ?? 'j', request, defaults });
  if (!outcome.ok) throw new Error(`expected a plan: ${JSON.stringify(outcome.errors)}`);
  return [...outcome.plan.chunks()].flat();
}

describe('the user tasks run as', () => {
  it('is a non-admin auto-user scoped to the task unless the task asks for admin', () => {
    const bodies = taskBodies({
      id: 'j',
      pool: { vmSize: 'standard_d4s_v3' },
      tasks: [
        { id: 'plain', commandLine: 'x' },
        { id: 'explicit', commandLine: 'x', elevationLevel: 'nonadmin' },
        { id: 'elevated', commandLine: 'x', elevationLevel: 'admin' },
      ],
      sweep: { idTemplate: 's{i}', commandLine: 'x', elevationLevel: 'admin', parameters: { i: [1, 2] } },
    });
    expect(bodies.map((b) => [b.id, b.userIdentity])).toEqual([
      ['plain', { autoUser: { scope: 'task', elevationLevel: 'nonadmin' } }],
      ['explicit', { autoUser: { scope: 'task', elevationLevel: 'nonadmin' } }],
      ['elevated', { autoUser: { scope: 'task', elevationLevel: 'admin' } }],
      ['s1', { autoUser: { scope: 'task', elevationLevel: 'admin' } }],
      ['s2', { autoUser: { scope: 'task', elevationLevel: 'admin' } }],
    ]);
  });

  it('sends the checked run options unchanged', () => {
    const [body] = taskBodies({
      id: 'j',
      pool: { vmSize: 'standard_d4s_v3' },
      tasks: [{ id: 'c', commandLine: 'x', container: { image: 'repo/img:1', runOptions: '--rm --cpus 1' } }],
    });
    expect(body?.containerSettings).toEqual({
      imageName: 'repo/img:1',
      containerRunOptions: '--rm --cpus 1',
    });
    expect(body?.userIdentity?.autoUser).toEqual({ scope: 'task', elevationLevel: 'nonadmin' });
  });
});
