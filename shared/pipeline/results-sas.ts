/**
 * The results store's SAS, given to Batch at the last moment. Planned bodies and stored chunks name
 * the tenant's results store only by the placeholder `RESULTS_STORE_URL` (plans and Cosmos never hold
 * a SAS); just before a round of tasks (or the Batch job, for its preparation task) goes to Batch, every
 * `outputFiles[].destination.container.containerUrl` that is the placeholder becomes the tenant's
 * container URL with a create+write SAS, and every `resourceFiles[].storageContainerUrl` that is the
 * placeholder the same URL with a read+list SAS.
 *
 * Lifetime: Batch cannot change a task's output URL after the task is added, so the SAS must outlive
 * the task: at least `SLOTWISE_RESULTS_SAS_HOURS` (48 by default), or the job's maxWallClockTime plus an
 * hour when that is longer, at most `MAX_SAS_LIFETIME_MS` (under the 7 days a user delegation key
 * lives). A retry that resubmits re-adds the tasks through this stage, with a fresh SAS.
 *
 * One SAS pair per tenant is kept in memory and reused while it still has the life a round needs, so a
 * large job mints once per round at most, not per task. The resolved bodies go to Batch only: they are
 * never stored, logged or returned.
 */
import { MAX_SAS_LIFETIME_MS, type ResultsStore } from '../adapters/blob/results-store.js';
import { SlotwiseError } from '../core/errors.js';
import { rewriteTree } from '../core/rewrite-tree.js';
import { RESULTS_STORE_URL } from '../model/batch-bodies.js';
import { isoDurationSeconds } from '../model/callback-token.js';

export interface ResultsUrls {
  /** Container URL + SAS `sp=cw`, for `outputFiles`. */
  readonly write: string;
  /** Container URL + SAS `sp=rl`, for `resourceFiles`. */
  readonly read: string;
  readonly expiresAt: Date;
}

export interface ResultsSas {
  /** The tenant's results URLs, valid for at least `lifetimeMs` from now. */
  urlsFor(tenantId: string, lifetimeMs: number): Promise<ResultsUrls>;
}

/** How long the SAS of a job's tasks must last (see the top of this file). */
export function resultsSasLifetimeMs(maxWallClockTime: string | undefined, sasHours: number): number {
  const floor = sasHours * 3_600_000;
  const wallClock = maxWallClockTime ? isoDurationSeconds(maxWallClockTime) : undefined;
  const needed = wallClock === undefined ? floor : Math.max(floor, (wallClock + 3600) * 1000);
  return Math.min(needed, MAX_SAS_LIFETIME_MS);
}

/** Minted SAS last a quarter longer than asked, so later rounds can reuse them for a while. */
const HEADROOM = 1.25;
const MAX_CACHED_TENANTS = 1000;

export function createResultsSas(
  store: Pick<ResultsStore, 'writeSasUrl' | 'readSasUrl'>,
  options: { readonly now: () => number },
): ResultsSas {
  const cache = new Map<string, Promise<ResultsUrls>>();
  const mint = async (tenantId: string, lifetimeMs: number): Promise<ResultsUrls> => {
    const expiresAt = new Date(options.now() + Math.min(lifetimeMs * HEADROOM, MAX_SAS_LIFETIME_MS));
    const [write, read] = await Promise.all([
      store.writeSasUrl(tenantId, expiresAt),
      store.readSasUrl(tenantId, expiresAt),
    ]);
    return { write, read, expiresAt };
  };
  const urlsFor = async (tenantId: string, lifetimeMs: number): Promise<ResultsUrls> => {
    for (;;) {
      const cached = cache.get(tenantId);
      if (!cached) break;
      const urls = await cached.catch(() => undefined);
      if (urls && urls.expiresAt.getTime() - options.now() >= lifetimeMs) return urls;
      // Replaced while this call waited (another round minted): look at the new one.
      if (cache.get(tenantId) === cached) break;
    }
    const minted = mint(tenantId, lifetimeMs);
    cache.delete(tenantId);
    cache.set(tenantId, minted);
    // A failed mint is not kept; the oldest tenant goes when the cache is full.
    minted.catch(() => {
      if (cache.get(tenantId) === minted) cache.delete(tenantId);
    });
    if (cache.size > MAX_CACHED_TENANTS) cache.delete(cache.keys().next().value!);
    return minted;
  };
  return { urlsFor };
}

/** Whether `value` (a task or job body) names the results store anywhere. */
export function usesResultsStore(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(usesResultsStore);
  if (typeof value !== 'object' || value === null) return false;
  for (const [key, v] of Object.entries(value)) {
    if ((key === 'containerUrl' || key === 'storageContainerUrl') && v === RESULTS_STORE_URL) return true;
    if (typeof v === 'object' && v !== null && usesResultsStore(v)) return true;
  }
  return false;
}

/**
 * `value` with the placeholder replaced: `containerUrl` (output destinations) by the write URL,
 * `storageContainerUrl` (resource files) by the read URL. Parts without it are shared, not copied.
 */
export function withResultsUrls<T>(value: T, urls: Pick<ResultsUrls, 'write' | 'read'>): T {
  return rewriteTree(value, (key, v) => {
    if (v !== RESULTS_STORE_URL) return undefined;
    if (key === 'containerUrl') return urls.write;
    if (key === 'storageContainerUrl') return urls.read;
    return undefined;
  });
}

/**
 * `bodies` ready for Batch: unchanged when none names the results store, else with the tenant's SAS
 * URLs (one lookup for all of them), lasting as long as the job's Batch body needs. Without a results
 * store the job cannot run as asked: a permanent failure.
 */
export async function resolveResultsStore<T>(
  bodies: T,
  job: { readonly tenant: string },
  jobBody: { readonly constraints?: { readonly maxWallClockTime?: string } },
  deps: {
    readonly resultsSas?: ResultsSas;
    readonly settings: { readonly SLOTWISE_RESULTS_SAS_HOURS?: number };
  },
): Promise<T> {
  if (!usesResultsStore(bodies)) return bodies;
  if (!deps.resultsSas)
    throw new SlotwiseError(
      'ResultsStoreUnavailable',
      'The job uses the results store, which is not configured',
    );
  const hours = deps.settings.SLOTWISE_RESULTS_SAS_HOURS ?? 48;
  const urls = await deps.resultsSas.urlsFor(
    job.tenant,
    resultsSasLifetimeMs(jobBody.constraints?.maxWallClockTime, hours),
  );
  return withResultsUrls(bodies, urls);
}
