/**
 * The tenant's node limit (`maxNodes`) spans its pools in every Batch account: with a limit of N, a
 * job wanting N nodes in one account and then another wanting N in a second account never bring the
 * tenant's pools, summed over both accounts, above N nodes held or targeted; the second waits for the
 * first's nodes (`TenantNodeLimit`) and both complete.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { vmFamilyOf } from '../../shared/model/vm-sizes.js';
import { TENANT_NODE_LIMIT_CODE } from '../../shared/pipeline/pool-controller.js';
import { setFamilyQuotas } from '../support/accounts.js';
import {
  BATCH_ACCOUNT,
  emulatorClient,
  getJob,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
} from '../support/stack.js';

const A = BATCH_ACCOUNT;
const B = 'limitb';
const D2 = 'standard_d2s_v3';
const E2 = 'standard_e2s_v3';
const N = 6;
const TENANT = 'capped';
const key = 'capped-key-0123456789abcdef';

let stack: SlotwiseStack;
const clients: Record<string, BatchClient> = {};

beforeAll(async () => {
  stack = await startSlotwise({
    accounts: [{ name: B }],
    env: { SLOTWISE_ACCOUNT_QUOTA_SECONDS: '1' },
  });
  // DSv3 only in A, ESv3 only in B: each job's family decides its account.
  const quotas: Record<string, Record<string, number>> = {
    [A]: { [vmFamilyOf(D2)]: 100, [vmFamilyOf(E2)]: 0 },
    [B]: { [vmFamilyOf(D2)]: 0, [vmFamilyOf(E2)]: 100 },
  };
  for (const [name, perFamily] of Object.entries(quotas)) await setFamilyQuotas(stack, name, perFamily);
  await waitFor(
    () => stack.deps.accountStore.list([A, B]),
    (docs) => docs.length === 2 && docs.every((d) => d.quotas?.perFamily?.[vmFamilyOf(D2)] !== undefined),
    { what: 'both accounts’ quotas read', timeoutMs: 60_000 },
  );
  stack.deps.accountDirectory.refresh();
  await stack.deps.tenants.upsert(TENANT, {
    apiKey: key,
    now: new Date(),
    policy: { limits: { maxNodes: N } },
  });
  clients[A] = emulatorClient(stack, A);
  clients[B] = emulatorClient(stack, B);
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await stack?.close();
});

interface WirePool {
  id: string;
  targetDedicatedNodes: number;
  currentDedicatedNodes: number;
}

/** Nodes the tenant's pools in one account hold or are about to hold. */
async function heldIn(account: string): Promise<number> {
  let n = 0;
  for await (const p of clients[account]!.pools.list()) {
    const pool = p as unknown as WirePool;
    if (pool.id.startsWith(`swp_${TENANT}_`))
      n += Math.max(pool.targetDedicatedNodes ?? 0, pool.currentDedicatedNodes ?? 0);
  }
  return n;
}

/** N one-node tasks (each takes all of a 2-vCPU node's slots). */
const post = (id: string, vmSize: string, command: string) =>
  stack.request('/jobs', {
    method: 'POST',
    key,
    body: JSON.stringify({
      id,
      pool: { vmSize, maxNodes: N },
      tasks: Array.from({ length: N }, (_, t) => ({ id: `t${t}`, commandLine: command, requiredSlots: 2 })),
    }),
  });

describe('the tenant node limit across accounts', () => {
  it('never lets the tenant’s pools in two accounts hold more than maxNodes, and both jobs complete', async () => {
    const samples: { a: number; b: number }[] = [];
    let sampling = true;
    // B's pool only grows once A's has let nodes go, so B is read first: a sample never adds A's nodes
    // from before a shrink to B's from after the growth it allowed.
    const sampler = (async () => {
      while (sampling) {
        const b = await heldIn(B);
        const a = await heldIn(A);
        samples.push({ a, b });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      // Runs until the test moves A's clock on, once the second job is seen waiting.
      expect((await post('first', D2, 'sleep 500000')).status).toBe(202);
      await waitFor(
        () => heldIn(A),
        (n) => n === N,
        { what: `A's pool at ${N} nodes`, timeoutMs: 60_000 },
      );
      const first = await getJob(stack, 'first', key);
      expect(first?.batch?.account).toBe(A);

      expect((await post('second', E2, 'sleep 600')).status).toBe(202);
      const waiting = await waitFor(
        () => getJob(stack, 'second', key),
        (j) => j?.waiting?.code === TENANT_NODE_LIMIT_CODE || j?.state === 'completed',
        { what: 'second waiting for the tenant’s nodes', timeoutMs: 60_000 },
      );
      expect(waiting?.batch?.account).toBe(B);
      expect(waiting?.waiting?.code).toBe(TENANT_NODE_LIMIT_CODE);
      const advanced = await stack.emulatorControlOf(A, 'clock', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ advanceSeconds: 1_000_000 }),
      });
      expect(advanced.status).toBe(200);

      for (const id of ['first', 'second']) {
        const done = await waitFor(
          () => getJob(stack, id, key),
          (j) => j?.state === 'completed' || j?.state === 'failed',
          { what: `${id} ended`, timeoutMs: 120_000, intervalMs: 200 },
        );
        expect(done?.state, id).toBe('completed');
      }
    } finally {
      sampling = false;
      await sampler;
    }
    // Both accounts held nodes, B's pool reached its N once A's let go, and never more than N together.
    expect(samples.some((s) => s.a > 0)).toBe(true);
    expect(samples.some((s) => s.b === N)).toBe(true);
    const worst = Math.max(...samples.map((s) => s.a + s.b));
    expect(worst).toBeLessThanOrEqual(N);
  }, 300_000);
});
