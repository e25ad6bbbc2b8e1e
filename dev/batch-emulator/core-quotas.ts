/**
 * Per-account core quotas, as a Batch-managed account has them: a total dedicated core quota, a
 * dedicated core quota per VM family (enforced unless `dedicatedCoreQuotaPerVMFamilyEnforced` is
 * false) and one low-priority core quota for all families. Every node in the account counts with the
 * vCPUs of its size, whatever its state, until it has left its pool.
 *
 * An allocation takes the nodes that fit and reports the rest as a resize error, which is what Batch
 * does when a resize would cross a quota.
 */
import { tryGetVmSize, vmFamilyOf } from '../../shared/model/vm-sizes.js';
import type { NodeRec, PoolRec } from './model.js';

export interface FamilyQuota {
  name: string;
  coreQuota: number;
}

export interface CoreQuotaSettings {
  dedicatedCoreQuota: number;
  lowPriorityCoreQuota: number;
  /** Families not listed are bounded by the total only (in Azure an unlisted family has 0). */
  dedicatedCoreQuotaPerVMFamily: FamilyQuota[];
  dedicatedCoreQuotaPerVMFamilyEnforced: boolean;
}

export interface CoreUsage {
  dedicatedCores: number;
  lowPriorityCores: number;
  dedicatedCoresPerVMFamily: Record<string, number>;
}

export interface ResizeErrorRec {
  code: string;
  message: string;
}

/** Generous enough that nothing a test or the local stack does meets them unless it sets them. */
export function defaultCoreQuotas(): CoreQuotaSettings {
  return {
    dedicatedCoreQuota: 1_000_000,
    lowPriorityCoreQuota: 1_000_000,
    dedicatedCoreQuotaPerVMFamily: [],
    dedicatedCoreQuotaPerVMFamilyEnforced: true,
  };
}

export function coresPerNode(vmSize: string): number {
  return tryGetVmSize(vmSize)?.vCpus ?? 1;
}

export function coreUsage(pools: Iterable<PoolRec>): CoreUsage {
  const usage: CoreUsage = { dedicatedCores: 0, lowPriorityCores: 0, dedicatedCoresPerVMFamily: {} };
  for (const pool of pools) {
    const cores = coresPerNode(pool.vmSize);
    const family = vmFamilyOf(pool.vmSize);
    for (const node of pool.nodes.values() as Iterable<NodeRec>) {
      if (node.lowPriority) {
        usage.lowPriorityCores += cores;
      } else {
        usage.dedicatedCores += cores;
        usage.dedicatedCoresPerVMFamily[family] = (usage.dedicatedCoresPerVMFamily[family] ?? 0) + cores;
      }
    }
  }
  return usage;
}

/**
 * How many of `wanted` new nodes of the pool's size the quotas allow now, and the resize error to
 * report when that is fewer than wanted.
 */
export function admitNodes(
  settings: CoreQuotaSettings,
  pools: Iterable<PoolRec>,
  pool: PoolRec,
  lowPriority: boolean,
  wanted: number,
): { count: number; error?: ResizeErrorRec } {
  if (wanted <= 0) return { count: 0 };
  const cores = coresPerNode(pool.vmSize);
  const usage = coreUsage(pools);
  if (lowPriority) {
    const free = Math.max(0, settings.lowPriorityCoreQuota - usage.lowPriorityCores);
    const count = Math.min(wanted, Math.floor(free / cores));
    if (count === wanted) return { count };
    return {
      count,
      error: {
        code: 'AccountLowPriorityCoreQuotaReached',
        message: `The specified account has reached its low-priority core quota (${settings.lowPriorityCoreQuota} cores, ${usage.lowPriorityCores} in use): ${count} of ${wanted} requested ${pool.vmSize} nodes (${cores} cores each) were allocated.`,
      },
    };
  }
  const family = vmFamilyOf(pool.vmSize);
  const totalFree = Math.max(0, settings.dedicatedCoreQuota - usage.dedicatedCores);
  const familyQuota = settings.dedicatedCoreQuotaPerVMFamilyEnforced
    ? settings.dedicatedCoreQuotaPerVMFamily.find((f) => f.name.toLowerCase() === family.toLowerCase())
    : undefined;
  const familyUsed = usage.dedicatedCoresPerVMFamily[family] ?? 0;
  const familyFree = familyQuota ? Math.max(0, familyQuota.coreQuota - familyUsed) : Number.POSITIVE_INFINITY;
  const count = Math.min(wanted, Math.floor(Math.min(totalFree, familyFree) / cores));
  if (count === wanted) return { count };
  const limit =
    familyQuota && familyFree < totalFree
      ? `its dedicated core quota for ${family} (${familyQuota.coreQuota} cores, ${familyUsed} in use)`
      : `its dedicated core quota (${settings.dedicatedCoreQuota} cores, ${usage.dedicatedCores} in use)`;
  return {
    count,
    error: {
      code: 'AccountCoreQuotaReached',
      message: `The specified account has reached ${limit}: ${count} of ${wanted} requested ${pool.vmSize} nodes (${cores} cores each) were allocated.`,
    },
  };
}
