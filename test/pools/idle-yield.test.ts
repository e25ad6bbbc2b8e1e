/**
 * Idle nodes yield to a pool that waits on the tenant's node limit (issue 18): with the tenant at its
 * limit and one pool holding nodes that run nothing, a new job on another pool does not wait out the
 * shrink delay. The idle nodes are released at once, the waiting pool grows as they go, the job says
 * why it waits meanwhile ("tenant node limit" with the numbers), and at no sampled moment do the
 * tenant's pools hold or target more nodes than the limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { TENANT_NODE_LIMIT_CODE } from '../../shared/pipeline/pool-controller.js';
import { emulatorClient, getJob, type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;
const key = 'yield-key-0123456789';
const LIMIT = 4;

beforeAll(async () => {
  // A shrink delay far longer than the test: only yielding can free the idle nodes in time.
  stack = await startSlotwise({ env: { SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '3600' } });
  batch = emulatorClient(stack);
  await stack.deps.tenants.upsert('yielding', {
    apiKey: key,
    now: new Date(),
    policy: { limits: { maxNodes: LIMIT, submissionsPerSecond: 100, submissionBurst: 100 } },
  });
}, 120_000);

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

interface WirePool {
  targetDedicatedNodes: number;
  currentDedicatedNodes: number;
}

const submit = (id: string, vmSize: string, command: string) =>
  stack.request('/jobs', {
    method: 'POST',
    key,
    body: JSON.stringify({
      id,
      pool: { vmSize, maxNodes: LIMIT },
      // Two-slot tasks on two-slot nodes: each task needs a node of its own.
      tasks: Array.from({ length: LIMIT }, (_, t) => ({
        id: `t${t}`,
        commandLine: command,
        requiredSlots: 2,
      })),
    }),
  });

describe('idle nodes yield to a pool waiting on the tenant node limit', () => {
  it('releases them at once, grows the waiting pool as they go, and says why the job waits', async () => {
    // The first job fills the limit and ends: its pool keeps LIMIT idle nodes for the shrink delay.
    expect((await submit('first', 'standard_d2s_v3', 'exit 0')).status).toBe(202);
    const first = await waitFor(
      () => getJob(stack, 'first', key),
      (j) => j?.state === 'completed',
      { what: 'first job completed', timeoutMs: 60_000 },
    );
    const firstPool = first!.batch!.poolId;
    await waitFor(
      async () => (await batch.pools.get(firstPool)) as unknown as WirePool,
      (p) => p.currentDedicatedNodes === LIMIT,
      { what: 'first pool holding the limit' },
    );

    // Sample every pool of the tenant while the second job waits and grows.
    const samples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        let held = 0;
        for await (const p of batch.pools.list()) {
          const pool = p as unknown as WirePool & { id: string };
          if (!pool.id.startsWith('swp_yielding_')) continue;
          held += Math.max(pool.targetDedicatedNodes, pool.currentDedicatedNodes);
        }
        samples.push(held);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    try {
      expect((await submit('second', 'standard_e2s_v3', 'sleep 36000')).status).toBe(202);
      // While it waits, the job says so, with the numbers.
      const waiting = await waitFor(
        () => getJob(stack, 'second', key),
        (j) => j?.waiting?.code === TENANT_NODE_LIMIT_CODE,
        { what: 'second job waiting on the tenant node limit', timeoutMs: 60_000, intervalMs: 50 },
      );
      expect(waiting!.waiting!.message).toMatch(/^tenant node limit: /);
      expect(waiting!.waiting!.message).toContain(`of the ${LIMIT} nodes`);
      const secondPool = waiting!.batch!.poolId;
      // Well before the hour-long shrink delay: the idle nodes went and the waiting pool has them.
      await waitFor(
        async () => (await batch.pools.get(secondPool)) as unknown as WirePool,
        (p) => p.currentDedicatedNodes === LIMIT,
        { what: 'second pool grown into the released nodes', timeoutMs: 60_000 },
      );
      expect(((await batch.pools.get(firstPool)) as unknown as WirePool).targetDedicatedNodes).toBe(0);
      const running = await waitFor(
        () => getJob(stack, 'second', key),
        (j) => j?.waiting === undefined && (j?.taskCounts.running ?? 0) > 0,
        { what: 'the wait is over once the job runs', timeoutMs: 30_000 },
      );
      expect(running!.taskCounts.running).toBe(LIMIT);
    } finally {
      sampling = false;
      await sampler;
    }
    expect(samples.length).toBeGreaterThan(10);
    expect(Math.max(...samples)).toBeLessThanOrEqual(LIMIT);
    await stack.request('/jobs/second', { method: 'DELETE', key });
  }, 240_000);
});
