/**
 * Reading cheaply: the reconcile pass and `GET /api/jobs` read projections of job documents, never
 * the stored request (which can approach 1 MB), and still decide and show what the full documents
 * say. The Cosmos proxy's byte counts show what was read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JobListItem, summarizeJob, toJobListItem } from '../../shared/model/job-view.js';
import { reconcileActiveJobs } from '../../shared/pipeline/reconcile.js';
import { emulatorClient, type SlotwiseStack, startSlotwise, waitForJobState } from '../support/stack.js';

// Timers off (once a year): the test runs each pass itself, so the proxy counts only that pass.
const yearly = '0 0 0 1 1 *';

/** A job whose stored request is large: 1,500 explicit tasks of ~100 bytes each. */
const bigJob = (id: string) => ({
  id,
  displayName: `big ${id}`,
  pool: { id: 'idle-pool' },
  tasks: Array.from({ length: 1500 }, (_, i) => ({
    id: `t${i}`,
    commandLine: `sleep 100000 # ${'x'.repeat(80)}`,
  })),
});

describe('projections', () => {
  let stack: SlotwiseStack;
  let requestBytes: number;
  const ids = ['proj-a', 'proj-b', 'proj-c'];

  beforeAll(async () => {
    stack = await startSlotwise({
      env: {
        SLOTWISE_RECONCILE_SCHEDULE: yearly,
        SLOTWISE_POOL_CONTROL_SCHEDULE: yearly,
        SLOTWISE_SWEEP_SCHEDULE: yearly,
      },
    });
    requestBytes = JSON.stringify(bigJob('proj-x')).length;
    // A pool without nodes: the tasks stay active, so Batch's counts hold still between passes.
    const batch = emulatorClient(stack);
    await batch.pools.add({
      id: 'idle-pool',
      vmSize: 'standard_d4s_v3',
      virtualMachineConfiguration: {
        imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
      },
      taskSlotsPerNode: 4,
      targetDedicatedNodes: 0,
    });
    await batch.close();
    await stack.deps.tenants.updatePolicy('dev', { allowedPools: ['idle-pool'] });
    for (const id of ids) {
      const res = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(bigJob(id)) });
      expect(res.status, await res.clone().text()).toBe(202);
    }
    for (const id of ids) await waitForJobState(stack, id, ['submitted'], 60_000);
  }, 120_000);

  afterAll(() => stack?.close());

  it('reconcile decides on projected jobs and reads no request', async () => {
    const proxy = stack.services.cosmosProxy;
    const share = { perTenant: 100, total: 100 };
    // First pass: Batch shows 1,500 active tasks per job, the documents show none: one write each.
    const first = await reconcileActiveJobs({ ...stack.deps, share }, 1);
    expect(first.reconciled.filter((r) => ids.includes(r.jobId)).map((r) => r.decision)).toEqual([
      'counts',
      'counts',
      'counts',
    ]);
    for (const id of ids) {
      const doc = await stack.deps.jobs.get('dev', id);
      expect(doc?.taskCounts).toEqual({ active: 1500, running: 0, succeeded: 0, failed: 0 });
    }
    // Steady pass: nothing changed, so nothing but the projection is read.
    proxy.reset();
    const steady = await reconcileActiveJobs({ ...stack.deps, share }, 2);
    expect(steady.changed).toBe(0);
    expect(steady.jobs).toBe(3);
    const stats = proxy.stats();
    expect(stats.writes).toBe(1); // the pass's cursor
    expect(stats.reads).toBe(1); // the pass's cursor
    // Whole documents would be over three requests' worth of bytes.
    expect(stats.bytesOut).toBeLessThan(requestBytes / 4);
  });

  it('GET /api/jobs returns list items equal to the full documents, without reading requests', async () => {
    const proxy = stack.services.cosmosProxy;
    proxy.reset();
    const res = await stack.request('/jobs?limit=10');
    expect(res.status).toBe(200);
    const page = (await res.json()) as { value: JobListItem[] };
    expect(proxy.stats().bytesOut).toBeLessThan(requestBytes / 4);
    expect(page.value.map((j) => j.id).sort()).toEqual([...ids].sort());
    for (const item of page.value) {
      const doc = await stack.deps.jobs.get('dev', item.id);
      if (!doc) throw new Error(`no document for ${item.id}`);
      expect(item).toEqual(toJobListItem(summarizeJob(doc)));
      expect(item).not.toHaveProperty('plan');
      expect(item).not.toHaveProperty('history');
    }
    const big = page.value.find((j) => j.id === 'proj-a')!;
    expect(big).toMatchObject({
      displayName: 'big proj-a',
      state: 'submitted',
      pool: { id: 'idle-pool' },
      tasks: 1500,
      submission: { tasksAdded: 1500 },
      links: { self: '/api/jobs/proj-a' },
    });
    // The full view is unchanged: plan and history are there.
    const full = (await (await stack.request('/jobs/proj-a')).json()) as Record<string, unknown>;
    expect(full).toHaveProperty('plan.tasks', 1500);
    expect(full).toHaveProperty('history');
  });

  it('pages through the projection', async () => {
    const seen: string[] = [];
    let next: string | undefined = '/jobs?limit=3';
    while (next) {
      const res = await stack.request(next.replace(/^\/api/, ''));
      expect(res.status).toBe(200);
      const page = (await res.json()) as { value: JobListItem[]; nextLink?: string };
      seen.push(...page.value.map((j) => j.id));
      next = page.nextLink;
    }
    expect(seen.sort()).toEqual([...ids].sort());
  });
});
