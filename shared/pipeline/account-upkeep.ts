/**
 * Account upkeep, after each full pool controller pass: per Batch account, a data-plane probe when
 * nothing called it since the last upkeep or it is not healthy (so an account with no work on it still
 * shows when it fails and when it recovers: health comes only from calls), its quotas read again from the management plane when older than `quotaEveryMs`, the cores
 * Slotwise's pools hold there summed from the pool records, and this instance's verdict on its health
 * written where every instance routes from. One ETag-guarded write per account, only when something
 * changed. Accounts are kept concurrently: one that hangs delays no other.
 */
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { AccountDoc, AccountStore } from '../adapters/cosmos/account-store.js';
import type { ManagedPoolDoc, PoolStore } from '../adapters/cosmos/pool-store.js';
import type { Clock } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { AccountHealth, AccountQuotas, AccountUsage } from '../model/accounts.js';
import { isLowPriorityPool } from '../model/batch-names.js';
import { tryGetVmSize, vmFamilyOf } from '../model/vm-sizes.js';

export interface AccountUpkeepDeps {
  readonly accounts: BatchAccounts;
  readonly accountStore: Pick<AccountStore, 'get' | 'update'>;
  readonly pools: Pick<PoolStore, 'list'>;
  readonly clock: Clock;
  /** The account resource's quotas (management plane). */
  readonly readQuotas: (account: string, signal?: AbortSignal) => Promise<AccountQuotas>;
  readonly log?: (message: string) => void;
}

export interface AccountUpkeepReport {
  readonly accounts: {
    readonly name: string;
    readonly health: AccountHealth['state'];
    readonly quotasRead: boolean;
    readonly error?: string;
  }[];
}

/** Read to probe an account: a pool id Slotwise never creates (Batch answers 404, which is an answer). */
const PROBE_POOL_ID = 'slotwise-probe';

/** Per guard (per instance and account), its attempt count at the last upkeep. */
const attemptsSeen = new WeakMap<object, number>();

/** Quotas change when an operator's request is granted: read every 10 minutes. */
export const QUOTA_EVERY_MS = 10 * 60_000;

/** Cores each account's Slotwise pools hold or were last sized to, by kind and family. */
export function usageByAccount(pools: readonly ManagedPoolDoc[], primary: string): Map<string, AccountUsage> {
  const out = new Map<
    string,
    { dedicatedCores: number; lowPriorityCores: number; perFamily: Record<string, number>; pools: number }
  >();
  for (const doc of pools) {
    const account = doc.account ?? primary;
    const entry = out.get(account) ?? { dedicatedCores: 0, lowPriorityCores: 0, perFamily: {}, pools: 0 };
    entry.pools++;
    const cores = (doc.target ?? 0) * (tryGetVmSize(doc.body.vmSize)?.vCpus ?? 1);
    const lowPriority = isLowPriorityPool(doc.body);
    if (lowPriority) entry.lowPriorityCores += cores;
    else {
      entry.dedicatedCores += cores;
      const family = vmFamilyOf(doc.body.vmSize);
      entry.perFamily[family] = (entry.perFamily[family] ?? 0) + cores;
    }
    out.set(account, entry);
  }
  return out;
}

export interface AccountUpkeepOptions {
  /** How old quotas may get before they are read again. Default `QUOTA_EVERY_MS`. */
  readonly quotaEveryMs?: number;
  /** Default 10,000 ms. */
  readonly probeTimeoutMs?: number;
  /**
   * Since when the pools' targets count the jobs planned onto them: the start of the pool controller
   * pass that sized them. Written as the usage's `at`; routing counts the cores it reserved after that
   * on top. Default: when the pools are listed here (a job planned during the pass before is then
   * taken as counted a moment early).
   */
  readonly countedSince?: Date;
}

export async function upkeepAccounts(
  deps: AccountUpkeepDeps,
  options: AccountUpkeepOptions = {},
): Promise<AccountUpkeepReport> {
  const quotaEveryMs = options.quotaEveryMs ?? QUOTA_EVERY_MS;
  // Taken before the listing, not after the probes (up to `probeTimeoutMs`): a job routed meanwhile
  // is not in this sum, and its reservation must outlive it.
  const countedSince = options.countedSince ?? deps.clock.now();
  const usage = usageByAccount(await deps.pools.list(), deps.accounts.primary);
  const results = await Promise.all(
    deps.accounts.list.map(async (info) => {
      let error: string | undefined;
      const signal = AbortSignal.timeout(options.probeTimeoutMs ?? 10_000);
      // Health comes only from calls: an account nothing called since the last upkeep is probed (a
      // pool read that Batch answers 404), so one with no work still shows when it fails and recovers.
      const guard = deps.accounts.guard(info.name);
      const attempts = guard.stats().attempts;
      if (attempts === attemptsSeen.get(guard) || guard.health().state !== 'healthy') {
        await deps.accounts
          .gateway(info.name)
          .getPool(PROBE_POOL_ID)
          .catch((e: unknown) => {
            error = describeError(e);
          });
      }
      attemptsSeen.set(guard, guard.stats().attempts);
      const now = deps.clock.now();
      const doc = await deps.accountStore.get(info.name);
      let quotas: AccountDoc['quotas'];
      if (!doc?.quotas || now.getTime() - Date.parse(doc.quotas.readAt) >= quotaEveryMs) {
        try {
          quotas = { ...(await deps.readQuotas(info.name, signal)), readAt: now.toISOString() };
        } catch (e) {
          deps.log?.(`Quotas of Batch account ${info.name} not read this pass: ${describeError(e)}`);
        }
      }
      const health = deps.accounts.guard(info.name).health();
      const used = usage.get(info.name) ?? {
        dedicatedCores: 0,
        lowPriorityCores: 0,
        perFamily: {},
        pools: 0,
      };
      await deps.accountStore.update(info.name, (current) => {
        const next: AccountDoc = { ...current };
        let changed = false;
        if (quotas) {
          next.quotas = quotas;
          changed = true;
        }
        if (!current.usage || !sameUsage(current.usage, used)) {
          next.usage = { ...used, at: countedSince.toISOString() };
          changed = true;
        }
        if (current.health?.state !== health.state) {
          next.health = health;
          changed = true;
        }
        return changed ? next : undefined;
      });
      return {
        name: info.name,
        health: health.state,
        quotasRead: quotas !== undefined,
        ...(error ? { error } : {}),
      };
    }),
  );
  return { accounts: results };
}

function sameUsage(a: AccountUsage, b: AccountUsage): boolean {
  return (
    a.dedicatedCores === b.dedicatedCores &&
    a.lowPriorityCores === b.lowPriorityCores &&
    a.pools === b.pools &&
    JSON.stringify(Object.entries(a.perFamily).sort()) === JSON.stringify(Object.entries(b.perFamily).sort())
  );
}
