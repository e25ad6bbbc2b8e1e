/**
 * Planning across several Batch accounts, shared by the plan stage and the dry run so both place a
 * job alike: the existing pool a request names is looked for in the accounts the tenant may use; a
 * managed pool's account is chosen by `planner/route-account.ts` from each account's picture.
 *
 * The picture: the account's document (quotas from the management plane, usage as the pool
 * controller last summed it, drain, shared health; read at most every few seconds per instance),
 * this instance's own view of its health (the worse of the two counts), the cores this instance
 * routed there since that usage was summed (so a burst of jobs does not all land in the account that
 * looked emptiest a minute ago), and whether a pool of the job's spec is already there (sticky).
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { AccountDoc, AccountStore } from '../adapters/cosmos/account-store.js';
import type { PoolStore } from '../adapters/cosmos/pool-store.js';
import { type AccountUsage, type BatchAccountInfo, emptyUsage, worseHealth } from '../model/accounts.js';
import { isExistingPool, type JobRequest } from '../model/request-schema.js';
import type { TenantPolicy } from '../model/tenant-policy.js';
import type { FieldError } from '../model/validate-request.js';
import { vmFamilyOf } from '../model/vm-sizes.js';
import { type JobPlan, planJob, poolIdIn } from '../planner/plan-job.js';
import {
  type AccountPicture,
  coresNeeded,
  type RouteDecision,
  type RouteNeed,
  routeAccount,
} from '../planner/route-account.js';
import { type PlanDefaultSettings, planDefaults, readExistingPoolIn } from './plan-inputs.js';

export interface AccountDirectory {
  /** Every account's picture (holdsSpec false: the caller fills it per job). */
  pictures(): Promise<AccountPicture[]>;
  /**
   * This instance just routed `cores` of this family there, for the pool `poolId`: the cores count
   * until a newer usage sum, the pool as the spec's (sticky) until its reservation ages out.
   */
  reserve(account: string, vmSize: string, cores: number, lowPriority: boolean, poolId?: string): void;
  /**
   * Whether this instance routed a job to this pool within the reservation time: its record may not
   * be written yet (the submitter registers it), and the spec's next jobs must still find it.
   */
  routed(poolId: string): boolean;
  /** Forget the cached documents (after a drain, in tests). */
  refresh(): void;
}

export function createAccountDirectory(deps: {
  readonly accounts: BatchAccounts;
  readonly store: Pick<AccountStore, 'list'>;
  readonly now: () => number;
  /** How long the account documents are reused. Default 5 s. */
  readonly cacheMs?: number;
  /** How long a reservation counts at most. Default 2 minutes (a few pool controller passes). */
  readonly reservationMs?: number;
}): AccountDirectory {
  const cacheMs = deps.cacheMs ?? 5_000;
  const reservationMs = deps.reservationMs ?? 120_000;
  let cached: { at: number; docs: Map<string, AccountDoc> } | undefined;
  let reading: Promise<Map<string, AccountDoc>> | undefined;
  const reservations: {
    account: string;
    family: string;
    cores: number;
    lowPriority: boolean;
    at: number;
    poolId?: string;
  }[] = [];

  const docs = async (): Promise<Map<string, AccountDoc>> => {
    const now = deps.now();
    if (cached && now - cached.at < cacheMs) return cached.docs;
    // One read in flight per instance, however many plans ask at once.
    reading ??= deps.store
      .list(deps.accounts.list.map((a) => a.name))
      .then((list) => {
        const map = new Map(list.map((d) => [d.name, d]));
        cached = { at: deps.now(), docs: map };
        return map;
      })
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };

  const usageOf = (info: BatchAccountInfo, doc: AccountDoc | undefined): AccountUsage => {
    const base = doc?.usage ?? emptyUsage;
    const summedAt = doc?.usage ? Date.parse(doc.usage.at) : 0;
    const now = deps.now();
    const perFamily: Record<string, number> = { ...base.perFamily };
    let dedicatedCores = base.dedicatedCores;
    let lowPriorityCores = base.lowPriorityCores;
    for (const r of reservations) {
      if (r.account !== info.name || r.at <= summedAt || now - r.at > reservationMs) continue;
      if (r.lowPriority) lowPriorityCores += r.cores;
      else {
        dedicatedCores += r.cores;
        perFamily[r.family] = (perFamily[r.family] ?? 0) + r.cores;
      }
    }
    return { dedicatedCores, lowPriorityCores, perFamily, pools: base.pools };
  };

  return {
    async pictures() {
      const map = await docs();
      return deps.accounts.list.map((info): AccountPicture => {
        const doc = map.get(info.name);
        return {
          info,
          ...(doc?.quotas ? { quotas: doc.quotas } : {}),
          usage: usageOf(info, doc),
          health: worseHealth(deps.accounts.guard(info.name).health(), doc?.health).state,
          draining: doc?.drain !== undefined,
          holdsSpec: false,
        };
      });
    },
    reserve(account, vmSize, cores, lowPriority, poolId) {
      const now = deps.now();
      // Old ones go: the list stays as long as a few minutes of this instance's routing.
      while (reservations.length > 0 && now - reservations[0]!.at > reservationMs) reservations.shift();
      reservations.push({
        account,
        family: vmFamilyOf(vmSize),
        cores,
        lowPriority,
        at: now,
        ...(poolId ? { poolId } : {}),
      });
    },
    routed(poolId) {
      const now = deps.now();
      const id = poolId.toLowerCase();
      return reservations.some((r) => r.poolId?.toLowerCase() === id && now - r.at <= reservationMs);
    },
    refresh() {
      cached = undefined;
    },
  };
}

export interface RoutingDeps {
  readonly accounts: BatchAccounts;
  readonly directory: AccountDirectory;
  readonly pools: Pick<PoolStore, 'get'>;
  readonly settings: PlanDefaultSettings;
}

export type PlanAndRoute =
  | {
      readonly ok: true;
      readonly plan: JobPlan;
      readonly route: Extract<RouteDecision, { ok: true }>;
      /** What the route weighed (a managed pool only): the plan stage reserves it once the job is planned. */
      readonly need?: RouteNeed;
    }
  | { readonly ok: false; readonly errors: FieldError[] }
  | { readonly ok: false; readonly noAccount: Extract<RouteDecision, { ok: false }> };

/**
 * The plan and its account. A managed pool is planned for the primary account first (its need decides
 * the route) and again for another account when the route goes there: the account is in the pool's id
 * and in its application packages' ARM ids.
 */
export async function planAndRoute(
  input: { tenant: string; jobId: string; request: JobRequest; lane?: boolean },
  policy: TenantPolicy,
  deps: RoutingDeps,
): Promise<PlanAndRoute> {
  const placement = {
    ...(policy.batchAccounts ? { accounts: policy.batchAccounts } : {}),
    ...(policy.regions ? { regions: policy.regions } : {}),
  };
  const allowed = deps.accounts.list.filter(
    (a) =>
      (!placement.accounts || placement.accounts.includes(a.name)) &&
      (!placement.regions || placement.regions.includes(a.region)),
  );
  const existing = await readExistingPoolIn(input.request, policy, allowed, deps.accounts);
  if (!existing.ok) return existing;
  const plan = (account: BatchAccountInfo) =>
    planJob({
      tenant: input.tenant,
      jobId: input.jobId,
      request: input.request,
      ...(existing.pool ? { existingPool: existing.pool } : {}),
      defaults: planDefaults(deps.settings, account),
      ...(input.lane ? { lane: true } : {}),
      ...(account.primary ? {} : { poolAccount: account.name }),
    });
  if (existing.pool || isExistingPool(input.request.pool)) {
    // An existing pool is where it is; one that is nowhere is left to the planner to name, planned
    // for the primary account.
    const account = existing.account ?? deps.accounts.info();
    const outcome = plan(account);
    if (!outcome.ok) return outcome;
    return {
      ok: true,
      plan: outcome.plan,
      route: {
        ok: true,
        account: account.name,
        region: account.region,
        reason: existing.account
          ? `the existing pool '${existing.pool?.id}' is in ${account.name}`
          : `the existing pool was not found in an account open to this tenant; planned for ${account.name}`,
        considered: [],
      },
    };
  }
  const primary = deps.accounts.info();
  const first = plan(primary);
  if (!first.ok) return first;
  const spec = first.plan.poolSpec!;
  // Packages on the pool name their account's ARM id, so the spec (and the pool id) is the account's
  // own: planned again for it. Without them the primary's spec with the account's name gives the id.
  const accountBound = (first.plan.pool?.applicationPackageReferences?.length ?? 0) > 0;
  const poolIdFor = (account: BatchAccountInfo): string => {
    if (account.primary) return first.plan.poolId;
    if (!accountBound) return poolIdIn(input.tenant, spec, account.name);
    const own = plan(account);
    return own.ok ? own.plan.poolId : poolIdIn(input.tenant, spec, account.name);
  };
  const pictures = await deps.directory.pictures();
  const withSpec = await Promise.all(
    pictures.map(async (p) => {
      const poolId = poolIdFor(p.info);
      // A job of the spec routed here moments ago counts before its pool's record exists: a burst of
      // one spec's jobs shares one pool rather than spreading over the accounts.
      return {
        ...p,
        holdsSpec: deps.directory.routed(poolId) || (await deps.pools.get(poolId)) !== undefined,
      };
    }),
  );
  const need = {
    vmSize: first.plan.summary.vmSize,
    nodes: first.plan.summary.poolNodes,
    lowPriority: input.request.pool.lowPriority === true,
  };
  const route = routeAccount(withSpec, need, placement);
  if (!route.ok) return { ok: false, noAccount: route };
  const chosen = deps.accounts.info(route.account);
  const final = chosen.primary ? first : plan(chosen);
  if (!final.ok) return final;
  // Not reserved here: a dry run routes too and must take nothing, and a job that then waits (its
  // tenant's managed pool limit) holds no cores.
  return { ok: true, plan: final.plan, route, need };
}

/**
 * Counts a planned job's cores in its account until the next usage sum, so the jobs planned meanwhile
 * see them (no-op for an existing pool, whose cores are not Slotwise's to count).
 */
export function reserveRoute(
  directory: AccountDirectory,
  outcome: Extract<PlanAndRoute, { ok: true }>,
): void {
  const { need, route } = outcome;
  if (need)
    directory.reserve(route.account, need.vmSize, coresNeeded(need), need.lowPriority, outcome.plan.poolId);
}
