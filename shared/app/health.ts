/** Dependency health: each probe is timed; the report is 'up' only when every dependency answers. */
import { createHash } from 'node:crypto';
import { describeError } from '../core/errors.js';

export interface HealthProbe {
  readonly name: string;
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
  return {
    status: dependencies.every((d) => d.status === 'up') ? 'up' : 'down',
    checkedAt: deps.now().toISOString(),
    dependencies,
  };
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
