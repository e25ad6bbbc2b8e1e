/**
 * The pool controller against the real stack: shared pools sized by the combined slot demand of their
 * jobs, shrinking only nodes with nothing running, allocation failures reaching the job, and two
 * controllers racing on one pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchClient, createBatchClient } from '../../shared/adapters/batch/client.js';
import { createAppDeps } from '../../shared/app/app.js';
import { runPlanStage } from '../../shared/pipeline/plan-stage.js';
import { poolControllerDeps, runPoolController } from '../../shared/pipeline/pool-controller.js';
import { runSubmitStage } from '../../shared/pipeline/submit-stage.js';
import { acceptJob } from '../../shared/usecases/accept-job.js';
import {
  BATCH_ACCOUNT,
  BATCH_KEY,
  emulatorClient,
  getJob,
  type SlotwiseStack,
  startSlotwise,
  startTestEmulator,
  startTestServices,
  waitFor,
} from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise({
    env: {
      SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '1',
      SLOTWISE_POOL_IDLE_TTL_SECONDS: '1',
      SLOTWISE_ALLOCATION_DEADLINE_SECONDS: '3',
    },
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

const post = (body: unknown) => stack.request('/jobs', { method: 'POST', body: JSON.stringify(body) });

interface WirePool {
  targetDedicatedNodes: number;
  currentDedicatedNodes: number;
  allocationState: string;
  resizeErrors?: { code: string }[];
}
interface WireNode {
  id: string;
  state: string;
}
interface WireTask {
  id: string;
  state: string;
  nodeInfo?: { nodeId: string };
}

const poolOf = async (id: string) => (await batch.pools.get(id)) as unknown as WirePool;

async function list<T>(items: AsyncIterable<unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item as T);
  return out;
}

describe('pool controller', () => {
  it('sizes a shared pool for the combined demand of ten jobs, then shrinks it when they end', async () => {
    const pool = { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8, maxNodes: 8 };
    // Each job: 16 tasks of 4 slots on 8-slot nodes → 8 nodes; ten of them share one pool.
    const ids = Array.from({ length: 10 }, (_, i) => `shared-${i}`);
    for (const id of ids) {
      const res = await post({
        id,
        pool,
        tasks: Array.from({ length: 16 }, (_, t) => ({
          id: `t${t}`,
          commandLine: 'sleep 36000',
          requiredSlots: 4,
        })),
      });
      expect(res.status).toBe(202);
    }
    const planned = await Promise.all(
      ids.map((id) =>
        waitFor(
          () => getJob(stack, id),
          (j) => j?.batch !== undefined,
          { what: `${id} planned` },
        ),
      ),
    );
    const poolId = planned[0]!.batch!.poolId;
    expect(new Set(planned.map((j) => j?.batch?.poolId))).toEqual(new Set([poolId]));
    const grown = await waitFor(
      () => poolOf(poolId),
      (p) => p.targetDedicatedNodes === 80 && p.currentDedicatedNodes === 80,
      { what: 'pool at 80 nodes', timeoutMs: 40_000 },
    );
    expect(grown.targetDedicatedNodes).toBe(80);

    for (const id of ids) await stack.request(`/jobs/${id}`, { method: 'DELETE' });
    await waitFor(
      () =>
        batch.pools.get(poolId).then(
          () => 'there',
          () => 'gone',
        ),
      (state) => state === 'gone',
      { what: 'idle pool shrunk and deleted', timeoutMs: 40_000 },
    );
  });

  it('shrinks only nodes with nothing running', async () => {
    const res = await post({
      id: 'mixed',
      pool: { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 2, maxNodes: 8 },
      tasks: Array.from({ length: 8 }, (_, t) => ({
        id: `t${t}`,
        commandLine: t < 4 ? 'sleep 30' : 'sleep 36000',
        requiredSlots: 2,
      })),
    });
    expect(res.status).toBe(202);
    const job = await waitFor(
      () => getJob(stack, 'mixed'),
      (j) => j?.batch !== undefined && j.taskCounts.succeeded === 4 && j.taskCounts.running === 4,
      { what: 'short tasks done, long ones running', timeoutMs: 40_000 },
    );
    const { poolId, jobId } = job!.batch!;
    const runningBefore = (await list<WireTask>(batch.tasks.list(jobId))).filter(
      (t) => t.state === 'running',
    );
    expect(runningBefore).toHaveLength(4);
    const shrunk = await waitFor(
      () => poolOf(poolId),
      (p) => p.targetDedicatedNodes === 4 && p.currentDedicatedNodes === 4 && p.allocationState === 'steady',
      { what: 'pool shrunk to the 4 busy nodes', timeoutMs: 40_000 },
    );
    expect(shrunk.currentDedicatedNodes).toBe(4);
    const nodes = await list<WireNode>(batch.nodes.list(poolId));
    const after = await list<WireTask>(batch.tasks.list(jobId));
    // The same four tasks still run, on the nodes that were kept: none was interrupted or requeued.
    expect(after.filter((t) => t.state === 'running').map((t) => [t.id, t.nodeInfo?.nodeId])).toEqual(
      runningBefore.map((t) => [t.id, t.nodeInfo?.nodeId]),
    );
    expect(nodes.map((n) => n.id).sort()).toEqual(runningBefore.map((t) => t.nodeInfo!.nodeId).sort());
    await stack.request('/jobs/mixed', { method: 'DELETE' });
  });

  it('shows a core quota shortfall on the job, sends an event, and waits past the deadline until cores come', async () => {
    await stack.emulatorControl('quotas', {
      method: 'PUT',
      body: JSON.stringify({ dedicatedCoreQuotaPerVMFamily: [{ name: 'standardESv3Family', coreQuota: 0 }] }),
    });
    const res = await post({
      id: 'no-cores',
      pool: { vmSize: 'standard_e4s_v3', maxNodes: 2 },
      tasks: [{ id: 't', commandLine: 'sleep 10' }],
      callback: { url: 'http://127.0.0.1:9/none' },
    });
    expect(res.status).toBe(202);
    const waiting = await waitFor(
      () => getJob(stack, 'no-cores'),
      (j) => j?.waiting !== undefined,
      { what: 'waiting reason', timeoutMs: 30_000 },
    );
    expect(waiting?.waiting?.code).toBe('AccountCoreQuotaReached');
    expect(waiting?.waiting?.message).toMatch(/core quota/);
    // The account's core quota is every tenant's: the job waits for cores, with no deadline.
    expect(waiting?.waiting?.failAt).toBeUndefined();
    expect(waiting?.deliveries.map((d) => d.type)).toContain('slotwise.job.waiting');
    const poolId = waiting!.batch!.poolId;
    const problem = (await stack.deps.pools.get(poolId))?.allocationProblem;
    expect(problem?.code).toBe('AccountCoreQuotaReached');
    const health = (await (await stack.request('/health')).json()) as {
      pools: { cannotAllocate: { poolId: string; code: string }[] };
    };
    expect(health.pools.cannotAllocate).toContainEqual(
      expect.objectContaining({ poolId, code: 'AccountCoreQuotaReached' }),
    );
    // Past the allocation deadline (3 s here), a pass later: still waiting, not failed.
    const deadline = Date.parse(problem!.since) + 3_000;
    await waitFor(
      () => stack.deps.pools.get(poolId),
      () => Date.now() > deadline + 2_000,
      { what: 'a controller pass after the deadline', timeoutMs: 30_000, intervalMs: 250 },
    );
    const still = await getJob(stack, 'no-cores');
    expect(still?.state).not.toBe('failed');
    expect(still?.waiting?.code).toBe('AccountCoreQuotaReached');
    // Cores come back: the pool grows, the job runs and its reason goes.
    await stack.emulatorControl('quotas', {
      method: 'PUT',
      body: JSON.stringify({ dedicatedCoreQuotaPerVMFamily: [] }),
    });
    const ran = await waitFor(
      () => getJob(stack, 'no-cores'),
      (j) => j?.waiting === undefined && ((j?.taskCounts.running ?? 0) > 0 || j?.state === 'completed'),
      { what: 'running once cores came', timeoutMs: 60_000 },
    );
    expect(ran?.state).not.toBe('failed');
    await stack.request('/jobs/no-cores', { method: 'DELETE' });
  });
});

describe("the tenant's node limit", () => {
  it('shares it between the tenant pools and never lets them hold more', async () => {
    const key = 'capped-key-0123456789';
    await stack.deps.tenants.upsert('capped', {
      apiKey: key,
      now: new Date(),
      policy: { limits: { maxNodes: 4, submissionsPerSecond: 100, submissionBurst: 100 } },
    });
    const submit = (id: string, vmSize: string) =>
      stack.request('/jobs', {
        method: 'POST',
        key,
        body: JSON.stringify({
          id,
          pool: { vmSize, maxNodes: 4 },
          tasks: Array.from({ length: 4 }, (_, t) => ({
            id: `t${t}`,
            commandLine: 'sleep 36000',
            requiredSlots: 2,
          })),
        }),
      });
    // The two jobs' demand must reach the controller in one pass: a pass between the two plans would
    // give the first pool the whole limit, and its busy nodes are never taken back. Holding the
    // tenant's controller claim while both are planned makes that order certain.
    const holder = 'test-holds-the-pass';
    expect(await stack.deps.pools.claimTenant('capped', holder, new Date(), 60_000)).toBe(true);
    let jobs: Awaited<ReturnType<typeof getJob>>[];
    try {
      expect((await submit('left', 'standard_d2s_v3')).status).toBe(202);
      expect((await submit('right', 'standard_e2s_v3')).status).toBe(202);
      jobs = await Promise.all(
        ['left', 'right'].map((id) =>
          waitFor(
            () => getJob(stack, id, key),
            (j) => j?.batch !== undefined,
            { what: `${id} planned` },
          ),
        ),
      );
    } finally {
      await stack.deps.pools.releaseTenant('capped', holder);
    }
    const poolIds = jobs.map((j) => j!.batch!.poolId);
    expect(new Set(poolIds).size).toBe(2);
    // Each job alone wants 4 nodes (4 tasks of 2 slots on 2-slot nodes); together they get the limit.
    const targets = await waitFor(
      () =>
        Promise.all(
          poolIds.map((id) =>
            poolOf(id).then(
              (p) => p.targetDedicatedNodes,
              () => -1,
            ),
          ),
        ),
      (t) => t[0]! >= 1 && t[1]! >= 1 && t[0]! + t[1]! === 4,
      { what: 'both pools sized within the limit', timeoutMs: 30_000 },
    );
    expect(targets).toEqual([2, 2]);
    for (const id of ['left', 'right']) await stack.request(`/jobs/${id}`, { method: 'DELETE', key });
  });
});

describe('two controllers racing', () => {
  // No host here: nothing but the two controllers acts on the pool, so the race is exactly theirs.
  it('lets one act: the pool is resized once, to the wanted size', async () => {
    const services = await startTestServices();
    const emulator = await startTestEmulator();
    const deps = await createAppDeps({
      ...stack.env,
      AzureWebJobsStorage: services.storageConnectionString,
      COSMOS_ENDPOINT: services.cosmosEndpoint,
      COSMOS_KEY: services.cosmosKey,
      BATCH_ENDPOINT: emulator.url,
      BATCH_MANAGEMENT_ENDPOINT: emulator.url,
    });
    const client = createBatchClient({
      endpoint: emulator.url,
      accountName: BATCH_ACCOUNT,
      accountKey: BATCH_KEY,
    });
    try {
      const request = {
        id: 'race',
        pool: { vmSize: 'standard_d8s_v3', maxNodes: 3 },
        tasks: Array.from({ length: 3 }, (_, t) => ({
          id: `t${t}`,
          commandLine: 'sleep 5',
          requiredSlots: 8,
        })),
      };
      expect((await acceptJob({ tenant: 'dev', body: request, source: 'http' }, deps)).kind).toBe('accepted');
      expect(await runPlanStage({ tenant: 'dev', jobId: 'race' }, deps)).toBe('planned');
      expect(await runSubmitStage({ tenant: 'dev', jobId: 'race' }, 'submitter', deps)).toBe('submitted');
      const poolId = (await deps.jobs.get('dev', 'race'))!.batch!.poolId;
      await waitFor(
        async () => (await client.pools.get(poolId)) as unknown as WirePool,
        (p) => p.allocationState === 'steady',
        { what: 'new pool steady' },
      );
      const controllerDeps = poolControllerDeps(deps);
      const [a, b] = await Promise.all([
        runPoolController(controllerDeps, 'controller-a', { tenant: 'dev', poolId }),
        runPoolController(controllerDeps, 'controller-b', { tenant: 'dev', poolId }),
      ]);
      expect(a.grown + b.grown).toBe(1);
      expect(a.busy + b.busy).toBe(1);
      expect(a.errors + b.errors).toBe(0);
      expect(((await client.pools.get(poolId)) as unknown as WirePool).targetDedicatedNodes).toBe(3);
      const counters = (await (await fetch(`${emulator.url}/_emulator/counters`)).json()) as {
        requests: Record<string, number>;
      };
      const resizes = Object.entries(counters.requests)
        // Resizes go through the management plane (a PATCH of the pool); the data plane's count too.
        .filter(([k]) => k.includes('/resize') || k === 'ARM PATCH /pools/{id}')
        .reduce((n, [, v]) => n + v, 0);
      expect(resizes).toBe(1);
      // A pass right after finds the pool resizing and leaves it alone.
      const again = await runPoolController(controllerDeps, 'controller-a', { tenant: 'dev', poolId });
      expect(again.grown + again.shrunk).toBe(0);
    } finally {
      await client.close();
      await deps.close();
      await emulator.close();
      await services.close();
    }
  });
});
