/**
 * TES tasks that wait, and tasks whose node goes away, on the real local stack: a queued task's FULL
 * view says why it waits (its lane's pool at its maximum; the Batch account's core quota used up) with
 * a system log line and `metadata.slotwise_wait_code`, and clears it when the cause goes; a task whose
 * Spot node is preempted runs again and shows each attempt as a task log; a task whose lane cannot be
 * opened yet (the tenant's pool limit) says so before it is in Batch; the tenant's TES rate limit
 * answers 429 with Retry-After.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
const TES = '/ga4gh/tes/v1';
const LIMITED = 'limited-tenant-key-0123456789';
const ONE_POOL = 'one-pool-tenant-key-0123456789';

beforeAll(async () => {
  stack = await startSlotwise({
    // One node per lane, and Spot allowed (Batch gives Spot nodes to user-subscription accounts).
    env: { SLOTWISE_TES_MAX_NODES: '1', BATCH_POOL_ALLOCATION_MODE: 'UserSubscription' },
  });
  await stack.deps.tenants.upsert('limited', {
    apiKey: LIMITED,
    policy: { limits: { tesTasksPerSecond: 0.01, tesTaskBurst: 2 } },
    now: new Date(),
  });
  await stack.deps.tenants.upsert('onepool', {
    apiKey: ONE_POOL,
    policy: { limits: { maxManagedPools: 1 } },
    now: new Date(),
  });
}, 120_000);
afterAll(() => stack?.close());

type Task = {
  id: string;
  state: string;
  logs?: { logs: unknown[]; system_logs?: string[]; metadata?: Record<string, string> }[];
};

async function create(task: object, key?: string): Promise<string> {
  const res = await stack.request(`${TES}/tasks`, {
    method: 'POST',
    body: JSON.stringify(task),
    ...(key ? { key } : {}),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

const full = async (id: string) =>
  (await (await stack.request(`${TES}/tasks/${id}?view=FULL`)).json()) as Task;
const cancel = (id: string) => stack.request(`${TES}/tasks/${id}:cancel`, { method: 'POST' });
const waitCode = (t: Task) => t.logs?.at(-1)?.metadata?.slotwise_wait_code;

/** A task of one core on a 2-vCPU size, running for about 100 simulated hours. */
const long = (name: string, extra: object = {}) => ({
  name,
  resources: { cpu_cores: 1, backend_parameters: { vm_size: 'standard_d2s_v5' }, ...extra },
  executors: [{ image: 'alpine', command: ['sh', '-c', 'sleep 360000'] }],
});

describe('TES tasks that wait', () => {
  it('says a queued task waits for its lane pool at its maximum, and stops saying it once it runs', async () => {
    const ids = [await create(long('max-1')), await create(long('max-2')), await create(long('max-3'))];
    const states = await waitFor(
      async () => Promise.all(ids.map(full)),
      (ts) =>
        ts.filter((t) => t.state === 'RUNNING').length === 2 &&
        ts.some((t) => waitCode(t) === 'PoolAtMaximum'),
      { timeoutMs: 60_000, what: 'two running, one waiting on PoolAtMaximum' },
    );
    const queued = states.find((t) => t.state === 'QUEUED')!;
    expect(queued.logs!.at(-1)!.system_logs!.join('\n')).toMatch(
      /waiting since .*PoolAtMaximum: .*maximum of 1 standard_d2s_v5 node/,
    );
    // Room frees: the queued task runs and no longer says it waits.
    await cancel(states.find((t) => t.state === 'RUNNING')!.id);
    const started = await waitFor(
      () => full(queued.id),
      (t) => t.state === 'RUNNING',
      { timeoutMs: 60_000 },
    );
    expect(waitCode(started)).toBeUndefined();
    for (const id of ids) await cancel(id);
  });

  it(
    "says a queued task waits for the account's core quota, and runs once there is room",
    { timeout: 180_000 },
    async () => {
      await stack.emulatorControl('quotas', {
        method: 'PUT',
        body: JSON.stringify({ dedicatedCoreQuota: 0 }),
      });
      try {
        const id = await create({
          name: 'quota',
          resources: { cpu_cores: 2, backend_parameters: { vm_size: 'standard_d4s_v5' } },
          executors: [{ image: 'alpine', command: ['echo', 'ok'] }],
        });
        const waiting = await waitFor(
          () => full(id),
          (t) => waitCode(t) !== undefined,
          {
            timeoutMs: 60_000,
            what: 'a wait code',
          },
        );
        expect(waiting.state).toBe('QUEUED');
        expect(waitCode(waiting)).toBe('AccountCoreQuotaReached');
        await stack.emulatorControl('quotas', {
          method: 'PUT',
          body: JSON.stringify({ dedicatedCoreQuota: 1000 }),
        });
        const done = await waitFor(
          () => full(id),
          (t) => t.state === 'COMPLETE',
          { timeoutMs: 90_000, what: 'COMPLETE' },
        );
        expect(waitCode(done)).toBeUndefined();
      } finally {
        await stack.emulatorControl('quotas', {
          method: 'PUT',
          body: JSON.stringify({ dedicatedCoreQuota: 1000 }),
        });
      }
    },
  );

  it(
    'runs a preempted Spot task again and shows each attempt as a task log',
    { timeout: 180_000 },
    async () => {
      const id = await create({
        name: 'spot',
        resources: { cpu_cores: 1, preemptible: true },
        executors: [{ image: 'alpine', command: ['sh', '-c', 'sleep 7200; echo done'] }],
      });
      await waitFor(
        () => full(id),
        (t) => t.state === 'RUNNING',
        { timeoutMs: 60_000, what: 'RUNNING' },
      );
      const lanes = await stack.deps.jobs.listLanes({ endedAfter: '2000-01-01T00:00:00Z', limit: 100 });
      const spotLane = lanes.find(
        (l) => l.request?.pool && 'lowPriority' in l.request.pool && l.request.pool.lowPriority,
      );
      expect(spotLane?.batch?.poolId).toBeDefined();
      const preempted = await stack.emulatorControl(`pools/${spotLane!.batch!.poolId}/preempt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ count: 1, recoverAfterSeconds: 60 }),
      });
      expect(preempted.status).toBeLessThan(300);
      // Batch puts the task back in the queue: the ended attempt keeps its log, a new one begins.
      const requeued = await waitFor(
        () => full(id),
        (t) => (t.logs?.length ?? 0) >= 2,
        {
          timeoutMs: 60_000,
          what: 'a second attempt',
        },
      );
      expect(['QUEUED', 'INITIALIZING', 'RUNNING', 'COMPLETE']).toContain(requeued.state);
      const done = await waitFor(
        () => full(id),
        (t) => t.state === 'COMPLETE',
        { timeoutMs: 120_000, what: 'COMPLETE' },
      );
      expect(done.logs!.length).toBeGreaterThanOrEqual(2);
      expect(done.logs![0]!.system_logs!.join('\n')).toMatch(/Batch put the task back in the queue/);
      expect(done.logs!.at(-1)!.logs.length).toBe(1);
    },
  );

  it('says a task not yet in Batch waits for its lane, held by the tenant pool limit', async () => {
    const first = await create(long('pool-a'), ONE_POOL);
    await waitFor(
      async () => (await (await stack.request(`${TES}/tasks/${first}`, { key: ONE_POOL })).json()) as Task,
      (t) => t.state === 'RUNNING',
      { timeoutMs: 60_000, what: 'the first lane running' },
    );
    // Another size is another lane, which needs a second managed pool: the tenant may hold one.
    const second = await create(
      { ...long('pool-b'), resources: { cpu_cores: 1, backend_parameters: { vm_size: 'standard_d4s_v5' } } },
      ONE_POOL,
    );
    const waiting = await waitFor(
      async () =>
        (await (await stack.request(`${TES}/tasks/${second}?view=FULL`, { key: ONE_POOL })).json()) as Task,
      (t) => waitCode(t) !== undefined,
      { timeoutMs: 60_000, what: 'a wait code on the second lane' },
    );
    expect(waiting.state).toBe('QUEUED');
    expect(waitCode(waiting)).toBe('ManagedPoolLimitReached');
    for (const id of [first, second])
      await stack.request(`${TES}/tasks/${id}:cancel`, { method: 'POST', key: ONE_POOL });
  });

  it("answers 429 with Retry-After past the tenant's TES rate", async () => {
    const task = { executors: [{ image: 'alpine', command: ['echo', 'x'] }] };
    await create(task, LIMITED);
    await create(task, LIMITED);
    const res = await stack.request(`${TES}/tasks`, {
      method: 'POST',
      body: JSON.stringify(task),
      key: LIMITED,
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await res.json()) as { limit: string }).limit).toBe('tesTasksPerSecond');
  });
});
