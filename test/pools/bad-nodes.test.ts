/**
 * Bad nodes against the real stack. A node of a managed pool that fails every task sent to it is
 * removed by the pool controller (Batch removenodes, its tasks requeued) and the job completes on the
 * other nodes, with a history line and a `slotwise.job.node_removed` event; the pool grows back. On an
 * existing pool a bad node is only reported (`slotwise.job.node_unhealthy`), never removed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import type { JobDoc } from '../../shared/model/job.js';
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
    env: { SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '600', SLOTWISE_POOL_IDLE_TTL_SECONDS: '600' },
  });
  batch = emulatorClient(stack);
  await stack.deps.tenants.updatePolicy('dev', {
    limits: { submissionsPerSecond: 1000, submissionBurst: 1000, maxNodes: 1000 },
    allowedPools: ['operator-pool'],
  });
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const post = (body: unknown) => stack.request('/jobs', { method: 'POST', body: JSON.stringify(body) });

interface WireNode {
  id: string;
  state: string;
}

/** The pool's nodes; none while the pool is not created yet. */
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

const inService = (nodes: WireNode[]) => nodes.filter((n) => n.state === 'idle' || n.state === 'running');

async function badNode(poolId: string, body: object): Promise<string> {
  const res = await stack.emulatorControl(`pools/${poolId}/bad-node`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { nodeId: string }).nodeId;
}

async function removeNodesCalls(): Promise<number> {
  const res = await stack.emulatorControl('counters');
  const counters = (await res.json()) as { requests: Record<string, number> };
  return counters.requests['POST /pools/{id}/removenodes'] ?? 0;
}

const stored = async (id: string) => (await stack.deps.jobs.get('dev', id)) as JobDoc;

describe('bad nodes', () => {
  it('removes a managed pool node that fails every task; the job completes on the others', async () => {
    const before = await removeNodesCalls();
    const res = await post({
      id: 'bad-node-managed',
      pool: { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 1, maxNodes: 3 },
      keepLogs: 'none',
      // Retried without limit: a task that lands on the bad node comes back to the queue.
      maxRetries: -1,
      tasks: Array.from({ length: 18 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 1200' })),
    });
    expect(res.status).toBe(202);
    const planned = await waitFor(
      () => getJob(stack, 'bad-node-managed'),
      (j) => j?.batch !== undefined,
      { what: 'job planned' },
    );
    const poolId = planned!.batch!.poolId;
    await waitFor(
      () => nodesOf(poolId),
      (nodes) => inService(nodes).length === 3,
      { what: 'three nodes in service', timeoutMs: 30_000 },
    );
    const bad = await badNode(poolId, { fault: 'failTasks' });

    // Batch is asked once to remove the node; the pool then grows back to three for the tasks left.
    await waitFor(removeNodesCalls, (n) => n - before === 1, {
      what: 'removenodes called',
      timeoutMs: 30_000,
    });
    const regrown = await waitFor(
      () => nodesOf(poolId),
      (nodes) => inService(nodes).length === 3 && !nodes.some((n) => n.id === bad),
      { what: 'a new node in place of the bad one', timeoutMs: 30_000 },
    );
    expect(regrown.map((n) => n.id)).not.toContain(bad);

    const job = await waitForJobState(stack, 'bad-node-managed', ['completed', 'failed'], 120_000);
    expect(job.state).toBe('completed');
    expect(job.taskCounts).toMatchObject({ succeeded: 18, failed: 0 });
    expect((await removeNodesCalls()) - before).toBe(1);

    expect(schemaProblems('Job', job)).toBeUndefined();
    const line = job.history.find((h) => h.note?.code === 'NodeRemoved');
    expect(line?.note).toMatchObject({ poolId, nodeId: bad });
    expect(line?.note?.message).toContain('failed');
    const event = (await stored('bad-node-managed')).events.find(
      (e) => e.type === 'slotwise.job.node_removed',
    );
    expect(event?.detail?.node).toMatchObject({
      poolId,
      nodeId: bad,
      reason: 'NodeFailsTasks',
      action: 'removed',
    });
  }, 180_000);

  it('on an existing pool only reports a bad node, and removes nothing', async () => {
    await batch.pools.add({
      id: 'operator-pool',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: {
        imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
      },
      taskSlotsPerNode: 1,
      targetDedicatedNodes: 2,
    });
    await waitFor(
      () => nodesOf('operator-pool'),
      (nodes) => inService(nodes).length === 2,
      { what: 'two nodes in service', timeoutMs: 30_000 },
    );
    const before = await removeNodesCalls();
    const res = await post({
      id: 'bad-node-existing',
      pool: { id: 'operator-pool' },
      keepLogs: 'none',
      tasks: Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 1200' })),
    });
    expect(res.status).toBe(202);
    await waitForJobState(stack, 'bad-node-existing', ['running']);
    const bad = await badNode('operator-pool', { fault: 'unusable' });

    const reported = await waitFor(
      () => getJob(stack, 'bad-node-existing'),
      (j) => j?.history.some((h) => h.note?.code === 'NodeUnhealthy') === true,
      { what: 'the bad node reported', timeoutMs: 30_000 },
    );
    expect(reported?.history.find((h) => h.note)?.note).toMatchObject({
      code: 'NodeUnhealthy',
      poolId: 'operator-pool',
      nodeId: bad,
    });
    const job = await waitForJobState(stack, 'bad-node-existing', ['completed', 'failed'], 120_000);
    expect(job.state).toBe('completed');
    // Reported once, never removed: the node is still in the operator's pool.
    expect(job.history.filter((h) => h.note?.code === 'NodeUnhealthy')).toHaveLength(1);
    const event = (await stored('bad-node-existing')).events.find(
      (e) => e.type === 'slotwise.job.node_unhealthy',
    );
    expect(event?.detail?.node).toMatchObject({ nodeId: bad, reason: 'NodeUnusable', action: 'reported' });
    expect((await removeNodesCalls()) - before).toBe(0);
    expect((await nodesOf('operator-pool')).find((n) => n.id === bad)?.state).toBe('unusable');
  }, 180_000);
});
