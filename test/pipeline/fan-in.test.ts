/**
 * Fan-in over a sweep, end to end against the Batch emulator: the sweep's tasks run under their index
 * ids with the caller's ids beside them, and the merge task starts only after every one of them ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { emulatorClient, type SlotwiseStack, startSlotwise, waitForJobState } from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise();
  batch = emulatorClient(stack);
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

interface WireTask {
  id: string;
  displayName?: string;
  environmentSettings?: { name: string; value: string }[];
  executionInfo?: { startTime?: string; endTime?: string; result?: string };
}

describe('fan-in over a sweep', () => {
  it('runs the merge task after every sweep task, which Batch knows by index', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'fan-in-1',
        pool: { vmSize: 'standard_d4s_v3', maxNodes: 2 },
        keepLogs: 'none',
        sweep: { idTemplate: 'part-{n}', commandLine: 'sleep {n}', parameters: { n: { from: 1, to: 6 } } },
        tasks: [{ id: 'merge', commandLine: 'sleep 1', dependsOn: { sweep: true } }],
      }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const job = await waitForJobState(stack, 'fan-in-1', ['completed', 'failed'], 60_000);
    expect(job.state).toBe('completed');
    expect(job.taskCounts.succeeded).toBe(7);

    const tasks: WireTask[] = [];
    for await (const t of batch.tasks.list(job.batch!.jobId)) tasks.push(t as unknown as WireTask);
    const sweep = tasks.filter((t) => t.id !== 'merge').sort((a, b) => Number(a.id) - Number(b.id));
    expect(sweep.map((t) => t.id)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(sweep.map((t) => t.displayName)).toEqual([
      'part-1',
      'part-2',
      'part-3',
      'part-4',
      'part-5',
      'part-6',
    ]);
    expect(sweep[3]?.environmentSettings).toContainEqual({ name: 'SLOTWISE_TASK_ID', value: 'part-4' });
    const merge = tasks.find((t) => t.id === 'merge')!;
    const lastEnd = Math.max(...sweep.map((t) => Date.parse(t.executionInfo!.endTime!)));
    expect(Date.parse(merge.executionInfo!.startTime!)).toBeGreaterThanOrEqual(lastEnd);
  });
});
