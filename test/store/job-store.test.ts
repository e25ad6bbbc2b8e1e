import type { AddressInfo } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { createHttpServer } from '@vercel/cosmosdb-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { createJobStore, type JobStore } from '../../shared/adapters/cosmos/job-store.js';
import { type JobDoc, jobDocId, zeroTaskCounts } from '../../shared/model/job.js';

let server: ReturnType<typeof createHttpServer> | undefined;
let client: CosmosClient;
let store: JobStore;

beforeAll(async () => {
  const listening = createHttpServer();
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  client = new CosmosClient({
    endpoint: `http://127.0.0.1:${(listening.address() as AddressInfo).port}`,
    key: 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU9DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==',
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  store = createJobStore((await ensureContainers(client, 'store-test')).jobs);
});

afterAll(async () => {
  client?.dispose();
  if (server?.listening) await new Promise<void>((resolve) => server?.close(() => resolve()));
});

function job(tenant: string, jobId: string, createdAt: string, state: JobDoc['state'] = 'accepted'): JobDoc {
  return {
    id: jobDocId(jobId),
    type: 'job',
    tenant,
    jobId,
    state,
    createdAt,
    updatedAt: createdAt,
    sortKey: `${createdAt}|${jobId.toLowerCase()}`,
    requestHash: 'h',
    request: null,
    taskCounts: { ...zeroTaskCounts },
    history: [],
    events: [],
  };
}

describe('job store', () => {
  it('creates once: the same id ignoring case returns the stored job', async () => {
    const first = await store.create(job('a', 'Job-1', '2026-01-01T00:00:00.000Z'));
    const again = await store.create({
      ...job('a', 'JOB-1', '2026-01-02T00:00:00.000Z'),
      requestHash: 'other',
    });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, job: { jobId: 'Job-1', requestHash: 'h' } });
  });

  it('keeps tenants apart: the same id in another tenant is another job', async () => {
    expect((await store.create(job('b', 'job-1', '2026-01-01T00:00:00.000Z'))).created).toBe(true);
    expect(await store.get('c', 'job-1')).toBeUndefined();
  });

  it('never loses an update when writers race: each re-reads and re-applies on an ETag conflict', async () => {
    await store.create(job('race', 'counter', '2026-01-01T00:00:00.000Z'));
    const writers = Array.from({ length: 12 }, () =>
      store.update('race', 'counter', (current) => ({
        ...current,
        taskCounts: { ...current.taskCounts, succeeded: current.taskCounts.succeeded + 1 },
      })),
    );
    await Promise.all(writers);
    expect((await store.get('race', 'counter'))?.taskCounts.succeeded).toBe(12);
  });

  it('writes nothing when the mutation returns undefined', async () => {
    await store.create(job('noop', 'j', '2026-01-01T00:00:00.000Z'));
    const before = await store.get('noop', 'j');
    const result = await store.update('noop', 'j', () => undefined);
    expect(result?.changed).toBe(false);
    expect((await store.get('noop', 'j'))?._etag).toBe(before?._etag);
  });

  it('lists newest first, filters by state and pages with a continuation token', async () => {
    for (let i = 0; i < 5; i++) {
      await store.create(
        job('list', `j${i}`, `2026-01-0${i + 1}T00:00:00.000Z`, i % 2 ? 'running' : 'accepted'),
      );
    }
    const first = await store.list('list', { limit: 2 });
    expect(first.jobs.map((j) => j.jobId)).toEqual(['j4', 'j3']);
    const second = await store.list('list', { limit: 2, continuation: first.continuation! });
    expect(second.jobs.map((j) => j.jobId)).toEqual(['j2', 'j1']);
    const last = await store.list('list', { limit: 2, continuation: second.continuation! });
    expect(last.jobs.map((j) => j.jobId)).toEqual(['j0']);
    expect(last.continuation).toBeUndefined();
    const running = await store.list('list', { limit: 10, state: 'running' });
    expect(running.jobs.map((j) => j.jobId)).toEqual(['j3', 'j1']);
  });

  it('finds active jobs across tenants and jobs with overdue deliveries', async () => {
    await store.create(job('x1', 'active-a', '2026-01-01T00:00:00.000Z', 'running'));
    await store.create(job('x2', 'active-b', '2026-01-01T00:00:00.000Z', 'submitted'));
    const active = await store.listInStates(['submitted', 'running']);
    expect(active.map((j) => j.jobId)).toEqual(expect.arrayContaining(['active-a', 'active-b']));
    await store.create({
      ...job('x3', 'late', '2026-01-01T00:00:00.000Z'),
      events: [
        {
          seq: 1,
          id: 'e',
          type: 'slotwise.job.accepted',
          state: 'accepted',
          at: '2026-01-01T00:00:00.000Z',
          taskCounts: { ...zeroTaskCounts },
          delivery: { status: 'pending', attempts: 1, nextAttemptAt: '2026-01-01T00:05:00.000Z' },
        },
      ],
    });
    expect((await store.listWithDueDeliveries('2026-01-01T00:10:00.000Z', 10)).map((j) => j.jobId)).toEqual([
      'late',
    ]);
    expect(await store.listWithDueDeliveries('2026-01-01T00:01:00.000Z', 10)).toEqual([]);
  });
});
