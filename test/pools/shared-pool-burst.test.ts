/**
 * Many jobs on one pool at once. Before the pool controller, every submitter resized the shared pool
 * itself and a resize in progress failed the next job (`PoolBeingResized`). Now submitters never
 * resize: a burst of 300 jobs on one spec, and a burst on a small existing pool, end with 0 failures.
 * Also: a job arriving while its managed pool is being deleted waits for it to be created again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { emulatorClient, getJob, type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise({
    env: { SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '1', SLOTWISE_POOL_IDLE_TTL_SECONDS: '1' },
  });
  batch = emulatorClient(stack);
  await stack.deps.tenants.updatePolicy('dev', {
    limits: { submissionsPerSecond: 10_000, submissionBurst: 10_000, maxActiveJobs: 1000 },
    allowedPools: ['small-existing'],
  });
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const post = (body: unknown) => stack.request('/jobs', { method: 'POST', body: JSON.stringify(body) });

/**
 * Submits as a well-behaved client does: a 429 (one tenant's burst contending for its rate cell) is
 * retried after `Retry-After`. Returns the final status.
 */
async function submitLikeAClient(body: unknown): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const res = await post(body);
    if (res.status !== 429 || attempt >= 5) return res.status;
    const wait = Number(res.headers.get('retry-after') ?? '1');
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

/** Runs `work` over `items`, `limit` at a time. */
async function inFlight<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function endStates(ids: string[]): Promise<Record<string, number>> {
  const states: Record<string, number> = {};
  const jobs = await Promise.all(ids.map((id) => stack.deps.jobs.get('dev', id)));
  for (const j of jobs) states[j?.state ?? 'missing'] = (states[j?.state ?? 'missing'] ?? 0) + 1;
  return states;
}

describe('bursts on shared pools', () => {
  it('runs 300 jobs of 20 tasks on one pool spec, 16 submissions in flight, with 0 failures', async () => {
    const pool = { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 4, maxNodes: 5 };
    const task = (t: number) => ({ id: `t${t}`, commandLine: `sleep ${5 + (t % 7)}` });
    // The pool is up with one node before the burst.
    expect((await post({ id: 'warm', pool, tasks: [task(0)] })).status).toBe(202);
    await waitFor(
      () => getJob(stack, 'warm'),
      (j) => j?.state === 'completed',
      { what: 'warm-up job' },
    );
    const ids = Array.from({ length: 300 }, (_, i) => `burst-${i}`);
    const statuses: number[] = [];
    await inFlight(ids, 16, async (id) => {
      statuses.push(
        // No log copies: 12,000 real uploads to Azurite would be timed here, not the pool's scheduling.
        await submitLikeAClient({
          id,
          pool,
          keepLogs: 'none',
          tasks: Array.from({ length: 20 }, (_, t) => task(t)),
        }),
      );
    });
    expect(statuses.filter((s) => s !== 202)).toEqual([]);
    const states = await waitFor(
      () => endStates(ids),
      (s) => (s.completed ?? 0) + (s.failed ?? 0) + (s.rejected ?? 0) + (s.cancelled ?? 0) === ids.length,
      { what: 'every burst job ended', timeoutMs: 240_000, intervalMs: 500 },
    );
    expect(states).toEqual({ completed: 300 });
  }, 300_000);

  it('runs a burst on a small existing pool without resizing it, with 0 failures', async () => {
    await batch.pools.add({
      id: 'small-existing',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: {
        imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
      },
      taskSlotsPerNode: 2,
      targetDedicatedNodes: 1,
    });
    const ids = Array.from({ length: 60 }, (_, i) => `small-${i}`);
    await inFlight(ids, 16, async (id) => {
      const status = await submitLikeAClient({
        id,
        pool: { id: 'small-existing' },
        keepLogs: 'none',
        tasks: Array.from({ length: 5 }, (_, t) => ({ id: `t${t}`, commandLine: 'sleep 3' })),
      });
      expect(status).toBe(202);
    });
    const states = await waitFor(
      () => endStates(ids),
      (s) => (s.completed ?? 0) + (s.failed ?? 0) + (s.rejected ?? 0) === ids.length,
      { what: 'every job on the small pool ended', timeoutMs: 240_000, intervalMs: 500 },
    );
    expect(states).toEqual({ completed: 60 });
    expect(
      ((await batch.pools.get('small-existing')) as { targetDedicatedNodes: number }).targetDedicatedNodes,
    ).toBe(1);
  });

  it('waits for a managed pool being deleted and runs on it once it is created again', async () => {
    // Deletion takes a while (simulated), so the next job arrives while the pool is `deleting`.
    await stack.emulatorControl('timings', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deleteSeconds: 1200 }),
    });
    const pool = { vmSize: 'standard_e2s_v3', maxNodes: 1 };
    expect(
      (await post({ id: 'before-delete', pool, tasks: [{ id: 't', commandLine: 'sleep 1' }] })).status,
    ).toBe(202);
    const first = await waitFor(
      () => getJob(stack, 'before-delete'),
      (j) => j?.state === 'completed',
      {
        what: 'first job done',
      },
    );
    const poolId = first!.batch!.poolId;
    await waitFor(
      async () =>
        ((await batch.pools.get(poolId).catch(() => undefined)) as { state?: string } | undefined)?.state,
      (state) => state === 'deleting',
      { what: 'idle pool being deleted', timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(
      (await post({ id: 'during-delete', pool, tasks: [{ id: 't', commandLine: 'sleep 1' }] })).status,
    ).toBe(202);
    const second = await waitFor(
      () => getJob(stack, 'during-delete'),
      (j) => j?.state === 'completed' || j?.state === 'failed',
      { what: 'job placed during the delete ended', timeoutMs: 60_000 },
    );
    expect(second?.state).toBe('completed');
    expect(second?.batch?.poolId).toBe(poolId);
  });
});
