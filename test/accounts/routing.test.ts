/**
 * Routing across three Batch accounts on the local stack, each its own emulator with its own core
 * quotas per VM family (read by the account upkeep from each account's resource):
 * 1. a spec's job goes where its family has the most room, the next job of the spec stays with the
 *    pool (sticky) even when another account has more room, another family goes where it has room,
 *    and once the pool holds the account's quota the spec overflows to a second pool elsewhere;
 * 2. a tenant kept to a region or an account lands there whatever the room elsewhere; one kept to
 *    nothing that exists waits (`NoBatchAccountOpen`) and its dry run answers 409;
 * 3. a drained account (the `account:drain` command) takes no new job while its running job ends
 *    there, and takes them again once undrained.
 * The job (`batch.account`, `batch.accountReason`) and the dry run (`account`) say where and why.
 */

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/model/job-view.js';
import { tenantPolicy } from '../../shared/model/tenant-policy.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';
import { vmFamilyOf } from '../../shared/model/vm-sizes.js';
import { createAccountDirectory, planAndRoute, reserveRoute } from '../../shared/pipeline/account-routing.js';
import type { AccountConsidered } from '../../shared/planner/route-account.js';
import { setFamilyQuotas } from '../support/accounts.js';
import { BATCH_ACCOUNT, getJob, type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

const run = promisify(execFile);
const drainScript = fileURLToPath(new URL('../../dist/dev/account-drain.js', import.meta.url));

const A = BATCH_ACCOUNT; // primary, region-a
const B = 'acctb'; // region-b
const C = 'acctc'; // region-c
const D2 = 'standard_d2s_v3';
const E2 = 'standard_e2s_v3';
const F2 = 'standard_f2s_v2';
const DS = vmFamilyOf(D2);
const ES = vmFamilyOf(E2);
const FS = vmFamilyOf(F2);
/** Long enough to outlast every step of a scenario; ended by advancing the emulator's clock. */
const LONG = 'sleep 500000';

/** Dedicated cores per family, enforced; the totals never bind. */
const QUOTAS: Record<string, Record<string, number>> = {
  [A]: { [DS]: 8, [ES]: 40, [FS]: 0 },
  [B]: { [DS]: 16, [ES]: 4, [FS]: 20 },
  [C]: { [DS]: 14, [ES]: 12, [FS]: 20 },
};

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise({
    accounts: [{ name: B }, { name: C }],
    env: {
      // Quotas set through the emulators below are read on the next upkeep.
      SLOTWISE_ACCOUNT_QUOTA_SECONDS: '1',
      // Pools keep their targets (the cores they hold) for the whole file.
      SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '3600',
    },
  });
  for (const [name, perFamily] of Object.entries(QUOTAS)) await setFamilyQuotas(stack, name, perFamily);
  await waitFor(
    () => stack.deps.accountStore.list([A, B, C]),
    (docs) => docs.length === 3 && docs.every((d) => d.quotas?.perFamily?.[DS] === QUOTAS[d.name]?.[DS]),
    { what: 'every account’s quotas read', timeoutMs: 60_000 },
  );
  stack.deps.accountDirectory.refresh();
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

async function tenant(name: string, policy: Record<string, unknown> = {}): Promise<string> {
  const key = `${name}-key-0123456789abcdef`;
  await stack.deps.tenants.upsert(name, { apiKey: key, now: new Date(), policy });
  return key;
}

interface JobSpec {
  id: string;
  vmSize: string;
  nodes: number;
  command?: string;
}

/** One task per node (each task takes all of a 2-vCPU node's slots). */
const body = ({ id, vmSize, nodes, command = LONG }: JobSpec) =>
  JSON.stringify({
    id,
    pool: { vmSize, maxNodes: nodes },
    tasks: Array.from({ length: nodes }, (_, t) => ({ id: `t${t}`, commandLine: command, requiredSlots: 2 })),
  });

interface DryRunAccount {
  name: string;
  region: string;
  reason: string;
  considered: AccountConsidered[];
}

async function dryRun(
  key: string,
  spec: JobSpec,
): Promise<{ account: DryRunAccount; plan: { poolId: string } }> {
  const res = await stack.request('/jobs?dryRun=true', { method: 'POST', key, body: body(spec) });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { account: DryRunAccount; plan: { poolId: string } };
}

/** Posts the job and waits until it is in Batch: its account and pool are then on it. */
async function submit(key: string, spec: JobSpec): Promise<JobView> {
  const res = await stack.request('/jobs', { method: 'POST', key, body: body(spec) });
  expect(res.status, await res.clone().text()).toBe(202);
  return waitFor(
    () => getJob(stack, spec.id, key),
    // A short job may be over before a poll sees it run.
    (j) => j !== undefined && ['submitted', 'running', 'completed'].includes(j.state),
    { what: `job ${spec.id} in Batch`, timeoutMs: 60_000 },
  ) as Promise<JobView>;
}

const headroomIn = (account: DryRunAccount, name: string) =>
  account.considered.find((c) => c.account === name)?.headroomCores;

/** Waits until the account's document counts these cores of the family (its pools grown), then rereads. */
async function usageSettles(account: string, family: string, cores: number): Promise<void> {
  await waitFor(
    () => stack.deps.accountStore.get(account),
    (d) => (d?.usage?.perFamily[family] ?? 0) === cores,
    { what: `${account} holding ${cores} ${family} cores`, timeoutMs: 60_000, intervalMs: 100 },
  );
  stack.deps.accountDirectory.refresh();
}

/** Waits for the job to end (completed or failed). */
function ended(id: string, key: string): Promise<JobView | undefined> {
  return waitFor(
    () => getJob(stack, id, key),
    (j) => j?.state === 'completed' || j?.state === 'failed' || j?.state === 'cancelled',
    { what: `${id} ended`, timeoutMs: 90_000, intervalMs: 200 },
  );
}

async function advanceClocks(seconds: number): Promise<void> {
  for (const name of [A, B, C]) {
    const res = await stack.emulatorControlOf(name, 'clock', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceSeconds: seconds }),
    });
    expect(res.status).toBe(200);
  }
}

async function drainCli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [drainScript, ...args, '--settings', '/nonexistent.json'], {
    env: { ...(process.env as Record<string, string>), ...stack.env },
  });
  return stdout;
}

describe('routing across three accounts', () => {
  it('spreads by headroom, sticks to a spec’s pool, and overflows to a second pool when full', async () => {
    const key = await tenant('spread');
    const d4 = { vmSize: D2, nodes: 4 }; // 8 DSv3 cores

    // Most DSv3 room: B (16) over C (14) and A (8).
    const first = await dryRun(key, { id: 'spread-1', ...d4 });
    expect(first.account).toMatchObject({ name: B, region: 'region-b' });
    expect(first.account.reason).toMatch(/most headroom/);
    expect([A, B, C].map((n) => headroomIn(first.account, n))).toEqual([8, 16, 14]);
    const j1 = await submit(key, { id: 'spread-1', ...d4 });
    expect(j1.batch).toMatchObject({ account: B, poolId: first.plan.poolId });
    expect(j1.batch?.accountReason).toMatch(/most headroom/);
    await usageSettles(B, DS, 8);

    // B now has 8 left, C still 14: the spec's next job stays with its pool in B.
    const second = await dryRun(key, { id: 'spread-2', ...d4 });
    expect(second.account.name).toBe(B);
    expect(second.account.reason).toMatch(/already holds this pool spec/);
    expect([B, C].map((n) => headroomIn(second.account, n))).toEqual([8, 14]);
    const j2 = await submit(key, { id: 'spread-2', ...d4 });
    expect(j2.batch).toMatchObject({ account: B, poolId: j1.batch?.poolId });
    await usageSettles(B, DS, 16);

    // Another family goes where that family has room: ESv3 in A (40).
    const j3 = await submit(key, { id: 'spread-3', vmSize: E2, nodes: 2 });
    expect(j3.batch?.account).toBe(A);
    expect(j3.batch?.poolId).not.toBe(j1.batch?.poolId);

    // B's pool holds B's whole DSv3 quota: the spec overflows to a second pool, in C (14 over A's 8).
    const over = await dryRun(key, { id: 'spread-4', vmSize: D2, nodes: 2 });
    expect(over.account.name).toBe(C);
    expect(headroomIn(over.account, B)).toBe(0);
    expect(over.account.reason).toMatch(/a second pool in acctc/);
    const j4 = await submit(key, { id: 'spread-4', vmSize: D2, nodes: 2 });
    expect(j4.batch?.account).toBe(C);
    expect(j4.batch?.poolId).not.toBe(j1.batch?.poolId);
    expect(j4.batch?.accountReason).toMatch(/second pool/);
    // The pool is in C's Batch account, not in B's.
    await usageSettles(C, DS, 4);

    await advanceClocks(1_000_000);
    for (const id of ['spread-1', 'spread-2', 'spread-3', 'spread-4']) {
      const done = await ended(id, key);
      expect(done?.state, id).toBe('completed');
    }
  }, 240_000);

  it('keeps a tenant to its region or accounts, and a tenant kept to none waits', async () => {
    // A has 8 DSv3 cores free, C 10: the region decides.
    const resident = await tenant('resident', { regions: ['region-a'] });
    const r = await dryRun(resident, { id: 'resident-1', vmSize: D2, nodes: 2 });
    expect(r.account.name).toBe(A);
    expect(headroomIn(r.account, C)!).toBeGreaterThan(headroomIn(r.account, A)!);
    expect(r.account.considered.find((c) => c.account === C)).toMatchObject({ eligible: false });
    const rj = await submit(resident, { id: 'resident-1', vmSize: D2, nodes: 2, command: 'sleep 60' });
    expect(rj.batch?.account).toBe(A);

    // A has far more ESv3 room than C: the tenant's account decides.
    const team = await tenant('teamc', { batchAccounts: [C] });
    const tj = await submit(team, { id: 'teamc-1', vmSize: E2, nodes: 1, command: 'sleep 60' });
    expect(tj.batch?.account).toBe(C);
    expect(tj.batch?.accountReason).toMatch(/acctc/);

    // No account of the deployment is in the tenant's region.
    const nowhere = await tenant('nowhere', { regions: ['region-z'] });
    const refused = await stack.request('/jobs?dryRun=true', {
      method: 'POST',
      key: nowhere,
      body: body({ id: 'nowhere-1', vmSize: D2, nodes: 1 }),
    });
    expect(refused.status).toBe(409);
    const problem = (await refused.json()) as { detail: string; considered: AccountConsidered[] };
    expect(problem.detail).toMatch(/no Batch account is open to this tenant/);
    expect(problem.considered.map((c) => c.account)).toEqual([A, B, C]);
    expect(problem.considered.every((c) => !c.eligible)).toBe(true);
    const posted = await stack.request('/jobs', {
      method: 'POST',
      key: nowhere,
      body: body({ id: 'nowhere-1', vmSize: D2, nodes: 1 }),
    });
    expect(posted.status).toBe(202);
    const waiting = await waitFor(
      () => getJob(stack, 'nowhere-1', nowhere),
      (j) => j?.waiting !== undefined,
      { what: 'nowhere-1 waiting', timeoutMs: 60_000 },
    );
    expect(waiting).toMatchObject({ state: 'accepted', waiting: { code: 'NoBatchAccountOpen' } });
    expect(waiting?.batch).toBeUndefined();
    expect((await stack.request('/jobs/nowhere-1', { method: 'DELETE', key: nowhere })).status).toBeLessThan(
      300,
    );

    for (const [id, key] of [
      ['resident-1', resident],
      ['teamc-1', team],
    ] as const) {
      const done = await ended(id, key);
      expect(done?.state, id).toBe('completed');
    }
  }, 240_000);

  it('sends no new job to a drained account while its running job ends there, and again once undrained', async () => {
    const key = await tenant('drainer', { batchAccounts: [B, C] });
    const e = { vmSize: E2 };
    // ESv3: C has 10 free (teamc's pool holds 2), B 4.
    const j1 = await submit(key, { id: 'drain-1', ...e, nodes: 1 });
    expect(j1.batch?.account).toBe(C);
    await usageSettles(C, ES, 4);

    expect(await drainCli(C, '--reason', 'maintenance')).toMatch(/acctc is draining/);
    stack.deps.accountDirectory.refresh();
    const health = (await (await stack.request('/health', { key })).json()) as {
      accounts: { name: string; drain?: { reason?: string } }[];
    };
    expect(health.accounts.find((a) => a.name === C)?.drain).toMatchObject({ reason: 'maintenance' });

    // The spec's pool is in C, but C drains: the job goes to B.
    const moved = await dryRun(key, { id: 'drain-2', ...e, nodes: 2 });
    expect(moved.account.name).toBe(B);
    expect(moved.account.considered.find((c) => c.account === C)).toMatchObject({
      eligible: false,
      note: 'draining',
    });
    const j2 = await submit(key, { id: 'drain-2', ...e, nodes: 2, command: 'sleep 60' });
    expect(j2.batch?.account).toBe(B);

    // The drained account's running job ends there.
    await advanceClocks(1_000_000);
    const ended1 = await ended('drain-1', key);
    expect(ended1).toMatchObject({ state: 'completed', batch: { account: C } });
    const ended2 = await ended('drain-2', key);
    expect(ended2?.state).toBe('completed');

    // Undrained: C takes the spec's jobs again (B's pool holds B's 4 ESv3 cores, C's pool has room).
    expect(await drainCli(C, '--undo')).toMatch(/acctc takes new jobs/);
    await usageSettles(B, ES, 4);
    const back = await dryRun(key, { id: 'drain-3', ...e, nodes: 1 });
    expect(back.account.name).toBe(C);
    expect(back.account.reason).toMatch(/already holds this pool spec/);
    const j3 = await submit(key, { id: 'drain-3', ...e, nodes: 1, command: 'sleep 60' });
    expect(j3.batch).toMatchObject({ account: C, poolId: j1.batch?.poolId });
    const ended3 = await ended('drain-3', key);
    expect(ended3?.state).toBe('completed');
  }, 240_000);

  it('keeps a burst of one spec’s jobs on one pool before its record exists, packages included', async () => {
    // Planned and routed as the plan stage does, without submitting: nothing registers the pool, as in
    // the moments between one job's plan and its submission while the next jobs of the spec are planned.
    const policy = tenantPolicy(undefined);
    const route = async (
      directory: ReturnType<typeof createAccountDirectory>,
      jobId: string,
      extra: Record<string, unknown> = {},
    ) => {
      const valid = validateJobRequest(
        JSON.parse(body({ id: jobId, vmSize: F2, nodes: 2 })) as Record<string, unknown>,
        { ...stack.deps.policy, tenant: policy },
      );
      if (!valid.ok) throw new Error(JSON.stringify(valid.errors));
      const request = { ...valid.request, ...extra } as typeof valid.request;
      const outcome = await planAndRoute({ tenant: 'burst', jobId, request }, policy, {
        accounts: stack.deps.accounts,
        directory,
        pools: stack.deps.pools,
        settings: stack.deps.settings,
      });
      if (!outcome.ok) throw new Error(JSON.stringify(outcome));
      reserveRoute(directory, outcome);
      return outcome;
    };
    const fresh = () =>
      createAccountDirectory({
        accounts: stack.deps.accounts,
        store: stack.deps.accountStore,
        now: () => Date.now(),
      });

    // FSv2: B and C 20 each, A none. The first goes to B (the settings' order); the second would find
    // C roomier once B counts the first's 4 cores, but the spec's pool is in B.
    for (const extra of [{}, { applicationPackages: [{ applicationId: 'tool', version: '1' }] }]) {
      const directory = fresh();
      const first = await route(directory, 'burst-1', extra);
      expect(first.route.account).toBe(B);
      for (const id of ['burst-2', 'burst-3']) {
        const next = await route(directory, id, extra);
        expect(next.route, JSON.stringify(extra)).toMatchObject({ account: B });
        expect(next.route.reason).toMatch(/already holds this pool spec/);
        expect(next.plan.poolId).toBe(first.plan.poolId);
      }
      expect(await stack.deps.pools.get(first.plan.poolId)).toBeUndefined();
    }
  });
});
