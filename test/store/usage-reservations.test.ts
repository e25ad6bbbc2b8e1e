/**
 * The usage ledger against the Cosmos server: a reservation remembers what it was made for, so a
 * racing request with the same job id and another body (security review 3, finding 14) reserves again
 * instead of riding on the first one's room; a retry of an ended job reserves afresh; and the managed
 * pools a tenant holds are counted against `maxManagedPools` without racing past it.
 */
import type { AddressInfo } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { createHttpServer } from '@vercel/cosmosdb-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { createJobStore, type JobStore } from '../../shared/adapters/cosmos/job-store.js';
import {
  createUsageStore,
  retryReservation,
  type UsageStore,
} from '../../shared/adapters/cosmos/usage-store.js';
import { jobDocId } from '../../shared/model/job.js';
import { jobDocFixture } from '../support/job-fixture.js';

let server: ReturnType<typeof createHttpServer> | undefined;
let client: CosmosClient;
let usage: UsageStore;
let jobs: JobStore;

beforeAll(async () => {
  const listening = createHttpServer();
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  client = new CosmosClient({
    endpoint: `http://127.0.0.1:${(listening.address() as AddressInfo).port}`,
    key: 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU9DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==',
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const containers = await ensureContainers(client, 'usage-test');
  usage = createUsageStore(containers.jobs);
  jobs = createJobStore(containers.jobs);
});

afterAll(async () => {
  client?.dispose();
  if (server?.listening) await new Promise<void>((resolve) => server?.close(() => resolve()));
});

const now = () => new Date();

describe('job reservations', () => {
  it('reserves again when a request with the same job id asks for more tasks (finding 14)', async () => {
    const limits = { maxActiveJobs: 10, maxTasksInFlight: 40 };
    const key = jobDocId('same-id');
    // The 1-task body reserves first; the 50-task body with the same id must not ride on its room.
    expect(await usage.reserve('race', { key, tasks: 1, for: 'hash-small' }, limits, now())).toEqual({
      ok: true,
    });
    const big = await usage.reserve('race', { key, tasks: 50, for: 'hash-big' }, limits, now());
    expect(big).toMatchObject({ ok: false, limit: 'maxTasksInFlight' });
    expect(await usage.usage('race', now())).toEqual({ activeJobs: 1, tasksInFlight: 1 });
    // A larger body that fits is reserved for the larger: either request may be the one stored.
    expect(await usage.reserve('race', { key, tasks: 30, for: 'hash-mid' }, limits, now())).toEqual({
      ok: true,
    });
    expect(await usage.usage('race', now())).toEqual({ activeJobs: 1, tasksInFlight: 30 });
    // The same reservation again is a replay: nothing changes.
    expect(await usage.reserve('race', { key, tasks: 30, for: 'hash-mid' }, limits, now())).toEqual({
      ok: true,
    });
    expect(await usage.usage('race', now())).toEqual({ activeJobs: 1, tasksInFlight: 30 });
  });

  it('counts a retry of an ended job afresh, and holds its room while the retry is in progress', async () => {
    const limits = { maxActiveJobs: 1, maxTasksInFlight: 100 };
    const failed = {
      ...jobDocFixture('retry', 'ended-1', 'failed', now().toISOString()),
      endedAt: now().toISOString(),
    };
    await jobs.create(failed);
    const key = jobDocId('ended-1');
    // The admission's entry is still in the ledger, but its job has ended.
    expect(await usage.reserve('retry', { key, tasks: 5, for: 'admission' }, limits, now())).toEqual({
      ok: true,
    });
    expect(
      await usage.reserve('retry', { key, tasks: 2, for: retryReservation('r-1') }, limits, now()),
    ).toEqual({
      ok: true,
    });
    expect((await usage.usage('retry', now())).tasksInFlight).toBe(2); // replaced, not the larger
    // The retry request is written on the (still failed) job: its room is held while it is queued.
    await jobs.update('retry', 'ended-1', (j) => ({
      ...j,
      retry: {
        requestId: 'r-1',
        attempt: 1,
        requestedAt: now().toISOString(),
        status: 'queued',
        tasks: 0,
        source: { from: 0, to: 1 },
      },
    }));
    const other = await usage.reserve('retry', { key: jobDocId('other'), tasks: 1, for: 'x' }, limits, now());
    expect(other).toMatchObject({ ok: false, limit: 'maxActiveJobs' });
    // Once the retry found nothing to do the job is ended again, and its room goes.
    await jobs.update('retry', 'ended-1', (j) => ({ ...j, retry: { ...j.retry!, status: 'nothing' } }));
    expect(
      await usage.reserve('retry', { key: jobDocId('other'), tasks: 1, for: 'x' }, limits, now()),
    ).toEqual({
      ok: true,
    });
  });
});

describe('managed pool reservations', () => {
  it('holds at most the limit, even when plans race, and counts pool records and active jobs', async () => {
    const recorded = ['swp_pools_a'];
    const held = async () => recorded;
    // The jobs whose plans reserve pools are being planned (`accepted`).
    for (const p of ['b', 'c', 'd', 'e', 'f', 'g', 'h'])
      await jobs.create(jobDocFixture('pools', p, 'accepted', now().toISOString()));
    // The recorded pool is held already: asking for it takes nothing more.
    expect(await usage.reservePool('pools', { poolId: 'swp_pools_a', job: 'job:a' }, 3, now(), held)).toEqual(
      { ok: true },
    );
    // Six plans for six new pools race for the two places left.
    const outcomes = await Promise.all(
      ['b', 'c', 'd', 'e', 'f', 'g'].map((p) =>
        usage.reservePool('pools', { poolId: `swp_pools_${p}`, job: jobDocId(p) }, 3, now(), held),
      ),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(2);
    const refused = outcomes.find((o) => !o.ok);
    expect(refused).toMatchObject({ ok: false });
    expect(refused && !refused.ok ? refused.held : []).toHaveLength(3);
    // A pool already reserved is still the tenant's: asking again is fine.
    const winners = ['b', 'c', 'd', 'e', 'f', 'g'].filter((_, i) => outcomes[i]?.ok);
    expect(
      await usage.reservePool(
        'pools',
        { poolId: `swp_pools_${winners[0]}`, job: 'job:again' },
        3,
        now(),
        held,
      ),
    ).toEqual({ ok: true });
    expect(
      await usage.reservePool('pools', { poolId: 'swp_pools_h', job: jobDocId('h') }, 3, now(), held),
    ).toMatchObject({
      ok: false,
    });
    // One winner's job is planned and has ended (its pool was deleted, no record names it): its place
    // is free at once.
    const gone = winners[0];
    await jobs.update('pools', gone!, (j) => ({ ...j, state: 'completed', endedAt: now().toISOString() }));
    expect(
      await usage.reservePool('pools', { poolId: 'swp_pools_h', job: jobDocId('h') }, 3, now(), held),
    ).toEqual({ ok: true });
    // Past the grace, reservations whose jobs never got planned are dropped too (the other winner's, h's).
    const later = new Date(Date.now() + 10 * 60_000);
    expect(
      await usage.reservePool('pools', { poolId: 'swp_pools_i', job: jobDocId('i') }, 3, later, held),
    ).toEqual({ ok: true });
  });
});
