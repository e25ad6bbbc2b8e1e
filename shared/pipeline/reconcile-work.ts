/**
 * The Cosmos side of the listing reconcile (reconcile-listing.ts): every active job's projection,
 * read once per pass for every account, and the pure choices made on it (which account a job is in,
 * the rotating catch-up slice, the bounded pending list).
 */
import type { JobStore, WorkFilter, WorkItem } from '../adapters/cosmos/job-store.js';
import { workKeyOf } from '../adapters/cosmos/job-store.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import type { BatchRefs } from '../model/job.js';

export const ACTIVE: WorkFilter = { states: ['submitted', 'running'] };

/** `tenant/jobId`: how pending jobs are kept on the account document. */
export const workKey = (job: Pick<WorkItem, 'tenant' | 'jobId'>) => `${job.tenant}/${job.jobId}`;

/** The account a job runs in: its Batch refs name it; none is the primary account. */
export function accountOfJob(job: Pick<WorkItem, 'batch'>, primary: string): string {
  const refs: (BatchRefs & { readonly account?: string }) | undefined = job.batch;
  return refs?.account ?? primary;
}

/**
 * Every active job, projected (`WorkItem`, a few hundred bytes, never the request): one TOP 1 query
 * per tenant with work to find the tenants, then per tenant one partition-scoped query per `pageSize`
 * jobs. Queries: tenants + 1 + Σ ⌈(jobs of the tenant + 1) ÷ pageSize⌉. RU follow the items read,
 * not the queries (the SDK pages a large TOP itself), so the page is large: fewer round trips.
 */
export async function readActiveWork(
  store: Pick<JobStore, 'nextTenantWithWork' | 'listTenantWork'>,
  options: { pageSize?: number; concurrency?: number } = {},
): Promise<WorkItem[]> {
  const pageSize = options.pageSize ?? 10_000;
  const tenants: string[] = [];
  for (let t = await store.nextTenantWithWork(ACTIVE); t !== undefined; ) {
    tenants.push(t);
    t = await store.nextTenantWithWork(ACTIVE, t);
  }
  const lists = await mapWithConcurrency(tenants, options.concurrency ?? 8, async (tenant) => {
    const jobs: WorkItem[] = [];
    for (let after: string | undefined; ; ) {
      const page = await store.listTenantWork(tenant, ACTIVE, {
        limit: pageSize,
        ...(after !== undefined ? { after } : {}),
      });
      jobs.push(...page);
      const last = page[page.length - 1];
      if (page.length < pageSize || !last) return jobs;
      after = workKeyOf(last);
    }
  });
  return lists.flat();
}

/**
 * The next `size` jobs after the key `after` in key order, wrapping to the start: over passes every
 * active job of the account comes round, the least recently caught up first. `last` is the key to
 * continue after next time.
 */
export function takeCatchUp(
  jobs: readonly WorkItem[],
  after: string | undefined,
  size: number,
): { taken: WorkItem[]; last?: string } {
  if (size <= 0 || jobs.length === 0) return { taken: [] };
  const sorted = [...jobs].sort((a, b) => compare(workKey(a), workKey(b)));
  const start = after === undefined ? 0 : sorted.findIndex((j) => compare(workKey(j), after) > 0);
  const from = start < 0 ? 0 : start;
  const taken: WorkItem[] = [];
  for (let i = 0; i < Math.min(size, sorted.length); i++) taken.push(sorted[(from + i) % sorted.length]!);
  const last = taken[taken.length - 1];
  return { taken, ...(last ? { last: workKey(last) } : {}) };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Keys in first-seen order, without repeats, at most `limit`. */
export function boundedKeys(keys: Iterable<string>, limit: number): string[] {
  const out = new Set<string>();
  for (const k of keys) {
    if (out.size >= limit) break;
    out.add(k);
  }
  return [...out];
}

/** The later of two Batch timestamps (ISO 8601, compared as instants); absent or unreadable ones lose. */
export function later(a: string | undefined, b: string | undefined): string | undefined {
  const readable = (t: string | undefined) => (t && !Number.isNaN(Date.parse(t)) ? t : undefined);
  const x = readable(a);
  const y = readable(b);
  if (!x) return y;
  if (!y) return x;
  return Date.parse(y) > Date.parse(x) ? y : x;
}

/** `at` moved back by `ms`, as Batch writes times. */
export function minus(at: string, ms: number): string {
  return new Date(Date.parse(at) - ms).toISOString();
}
