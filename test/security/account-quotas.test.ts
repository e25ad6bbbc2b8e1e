/**
 * The Batch account's quotas are shared by every tenant (security review 3, findings 2 and 3): a job
 * that meets a full account (`PoolQuotaReached`, `ActiveJobAndScheduleQuotaReached`) waits with a
 * visible reason and runs once room frees, instead of failing; and one tenant cannot take the
 * account's pools, because it holds at most `maxManagedPools` managed pools (a job past it waits in
 * `accepted` with the reason, and plans once one of the tenant's pools is deleted).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import type { JobView } from '../../shared/model/job-view.js';
import { emulatorClient, getJob, type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise({
    env: {
      // Idle pools go at once, and a job waiting for room is tried again within seconds.
      SLOTWISE_POOL_IDLE_TTL_SECONDS: '1',
      SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '1',
      SLOTWISE_QUOTA_RETRY_SECONDS: '1',
    },
  });
  batch = emulatorClient(stack);
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const generous = { submissionsPerSecond: 1000, submissionBurst: 1000 };

async function tenant(name: string, limits: Record<string, unknown>): Promise<string> {
  const key = `${name}-key-0123456789`;
  await stack.deps.tenants.upsert(name, { apiKey: key, now: new Date(), policy: { limits } });
  return key;
}

const post = (key: string, body: unknown) =>
  stack.request('/jobs', { method: 'POST', body: JSON.stringify(body), key });
const cancel = (key: string, id: string) => stack.request(`/jobs/${id}`, { method: 'DELETE', key });

const longJob = (id: string, pool: Record<string, unknown>) => ({
  id,
  pool,
  tasks: [{ id: 't', commandLine: 'sleep 100000' }],
});

async function setQuotas(quotas: { pools?: number; activeJobs?: number }): Promise<void> {
  const res = await stack.emulatorControl('quotas', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(quotas),
  });
  expect(res.status).toBe(200);
}

async function countBatch(kind: 'pools' | 'jobs', filter?: string): Promise<number> {
  let n = 0;
  const list =
    kind === 'pools'
      ? batch.pools.list({ select: 'id' })
      : batch.jobs.list({ ...(filter ? { filter } : {}), select: 'id' });
  for await (const _ of list) n++;
  return n;
}

async function waitForState(
  key: string,
  id: string,
  states: string[],
  timeoutMs = 120_000,
): Promise<JobView> {
  const job = await waitFor(
    () => getJob(stack, id, key),
    (j) => j !== undefined && states.includes(j.state),
    { what: `job ${id} in ${states.join('/')}`, timeoutMs },
  );
  return job!;
}

async function waitForWaiting(key: string, id: string, code: string): Promise<JobView> {
  const job = await waitFor(
    () => getJob(stack, id, key),
    (j) =>
      j?.waiting?.code === code || (j !== undefined && ['failed', 'completed', 'rejected'].includes(j.state)),
    { what: `job ${id} waiting with ${code}`, timeoutMs: 60_000 },
  );
  return job!;
}

describe('a full Batch account makes jobs wait, never fail', () => {
  it("waits when one tenant's pools fill the account's pool quota, and runs once a pool goes", async () => {
    const globex = await tenant('globex', { ...generous, maxManagedPools: 10 });
    const racer = await tenant('racer', generous);
    await setQuotas({ pools: (await countBatch('pools')) + 4 });
    // Four jobs identical but for the pool spec: four managed pools, the account's last four places.
    for (const slots of [1, 3, 5, 7])
      expect(
        (await post(globex, longJob(`spec-${slots}`, { vmSize: 'standard_d8s_v3', taskSlotsPerNode: slots })))
          .status,
      ).toBe(202);
    for (const slots of [1, 3, 5, 7]) {
      const job = await waitFor(
        () => getJob(stack, `spec-${slots}`, globex),
        (j) => j?.state === 'running',
        { what: `spec-${slots} running`, timeoutMs: 60_000 },
      );
      expect(job?.batch?.managedPool).toBe(true);
    }

    // Another tenant's job needs a pool of its own: the account has none left.
    expect(
      (
        await post(racer, {
          id: 'victim2',
          pool: { vmSize: 'standard_d4s_v3' },
          tasks: [{ id: 't', commandLine: 'echo' }],
        })
      ).status,
    ).toBe(202);
    const waiting = await waitForWaiting(racer, 'victim2', 'PoolQuotaReached');
    expect(waiting.state).toBe('submitting');
    expect(waiting.waiting?.failAt).toBeUndefined();
    expect(waiting.waiting?.message).toContain('quota of pools');
    expect(waiting.failure).toBeUndefined();

    // globex ends one job: its pool goes idle and is deleted, and the waiting job gets the place.
    expect((await cancel(globex, 'spec-7')).status).toBeLessThan(300);
    const done = await waitForState(racer, 'victim2', ['completed', 'failed']);
    expect(done.state).toBe('completed');
    expect(done.waiting).toBeUndefined();
    expect(done.history.map((h) => h.state)).not.toContain('failed');
    for (const slots of [1, 3, 5]) expect((await cancel(globex, `spec-${slots}`)).status).toBeLessThan(300);
    await setQuotas({ pools: 1000 });
  }, 240_000);

  it('waits when the account has no room for another active job, and runs once a job ends', async () => {
    const acme = await tenant('acme', generous);
    expect((await post(acme, longJob('holder', { vmSize: 'standard_d2s_v3' }))).status).toBe(202);
    await waitForState(acme, 'holder', ['running']);
    await setQuotas({ activeJobs: await countBatch('jobs', "state eq 'active'") });

    expect(
      (
        await post(acme, {
          id: 'queued-1',
          pool: { vmSize: 'standard_d2s_v3' },
          tasks: [{ id: 't', commandLine: 'echo' }],
        })
      ).status,
    ).toBe(202);
    const waiting = await waitForWaiting(acme, 'queued-1', 'ActiveJobAndScheduleQuotaReached');
    expect(waiting.state).toBe('submitting');
    expect(waiting.waiting?.message).toContain('quota of active jobs');
    // The wait is announced once, as an event.
    const doc = await stack.deps.jobs.get('acme', 'queued-1');
    expect(doc?.events.filter((e) => e.type === 'slotwise.job.waiting')).toHaveLength(1);

    expect((await cancel(acme, 'holder')).status).toBeLessThan(300);
    const done = await waitForState(acme, 'queued-1', ['completed', 'failed']);
    expect(done.state).toBe('completed');
    expect(done.waiting).toBeUndefined();
    await setQuotas({ activeJobs: 10_000 });
  }, 240_000);
});

describe('maxManagedPools', () => {
  it('holds a tenant to its managed pools: a job needing one more waits with the reason, then runs', async () => {
    const greedy = await tenant('greedy', { ...generous, maxManagedPools: 2 });
    const pool = (slots: number) => ({ vmSize: 'standard_e2s_v3', taskSlotsPerNode: slots });
    expect((await post(greedy, longJob('p1', pool(1)))).status).toBe(202);
    expect((await post(greedy, longJob('p2', pool(2)))).status).toBe(202);
    const p1 = await waitFor(
      () => getJob(stack, 'p1', greedy),
      (j) => j?.state === 'running',
      { what: 'p1 running', timeoutMs: 60_000 },
    );
    await waitFor(
      () => getJob(stack, 'p2', greedy),
      (j) => j?.state === 'running',
      { what: 'p2 running', timeoutMs: 60_000 },
    );

    expect((await post(greedy, longJob('p3', pool(3)))).status).toBe(202);
    const waiting = await waitForWaiting(greedy, 'p3', 'ManagedPoolLimitReached');
    expect(waiting.state).toBe('accepted');
    expect(waiting.waiting?.message).toContain('maxManagedPools is 2');
    expect(waiting.waiting?.failAt).toBeUndefined();
    // A job on a pool the tenant holds is not held back.
    expect((await post(greedy, longJob('p4', pool(1)))).status).toBe(202);
    const p4 = await waitFor(
      () => getJob(stack, 'p4', greedy),
      (j) => j?.state === 'running',
      { what: 'p4 running', timeoutMs: 60_000 },
    );
    expect(p4?.batch?.poolId).toBe(p1?.batch?.poolId);

    // p2 ends: its pool goes idle and is deleted, and p3 gets the place.
    expect((await cancel(greedy, 'p2')).status).toBeLessThan(300);
    const running = await waitFor(
      () => getJob(stack, 'p3', greedy),
      (j) => j?.state === 'running' || j?.state === 'failed',
      { what: 'p3 running', timeoutMs: 120_000 },
    );
    expect(running?.state).toBe('running');
    expect(running?.waiting).toBeUndefined();
    // Waiting is not failing: the waits counted no planning attempt, only the plan that went through.
    const planning = (await stack.deps.jobs.get('greedy', 'p3'))?.planning;
    expect(planning?.attempts).toBe(1);
    expect(planning?.waits).toBeGreaterThanOrEqual(1);
    for (const id of ['p1', 'p3', 'p4']) expect((await cancel(greedy, id)).status).toBeLessThan(300);
  }, 240_000);
});
