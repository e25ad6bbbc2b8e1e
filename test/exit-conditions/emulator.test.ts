/**
 * The Batch emulator honours exit conditions as Batch does, on a manual clock: job actions
 * (terminate, disable, none), dependency actions (block, satisfy), exit code ranges and the default,
 * pre-processing and file upload errors, and the add-task checks.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { advance, call, poolBody, start } from '../batch-emulator/helpers.js';

let emulator: BatchEmulator;

beforeEach(async () => {
  emulator = await start({ clockFactor: 0, allocationSeconds: 30, nodeStartSeconds: 0 });
  await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 1 }));
  await advance(emulator, 30);
});

afterEach(async () => {
  await emulator.close();
});

interface Task {
  state: string;
  executionInfo: { result?: string; exitCode?: number; failureInfo?: { code: string } };
}

async function ok(method: string, path: string, body?: unknown) {
  const r = await call(emulator, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as Record<string, unknown>;
}
const task = async (id: string) => (await ok('GET', `/jobs/j/tasks/${id}`)) as unknown as Task;
const job = async () =>
  (await ok('GET', '/jobs/j')) as unknown as { state: string; executionInfo: { terminateReason?: string } };
async function createJob(extra: Record<string, unknown> = {}) {
  await ok('POST', '/jobs', {
    id: 'j',
    poolInfo: { poolId: 'p' },
    onTaskFailure: 'performexitoptionsjobaction',
    usesTaskDependencies: true,
    ...extra,
  });
}
async function addTasks(tasks: Record<string, unknown>[]) {
  const r = await ok('POST', '/jobs/j/addtaskcollection', { value: tasks });
  expect((r.value as { status: string }[]).map((x) => x.status)).toEqual(tasks.map(() => 'success'));
}

describe('job actions', () => {
  it('jobAction none leaves the job running after a failure; an unmatched failure terminates it', async () => {
    await createJob();
    await addTasks([
      {
        id: 'tolerated',
        commandLine: 'exit 7',
        exitConditions: { exitCodeRanges: [{ start: 5, end: 9, exitOptions: { jobAction: 'none' } }] },
      },
    ]);
    await advance(emulator, 1);
    expect((await task('tolerated')).executionInfo).toMatchObject({ result: 'failure', exitCode: 7 });
    expect((await job()).state).toBe('active');
    await addTasks([{ id: 'plain', commandLine: 'exit 2' }]);
    await advance(emulator, 2);
    expect(await job()).toMatchObject({
      state: 'completed',
      executionInfo: { terminateReason: 'TaskFailed' },
    });
  });

  it('jobAction disable disables the job and requeues nothing that finished', async () => {
    await createJob();
    await addTasks([
      { id: 'stop', commandLine: 'exit 3', exitConditions: { default: { jobAction: 'Disable' } } },
      { id: 'next', commandLine: 'sleep 5', dependsOn: { taskIds: ['stop'] } },
    ]);
    await advance(emulator, 1);
    expect((await job()).state).toBe('disabled');
    expect((await task('stop')).executionInfo.result).toBe('failure');
    await advance(emulator, 100);
    expect((await task('next')).state).toBe('active');
  });

  it('a success can terminate the job when its exit code says so', async () => {
    await createJob();
    await addTasks([
      {
        id: 'enough',
        commandLine: 'exit 0',
        exitConditions: { exitCodes: [{ code: 0, exitOptions: { jobAction: 'terminate' } }] },
      },
      { id: 'slow', commandLine: 'sleep 500' },
    ]);
    await advance(emulator, 2);
    expect((await task('enough')).executionInfo.result).toBe('success');
    expect(await job()).toMatchObject({
      state: 'completed',
      executionInfo: { terminateReason: 'TaskFailed' },
    });
  });
});

describe('dependency actions', () => {
  it('satisfy lets dependents run after a failure; block (the default for failures) holds them', async () => {
    await createJob({ onTaskFailure: 'noaction' });
    await addTasks([
      {
        id: 'soft',
        commandLine: 'exit 4',
        exitConditions: { exitCodes: [{ code: 4, exitOptions: { dependencyAction: 'satisfy' } }] },
      },
      { id: 'hard', commandLine: 'exit 4' },
      { id: 'afterSoft', commandLine: 'sleep 1', dependsOn: { taskIds: ['soft'] } },
      { id: 'afterHard', commandLine: 'sleep 1', dependsOn: { taskIds: ['hard'] } },
      {
        id: 'okButBlocks',
        commandLine: 'exit 0',
        exitConditions: { exitCodes: [{ code: 0, exitOptions: { dependencyAction: 'block' } }] },
      },
      { id: 'afterOk', commandLine: 'sleep 1', dependsOn: { taskIds: ['okButBlocks'] } },
    ]);
    await advance(emulator, 10);
    expect((await task('afterSoft')).executionInfo.result).toBe('success');
    expect((await task('afterHard')).state).toBe('active');
    expect((await task('afterOk')).state).toBe('active');
    expect((await job()).state).toBe('active');
  });
});

describe('pre-processing and file upload errors', () => {
  it('a resource file that cannot be downloaded fails the task unrun, with preProcessingError options', async () => {
    await createJob();
    await addTasks([
      {
        id: 'nofiles',
        commandLine: 'sleep 50',
        resourceFiles: [{ httpUrl: 'https://storage.invalid/in.txt', filePath: 'in.txt' }],
        exitConditions: {
          preProcessingError: { jobAction: 'none', dependencyAction: 'satisfy' },
          default: { jobAction: 'terminate' },
        },
      },
      { id: 'after', commandLine: 'sleep 1', dependsOn: { taskIds: ['nofiles'] } },
    ]);
    await advance(emulator, 3);
    const failed = await task('nofiles');
    expect(failed.executionInfo).toMatchObject({
      result: 'failure',
      failureInfo: { code: 'BlobDownloadMiscError' },
    });
    expect(failed.executionInfo.exitCode).toBeUndefined();
    expect((await task('after')).executionInfo.result).toBe('success');
    expect((await job()).state).toBe('active');
  });

  it('without preProcessingError the default applies', async () => {
    await createJob();
    await addTasks([
      {
        id: 'nofiles',
        commandLine: 'echo',
        resourceFiles: [{ storageContainerUrl: 'https://acct.invalid/c', filePath: 'd' }],
        exitConditions: { default: { jobAction: 'disable' } },
      },
    ]);
    await advance(emulator, 1);
    expect((await job()).state).toBe('disabled');
  });

  it('an output file that cannot be uploaded fails the task; a matched exit code wins over fileUploadError', async () => {
    await createJob();
    const outputFiles = [
      {
        filePattern: 'out/*.txt',
        destination: { container: { containerUrl: 'https://acct.invalid/results' } },
        uploadOptions: { uploadCondition: 'taskcompletion' },
      },
    ];
    await addTasks([
      {
        id: 'upload',
        commandLine: 'exit 0',
        outputFiles,
        exitConditions: {
          exitCodes: [{ code: 0, exitOptions: { jobAction: 'none' } }],
          fileUploadError: { jobAction: 'terminate' },
        },
      },
    ]);
    await advance(emulator, 1);
    expect((await task('upload')).executionInfo).toMatchObject({
      result: 'failure',
      exitCode: 0,
      failureInfo: { code: 'FileUploadMiscError' },
    });
    expect((await job()).state).toBe('active');
    await addTasks([
      {
        id: 'upload2',
        commandLine: 'exit 1',
        outputFiles,
        exitConditions: { fileUploadError: { jobAction: 'terminate' } },
      },
    ]);
    await advance(emulator, 2);
    expect(await job()).toMatchObject({
      state: 'completed',
      executionInfo: { terminateReason: 'TaskFailed' },
    });
  });
});

describe('add-task checks', () => {
  it('refuses bad shapes, job actions on a noaction job and dependency actions without dependencies', async () => {
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    const add = (exitConditions: unknown) =>
      call(emulator, 'POST', '/jobs/j/tasks', { id: 't', commandLine: 'echo', exitConditions });
    const refusals = await Promise.all([
      add({ exitCodes: [{ code: 1.5, exitOptions: {} }] }),
      add({ exitCodes: [{ code: 1 }] }),
      add({ exitCodeRanges: [{ start: 9, end: 3, exitOptions: {} }] }),
      add({ default: { jobAction: 'explode' } }),
      add({ default: { jobAction: 'terminate' } }),
      add({ default: { dependencyAction: 'satisfy' } }),
    ]);
    expect(refusals.map((r) => [r.status, (r.json as { code: string }).code])).toEqual([
      [400, 'InvalidPropertyValue'],
      [400, 'MissingRequiredProperty'],
      [400, 'InvalidPropertyValue'],
      [400, 'InvalidPropertyValue'],
      [400, 'InvalidPropertyValue'],
      [400, 'InvalidPropertyValue'],
    ]);
    expect((await add({ default: { jobAction: 'none' } })).status).toBe(201);
  });
});
