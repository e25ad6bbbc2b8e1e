/**
 * Batch documents task counts as possibly behind. With the emulator's counts lagging far behind, a
 * job that ends with a failed task must still be stored `failed`, with exact counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlotwiseStack, startSlotwise, waitForJobState } from '../support/stack.js';

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise();
  const res = await stack.emulatorControl('taskcounts', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lagSeconds: 1_000_000 }),
  });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await stack?.close();
});

describe('final state with lagging task counts', () => {
  it('stores a job with a failed task as failed, counted from the task list', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'lagging',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [
          { id: 'ok-1', commandLine: 'sleep 2' },
          { id: 'ok-2', commandLine: 'sleep 3' },
          { id: 'bad', commandLine: '/bin/sh -c "exit 3"' },
        ],
      }),
    });
    expect(res.status).toBe(202);
    const job = await waitForJobState(stack, 'lagging', ['completed', 'failed'], 40_000);
    expect(job.state).toBe('failed');
    expect(job.failure?.code).toBe('TaskFailed');
    expect(job.taskCounts).toEqual({ active: 0, running: 0, succeeded: 2, failed: 1 });
    expect(job.failure?.failedTasks?.map((t) => t.taskId)).toEqual(['bad']);
  });
});
