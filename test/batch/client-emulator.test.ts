import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { addTasks } from '../../shared/adapters/batch/add-tasks.js';
import { type BatchClient, BatchError, createBatchClient } from '../../shared/adapters/batch/client.js';

const accountName = 'testacct';
const accountKey = Buffer.from('a-test-key-for-the-emulator-0123456789').toString('base64');
let emulator: BatchEmulator;
let client: BatchClient;
const control = (path: string, init?: RequestInit) => fetch(`${emulator.url}/_emulator/${path}`, init);
const put = (path: string, body: unknown) =>
  control(path, {
    method: 'PUT',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

const pool = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  vmSize: 'standard_d4s_v3',
  virtualMachineConfiguration: {
    imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
    nodeAgentSKUId: 'batch.node.ubuntu 22.04',
  },
  taskSlotsPerNode: 4,
  taskSchedulingPolicy: { nodeFillType: 'pack' },
  targetDedicatedNodes: 2,
  ...extra,
});

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  emulator = await startBatchEmulator({
    port: 0,
    accountName,
    accountKey,
    clockFactor: 600,
    allocationSeconds: 30,
  });
  client = createBatchClient({
    endpoint: emulator.url,
    accountName,
    accountKey,
    retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
  });
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

describe('Batch client against the emulator', () => {
  it('creates a pool, a job and tasks, and sees them run in slots to completion', async () => {
    await client.pools.add(pool('p1'));
    expect(await client.pools.exists('p1')).toBe(true);
    expect(await client.pools.exists('P1')).toBe(true);
    expect(await client.pools.exists('nope')).toBe(false);
    await client.jobs.add({ id: 'j1', poolInfo: { poolId: 'p1' }, onAllTasksComplete: 'noaction' });
    const tasks = Array.from({ length: 10 }, (_, i) => ({
      id: `t${i}`,
      commandLine: `/bin/sh -c 'sleep 10'`,
      requiredSlots: 2,
    }));
    const results = await addTasks(client, 'j1', tasks, { maxTasksPerRequest: 4 });
    expect(results.every((r) => r.outcome === 'added')).toBe(true);
    await client.jobs.patch('j1', { onAllTasksComplete: 'terminatejob' });
    const job = await until(
      () => client.jobs.get('j1'),
      (j) => j.state === 'completed',
    );
    expect((job.executionInfo as { terminateReason: string }).terminateReason).toBe('AllTasksComplete');
    const counts = await client.jobs.getTaskCounts('j1');
    expect(counts.taskCounts).toEqual({ active: 0, running: 0, completed: 10, succeeded: 10, failed: 0 });
    expect(counts.taskSlotCounts?.succeeded).toBe(20);
  });

  it('runs two 2-slot tasks per 4-slot node and never starts a task larger than a node', async () => {
    await client.pools.add(pool('p2', { targetDedicatedNodes: 1 }));
    await until(
      () => client.pools.get('p2'),
      (p) => p.allocationState === 'steady' && p.currentDedicatedNodes === 1,
    );
    await client.jobs.add({ id: 'j2', poolInfo: { poolId: 'p2' } });
    await addTasks(client, 'j2', [
      { id: 'a', commandLine: 'sleep 100000', requiredSlots: 2 },
      { id: 'b', commandLine: 'sleep 100000', requiredSlots: 2 },
      { id: 'c', commandLine: 'sleep 100000', requiredSlots: 2 },
      { id: 'huge', commandLine: 'sleep 1', requiredSlots: 8 },
    ]);
    const counts = await until(
      () => client.jobs.getTaskCounts('j2'),
      (c) => c.taskCounts.running === 2,
    );
    expect(counts.taskCounts.active).toBe(2);
    const huge = await client.tasks.get('j2', 'huge');
    expect(huge.state).toBe('active');
  });

  it('reports exit codes as failures after retries, and lists them with a filter', async () => {
    await client.jobs.add({ id: 'j3', poolInfo: { poolId: 'p1' }, constraints: { maxTaskRetryCount: 1 } });
    await addTasks(client, 'j3', [
      { id: 'ok', commandLine: 'echo fine' },
      { id: 'bad', commandLine: "/bin/sh -c 'exit 3'" },
    ]);
    await client.jobs.patch('j3', { onAllTasksComplete: 'terminatejob' });
    await until(
      () => client.jobs.get('j3'),
      (j) => j.state === 'completed',
    );
    const failed: Record<string, unknown>[] = [];
    for await (const t of client.tasks.list('j3', { filter: "executionInfo/result eq 'failure'" }))
      failed.push(t);
    expect(failed.map((t) => t.id)).toEqual(['bad']);
    expect(failed[0]?.executionInfo).toMatchObject({
      exitCode: 3,
      retryCount: 1,
      result: 'failure',
      failureInfo: { category: 'usererror' },
    });
  });

  it('pages lists through odata.nextLink', async () => {
    await client.jobs.add({ id: 'j4', poolInfo: { poolId: 'nopool' } });
    await addTasks(
      client,
      'j4',
      Array.from({ length: 25 }, (_, i) => ({ id: `x${i}`, commandLine: 'sleep 1' })),
    );
    const ids: string[] = [];
    for await (const t of client.tasks.list('j4', { maxResults: 10, select: 'id' })) ids.push(String(t.id));
    expect(ids).toHaveLength(25);
    expect(new Set(ids).size).toBe(25);
  });

  it("surfaces Batch's errors as typed BatchErrors with code and request id", async () => {
    const e = await client.jobs.add({ id: 'J1', poolInfo: { poolId: 'p1' } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BatchError);
    expect(e).toMatchObject({ code: 'JobExists', status: 409, retryable: false });
    expect((e as BatchError).requestId).toMatch(/[0-9a-f-]{36}/);
    const tooMany = await client.pools
      .add(pool('p9', { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 9 }))
      .catch((x: unknown) => x as BatchError);
    expect(tooMany).toMatchObject({ code: 'InvalidPropertyValue', status: 400 });
    expect((tooMany as BatchError).values).toContainEqual({ key: 'PropertyName', value: 'taskSlotsPerNode' });
  });

  it('rejects a wrong Shared Key with 403 AuthenticationFailed', async () => {
    const wrong = createBatchClient({
      endpoint: emulator.url,
      accountName,
      accountKey: Buffer.from('wrong').toString('base64'),
    });
    const e = await wrong.jobs.get('j1').catch((x: unknown) => x);
    await wrong.close();
    expect(e).toMatchObject({ code: 'AuthenticationFailed', status: 403 });
  });

  it('retries reads through 503, 429 and dropped connections, honouring Retry-After', async () => {
    await put('faults', { rate503: 0.34, rate429: 0.33, rateDrop: 0.33, retryAfterSeconds: 0, count: 3 });
    const job = await client.jobs.get('j1');
    expect(job.id).toBe('j1');
    const counters = (await (await control('counters')).json()) as { requests: Record<string, number> };
    expect(
      (counters.requests['fault:503'] ?? 0) +
        (counters.requests['fault:429'] ?? 0) +
        (counters.requests['fault:drop'] ?? 0),
    ).toBe(3);
    await control('faults', { method: 'DELETE' });
  });

  it('never retries an update after an ambiguous failure', async () => {
    const patches = async () =>
      ((await (await control('counters')).json()) as { requests: Record<string, number> }).requests[
        'PATCH /jobs/{id}'
      ] ?? 0;
    const before = await patches();
    await put('faults', { rate500: 1, count: 1, pathPrefix: '/jobs/j2' });
    const e = await client.jobs.patch('j2', { priority: 5 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'InternalError', status: 500 });
    // The fault answered the only attempt: a retry would have reached the job (the fault is used up).
    expect(await patches()).toBe(before);
    await control('faults', { method: 'DELETE' });
  });

  it('adds a collection again after a retry without adding any task twice, counting TaskExists as ours', async () => {
    await client.jobs.add({ id: 'j5', poolInfo: { poolId: 'nopool' } });
    const tasks = Array.from({ length: 150 }, (_, i) => ({ id: `r${i}`, commandLine: 'sleep 1' }));
    await addTasks(client, 'j5', tasks.slice(0, 60));
    const results = await addTasks(client, 'j5', tasks);
    expect(results.filter((r) => r.outcome === 'exists')).toHaveLength(60);
    expect(results.filter((r) => r.outcome === 'added')).toHaveLength(90);
    const { taskCounts } = await client.jobs.getTaskCounts('j5');
    expect(taskCounts.active).toBe(150);
  });

  it('splits a chunk that Batch finds too large and resends the halves', async () => {
    await client.jobs.add({ id: 'j6', poolInfo: { poolId: 'nopool' } });
    const big = 'x'.repeat(12_000);
    const tasks = Array.from({ length: 100 }, (_, i) => ({ id: `b${i}`, commandLine: `echo ${big}` }));
    // The limits let a 1.2 MB body through the client; the emulator answers 413 and the helper splits.
    const results = await addTasks(client, 'j6', tasks, { maxBodyBytes: 5_000_000 });
    expect(results.every((r) => r.outcome === 'added')).toBe(true);
    const counters = (await (await control('counters')).json()) as { requests: Record<string, number> };
    expect(counters.requests['POST /jobs/{id}/addtaskcollection']).toBeGreaterThanOrEqual(3);
  });

  it('authenticates with Microsoft Entra tokens: cached, shared by concurrent calls, refreshed before expiry', async () => {
    let now = Date.now();
    const requests: string[][] = [];
    const credential = {
      getToken: async (scopes: string | string[]) => {
        requests.push([scopes].flat());
        await new Promise((r) => setTimeout(r, 20));
        return { token: `token-${requests.length}`, expiresOnTimestamp: now + 10 * 60_000 };
      },
    };
    const entra = createBatchClient({
      endpoint: emulator.url,
      accountName,
      credential,
      now: () => now,
    });
    await Promise.all([entra.jobs.get('j1'), entra.jobs.get('j1'), entra.pools.get('p1')]);
    expect(requests).toEqual([['https://batch.core.windows.net//.default']]);
    await entra.jobs.get('j1');
    expect(requests).toHaveLength(1);
    now += 6 * 60_000; // within 5 minutes of expiry: refresh
    await entra.jobs.get('j1');
    expect(requests).toHaveLength(2);
    await entra.close();
  });

  it('covers the remaining operations: patch, list, delete, single add, terminate, reactivate, applications, nodes', async () => {
    await put('applications', { applications: [{ id: 'tool', versions: ['1.0'], defaultVersion: '1.0' }] });
    const apps: Record<string, unknown>[] = [];
    for await (const a of client.applications.list()) apps.push(a);
    expect(apps.map((a) => a.id)).toEqual(['tool']);
    await client.pools.patch('p1', { metadata: [{ name: 'team', value: 'render' }] });
    expect((await client.pools.get('p1', { select: 'id,metadata' })).metadata).toEqual([
      { name: 'team', value: 'render' },
    ]);
    const pools: string[] = [];
    for await (const p of client.pools.list({ filter: "startswith(id,'p')", select: 'id' }))
      pools.push(String(p.id));
    expect(pools).toEqual(expect.arrayContaining(['p1', 'p2']));
    const nodes: Record<string, unknown>[] = [];
    for await (const n of client.nodes.list('p1')) nodes.push(n);
    expect(nodes).toHaveLength(2);
    await client.jobs.add({ id: 'j7', poolInfo: { poolId: 'p1' } });
    await client.tasks.add('j7', { id: 'long', commandLine: 'sleep 100000' });
    await client.tasks.add('j7', { id: 'fails', commandLine: 'exit 1' });
    await until(
      () => client.tasks.get('j7', 'fails'),
      (t) => t.state === 'completed',
    );
    await client.tasks.reactivate('j7', 'fails');
    expect((await client.tasks.get('j7', 'fails')).executionInfo).toMatchObject({ retryCount: 0 });
    await client.tasks.terminate('j7', 'long');
    expect((await client.tasks.get('j7', 'long')).state).toBe('completed');
    const jobs: string[] = [];
    for await (const j of client.jobs.list({ select: 'id' })) jobs.push(String(j.id));
    expect(jobs).toContain('j7');
    await client.jobs.terminate('j7', 'done here');
    await until(
      () => client.jobs.get('j7'),
      (j) => j.state === 'completed',
    );
    await client.jobs.delete('j7');
    await client.pools
      .delete('p9-missing')
      .catch((e: unknown) => expect(e).toMatchObject({ code: 'PoolNotFound', status: 404 }));
    // Time stands still while the state is read: a fast clock could finish the delete first.
    await control('clock', { method: 'POST', body: JSON.stringify({ factor: 0 }) });
    await client.pools.delete('p2');
    expect((await client.pools.get('p2')).state).toBe('deleting');
  });
});
