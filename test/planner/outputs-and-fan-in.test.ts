/**
 * The Batch bodies of outputs, logs, results store reads, job preparation and release, and fan-in
 * over a sweep; and chunks that stay under Batch's body limit once results store URLs are resolved.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../shared/adapters/batch/add-tasks.js';
import { MAX_RESULTS_URL_LENGTH, RESULTS_STORE_URL, type TaskBody } from '../../shared/model/batch-bodies.js';
import type { JobRequest, TaskSpec } from '../../shared/model/request-schema.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';
import { tryGetVmSize } from '../../shared/model/vm-sizes.js';
import {
  batchRefsOf,
  planJob,
  rebuildChunks,
  slotsFor,
  widestTaskBody,
} from '../../shared/planner/plan-job.js';

const defaults = { image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, nodeAgentSkuId: 'n' };

function check(body: object): JobRequest {
  const checked = validateJobRequest(
    { id: 'j1', pool: { vmSize: 'standard_d4s_v3' }, ...body },
    { checkCallbackUrl: () => undefined },
  );
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.request;
}

function plan(body: object) {
  const request = check(body);
  const outcome = planJob({ tenant: 't', jobId: 'j1', request, defaults });
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors));
  return { request, plan: outcome.plan, tasks: [...outcome.plan.chunks()].flat() };
}

const sas = 'sv=2025-01-05&sp=cw&sig=c2VjcmV0';
const upload = (path: string, condition = 'taskcompletion', containerUrl = RESULTS_STORE_URL) => ({
  destination: { container: { containerUrl, path } },
  uploadOptions: { uploadCondition: condition },
});

describe('outputs and logs', () => {
  it('sends outputs to the results store under the job and the caller’s task, and logs beside them', () => {
    const { tasks } = plan({
      tasks: [
        {
          id: 't1',
          commandLine: 'x',
          outputFiles: [
            { filePattern: 'out/result.txt' },
            { filePattern: 'out/**/*.csv', uploadCondition: 'taskSuccess' },
            { filePattern: 'summary.json', destination: { results: { path: 'merged/summary.json' } } },
            {
              filePattern: '../std*.txt',
              destination: { containerUrl: `https://acct.blob.core.windows.net/mine?${sas}`, path: 'logs' },
              uploadCondition: 'taskFailure',
            },
            {
              filePattern: 'raw.bin',
              destination: { containerUrl: `https://acct.blob.core.windows.net/mine?${sas}` },
            },
          ],
        },
      ],
    });
    expect(tasks[0]?.outputFiles).toEqual([
      { filePattern: 'out/result.txt', ...upload('j1/t1/result.txt') },
      { filePattern: 'out/**/*.csv', ...upload('j1/t1', 'tasksuccess') },
      { filePattern: 'summary.json', ...upload('j1/merged/summary.json') },
      {
        filePattern: '../std*.txt',
        ...upload('logs', 'taskfailure', `https://acct.blob.core.windows.net/mine?${sas}`),
      },
      {
        filePattern: 'raw.bin',
        destination: { container: { containerUrl: `https://acct.blob.core.windows.net/mine?${sas}` } },
        uploadOptions: { uploadCondition: 'taskcompletion' },
      },
      { filePattern: '../stdout.txt', ...upload('j1/t1/$TaskLog/stdout.txt') },
      { filePattern: '../stderr.txt', ...upload('j1/t1/$TaskLog/stderr.txt') },
    ]);
  });

  it('keeps logs on failure only, or none, as the job says', () => {
    const failureOnly = plan({ keepLogs: 'taskFailure', tasks: [{ id: 't1', commandLine: 'x' }] }).tasks[0];
    expect(failureOnly?.outputFiles?.map((o) => o.uploadOptions.uploadCondition)).toEqual([
      'taskfailure',
      'taskfailure',
    ]);
    const none = plan({ keepLogs: 'none', tasks: [{ id: 't1', commandLine: 'x' }] }).tasks[0];
    expect(none?.outputFiles).toBeUndefined();
  });

  it('substitutes sweep values in output patterns and paths, and reads results by prefix', () => {
    const { tasks } = plan({
      tasks: [
        {
          id: 'merge',
          commandLine: 'm',
          resourceFiles: [{ fromResults: { prefix: 'results/' }, filePath: 'in' }],
        },
      ],
      sweep: {
        idTemplate: 'f{n}',
        commandLine: 'x {n}',
        resourceFiles: [{ fromResults: { prefix: 'model.bin', job: 'train-1' }, fileMode: '0644' }],
        outputFiles: [
          { filePattern: 'frame-{n}.png', destination: { results: { path: 'results/{n}.png' } } },
        ],
        parameters: { n: { from: 1, to: 2 } },
      },
    });
    expect(tasks[0]?.resourceFiles).toEqual([
      { storageContainerUrl: RESULTS_STORE_URL, blobPrefix: 'j1/results/', filePath: 'in' },
    ]);
    expect(tasks[2]?.resourceFiles).toEqual([
      { storageContainerUrl: RESULTS_STORE_URL, blobPrefix: 'train-1/model.bin', fileMode: '0644' },
    ]);
    expect(tasks[2]?.outputFiles?.[0]).toEqual({ filePattern: 'frame-2.png', ...upload('j1/results/2.png') });
    expect(tasks[2]?.outputFiles?.[1]?.destination.container.path).toBe('j1/f2/$TaskLog/stdout.txt');
  });
});

describe('job preparation and release', () => {
  it('puts them on the Batch job, as task-scoped non-admin users, with the shared data count', () => {
    const { plan: p, request } = plan({
      jobPreparation: {
        commandLine: '/bin/sh -c "tar xf ref.tar"',
        resourceFiles: [
          { httpUrl: `https://acct.blob.core.windows.net/in/ref.tar?${sas}`, filePath: 'ref.tar' },
          { fromResults: { prefix: 'index/', job: 'build-1' }, filePath: 'index', fileMode: '0600' },
        ],
        environment: { MODE: 'fast' },
        waitForSuccess: false,
      },
      jobRelease: { commandLine: 'rm -rf scratch', maxWallClockTime: 'PT5M', environment: { A: 'b' } },
      sweep: {
        idTemplate: 's{n}',
        commandLine: 'x',
        requiredSlots: 2,
        parameters: { n: { from: 1, to: 100 } },
      },
    });
    const user = { autoUser: { scope: 'task', elevationLevel: 'nonadmin' } };
    expect(p.batchJob.jobPreparationTask).toEqual({
      id: 'jobpreparation',
      commandLine: '/bin/sh -c "tar xf ref.tar"',
      resourceFiles: [
        {
          httpUrl: `https://acct.blob.core.windows.net/in/ref.tar?${sas}`,
          filePath: 'ref.tar',
          fileMode: '0755',
        },
        {
          storageContainerUrl: RESULTS_STORE_URL,
          blobPrefix: 'build-1/index/',
          filePath: 'index',
          fileMode: '0600',
        },
      ],
      environmentSettings: [{ name: 'MODE', value: 'fast' }],
      constraints: { maxTaskRetryCount: 2 },
      waitForSuccess: false,
      userIdentity: user,
    });
    expect(p.batchJob.jobReleaseTask).toEqual({
      id: 'jobrelease',
      commandLine: 'rm -rf scratch',
      maxWallClockTime: 'PT5M',
      environmentSettings: [{ name: 'A', value: 'b' }],
      userIdentity: user,
    });
    // 100 tasks of 2 slots on 4-slot nodes: 50 nodes needed, the pool capped at 20.
    expect(p.summary.sharedData).toEqual({ resourceFiles: 2, preparationCopies: 20, perTaskCopies: 100 });
    expect(batchRefsOf(p).jobPreparation).toEqual({ waitForSuccess: false });
    expect(request.jobPreparation?.resourceFiles?.[0]).not.toHaveProperty('fileMode');
  });

  it('gives a release alone a no-op preparation (Batch refuses one without), and no shared data count', () => {
    const { plan: p } = plan({
      jobRelease: { commandLine: 'cleanup' },
      tasks: [{ id: 'a', commandLine: 'x' }],
    });
    expect(p.batchJob.jobPreparationTask).toMatchObject({
      id: 'jobpreparation',
      commandLine: '/bin/sh -c true',
      waitForSuccess: true,
    });
    expect(p.batchJob.jobPreparationTask).not.toHaveProperty('resourceFiles');
    expect(p.summary.sharedData).toBeUndefined();
    const without = plan({ tasks: [{ id: 'a', commandLine: 'x' }] }).plan;
    expect(without.batchJob).not.toHaveProperty('jobPreparationTask');
    expect(batchRefsOf(without)).not.toHaveProperty('jobPreparation');
  });
});

describe('fan-in over a sweep', () => {
  const body = {
    tasks: [
      { id: 'setup', commandLine: 's' },
      { id: 'merge', commandLine: 'm', dependsOn: { sweep: true, taskIds: ['setup'] } },
    ],
    sweep: {
      idTemplate: 'frame-{n}',
      commandLine: 'render {n}',
      environment: { N: '{n}' },
      dependsOn: { taskIds: ['setup'] },
      parameters: { n: { from: 1, to: 200, pad: 3 } },
    },
  };

  it('gives the sweep index ids with the caller’s id beside them, and the merge task a range over them', () => {
    const { plan: p, tasks } = plan(body);
    expect(p.batchJob.usesTaskDependencies).toBe(true);
    const byId = new Map(tasks.map((t) => [t.id, t]));
    expect(byId.get('merge')?.dependsOn).toEqual({
      taskIds: ['setup'],
      taskIdRanges: [{ start: 0, end: 199 }],
    });
    expect(byId.get('0')).toMatchObject({
      displayName: 'frame-001',
      commandLine: 'render 001',
      environmentSettings: [
        { name: 'N', value: '001' },
        { name: 'SLOTWISE_TASK_ID', value: 'frame-001' },
      ],
      dependsOn: { taskIds: ['setup'] },
    });
    expect(byId.get('199')?.outputFiles?.[0]?.destination.container.path).toBe(
      'j1/frame-200/$TaskLog/stdout.txt',
    );
    expect(tasks.map((t) => t.id)).toEqual([
      'setup',
      'merge',
      ...Array.from({ length: 200 }, (_, i) => String(i)),
    ]);
  });

  it('keeps the template’s display name, and the widest body counts the longest index id', () => {
    const { request, plan: p, tasks } = plan({ ...body, sweep: { ...body.sweep, displayName: 'render' } });
    expect(tasks[2]?.displayName).toBe('render');
    const widest = Math.max(...tasks.map((t) => Buffer.byteLength(JSON.stringify(t))));
    const size = tryGetVmSize(p.summary.vmSize);
    const slotsAt = (_i: number, t: TaskSpec) => slotsFor(t, size, p.summary.taskSlotsPerNode);
    expect(widestTaskBody(request, slotsAt, [])).toBe(widest);
    expect([...rebuildChunks(request, p.summary)].flat()).toEqual(tasks);
  });
});

describe('chunks with results store references', () => {
  it('stay under Batch’s body limit once every reference holds the longest URL the submitter may put in', () => {
    // 100 tasks of 20 outputs each: about 0.5 MB as planned, over 2 MB once the URLs are in.
    const outputFiles = Array.from({ length: 20 }, (_, i) => ({ filePattern: `out/file-${i}.dat` }));
    const request = check({
      sweep: { idTemplate: 't{n}', commandLine: 'x', outputFiles, parameters: { n: { from: 1, to: 300 } } },
    });
    const outcome = planJob({ tenant: 't', jobId: 'j1', request, defaults });
    if (!outcome.ok) throw new Error('not planned');
    const url =
      `https://acct.blob.core.windows.net/results-x?${'s'.repeat(MAX_RESULTS_URL_LENGTH - 60)}`.padEnd(
        MAX_RESULTS_URL_LENGTH,
        'x',
      );
    expect(url.length).toBe(MAX_RESULTS_URL_LENGTH);
    const resolve = (chunk: TaskBody[]) =>
      JSON.stringify({ value: chunk }).replaceAll(`"${RESULTS_STORE_URL}"`, JSON.stringify(url));
    const chunks = [...outcome.plan.chunks()];
    expect(chunks.length).toBe(outcome.plan.chunkCount());
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(Buffer.byteLength(resolve(chunk))).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(chunks.flat()).toHaveLength(300);
  });
});
