/** What the planner sends Batch for exit conditions, and what it keeps to itself (expectedDuration). */
import { describe, expect, it } from 'vitest';
import { type JobRequest, jobRequestSchema } from '../../shared/model/request-schema.js';
import { planJob } from '../../shared/planner/plan-job.js';

const defaults = {
  image: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
  nodeAgentSkuId: 'batch.node.ubuntu 22.04',
};

function bodies(request: JobRequest) {
  const outcome = planJob({ tenant: 't', jobId: 'j', request: jobRequestSchema.parse(request), defaults });
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors));
  return { job: outcome.plan.batchJob, tasks: [...outcome.plan.chunks()].flat() };
}

describe('exit conditions in the Batch bodies', () => {
  const exitConditions = {
    exitCodes: [{ code: 3, exitOptions: { jobAction: 'none' as const } }],
    default: { dependencyAction: 'satisfy' as const },
  };

  it('sends them unchanged on tasks and expanded sweep tasks, and never expectedDuration', () => {
    const { job, tasks } = bodies({
      pool: { vmSize: 'standard_d2s_v3' },
      expectedDuration: 'PT1H',
      tasks: [{ id: 'a', commandLine: 'x', exitConditions, expectedDuration: 'PT5M' }],
      sweep: {
        idTemplate: 's{i}',
        commandLine: 'y {i}',
        exitConditions,
        expectedDuration: 'PT1M',
        parameters: { i: [1, 2] },
      },
    });
    expect(tasks.map((t) => t.exitConditions)).toEqual([exitConditions, exitConditions, exitConditions]);
    expect(tasks.some((t) => 'expectedDuration' in t)).toBe(false);
    expect('expectedDuration' in job).toBe(false);
    expect(job).toMatchObject({ onTaskFailure: 'performexitoptionsjobaction', usesTaskDependencies: true });
  });

  it('keeps onTaskFailure noaction and no dependencies when no task asks for them', () => {
    const { job, tasks } = bodies({
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 'a', commandLine: 'x' }],
    });
    expect(job).toMatchObject({ onTaskFailure: 'noaction', usesTaskDependencies: false });
    expect(tasks[0]).not.toHaveProperty('exitConditions');
  });

  it('a sweep template with a jobAction alone switches the job to exit-option actions', () => {
    const { job } = bodies({
      pool: { vmSize: 'standard_d2s_v3' },
      sweep: {
        idTemplate: 's{i}',
        commandLine: 'y',
        exitConditions: { default: { jobAction: 'disable' } },
        parameters: { i: [1, 2] },
      },
    });
    expect(job).toMatchObject({ onTaskFailure: 'performexitoptionsjobaction', usesTaskDependencies: false });
  });
});
