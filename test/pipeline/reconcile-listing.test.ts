/**
 * The listing reconcile over three Batch accounts, each its own emulator with a stopped clock that
 * the tests move by hand, so every pass sees exactly the changes made before it. Batch jobs and job
 * documents are written straight to the emulators and the store; the reconcile timer is off and each
 * pass is driven here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountGuard } from '../../shared/adapters/batch/account-guard.js';
import type { BatchGateway } from '../../shared/adapters/batch/batch-gateway.js';
import { createRestBatchGateway } from '../../shared/adapters/batch/batch-gateway-rest.js';
import { type BatchClient, createBatchClient } from '../../shared/adapters/batch/client.js';
import { batchJobIdFor, jobOwnerMetadata } from '../../shared/model/batch-names.js';
import {
  type ListingDeps,
  type ListingOptions,
  reconcileAccounts,
} from '../../shared/pipeline/reconcile-listing.js';
import { jobDocFixture } from '../support/job-fixture.js';
import {
  BATCH_ACCOUNT,
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  testAccountKey,
  waitFor,
} from '../support/stack.js';

const B = 'acctb';
const C = 'acctc';
const ACCOUNTS = [BATCH_ACCOUNT, B, C];
const TENANT = 'dev';

let stack: SlotwiseStack;
const clients: Record<string, BatchClient> = {};
let pass = 0;

beforeAll(async () => {
  stack = await startSlotwise({
    clockFactor: 0,
    accounts: [{ name: B }, { name: C }],
    env: { SLOTWISE_RECONCILE_SCHEDULE: '0 0 0 1 1 *', SLOTWISE_SWEEP_SCHEDULE: '0 0 0 1 1 *' },
  });
  for (const a of ACCOUNTS) {
    clients[a] = emulatorClient(stack, a);
    await clients[a].pools.add({
      id: 'rp',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: {
        imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
      },
      taskSlotsPerNode: 8,
      targetDedicatedNodes: 2,
    });
  }
  await advance(ACCOUNTS, 600);
  for (const a of ACCOUNTS) {
    await waitFor(
      async () => (await clients[a]!.pools.get('rp')) as { currentDedicatedNodes?: number },
      (p) => p.currentDedicatedNodes === 2,
      { what: `pool rp of ${a} allocated` },
    );
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await stack?.close();
});

/** Moves the simulated clock of these accounts' emulators. */
async function advance(accounts: readonly string[], seconds: number): Promise<void> {
  for (const a of accounts) {
    const res = await stack.emulatorControlOf(a, 'clock', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceSeconds: seconds }),
    });
    expect(res.status).toBe(200);
  }
}

/** A Batch job of ours in `account` with these tasks, ending when they do, and its job document. */
async function seed(account: string, jobId: string, commandLines: readonly string[]): Promise<void> {
  const client = clients[account]!;
  const id = batchJobIdFor(TENANT, jobId);
  await client.jobs.add({
    id,
    poolInfo: { poolId: 'rp' },
    metadata: jobOwnerMetadata({ tenant: TENANT, jobId }),
  });
  if (commandLines.length > 0) {
    await client.tasks.addCollection(
      id,
      commandLines.map((commandLine, i) => ({ id: `t${i}`, commandLine })),
    );
    await client.jobs.patch(id, { onAllTasksComplete: 'terminatejob' });
  }
  const doc = jobDocFixture(TENANT, jobId, 'running', new Date().toISOString());
  doc.batch = {
    ...(account === BATCH_ACCOUNT ? {} : { account }),
    poolId: 'rp',
    jobId: id,
    managedPool: false,
  };
  doc.taskCounts = { active: commandLines.length, running: 0, succeeded: 0, failed: 0 };
  await stack.deps.jobs.create(doc);
}

const stored = (jobId: string) => stack.deps.jobs.get(TENANT, jobId);

/** Gateway calls per account, each page of a paged listing one, counted outside the pass. */
function countingAccounts(
  accounts: ListingDeps['accounts'],
  calls: Map<string, number>,
): ListingDeps['accounts'] {
  const add = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
  return {
    list: accounts.list,
    guard: (name) => accounts.guard(name),
    gateway(name) {
      const account = name ?? accounts.list[0]!.name;
      return new Proxy(accounts.gateway(name), {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver) as unknown;
          if (typeof value !== 'function') return value;
          const method = value as (...a: unknown[]) => unknown;
          if (key === 'listJobPages' || key === 'listNodeActivityPages') {
            return (...args: unknown[]) => {
              const pages = method.apply(target, args) as AsyncIterable<unknown>;
              return (async function* () {
                for await (const page of pages) {
                  add(account);
                  yield page;
                }
              })();
            };
          }
          return (...args: unknown[]) => {
            add(account);
            return method.apply(target, args);
          };
        },
      }) as BatchGateway;
    },
  };
}

async function runPass(
  listing: ListingOptions = {},
  accounts: ListingDeps['accounts'] = stack.deps.accounts,
) {
  const report = await reconcileAccounts({ ...stack.deps, accounts, listing }, pass++);
  return { ...report, of: (name: string) => report.accounts.find((a) => a.account === name)! };
}

describe('reconcile by listing, per account', () => {
  it('sees jobs completing, failing and progressing in every account', async () => {
    for (const a of ACCOUNTS) {
      await seed(a, `done-${a}`, ['sleep 10']);
      await seed(a, `fails-${a}`, ['exit 3']);
      await seed(a, `goes-${a}`, ['sleep 10', 'sleep 100000']);
    }
    // Marks set on what Batch shows now; no catch-up, so only the listings can find what follows.
    const first = await runPass({ catchUp: 0 });
    expect(first.accounts.map((a) => a.account).sort()).toEqual([...ACCOUNTS].sort());
    await advance(ACCOUNTS, 60);

    const second = await runPass({ catchUp: 0 });
    for (const a of ACCOUNTS) {
      expect(second.of(a)).toMatchObject({ errors: 0, deferred: 0 });
      expect(second.of(a).stopped).toBeUndefined();
      expect(second.of(a).changed).toBe(3);
      expect((await stored(`done-${a}`))?.state).toBe('completed');
      const failed = await stored(`fails-${a}`);
      expect(failed?.state).toBe('failed');
      expect(failed?.failure?.code).toBe('TaskFailed');
      const going = await stored(`goes-${a}`);
      expect(going?.state).toBe('running');
      expect(going?.taskCounts).toEqual({ active: 0, running: 1, succeeded: 1, failed: 0 });
    }

    // Nothing moved since: the running job is not read again.
    const third = await runPass({ catchUp: 0 });
    for (const a of ACCOUNTS) expect(third.of(a)).toMatchObject({ read: 0, changed: 0 });
  });

  it('finds a Batch job deleted outside Slotwise by the catch-up, which no listing shows', async () => {
    const idle = Array.from({ length: 6 }, (_, i) => `idle-${i}`);
    for (const id of idle) await seed(C, id, []);
    await runPass({ catchUp: 0 });
    await clients[C]!.jobs.delete(batchJobIdFor(TENANT, 'idle-3'));
    await advance([C], 600);
    await waitFor(
      () =>
        clients[C]!.jobs.get(batchJobIdFor(TENANT, 'idle-3')).then(
          () => 'there',
          () => 'gone',
        ),
      (s) => s === 'gone',
      { what: 'the Batch job gone' },
    );
    // Without the catch-up the job stays as it was: neither the job list nor a node shows a deleted job.
    await runPass({ catchUp: 0 });
    expect((await stored('idle-3'))?.state).toBe('running');

    const active = (
      await stack.deps.jobs.listTenantWork(TENANT, { states: ['running'] }, { limit: 1000 })
    ).filter((j) => j.batch?.account === C).length;
    const slice = 2;
    let passes = 0;
    while ((await stored('idle-3'))?.state === 'running') {
      const report = await runPass({ catchUp: slice });
      expect(report.of(C).read).toBeLessThanOrEqual(slice);
      passes++;
      expect(passes).toBeLessThanOrEqual(Math.ceil(active / slice));
    }
    const job = await stored('idle-3');
    expect(job?.state).toBe('failed');
    expect(job?.failure?.code).toBe('BatchJobDeleted');
    for (const id of idle.filter((i) => i !== 'idle-3')) expect((await stored(id))?.state).toBe('running');
  });

  it("defers only a throttled account's jobs, and catches them up once it answers again", async () => {
    // Account B through a client that does not retry, with its own guard: a 429 stops the pass's
    // work there at once, and its Retry-After pauses every later call to B.
    const guard = createAccountGuard({ now: () => Date.now() });
    const client = createBatchClient({
      endpoint: stack.emulators[B]!.url,
      accountName: B,
      accountKey: testAccountKey(B),
      retry: { maxAttempts: 1 },
      guard,
    });
    const base = stack.deps.accounts;
    const gatewayB = createRestBatchGateway(client);
    const accounts: ListingDeps['accounts'] = {
      list: base.list,
      gateway: (name) => (name === B ? gatewayB : base.gateway(name)),
      guard: (name) => (name === B ? guard : base.guard(name)),
    };
    try {
      await seed(B, 'late-b', ['sleep 10']);
      await seed(C, 'late-c', ['sleep 10']);
      await runPass({ catchUp: 0 }, accounts);
      const before = (await stack.deps.accountStore.get(B))?.reconcile?.watermark;
      expect(before).toBeDefined();
      await advance([B, C], 60);
      const throttle = (pathPrefix?: string) =>
        stack.emulatorControlOf(B, 'faults', {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ rate429: 1, retryAfterSeconds: 1, ...(pathPrefix ? { pathPrefix } : {}) }),
        });
      const answering = async () => {
        await stack.emulatorControlOf(B, 'faults', { method: 'DELETE' });
        await waitFor(
          () => guard.available(),
          (ok) => ok,
          { what: "account B's Retry-After to pass" },
        );
      };

      // Every call throttled: nothing found, nothing read, the mark stays for the next pass.
      expect((await throttle()).status).toBe(200);
      const listingRefused = await runPass({ catchUp: 0 }, accounts);
      expect(listingRefused.of(B)).toMatchObject({ stopped: 'throttled', read: 0, watermark: before });
      expect((await stored('late-b'))?.state).toBe('running');
      expect((await stack.deps.accountStore.get(B))?.reconcile?.watermark).toBe(before);
      // The other accounts went on as usual in the same pass.
      expect(listingRefused.of(C).stopped).toBeUndefined();
      expect((await stored('late-c'))?.state).toBe('completed');
      expect(listingRefused.of(BATCH_ACCOUNT).stopped).toBeUndefined();
      await answering();

      // The listing answers, reading a job (its task counts) is throttled: the job is kept pending.
      expect((await throttle('/jobs/')).status).toBe(200);
      const readRefused = await runPass({ catchUp: 0 }, accounts);
      expect(readRefused.of(B).stopped).toBe('throttled');
      expect(readRefused.of(B).deferred).toBeGreaterThanOrEqual(1);
      expect((await stored('late-b'))?.state).toBe('running');
      expect((await stack.deps.accountStore.get(B))?.reconcile?.pending).toContain(`${TENANT}/late-b`);
      await answering();

      const after = await runPass({ catchUp: 0 }, accounts);
      expect(after.of(B).stopped).toBeUndefined();
      expect((await stored('late-b'))?.state).toBe('completed');
      expect((await stack.deps.accountStore.get(B))?.reconcile?.pending).toBeUndefined();
    } finally {
      await stack.emulatorControlOf(B, 'faults', { method: 'DELETE' });
      await client.close();
    }
  });

  it('makes as many Batch calls per pass with 500 idle active jobs as with 50', async () => {
    const callsOfPass = async () => {
      const calls = new Map<string, number>();
      const report = await runPass({ catchUp: 10 }, countingAccounts(stack.deps.accounts, calls));
      expect(report.of(B).calls).toBe(calls.get(B));
      return calls.get(B) ?? 0;
    };
    const seedIdle = async (from: number, to: number) => {
      for (let i = from; i < to; i++) await seed(B, `quiet-${String(i).padStart(3, '0')}`, []);
      // The pass after new jobs reads them into its marks and its catch-up rotation.
      await runPass({ catchUp: 10 });
    };
    await seedIdle(0, 50);
    const with50 = await callsOfPass();
    await seedIdle(50, 500);
    const with500 = await callsOfPass();
    expect(with500).toBe(with50);
    // One job list page, one node list page, and the catch-up slice (its counts and its job).
    expect(with50).toBe(2 + 10 * 2);
  }, 120_000);
});
