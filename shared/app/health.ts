/** Dependency health: each probe is timed; the report is 'up' only when every dependency answers. */
import { createHash } from 'node:crypto';
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { AccountDoc, AccountStore } from '../adapters/cosmos/account-store.js';
import { describeError } from '../core/errors.js';
import { type AccountDrain, type AccountHealth, worseHealth } from '../model/accounts.js';

export interface HealthProbe {
  readonly name: string;
  /**
   * Probes of one group stand in for each other: the report is down only when every one of them is
   * (the Batch accounts: jobs route around one that is down).
   */
  readonly group?: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface DependencyHealth {
  readonly name: string;
  readonly status: 'up' | 'down';
  readonly latencyMs: number;
  readonly error?: string;
}

export interface HealthReport {
  readonly status: 'up' | 'down';
  readonly checkedAt: string;
  readonly dependencies: readonly DependencyHealth[];
}

export async function checkHealth(
  probes: readonly HealthProbe[],
  deps: { now: () => Date; monotonicMs: () => number; timeoutMs?: number },
): Promise<HealthReport> {
  const timeoutMs = deps.timeoutMs ?? 3000;
  const dependencies = await Promise.all(
    probes.map(async (probe): Promise<DependencyHealth> => {
      const started = deps.monotonicMs();
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        await probe.check(signal);
        return { name: probe.name, status: 'up', latencyMs: Math.round(deps.monotonicMs() - started) };
      } catch (e) {
        return {
          name: probe.name,
          status: 'down',
          latencyMs: Math.round(deps.monotonicMs() - started),
          error: signal.aborted ? 'timeout' : describeError(e),
        };
      }
    }),
  );
  const groups = new Map<string, boolean>();
  probes.forEach((probe, i) => {
    if (probe.group)
      groups.set(probe.group, (groups.get(probe.group) ?? false) || dependencies[i]!.status === 'up');
  });
  const up =
    dependencies.every((d, i) => d.status === 'up' || probes[i]!.group !== undefined) &&
    [...groups.values()].every(Boolean);
  return {
    status: up ? 'up' : 'down',
    checkedAt: deps.now().toISOString(),
    dependencies,
  };
}

/**
 * How old a cached report each caller may get. Anonymous callers (probes, and anyone on the internet)
 * get one up to 10 s old: a flood of them costs the shared Batch account, Cosmos and Storage one round
 * of calls per 10 s per instance, while a probe still sees an outage within seconds. A tenant key gets
 * one at most 2 s old: near enough live for someone looking at an incident, and still a bound on how
 * often one tenant's loop can make this instance call Batch.
 */
export const HEALTH_MAX_AGE_MS = { anonymous: 10_000, tenant: 2_000 } as const;

interface HealthCache {
  /** The last finished round and when it started (monotonic ms). */
  last?: { readonly startedAt: number; readonly report: HealthReport };
  /** The round in progress: every caller that needs a fresh report waits for this one. */
  running?: { readonly startedAt: number; readonly report: Promise<HealthReport> };
}

// Per instance: one cache per probe list, i.e. per composition root (functions share it).
const caches = new WeakMap<readonly HealthProbe[], HealthCache>();

/**
 * The report of a round started at most `maxAgeMs` ago, by the injected clock: the last one if young
 * enough, else the one in progress, else a new round. Concurrent callers share one round, so however
 * many arrive at once the dependencies see one call each. A report's age counts from its round's start.
 */
export function cachedHealth(
  probes: readonly HealthProbe[],
  deps: { now: () => Date; monotonicMs: () => number; timeoutMs?: number },
  maxAgeMs: number,
): Promise<HealthReport> {
  let cache = caches.get(probes);
  if (!cache) {
    cache = {};
    caches.set(probes, cache);
  }
  const now = deps.monotonicMs();
  if (cache.last && now - cache.last.startedAt <= maxAgeMs) return Promise.resolve(cache.last.report);
  if (cache.running && now - cache.running.startedAt <= maxAgeMs) return cache.running.report;
  const entry = cache;
  const round = { startedAt: now, report: checkHealth(probes, deps) };
  entry.running = round;
  round.report.then(
    (report) => {
      // A slower, older round must not replace a newer one's result.
      if (!entry.last || entry.last.startedAt <= round.startedAt)
        entry.last = { startedAt: round.startedAt, report };
      if (entry.running === round) entry.running = undefined;
    },
    () => {
      if (entry.running === round) entry.running = undefined;
    },
  );
  return round.report;
}

/**
 * Who may see the details. Health probes come without a key and get only up/down; a tenant API key
 * (Bearer) unlocks the per-dependency report. Keys verified in the last few minutes are remembered
 * (as SHA-256 hashes, in memory) so the details stay visible while Cosmos, which holds the keys, is
 * the dependency that is down.
 */
/** Details go only to a tenant's key, and name only that tenant's resources. */
export type HealthAccess = 'anonymous' | 'badKey' | { readonly tenant: string };

const recentTtlMs = 10 * 60_000;
const recentMax = 256;
const recentByStore = new WeakMap<object, Map<string, { at: number; tenant: string }>>();

export async function healthAccess(
  authorization: string | null,
  tenants: { authenticate(apiKey: string): Promise<string | undefined> },
  nowMs: number,
): Promise<HealthAccess> {
  const key = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] : undefined;
  if (!key) return 'anonymous';
  let recent = recentByStore.get(tenants);
  if (!recent) {
    recent = new Map();
    recentByStore.set(tenants, recent);
  }
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  let tenant: string | undefined;
  try {
    tenant = await tenants.authenticate(key);
  } catch {
    // The key store is unreachable: trust only a key verified recently, else show no details.
    const seen = recent.get(hash);
    return seen !== undefined && nowMs - seen.at < recentTtlMs ? { tenant: seen.tenant } : 'anonymous';
  }
  if (!tenant) {
    recent.delete(hash);
    return 'badKey';
  }
  recent.delete(hash);
  recent.set(hash, { at: nowMs, tenant });
  if (recent.size > recentMax) recent.delete(recent.keys().next().value as string);
  return { tenant };
}

/** What the health report says of each Batch account (docs/accounts.md, "Health and drain"). */
export interface AccountHealthView {
  readonly name: string;
  readonly region: string;
  readonly primary: boolean;
  /** `draining` when an operator drains it, else its health. */
  readonly state: 'healthy' | 'degraded' | 'unhealthy' | 'draining';
  readonly health: AccountHealth;
  readonly drain?: AccountDrain;
  readonly quotas?: AccountDoc['quotas'];
  readonly usage?: AccountDoc['usage'];
}

/**
 * Every account: this instance's verdict from its own calls, or the shared one when that is worse
 * (another instance saw the trouble), and an operator's drain.
 */
export async function accountsHealth(deps: {
  readonly accounts: BatchAccounts;
  readonly accountStore: Pick<AccountStore, 'list'>;
}): Promise<AccountHealthView[]> {
  const docs = new Map(
    (await deps.accountStore.list(deps.accounts.list.map((a) => a.name))).map((d) => [d.name, d]),
  );
  return deps.accounts.list.map((info) => {
    const doc = docs.get(info.name);
    const health = worseHealth(deps.accounts.guard(info.name).health(), doc?.health);
    return {
      name: info.name,
      region: info.region,
      primary: info.primary,
      state: doc?.drain ? 'draining' : health.state,
      health,
      ...(doc?.drain ? { drain: doc.drain } : {}),
      ...(doc?.quotas ? { quotas: doc.quotas } : {}),
      ...(doc?.usage ? { usage: doc.usage } : {}),
    };
  });
}
