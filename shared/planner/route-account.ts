/**
 * Which Batch account a job's pool goes to. Pure: the caller gathers each account's picture.
 *
 * 1. Only accounts the tenant may use (its accounts and regions), that take the job's kind of node
 *    (low-priority nodes only where the allocation mode allows them: Batch retired them on
 *    `BatchService` accounts), are candidates; a draining or unhealthy account takes no new job.
 * 2. Sticky: an account that already holds a pool of this spec keeps getting the spec's jobs while it
 *    has headroom for them (jobs of one spec share a pool and its warm nodes).
 * 3. Else the account with the most headroom for the job's VM family, each account's headroom
 *    counted `weight` times; ties go to the order of the settings (the primary first).
 * 4. No candidate has headroom: the sticky account, else the one with most headroom, and the job
 *    waits there for cores as it would with one account (Batch reports the quota as the pool grows).
 * 5. Only draining or unhealthy accounts are allowed: an unhealthy one (not draining) still takes the
 *    job, which then waits for it to recover; all draining → no account (the job cannot be placed).
 *
 * Headroom = the quota that binds the job (the VM family's dedicated cores when enforced, and the
 * account's total; low-priority cores for Spot) minus the cores Slotwise's pools hold there. A quota
 * the account resource does not state (a `UserSubscription` account's cores are the subscription's)
 * bounds nothing.
 */
import type { AccountHealthState, AccountQuotas, AccountUsage, BatchAccountInfo } from '../model/accounts.js';
import { tryGetVmSize, vmFamilyOf } from '../model/vm-sizes.js';

export interface AccountPicture {
  readonly info: BatchAccountInfo;
  /** Undefined until the management plane has been read: nothing known bounds it. */
  readonly quotas?: AccountQuotas;
  readonly usage: AccountUsage;
  readonly health: AccountHealthState;
  readonly draining: boolean;
  /** A pool of this job's spec is already there (managed by Slotwise). */
  readonly holdsSpec: boolean;
}

export interface RouteNeed {
  readonly vmSize: string;
  /** Nodes the plan asks for. */
  readonly nodes: number;
  readonly lowPriority: boolean;
}

export interface TenantPlacement {
  /** Accounts the tenant may use (absent: any). */
  readonly accounts?: readonly string[];
  /** Regions the tenant may use (absent: any). */
  readonly regions?: readonly string[];
}

export interface AccountConsidered {
  readonly account: string;
  readonly region: string;
  /** Cores free for this job's family and kind; absent when no quota bounds it. */
  readonly headroomCores?: number;
  readonly eligible: boolean;
  /** Why not, or what it offers, in a few words. */
  readonly note: string;
}

export type RouteDecision =
  | {
      readonly ok: true;
      readonly account: string;
      readonly region: string;
      /** One line for the job's history and the dry run. */
      readonly reason: string;
      readonly considered: readonly AccountConsidered[];
    }
  | {
      readonly ok: false;
      readonly code: 'NoBatchAccount';
      readonly reason: string;
      readonly considered: readonly AccountConsidered[];
    };

/** Cores the job's nodes take: its nodes times the size's vCPUs (1 for a size not in the table). */
export function coresNeeded(need: RouteNeed): number {
  return need.nodes * (tryGetVmSize(need.vmSize)?.vCpus ?? 1);
}

/** Free cores of the quotas that bind this kind of node of this family; undefined when none binds. */
export function headroomFor(
  quotas: AccountQuotas | undefined,
  usage: AccountUsage,
  vmSize: string,
  lowPriority: boolean,
): number | undefined {
  if (!quotas) return undefined;
  if (lowPriority) {
    return quotas.lowPriorityCores === undefined
      ? undefined
      : Math.max(0, quotas.lowPriorityCores - usage.lowPriorityCores);
  }
  const bounds: number[] = [];
  if (quotas.dedicatedCores !== undefined) bounds.push(quotas.dedicatedCores - usage.dedicatedCores);
  // With enforcement each VM series has its own core quota (learn.microsoft.com/azure/batch/
  // batch-quota-limit, BatchManagement.json `dedicatedCoreQuotaPerVMFamily`): a family the list leaves
  // out gets none. An empty list states no family quota at all (the local emulator's default, where the
  // total alone binds), so it bounds nothing here.
  if (quotas.perFamily && quotas.perFamilyEnforced && Object.keys(quotas.perFamily).length > 0) {
    const family = vmFamilyOf(vmSize);
    bounds.push((quotaOf(quotas.perFamily, family) ?? 0) - (usage.perFamily[family] ?? 0));
  }
  return bounds.length === 0 ? undefined : Math.max(0, Math.min(...bounds));
}

/** A family's quota; ARM's family names are matched without regard to case, as Batch matches them. */
function quotaOf(perFamily: Readonly<Record<string, number>>, family: string): number | undefined {
  const exact = perFamily[family];
  if (exact !== undefined) return exact;
  const lower = family.toLowerCase();
  const key = Object.keys(perFamily).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : perFamily[key];
}

export function routeAccount(
  pictures: readonly AccountPicture[],
  need: RouteNeed,
  tenant: TenantPlacement = {},
): RouteDecision {
  const cores = coresNeeded(need);
  const considered: AccountConsidered[] = [];
  const allowed: { p: AccountPicture; headroom: number | undefined }[] = [];
  for (const p of pictures) {
    const headroom = headroomFor(p.quotas, p.usage, need.vmSize, need.lowPriority);
    const row = (eligible: boolean, note: string): AccountConsidered => ({
      account: p.info.name,
      region: p.info.region,
      ...(headroom !== undefined ? { headroomCores: headroom } : {}),
      eligible,
      note,
    });
    if (tenant.accounts && !tenant.accounts.includes(p.info.name)) {
      considered.push(row(false, 'not one of the tenant’s accounts'));
      continue;
    }
    if (tenant.regions && !tenant.regions.includes(p.info.region)) {
      considered.push(row(false, `region ${p.info.region || '(unset)'} is not one of the tenant’s regions`));
      continue;
    }
    if (need.lowPriority && p.info.allocationMode === 'BatchService') {
      considered.push(row(false, 'BatchService account: no low-priority (Spot) nodes'));
      continue;
    }
    allowed.push({ p, headroom });
    if (p.draining) considered.push(row(false, 'draining'));
    else if (p.health === 'unhealthy') considered.push(row(false, 'unhealthy'));
    else
      considered.push(
        row(
          true,
          headroom === undefined
            ? 'no core quota stated'
            : `${headroom} free cores for ${cores} needed${p.holdsSpec ? ', holds this spec’s pool' : ''}`,
        ),
      );
  }
  const open = allowed.filter(({ p }) => !p.draining && p.health !== 'unhealthy');
  const fits = (h: number | undefined) => h === undefined || h >= cores;
  const family = need.lowPriority ? 'low-priority' : vmFamilyOf(need.vmSize);
  const decided = (p: AccountPicture, reason: string): RouteDecision => ({
    ok: true,
    account: p.info.name,
    region: p.info.region,
    reason,
    considered,
  });
  const sticky = open.find(({ p, headroom }) => p.holdsSpec && fits(headroom));
  if (sticky)
    return decided(
      sticky.p,
      `${sticky.p.info.name} already holds this pool spec and has room for ${cores} cores`,
    );
  const roomy = open.filter(({ headroom }) => fits(headroom));
  if (roomy.length > 0) {
    const score = ({ p, headroom }: (typeof roomy)[number]) =>
      headroom === undefined ? Number.POSITIVE_INFINITY : headroom * p.info.weight;
    const best = roomy.reduce((a, b) => (score(b) > score(a) ? b : a));
    const moved = open.some(({ p }) => p.holdsSpec)
      ? ` (the account holding this spec’s pool has no room: a second pool in ${best.p.info.name})`
      : '';
    return decided(
      best.p,
      `${best.p.info.name} has the most headroom for ${cores} ${family} cores` +
        (best.headroom === undefined ? ' (no core quota stated)' : ` (${best.headroom} free)`) +
        moved,
    );
  }
  const waiting =
    open.find(({ p }) => p.holdsSpec) ??
    open.reduce<(typeof open)[number] | undefined>(
      (a, b) => (!a || (b.headroom ?? 0) * b.p.info.weight > (a.headroom ?? 0) * a.p.info.weight ? b : a),
      undefined,
    );
  if (waiting)
    return decided(
      waiting.p,
      `no allowed account has ${cores} free ${family} cores; the job waits for cores in ${waiting.p.info.name}`,
    );
  const sick = allowed.find(({ p }) => !p.draining);
  if (sick)
    return decided(
      sick.p,
      `every allowed account is unhealthy or draining; the job waits for ${sick.p.info.name} to recover`,
    );
  return {
    ok: false,
    code: 'NoBatchAccount',
    reason:
      allowed.length === 0
        ? 'no Batch account is open to this tenant for this job (its accounts, regions, or the kind of node)'
        : 'every Batch account open to this tenant is draining',
    considered,
  };
}
