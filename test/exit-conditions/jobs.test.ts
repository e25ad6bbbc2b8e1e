/**
 * Exit conditions end to end: validated at the door, sent to Batch unchanged (with the job set to
 * perform exit-option job actions), honoured by the emulator, and reflected in the job's final state
 * (see shared/model/exit-conditions.ts); and the efficiency figures stored when a job ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { batchJobIdFor } from '../../shared/model/batch-names.js';
import { emulatorClient, type SlotwiseStack, startSlotwise, waitForJobState } from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise();
  batch = emulatorClient(stack);
  await stack.deps.tenants.updatePolicy('dev', {
    limits: { submissionsPerSecond: 1000, submissionBurst: 1000 },
  });
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const post = (body: unknown) => stack.request('/jobs', { method: 'POST', body: JSON.stringify(body) });
const pool = { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 4 };

describe('exit conditions', () => {
  it('a failure whose exit code says jobAction none completes the job, and Batch gets the conditions unchanged', async () => {
    const exitConditions = {
      exitCodes: [{ code: 3, exitOptions: { jobAction: 'none', dependencyAction: 'satisfy' } }],
      exitCodeRanges: [{ start: 10, end: 20, exitOptions: { jobAction: 'terminate' } }],
    };
    const res = await post({
      id: 'ec-tolerated',
      pool,
      tasks: [
        { id: 'probe', commandLine: "/bin/sh -c 'exit 3'", exitConditions },
        { id: 'main', commandLine: 'sleep 5', dependsOn: { taskIds: ['probe'] } },
      ],
    });
    expect(res.status).toBe(202);
    const done = await waitForJobState(stack, 'ec-tolerated', ['completed', 'failed']);
    expect(done.state).toBe('completed');
    expect(done.taskCounts).toMatchObject({ succeeded: 1, failed: 1, active: 0 });
    expect(done.toleratedFailures).toEqual({ count: 1, tasks: [{ taskId: 'probe', exitCode: 3 }] });
    const batchJobId = batchJobIdFor('dev', 'ec-tolerated');
    expect(await batch.jobs.get(batchJobId)).toMatchObject({
      onTaskFailure: 'performexitoptionsjobaction',
      usesTaskDependencies: true,
    });
    expect((await batch.tasks.get(batchJobId, 'probe')).exitConditions).toEqual(exitConditions);
  });

  it('a failure without a tolerating exit condition terminates the Batch job and fails the job', async () => {
    await post({
      id: 'ec-fatal',
      pool,
      tasks: [
        {
          id: 'ok-to-fail',
          commandLine: "/bin/sh -c 'exit 3'",
          exitConditions: {
            exitCodes: [{ code: 3, exitOptions: { jobAction: 'none', dependencyAction: 'satisfy' } }],
          },
        },
        // After the tolerated failure, not beside it: a fast clock would otherwise let `bad` end the job
        // while `ok-to-fail` is still finishing, which then ends as terminated, not with its exit code.
        { id: 'bad', commandLine: "/bin/sh -c 'sleep 2; exit 9'", dependsOn: { taskIds: ['ok-to-fail'] } },
        { id: 'long', commandLine: 'sleep 3000', dependsOn: { taskIds: ['bad'] } },
      ],
    });
    const done = await waitForJobState(stack, 'ec-fatal', ['completed', 'failed']);
    expect(done.state).toBe('failed');
    expect(done.failure?.code).toBe('TaskFailed');
    expect(done.failure?.failedTasks?.map((t) => t.taskId).sort()).toEqual(['bad', 'ok-to-fail']);
    expect(done.toleratedFailures?.count).toBe(1);
    expect((await batch.jobs.get(batchJobIdFor('dev', 'ec-fatal'))).executionInfo).toMatchObject({
      terminateReason: 'TaskFailed',
    });
  });

  it('a success that terminates the job on purpose completes it, leaving the rest unrun', async () => {
    await post({
      id: 'ec-early',
      pool,
      tasks: [
        {
          id: 'search',
          commandLine: 'sleep 2',
          exitConditions: {
            exitCodes: [{ code: 0, exitOptions: { jobAction: 'terminate', dependencyAction: 'block' } }],
          },
        },
        { id: 'fallback', commandLine: 'sleep 100', dependsOn: { taskIds: ['search'] } },
      ],
    });
    const done = await waitForJobState(stack, 'ec-early', ['completed', 'failed']);
    expect(done.state).toBe('completed');
    expect(done.taskCounts).toMatchObject({ succeeded: 1, failed: 0, active: 1 });
  });

  it('a job without job actions keeps onTaskFailure noaction and fails on any failure, as before', async () => {
    await post({
      id: 'ec-plain',
      pool,
      tasks: [
        {
          id: 'soft',
          commandLine: "/bin/sh -c 'exit 4'",
          exitConditions: { exitCodes: [{ code: 4, exitOptions: { dependencyAction: 'satisfy' } }] },
        },
        { id: 'after', commandLine: 'sleep 1', dependsOn: { taskIds: ['soft'] } },
      ],
    });
    const done = await waitForJobState(stack, 'ec-plain', ['completed', 'failed']);
    expect(done.state).toBe('failed');
    expect(done.taskCounts).toMatchObject({ succeeded: 1, failed: 1 });
    expect(await batch.jobs.get(batchJobIdFor('dev', 'ec-plain'))).toMatchObject({
      onTaskFailure: 'noaction',
    });
  });

  it('refuses invalid exit conditions, naming each field', async () => {
    const res = await post({
      pool,
      tasks: [
        {
          id: 't',
          commandLine: 'echo',
          exitConditions: {
            exitCodes: [{ code: 1.5, exitOptions: { jobAction: 'explode' } }],
            exitCodeRanges: [{ start: 9, end: 2, exitOptions: {} }],
            sometimes: {},
          },
        },
      ],
      sweep: {
        idTemplate: 's{i}',
        commandLine: 'echo',
        parameters: { i: { from: 1, to: 2 } },
        exitConditions: { default: { dependencyAction: 'maybe' } },
      },
    });
    expect(res.status).toBe(400);
    const fields = ((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field).sort();
    expect(fields).toEqual([
      'sweep.exitConditions.default.dependencyAction',
      'tasks[0].exitConditions',
      'tasks[0].exitConditions.exitCodeRanges[0].end',
      'tasks[0].exitConditions.exitCodes[0].code',
      'tasks[0].exitConditions.exitCodes[0].exitOptions.jobAction',
    ]);
  });
});

describe('efficiency when a job ends', () => {
  it('two 2-slot tasks sharing a 4-slot node for 60 s: 60 node-seconds, 240 slot-seconds, ratio 1', async () => {
    await post({
      id: 'eff-full',
      pool,
      tasks: [
        { id: 'a', commandLine: 'sleep 60', requiredSlots: 2 },
        { id: 'b', commandLine: 'sleep 60', requiredSlots: 2 },
      ],
    });
    const done = await waitForJobState(stack, 'eff-full', ['completed', 'failed']);
    expect(done.efficiency).toMatchObject({
      nodeSeconds: 60,
      slotSeconds: 240,
      taskSlotsPerNode: 4,
      ratio: 1,
      tasksMeasured: 2,
      nodes: 1,
    });
  });

  it('a 1-slot task followed by another on a 4-slot node: a quarter of the slots used', async () => {
    await post({
      id: 'eff-chain',
      pool,
      tasks: [
        { id: 'a', commandLine: 'sleep 30' },
        { id: 'b', commandLine: 'sleep 30', dependsOn: { taskIds: ['a'] } },
      ],
    });
    const done = await waitForJobState(stack, 'eff-chain', ['completed', 'failed']);
    expect(done.efficiency).toMatchObject({ nodeSeconds: 60, slotSeconds: 60, ratio: 0.25, nodes: 1 });
  });
});
