/**
 * Preemptions counted per job, against the real stack on a user-subscription account (Spot nodes):
 * a preempted node's running task goes back to the queue (Batch's counts stay as they were), the pool
 * controller sees the node `preempted`, counts the task it lost on the job once, and the job shows
 * `preemptions` and still completes. Also the pure counting rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { preemptedTasksByJob } from '../../shared/pipeline/preemptions.js';
import { schemaProblems } from '../support/openapi-check.js';
import {
  emulatorClient,
  getJob,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise({
    env: { BATCH_POOL_ALLOCATION_MODE: 'UserSubscription', SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '600' },
  });
  batch = emulatorClient(stack);
  await stack.deps.tenants.updatePolicy('dev', {
    limits: { submissionsPerSecond: 1000, submissionBurst: 1000, maxNodes: 1000 },
  });
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

interface WireNode {
  id: string;
  state: string;
  runningTasksCount: number;
}

async function nodesOf(poolId: string): Promise<WireNode[]> {
  const out: WireNode[] = [];
  try {
    for await (const n of batch.nodes.list(poolId)) out.push(n as unknown as WireNode);
  } catch (e) {
    if ((e as { status?: number }).status === 404) return [];
    throw e;
  }
  return out;
}

describe('preemptions', () => {
  it('counts the task a preempted Spot node lost on its job, once, and the job completes', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'spot-preempted',
        pool: { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 1, maxNodes: 2, lowPriority: true },
        keepLogs: 'none',
        tasks: Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 1200' })),
      }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const planned = await waitFor(
      () => getJob(stack, 'spot-preempted'),
      (j) => j?.batch !== undefined,
      { what: 'job planned' },
    );
    const poolId = planned!.batch!.poolId;
    await waitFor(
      () => nodesOf(poolId),
      (nodes) => nodes.filter((n) => n.state === 'running').length === 2,
      { what: 'two Spot nodes running tasks', timeoutMs: 30_000 },
    );
    // Capacity never comes back for this node: it stays `preempted` until the pool shrinks.
    const preempt = await stack.emulatorControl(`pools/${poolId}/preempt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 1, recoverAfterSeconds: null }),
    });
    expect(preempt.status).toBe(200);

    const counted = await waitFor(
      () => getJob(stack, 'spot-preempted'),
      (j) => (j?.preemptions ?? 0) > 0,
      { what: 'the preemption counted', timeoutMs: 30_000 },
    );
    expect(counted?.preemptions).toBe(1);
    expect(schemaProblems('Job', counted)).toBeUndefined();
    const done = await waitForJobState(stack, 'spot-preempted', ['completed', 'failed'], 120_000);
    expect(done.state).toBe('completed');
    // Seen once: later passes over the same preempted node add nothing.
    expect(done.preemptions).toBe(1);
  }, 180_000);

  it('counts a recent task lost at the preemption, not one that had completed on the node before', () => {
    const at = '2026-01-01T00:10:00.0000000Z';
    const node = {
      id: 'n1',
      preemptedAt: at,
      recentTasks: [
        { jobId: 'J1', taskId: 'requeued', state: 'active' },
        { jobId: 'j1', taskId: 'ran-again', state: 'completed', startTime: '2026-01-01T00:11:00Z' },
        { jobId: 'j1', taskId: 'done-before', state: 'completed', startTime: '2026-01-01T00:01:00Z' },
        { jobId: 'j2', taskId: 'other-job', state: 'running', startTime: '2026-01-01T00:12:00Z' },
      ],
    };
    expect(preemptedTasksByJob([node], {})).toEqual(
      new Map([
        ['j1', 2],
        ['j2', 1],
      ]),
    );
    expect(preemptedTasksByJob([node], { n1: at }).size).toBe(0);
  });
});
