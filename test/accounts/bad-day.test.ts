/**
 * One Batch account's bad day, over three emulated accounts (`testbatch` the primary, `acctb`,
 * `acctc`): throttling and 5xx, an account that goes away, and one that refuses Slotwise's key. Each
 * time the work already in the sick account waits (delayed, never failed, never moved), the other
 * accounts' work goes on at its pace, the health report names the account, new jobs go elsewhere,
 * and once the account is back its jobs complete and it is healthy again.
 *
 * Tenants `onlya`, `onlyb`, `onlyc` may use one account each, so their jobs land where the test
 * says; tenant `dev` may use any, and `acctb` weighs most, so its jobs go to `acctb` whenever that
 * account takes new work. The guard's recovery time is real time: shortened here through
 * `createAppDeps`' `accountGuard` override.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppDeps } from '../../shared/app/app.js';
import type { AccountHealthView } from '../../shared/app/health.js';
import type { JobView } from '../../shared/model/job-view.js';
import { setFaults as setFaultsOf } from '../support/accounts.js';
import {
  BATCH_ACCOUNT,
  getJob,
  type SlotwiseStack,
  startSlotwise,
  TEST_API_KEY,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

const A = BATCH_ACCOUNT;
const B = 'acctb';
const C = 'acctc';
const KEYS: Record<string, string> = {
  onlya: 'only-a-key-0123456789',
  onlyb: 'only-b-key-0123456789',
  onlyc: 'only-c-key-0123456789',
};
const TENANT_OF: Record<string, string> = { [A]: 'onlya', [B]: 'onlyb', [C]: 'onlyc' };

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise({
    accounts: [{ name: B, weight: 4 }, { name: C }],
    env: {
      // Quotas as the emulators state them, read on every upkeep pass.
      SLOTWISE_ACCOUNT_QUOTA_SECONDS: '1',
      SLOTWISE_SUBMIT_RETRY_BASE_SECONDS: '1',
    },
    // Healthy again after 2 s clean instead of 30 s, and once failures are 10 s old instead of 60 s;
    // every other threshold as in production.
    overrides: { accountGuard: { health: { recoverAfterMs: 2_000, windowMs: 10_000 } } },
  });
  for (const [account, tenant] of Object.entries(TENANT_OF))
    await stack.deps.tenants.upsert(tenant, {
      apiKey: KEYS[tenant]!,
      policy: { batchAccounts: [account] },
      now: new Date(),
    });
  // Every account's quotas read once, so routing weighs headroom rather than order.
  await waitFor(
    () => stack.deps.accountStore.list([A, B, C]),
    (docs) => docs.length === 3 && docs.every((d) => d.quotas !== undefined),
    { what: 'quotas of every account', timeoutMs: 60_000 },
  );
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

const job = (id: string, seconds = 60) => ({
  id,
  pool: { vmSize: 'standard_d2s_v3', maxNodes: 2 },
  // `sleep` runs in simulated seconds (600 to a real one).
  tasks: [
    { id: 't1', commandLine: `sleep ${seconds}` },
    { id: 't2', commandLine: `sleep ${seconds}` },
  ],
});

async function submit(id: string, key: string, seconds?: number): Promise<void> {
  const res = await stack.request('/jobs', { method: 'POST', key, body: JSON.stringify(job(id, seconds)) });
  expect(res.status, await res.clone().text()).toBe(202);
}

/** Submits a job for the tenant that may use `account` only. */
function submitIn(account: string, id: string, seconds?: number): Promise<void> {
  return submit(id, KEYS[TENANT_OF[account]!]!, seconds);
}

async function view(id: string, account: string): Promise<JobView | undefined> {
  return getJob(stack, id, KEYS[TENANT_OF[account]!]!);
}

function setFaults(account: string, config: Record<string, unknown> | undefined): Promise<void> {
  return setFaultsOf(stack, account, config);
}

async function accountsReport(): Promise<AccountHealthView[]> {
  const res = await stack.request('/health');
  const body = (await res.json()) as { accounts?: AccountHealthView[] };
  return body.accounts ?? [];
}

async function healthOf(account: string): Promise<AccountHealthView | undefined> {
  return (await accountsReport()).find((a) => a.name === account);
}

/** Where tenant `dev` (any account) would put a job now, the routing cache dropped first. */
async function dryRunAccount(): Promise<{
  name: string;
  considered: { account: string; eligible: boolean; note: string }[];
}> {
  stack.deps.accountDirectory.refresh();
  const res = await stack.request('/jobs?dryRun=true', {
    method: 'POST',
    key: TEST_API_KEY,
    body: JSON.stringify(job('probe')),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { account: Awaited<ReturnType<typeof dryRunAccount>> }).account;
}

async function waitHealthy(account: string): Promise<void> {
  await waitFor(
    () => healthOf(account),
    (h) => h?.state === 'healthy',
    { what: `${account} healthy again`, timeoutMs: 60_000, intervalMs: 250 },
  );
}

/** A job that was never failed, and whose account never changed. */
function expectUntouched(j: JobView | undefined, account: string): void {
  expect(j?.batch?.account ?? A).toBe(account);
  expect(j?.state).not.toBe('failed');
  expect(j?.history.map((h) => h.state)).not.toContain('failed');
}

async function expectCompletedIn(id: string, account: string): Promise<void> {
  const done = await waitFor(
    () => view(id, account),
    (j) => j?.state === 'completed' || j?.state === 'failed' || j?.state === 'cancelled',
    { what: `${id} ended`, timeoutMs: 120_000, intervalMs: 200 },
  );
  expect(done?.state).toBe('completed');
  expect(done?.batch?.account ?? A).toBe(account);
}

describe("one account's bad day", () => {
  it('throttling and 5xx in one account: its jobs wait, the others finish, new jobs go elsewhere until it recovers', async () => {
    await waitHealthy(B);
    // Healthy, acctb takes tenant dev's jobs (weight 4 over equal quotas).
    expect((await dryRunAccount()).name).toBe(B);

    // Every call to acctb is answered 429 (Retry-After 1 s) or 503: it serves nothing meanwhile.
    await setFaults(B, { rate429: 0.4, rate503: 0.6, retryAfterSeconds: 1, seed: 7 });
    await submitIn(B, 'slow-b');
    await submitIn(A, 'fast-a');
    await submitIn(C, 'fast-c');
    await expectCompletedIn('fast-a', A);
    await expectCompletedIn('fast-c', C);

    // acctb is reported unhealthy; its job is delayed, still its own, and not failed.
    const sick = await waitFor(
      () => healthOf(B),
      (h) => h?.state === 'unhealthy',
      { what: `${B} unhealthy in the health report`, timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(sick?.health.reason).toMatch(/failed|throttled/);
    const others = await accountsReport();
    expect(others.filter((a) => a.name !== B).map((a) => [a.name, a.state])).toEqual([
      [A, 'healthy'],
      [C, 'healthy'],
    ]);
    expect((await stack.request('/health', { key: null })).status).toBe(200);
    const waiting = await view('slow-b', B);
    expect(waiting?.state).not.toBe('completed');
    expectUntouched(waiting, B);

    // New work goes elsewhere while acctb is unhealthy.
    const route = await dryRunAccount();
    expect(route.name).not.toBe(B);
    expect(route.considered.find((c) => c.account === B)).toMatchObject({
      eligible: false,
      note: 'unhealthy',
    });
    await submit('away-1', TEST_API_KEY);
    const away = await waitFor(
      () => getJob(stack, 'away-1'),
      (j) => j?.batch?.account !== undefined || (j !== undefined && j.state !== 'accepted'),
      { what: 'away-1 placed', timeoutMs: 60_000 },
    );
    expect(away?.batch?.account ?? A).not.toBe(B);
    await waitForJobState(stack, 'away-1', ['completed'], 120_000);
    expectUntouched(await view('slow-b', B), B);

    // The faults stop: acctb's job completes there, acctb is healthy again and takes new jobs.
    await setFaults(B, undefined);
    await expectCompletedIn('slow-b', B);
    await waitHealthy(B);
    // Open to new work again (tenant dev's spec now sticks to the account that ran away-1).
    expect((await dryRunAccount()).considered.find((c) => c.account === B)?.eligible).toBe(true);
  }, 300_000);

  it('an account that goes away: new jobs go elsewhere, its jobs wait where they are and complete once it is back', async () => {
    await waitHealthy(B);
    // A job running in acctb when it goes (1,800 simulated seconds: about 3 s).
    await submitIn(B, 'during-outage', 1800);
    await waitFor(
      () => view('during-outage', B),
      (j) => j?.state === 'submitted' || j?.state === 'running',
      { what: 'during-outage in Batch', timeoutMs: 60_000 },
    );
    await stack.emulators[B]!.suspend();
    try {
      await waitFor(
        () => healthOf(B),
        (h) => h?.state === 'unhealthy',
        { what: `${B} unhealthy while it is away`, timeoutMs: 60_000, intervalMs: 250 },
      );
      // Calls to an account judged unhealthy are tried once, not retried for minutes: they would hold
      // the passes that serve every account. Seen through deps of their own, so that no background
      // call counts.
      const probe = await createAppDeps(stack.env);
      try {
        const guard = probe.accounts.guard(B);
        await waitFor(
          async () => {
            await probe.accounts
              .gateway(B)
              .ping()
              .catch(() => undefined);
            return guard.health().state;
          },
          (state) => state === 'unhealthy',
          { what: `${B} unhealthy to new deps`, timeoutMs: 60_000 },
        );
        const before = guard.stats().attempts;
        await expect(probe.accounts.gateway(B).ping()).rejects.toMatchObject({ code: 'ConnectionFailed' });
        expect(guard.stats().attempts - before).toBe(1);
      } finally {
        await probe.close();
      }

      // A job that may only go to acctb is accepted and waits for it.
      await submitIn(B, 'queued-for-b');
      // Tenant dev's new job runs elsewhere, to completion, while acctb is still away.
      const route = await dryRunAccount();
      expect(route.name).not.toBe(B);
      await submit('away-2', TEST_API_KEY);
      const done = await waitForJobState(stack, 'away-2', ['completed'], 120_000);
      expect(done.batch?.account ?? A).not.toBe(B);
      // Other accounts' work is not held up either.
      await submitIn(C, 'c-during-outage');
      await expectCompletedIn('c-during-outage', C);
      for (const id of ['during-outage', 'queued-for-b']) {
        const j = await view(id, B);
        expect(j?.state).not.toBe('completed');
        expectUntouched(j, B);
      }
    } finally {
      await stack.emulators[B]!.resume();
    }
    await expectCompletedIn('during-outage', B);
    await expectCompletedIn('queued-for-b', B);
    await waitHealthy(B);
  }, 300_000);

  it("an account that refuses Slotwise's key (403): same containment, nothing failed", async () => {
    await waitHealthy(B);
    await setFaults(B, { rate403: 1 });
    await submitIn(B, 'refused-b');
    await submitIn(A, 'fine-a');
    await expectCompletedIn('fine-a', A);
    const sick = await waitFor(
      () => healthOf(B),
      (h) => h?.state === 'unhealthy',
      { what: `${B} unhealthy on 403s`, timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(sick?.health.reason).toContain('403');
    const route = await dryRunAccount();
    expect(route.name).not.toBe(B);
    await submit('away-3', TEST_API_KEY);
    const done = await waitForJobState(stack, 'away-3', ['completed'], 120_000);
    expect(done.batch?.account ?? A).not.toBe(B);
    const waiting = await view('refused-b', B);
    expect(waiting?.state).not.toBe('completed');
    expectUntouched(waiting, B);

    await setFaults(B, undefined);
    await expectCompletedIn('refused-b', B);
    await waitHealthy(B);
  }, 300_000);

  it('the health report is down only when every account is', async () => {
    const status = async () => (await stack.request('/health')).status;
    await stack.emulators[B]!.suspend();
    try {
      await waitFor(
        () => healthOf(B),
        (h) => h?.state === 'unhealthy',
        { what: `${B} unhealthy`, timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(await status()).toBe(200);
      await Promise.all([A, C].map((a) => stack.emulators[a]!.suspend()));
      await waitFor(status, (s) => s === 503, {
        what: 'health down with every account away',
        timeoutMs: 60_000,
      });
    } finally {
      await Promise.all([A, B, C].map((a) => stack.emulators[a]!.resume()));
    }
    await waitFor(status, (s) => s === 200, { what: 'health up again', timeoutMs: 60_000 });
  }, 180_000);
});
