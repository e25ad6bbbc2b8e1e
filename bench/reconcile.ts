/**
 * `npm run bench:reconcile` (or `node dist/bench/reconcile.js` after `npm run build`): a steady
 * reconcile pass over 1,000, 10,000 and 100,000 active jobs spread over three Batch accounts (three
 * emulators, each its own process, name and key; ten tenants), by listing (`reconcileAccounts`) and
 * per job as before (`reconcileActiveJobs` taking every job), in one run.
 *
 * Each account has one pool (32 nodes of 8 slots). Jobs start empty; before each measured pass 1 %
 * of the jobs (the next ones in turn) get a task that runs and completes (the emulators' clocks are
 * stopped and moved by the bench), so a pass has a few real changes to find and write. The first
 * listing pass after seeding (it lists every new job once and sets the accounts' watermarks) is not
 * measured. Batch calls are the emulators' own request counters; Cosmos requests, bytes and
 * estimated RU come from the Cosmos proxy. Each account's client has a guard with a budget far above
 * what a pass spends, so time measures the work, not the throttle.
 * `BENCH_SIZES=1000,10000` runs other sizes.
 */
import { CosmosClient } from '@azure/cosmos';
import type { CosmosStats } from '../dev/services/cosmos-proxy.js';
import { createAccountGuard } from '../shared/adapters/batch/account-guard.js';
import { batchAccounts } from '../shared/adapters/batch/accounts.js';
import { createRestBatchGateway } from '../shared/adapters/batch/batch-gateway-rest.js';
import { type BatchClient, createBatchClient } from '../shared/adapters/batch/client.js';
import { createAccountStore } from '../shared/adapters/cosmos/account-store.js';
import { openContainers } from '../shared/adapters/cosmos/cosmos-setup.js';
import { createJobStore } from '../shared/adapters/cosmos/job-store.js';
import { createAppDeps } from '../shared/app/app.js';
import { mapWithConcurrency } from '../shared/core/concurrency.js';
import { describeError } from '../shared/core/errors.js';
import type { BatchAccountInfo } from '../shared/model/accounts.js';
import { jobOwnerMetadata } from '../shared/model/batch-names.js';
import { type JobDoc, jobDocId, zeroTaskCounts } from '../shared/model/job.js';
import type { JobRequest } from '../shared/model/request-schema.js';
import { reconcileActiveJobs } from '../shared/pipeline/reconcile.js';
import { type ListingPassReport, reconcileAccounts } from '../shared/pipeline/reconcile-listing.js';
import { benchEnv, startBenchServices } from './local-stack.js';
import { type BenchAccount, startBenchAccount } from './reconcile/emulators.js';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const TENANTS = 10;
const PROGRESS = 0.01;
const POOL = 'bench-pool';
const NAMES = ['benchrec1', 'benchrec2', 'benchrec3'];
/**
 * Tenants queried at once by the listing pass. One here: the local Cosmos server scans the container
 * for every query and answers one at a time, so queries in parallel only make each wait longer.
 */
const WORK_QUERIES = 1;

const services = await startBenchServices();
const emulators = await Promise.all(NAMES.map(startBenchAccount));
const [primary, ...others] = emulators as [BenchAccount, ...BenchAccount[]];
const env = benchEnv(services, primary.url, {
  BATCH_ACCOUNT_NAME: primary.name,
  BATCH_ACCOUNT_KEY: primary.key,
  SLOTWISE_BATCH_ACCOUNTS: JSON.stringify(
    others.map((e) => ({
      name: e.name,
      endpoint: e.url,
      region: 'local',
      managementEndpoint: e.url,
      key: e.key,
    })),
  ),
});
const app = await createAppDeps(env);
// The stores over a client that waits longer than the SDK's 60 s: the local Cosmos server answers a
// query by scanning the container, which at 100,000 jobs keeps other requests waiting that long
// (Cosmos DB serves these queries from its index).
const cosmos = new CosmosClient({
  endpoint: env.COSMOS_ENDPOINT!,
  key: env.COSMOS_KEY!,
  connectionPolicy: { enableEndpointDiscovery: false, requestTimeout: 900_000 },
});
const containers = await openContainers(cosmos, env.COSMOS_DATABASE!, { create: false });
const deps = {
  ...app,
  jobs: createJobStore(containers.jobs),
  accountStore: createAccountStore(containers.pools),
};
const clients = new Map<string, BatchClient>();
// The bench's own registry over the same accounts: a guard whose budget never binds.
const accounts = batchAccounts(
  emulators.map((e, i) => {
    const guard = createAccountGuard({ now: () => Date.now(), budget: { perSecond: 1e6, burst: 1e6 } });
    const client = createBatchClient({ endpoint: e.url, accountName: e.name, accountKey: e.key, guard });
    clients.set(e.name, client);
    const info: BatchAccountInfo = {
      name: e.name,
      endpoint: e.url,
      region: 'local',
      allocationMode: 'BatchService',
      weight: 1,
      subscriptionId: deps.settings.BATCH_SUBSCRIPTION_ID,
      resourceGroup: deps.settings.BATCH_RESOURCE_GROUP,
      managementEndpoint: e.url,
      primary: i === 0,
    };
    return { info, gateway: createRestBatchGateway(client), guard };
  }),
);
const clientOf = (name: string) => clients.get(name)!;

const request: JobRequest = {
  id: 'x',
  pool: { id: POOL },
  tasks: Array.from({ length: 20 }, (_, i) => ({
    id: `t${i}`,
    commandLine: `render --frame ${i} --quality high --output frames/${i}.exr`,
  })),
} as JobRequest;

const accountOfIndex = (i: number) => emulators[i % emulators.length]!;
const jobIdOf = (i: number) => `job-${String(i).padStart(6, '0')}`;
const tenantOf = (i: number) => `bench-t${i % TENANTS}`;
const batchJobIdOf = (i: number) => `${tenantOf(i)}_${jobIdOf(i)}`;

function jobDoc(i: number): JobDoc {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString();
  const jobId = jobIdOf(i);
  const account = accountOfIndex(i);
  return {
    id: jobDocId(jobId),
    type: 'job',
    tenant: tenantOf(i),
    jobId,
    state: 'running',
    createdAt: at,
    updatedAt: at,
    sortKey: `${at}|${jobId}`,
    requestHash: 'bench',
    request: { ...request, id: jobId },
    batch: {
      ...(account === primary ? {} : { account: account.name }),
      poolId: POOL,
      jobId: batchJobIdOf(i),
      managedPool: false,
    },
    taskCounts: { ...zeroTaskCounts },
    history: [
      { state: 'accepted', at },
      { state: 'running', at },
    ],
    events: [],
  };
}

/** 1 % of the jobs, the next in turn, get a task that runs to its end before the pass. */
let nextToProgress = 0;
let seeded = 0;
async function progress(): Promise<number> {
  const count = Math.max(1, Math.round(seeded * PROGRESS));
  const picks = Array.from({ length: count }, (_, k) => (nextToProgress + k) % seeded);
  nextToProgress = (nextToProgress + count) % seeded;
  await mapWithConcurrency(picks, 16, async (i) => {
    await clientOf(accountOfIndex(i).name).tasks.add(batchJobIdOf(i), {
      id: `p${Date.now().toString(36)}${i}`,
      commandLine: 'sleep 1',
    });
  });
  // Enough simulated time for every added task to be scheduled, run and end.
  for (const e of emulators) await e.advance(30);
  return count;
}

async function batchRequests(): Promise<number> {
  return (await Promise.all(emulators.map((e) => e.requests()))).reduce((a, b) => a + b, 0);
}

interface Row {
  jobs: number;
  kind: 'listing' | 'per job';
  seconds: number;
  batchCalls: number;
  cosmos: CosmosStats;
  changed: number;
  progressed: number;
  listing?: ListingPassReport;
}
const rows: Row[] = [];
const failures: string[] = [];

async function measure(
  jobs: number,
  kind: Row['kind'],
  run: () => Promise<{ changed: number; listing?: ListingPassReport }>,
): Promise<void> {
  const progressed = await progress();
  const calls0 = await batchRequests();
  await services.resetStats();
  const t0 = performance.now();
  let outcome: { changed: number; listing?: ListingPassReport };
  try {
    outcome = await run();
  } catch (e) {
    // Recorded and the run goes on: a size the local stack cannot serve still leaves the others.
    console.error(`${kind} pass over ${jobs} failed: ${describeError(e)}`);
    failures.push(
      `${kind} pass over ${jobs}: ${describeError(e)} after ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    return;
  }
  const { changed, listing } = outcome;
  const seconds = (performance.now() - t0) / 1000;
  rows.push({
    jobs,
    kind,
    seconds,
    batchCalls: (await batchRequests()) - calls0,
    cosmos: await services.stats(),
    changed,
    progressed,
    ...(listing ? { listing } : {}),
  });
  console.error(`${kind} pass over ${jobs} done in ${seconds.toFixed(2)} s`);
}

let pass = 0;
const listingPass = async () => {
  const report = await reconcileAccounts(
    { ...deps, accounts, listing: { workQueries: WORK_QUERIES } },
    pass++,
  );
  return { changed: report.accounts.reduce((s, a) => s + a.changed, 0), listing: report };
};

try {
  for (const e of emulators) {
    // Batch's default active job quota is far below a bench's jobs per account.
    await e.setQuotas({ activeJobs: Math.max(...SIZES) });
    await clientOf(e.name).pools.add({
      id: POOL,
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: {
        imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
      },
      taskSlotsPerNode: 8,
      targetDedicatedNodes: 32,
    });
    await e.advance(900);
  }
  for (const n of SIZES) {
    const fresh = Array.from({ length: Math.max(0, n - seeded) }, (_, k) => seeded + k);
    const s0 = performance.now();
    await mapWithConcurrency(fresh, 32, async (i) => {
      const account = accountOfIndex(i);
      await clientOf(account.name).jobs.add({
        id: batchJobIdOf(i),
        poolInfo: { poolId: POOL },
        metadata: jobOwnerMetadata({ tenant: tenantOf(i), jobId: jobIdOf(i) }),
      });
      await deps.jobs.create(jobDoc(i));
    });
    seeded = Math.max(seeded, n);
    console.error(`seeded ${n} jobs in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
    // Not measured: the accounts' first listing of these jobs, after time has passed (jobs are not
    // all created in the same second in life; here they are, so without this every job would stay
    // inside the listing's skew window until something newer happened).
    for (const e of emulators) await e.advance(600);
    await progress();
    try {
      await listingPass();
    } catch (e) {
      failures.push(`first listing pass over ${n}: ${describeError(e)}`);
      continue;
    }
    await measure(n, 'listing', listingPass);
    await measure(n, 'per job', async () => {
      const report = await reconcileActiveJobs(
        { ...deps, accounts, share: { perTenant: n, total: n }, concurrency: 16 },
        pass++,
      );
      if (report.jobs !== n || report.errors > 0)
        throw new Error(`per-job pass took ${report.jobs} jobs with ${report.errors} errors, expected ${n}`);
      return { changed: report.changed };
    });
  }
} finally {
  await app.close();
  cosmos.dispose();
  await Promise.all([...clients.values()].map((c) => c.close()));
  await Promise.all(emulators.map((e) => e.stop()));
  services.stop();
}

const pad = (s: string | number, w: number) => String(s).padStart(w);
console.log(
  `${'jobs'.padEnd(7)}${'pass'.padEnd(9)}${pad('time', 9)}${pad('Batch calls', 12)}${pad('per job', 8)}${pad('Cosmos req', 11)}${pad('KB read', 9)}${pad('RU (est.)', 10)}${pad('RU/job', 7)}${pad('writes', 7)}${pad('moved', 6)}${pad('changed', 8)}`,
);
for (const r of rows) {
  console.log(
    `${String(r.jobs).padEnd(7)}${r.kind.padEnd(9)}${pad(`${r.seconds.toFixed(2)} s`, 9)}${pad(r.batchCalls, 12)}${pad((r.batchCalls / r.jobs).toFixed(3), 8)}${pad(r.cosmos.requests, 11)}${pad(Math.round(r.cosmos.bytesOut / 1024), 9)}${pad(Math.round(r.cosmos.ru), 10)}${pad((r.cosmos.ru / r.jobs).toFixed(2), 7)}${pad(r.cosmos.writes, 7)}${pad(r.progressed, 6)}${pad(r.changed, 8)}`,
  );
}
console.log('listing passes per account (gateway calls, jobs listed, read, changed, deferred):');
for (const r of rows.filter((x) => x.listing)) {
  const parts = r.listing!.accounts.map(
    (a) =>
      `${a.account} ${a.calls}/${a.listed}/${a.read}/${a.changed}/${a.deferred}${a.stopped ? ` (${a.stopped})` : ''}`,
  );
  console.log(`  ${String(r.jobs).padEnd(7)}${parts.join('  ')}`);
}
for (const f of failures) console.log(`failed: ${f}`);
for (const n of SIZES) {
  const listing = rows.find((r) => r.jobs === n && r.kind === 'listing');
  const perJob = rows.find((r) => r.jobs === n && r.kind === 'per job');
  if (!listing || !perJob) continue;
  console.log(
    `${n} jobs: listing ÷ per job — Batch calls ${(listing.batchCalls / perJob.batchCalls).toFixed(3)}, time ${(listing.seconds / perJob.seconds).toFixed(2)}, RU ${(listing.cosmos.ru / perJob.cosmos.ru).toFixed(2)}`,
  );
}
