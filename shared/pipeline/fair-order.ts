/**
 * Fair work lists for the periodic passes (sweep, reconcile): every tenant with work gets a share of
 * each pass, whatever another tenant has queued up.
 *
 * - Tenants with work are found one cheap query each (no scan of their jobs); at most `maxTenants`
 *   per pass, starting after the tenant a previous pass could not reach.
 * - Per tenant, at most `perTenant` jobs, oldest `updatedAt` first (ties by id), continuing after the
 *   last job the previous pass took (a stored cursor), wrapping to the start: a tenant with more jobs
 *   than its share progresses through all of them across passes.
 * - The per-tenant lists are interleaved round-robin and cut at `total`, so even the cut keeps every
 *   tenant's first jobs.
 * - Jobs come back projected (`WorkItem`: state, counts, refs, leases), never as whole documents: a
 *   pass over 10,000 jobs reads a few hundred bytes each, not their requests.
 */
import {
  type JobStore,
  type WorkCursor,
  type WorkFilter,
  type WorkItem,
  workKeyOf,
} from '../adapters/cosmos/job-store.js';
import { mapWithConcurrency } from '../core/concurrency.js';

export interface FairShare {
  /** Jobs per tenant per pass. */
  readonly perTenant: number;
  /** Jobs per pass in all. */
  readonly total: number;
  /** Tenants per pass. Default `total`. */
  readonly maxTenants?: number;
}

type FairStore = Pick<JobStore, 'nextTenantWithWork' | 'listTenantWork' | 'getCursor' | 'saveCursor'>;

/** Takes `[a1, a2, a3], [b1]` to `[a1, b1, a2, a3]`. */
export function interleave<T>(lists: readonly (readonly T[])[]): T[] {
  const out: T[] = [];
  const longest = Math.max(0, ...lists.map((l) => l.length));
  for (let i = 0; i < longest; i++) for (const list of lists) if (i < list.length) out.push(list[i]!);
  return out;
}

/** One pass's fair list of work for `loop` (the cursor's name), and the cursor moved past it. */
export async function takeFairly(
  store: FairStore,
  loop: string,
  filter: WorkFilter,
  share: FairShare,
): Promise<WorkItem[]> {
  const cursor: WorkCursor = (await store.getCursor(loop)) ?? { after: {} };
  const maxTenants = Math.max(1, share.maxTenants ?? share.total);
  const tenants: string[] = [];
  let after = cursor.tenantAfter;
  let wrapped = cursor.tenantAfter === undefined;
  let truncated = false;
  for (;;) {
    if (tenants.length >= maxTenants) {
      truncated = true;
      break;
    }
    const next = await store.nextTenantWithWork(filter, after);
    if (next === undefined || (wrapped && tenants.includes(next))) {
      if (wrapped) break;
      wrapped = true;
      after = undefined;
      continue;
    }
    if (tenants.includes(next)) break;
    tenants.push(next);
    after = next;
  }

  const perTenant = Math.max(1, share.perTenant);
  const lists = await mapWithConcurrency(tenants, 8, async (tenant) => {
    const from = cursor.after[tenant];
    const jobs = await store.listTenantWork(tenant, filter, {
      limit: perTenant,
      ...(from !== undefined ? { after: from } : {}),
    });
    // Past the end of this tenant's work: wrap to its oldest jobs.
    if (jobs.length < perTenant && from !== undefined) {
      jobs.push(
        ...(await store.listTenantWork(tenant, filter, { limit: perTenant - jobs.length, upTo: from })),
      );
    }
    return jobs;
  });
  const taken = interleave(lists).slice(0, Math.max(0, share.total));

  const nextAfter: Record<string, string> = { ...cursor.after };
  // A tenant cut off by `total` keeps its place; one without work forgets it.
  tenants.forEach((tenant, i) => {
    if (lists[i]?.length === 0) delete nextAfter[tenant];
  });
  for (const job of taken) nextAfter[job.tenant] = workKeyOf(job);
  const served = new Set(taken.map((j) => j.tenant));
  const lastServed = [...tenants].reverse().find((t) => served.has(t));
  const someoneWaits = truncated || tenants.some((t) => !served.has(t));
  await store.saveCursor(loop, {
    ...(someoneWaits && lastServed !== undefined ? { tenantAfter: lastServed } : {}),
    after: nextAfter,
  });
  return taken;
}
