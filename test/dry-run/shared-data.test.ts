/**
 * The dry run of a job with shared input prepared once per node, a sweep writing results and a merge
 * task reading them: the plan says how many copies of the shared data the packing costs, the Batch
 * job carries the preparation, the answer is what the OpenAPI document says, and `slotwise plan`
 * prints the copies.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliDryRun } from '../../shared/interfaces/cli/api-client.js';
import { renderDryRun } from '../../shared/interfaces/cli/render.js';
import { openApiDocument } from '../../shared/interfaces/http/openapi.js';
import type { DryRunAnswer } from '../../shared/usecases/dry-run.js';
import { type SlotwiseStack, startSlotwise } from '../support/stack.js';

const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise();
});

afterAll(async () => {
  await stack?.close();
});

/** The worked example of docs/api.md: 200 frames, a reference prepared once per node, a merge. */
const fanInExample = {
  id: 'render-200',
  pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 4, maxNodes: 10 },
  jobPreparation: {
    commandLine: '/bin/sh -c "tar xf scene.tar"',
    resourceFiles: [
      {
        httpUrl: 'https://acct.blob.core.windows.net/scenes/scene.tar?sv=2025-01-05&sig=abc',
        filePath: 'scene.tar',
      },
    ],
  },
  jobRelease: { commandLine: '/bin/sh -c "rm -rf scene"' },
  sweep: {
    idTemplate: 'frame-{n}',
    commandLine: '/bin/sh -c "render $AZ_BATCH_JOB_PREP_WORKING_DIR/scene {n} > frame.png"',
    parameters: { n: { from: 1, to: 200, pad: 3 } },
    outputFiles: [{ filePattern: 'frame.png', destination: { results: { path: 'frames/{n}.png' } } }],
  },
  tasks: [
    {
      id: 'merge',
      commandLine: '/bin/sh -c "assemble in/render-200/frames > movie.mp4"',
      dependsOn: { sweep: true },
      resourceFiles: [{ fromResults: { prefix: 'frames/' }, filePath: 'in' }],
      outputFiles: [{ filePattern: 'movie.mp4' }],
    },
  ],
};

describe('dry run with shared data', () => {
  it('says how many copies the packing needs, shows the preparation, and matches the document', async () => {
    const res = await stack.request('/jobs?dryRun=true', {
      method: 'POST',
      body: JSON.stringify(fanInExample),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as DryRunAnswer;
    // 201 one-slot tasks on 4-slot nodes: 51 nodes, the pool capped at 10: 10 copies, not 201.
    expect(answer.plan.sharedData).toEqual({ resourceFiles: 1, preparationCopies: 10, perTaskCopies: 201 });
    expect(answer.batchJob.jobPreparationTask).toMatchObject({
      id: 'jobpreparation',
      waitForSuccess: true,
      resourceFiles: [{ filePath: 'scene.tar', fileMode: '0755' }],
    });
    expect(answer.batchJob.jobReleaseTask?.commandLine).toBe('/bin/sh -c "rm -rf scene"');
    expect(answer.batchJob.usesTaskDependencies).toBe(true);

    const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(ajv);
    ajv.addSchema(openApiDocument(), 'openapi');
    const check = ajv.compile({ $ref: 'openapi#/components/schemas/DryRun' });
    expect(check(answer), JSON.stringify(check.errors)).toBe(true);
    const extra = { ...answer, plan: { ...answer.plan, sharedData: { ...answer.plan.sharedData, more: 1 } } };
    expect(check(extra)).toBe(false);

    expect(renderDryRun(answer as unknown as CliDryRun)).toContain(
      'shared     1 resource file copied once per node: 10 copies, not 201 (one per task)',
    );
  });

  it('leaves the count out when the preparation downloads nothing', async () => {
    const { jobPreparation: _prep, ...rest } = fanInExample;
    const res = await stack.request('/jobs?dryRun=true', {
      method: 'POST',
      body: JSON.stringify({ ...rest, jobPreparation: { commandLine: 'setup' } }),
    });
    const answer = (await res.json()) as DryRunAnswer;
    expect(answer.plan.sharedData).toBeUndefined();
    expect(answer.batchJob.jobPreparationTask?.commandLine).toBe('setup');
  });

  it('refuses a bad field of the new ones with 400 naming it, and stores nothing', async () => {
    const bad = { ...fanInExample, id: 'render-bad', keepLogs: 'sometimes' };
    const res = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(bad) });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field)).toEqual(['keepLogs']);
    expect(await stack.deps.jobs.get('dev', 'render-bad')).toBeUndefined();
  });
});
