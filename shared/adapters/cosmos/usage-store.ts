/**
 * Per-tenant admission state, in the tenant's own partition of the `jobs` container:
 *
 * - `rate`: a GCRA (generic cell rate algorithm) cell, one number (the theoretical arrival time), so
 *   submissions per second hold across every instance of the app, with a burst allowance.
 * - `usage`: a ledger of the tenant's admitted jobs that may still be active (job document id → task
 *   count, and what the room is for: the request hash, or the retry request). A reservation is made
 *   before the job document (or the retry request) is written and is keyed by the job, so a retried
 *   or redelivered submission reserves once; a reservation for something else under the same key (a
 *   racing request with another body, a retry of an ended job) is made again, against the limits.
 *   Reservations are not released at every end transition (there are many); instead, when a new
 *   reservation would pass a limit, the ledger is pruned against the job documents: ended jobs (a job
 *   with a retry in progress counts as active), and reservations whose job or retry request was never
 *   written (a crash between the two writes) after a grace period, are dropped. The limit is therefore
 *   never exceeded and never held by a job that has ended.
 * - `pools` (same document): the managed pools the tenant holds, for `maxManagedPools`. A pool is held
 *   while a pool record exists for it (in use, or idle until the controller deletes it) or an active job
 *   names it; a pool reserved by the plan stage is held for a grace period until its job says so.
 *
 * Both documents are updated with ETag concurrency: two instances admitting at once never both take
 * the last slot.
 */
import type { Container } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';
import { cosmosStatus } from './cosmos-setup.js';

interface RateDoc {
  /** `rate` (jobs) or `rate-tes` (TES tasks). */
  id: string;
  tenant: string;
  type: 'rate';
  /** Theoretical arrival time (ms since the epoch) of the next conforming submission. */
  tat: number;
  _etag?: string;
}

export interface Reservation {
  readonly tasks: number;
  readonly at: string;
  /** What the room is for: the request hash, or `retry:<request id>`. Absent on older entries. */
  readonly for?: string;
}

interface PoolEntry {
  readonly at: string;
  /** The job document id whose plan reserved the pool. */
  readonly job?: string;
}

interface UsageDoc {
  id: 'usage';
  tenant: string;
  type: 'usage';
  reservations: Record<string, Reservation>;
  /** Managed pools reserved by the plan stage (lowercased pool id → when, and for which job). */
  pools?: Record<string, PoolEntry>;
  _etag?: string;
}

export interface Usage {
  readonly activeJobs: number;
  readonly tasksInFlight: number;
}

export type RateOutcome = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export type ReserveOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly limit: 'maxActiveJobs' | 'maxTasksInFlight'; readonly usage: Usage };

export type PoolReserveOutcome =
  | { readonly ok: true }
  /** The managed pools the tenant holds now (lowercased ids, sorted). */
  | { readonly ok: false; readonly held: readonly string[] };

/** The reservation a retry request makes (`for`): another request than the job's admission. */
export const retryReservation = (requestId: string): string => `retry:${requestId}`;

export interface UsageStore {
  /** Takes one submission from the tenant's rate budget. */
  takeSubmission(
    tenant: string,
    rate: { perSecond: number; burst: number },
    clock: { now(): Date },
    /** Which budget: jobs (default) or TES tasks, each a cell of its own. */
    cell?: 'jobs' | 'tes',
  ): Promise<RateOutcome>;
  /**
   * Takes up to `count` submissions at once (one write): as many as the burst allows now. Callers that
   * arrive together share one update of the cell instead of racing on it.
   */
  takeSubmissions(
    tenant: string,
    rate: { perSecond: number; burst: number },
    clock: { now(): Date },
    cell: 'jobs' | 'tes',
    count: number,
  ): Promise<{ readonly granted: number; readonly retryAfterMs: number }>;
  /**
   * Reserves room for a job, pruning ended jobs when the ledger looks full. Idempotent per job and
   * `for`: the same reservation again is answered ok without a check. A reservation under the same key
   * for something else (another `for`, or another task count) is made again: if the entry it finds still
   * holds room (its job is active, or is being written) the entry keeps the larger task count, since
   * either request may be the one stored; an entry of an ended job is replaced.
   */
  reserve(
    tenant: string,
    job: { key: string; tasks: number; for?: string },
    limits: { maxActiveJobs: number; maxTasksInFlight: number },
    now: Date,
  ): Promise<ReserveOutcome>;
  /**
   * Reserves a managed pool for a job's plan, unless the tenant holds it already: refused when it
   * holds `limit` pools. `held` names the pools the tenant has records of (the pool store); the pools
   * its active jobs name are read here. A reservation lasts until the job is planned (its pool is then
   * named by an active job) or a grace period ends.
   */
  reservePool(
    tenant: string,
    pool: { poolId: string; job: string },
    limit: number,
    now: Date,
    held: () => Promise<Iterable<string>>,
  ): Promise<PoolReserveOutcome>;
  /** The ledger as it stands (pruned of ended jobs). */
  usage(tenant: string, now: Date): Promise<Usage>;
}

/**
 * One tenant's burst contends for one document: losers re-read after a short jittered pause, so 16
 * submissions in flight settle in a few rounds instead of giving up.
 */
const MAX_CONFLICTS = 40;
const pauseAfterConflict = (attempt: number, random: () => number) =>
  new Promise<void>((resolve) =>
    setTimeout(resolve, Math.floor(random() * Math.min(200, 4 * 1.5 ** attempt))),
  );
/** A reservation whose job document does not exist yet is kept this long (the write in between). */
const UNWRITTEN_GRACE_MS = 5 * 60_000;

export class AdmissionContentionError extends SlotwiseError {
  constructor(tenant: string) {
    super('AdmissionContention', `Admission state of tenant ${tenant} kept changing`, { retryable: true });
  }
}

export function createUsageStore(jobs: Container, options: { random?: () => number } = {}): UsageStore {
  const random = options.random ?? Math.random;
  async function read<T extends RateDoc | UsageDoc>(
    tenant: string,
    id: 'rate' | 'rate-tes' | 'usage',
  ): Promise<T | undefined> {
    try {
      const { resource } = await jobs.item(id, tenant).read<T>();
      return resource ?? undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  }

  /** Writes `next` if the document is still at `etag` (or still absent); false when someone else wrote first. */
  async function write(next: RateDoc | UsageDoc, etag: string | undefined): Promise<boolean> {
    const { _etag: _dropped, ...body } = next;
    try {
      if (etag === undefined) await jobs.items.create(body);
      else
        await jobs.item(next.id, next.tenant).replace(body, {
          accessCondition: { type: 'IfMatch', condition: etag },
        });
      return true;
    } catch (e) {
      const status = cosmosStatus(e);
      if (status === 412 || status === 409) return false;
      throw e;
    }
  }

  /**
   * Ids of the tenant's job documents that hold room: not ended, or with a retry in progress (a retry
   * of a failed job runs again). One query in the tenant's partition.
   */
  async function activeJobIds(tenant: string): Promise<Set<string>> {
    const { resources } = await jobs.items
      .query<{ id: string }>(
        {
          query:
            "SELECT c.id FROM c WHERE c.tenant = @tenant AND c.type = 'job' AND (NOT IS_DEFINED(c.endedAt) OR c.retry.status = 'queued' OR c.retry.status = 'working')",
          parameters: [{ name: '@tenant', value: tenant }],
        },
        { partitionKey: tenant },
      )
      .fetchAll();
    return new Set(resources.map((r) => r.id));
  }

  /** The job document's retry request id, or `null` when there is no such document. */
  async function retryOf(tenant: string, key: string): Promise<string | undefined | null> {
    const { resources } = await jobs.items
      .query<{ requestId?: string }>(
        {
          query: 'SELECT c.retry.requestId FROM c WHERE c.id = @id',
          parameters: [{ name: '@id', value: key }],
        },
        { partitionKey: tenant },
      )
      .fetchAll();
    const found = resources[0];
    return found === undefined ? null : found.requestId;
  }

  /**
   * Drops reservations of ended jobs; a reservation whose job document (or, for a retry, whose retry
   * request) is not written yet is kept for a grace period.
   */
  async function prune(doc: UsageDoc, now: Date): Promise<UsageDoc> {
    const active = await activeJobIds(doc.tenant);
    const kept: Record<string, Reservation> = {};
    await Promise.all(
      Object.entries(doc.reservations).map(async ([key, r]) => {
        if (active.has(key)) {
          kept[key] = r;
          return;
        }
        if (now.getTime() - Date.parse(r.at) >= UNWRITTEN_GRACE_MS) return;
        const retry = await retryOf(doc.tenant, key);
        // Admitted a moment ago and its job document is being written; or a retry reserved a moment
        // ago whose request is being written on the (ended) job.
        if (retry === null) kept[key] = r;
        else if (r.for?.startsWith('retry:') && r.for !== retryReservation(retry ?? '')) kept[key] = r;
      }),
    );
    return { ...doc, reservations: kept };
  }

  /** Whether the job is still `accepted` (its plan, which reserved a pool, not written yet). */
  async function stillPlanning(tenant: string, key: string): Promise<boolean> {
    const { resources } = await jobs.items
      .query<{ state?: string }>(
        { query: 'SELECT c.state FROM c WHERE c.id = @id', parameters: [{ name: '@id', value: key }] },
        { partitionKey: tenant },
      )
      .fetchAll();
    return resources[0]?.state === 'accepted';
  }

  /** Managed pools named by the tenant's active jobs (lowercased). */
  async function activeJobPools(tenant: string): Promise<string[]> {
    const { resources } = await jobs.items
      .query<{ poolId?: string }>(
        {
          query:
            "SELECT c.batch.poolId FROM c WHERE c.tenant = @tenant AND c.type = 'job' AND NOT IS_DEFINED(c.endedAt) AND c.batch.managedPool = true",
          parameters: [{ name: '@tenant', value: tenant }],
        },
        { partitionKey: tenant },
      )
      .fetchAll();
    return resources.flatMap((r) => (r.poolId ? [r.poolId.toLowerCase()] : []));
  }

  const totals = (doc: UsageDoc): Usage => {
    const all = Object.values(doc.reservations);
    return { activeJobs: all.length, tasksInFlight: all.reduce((n, r) => n + r.tasks, 0) };
  };

  return {
    async takeSubmission(tenant, { perSecond, burst }, clock, cell = 'jobs') {
      const interval = 1000 / perSecond;
      const id = cell === 'tes' ? 'rate-tes' : 'rate';
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const current = await read<RateDoc>(tenant, id);
        // Read the clock with the document: a submission that lost a few races is not "early".
        const t = clock.now().getTime();
        const tat = Math.max(current?.tat ?? t, t);
        const next = tat + interval;
        const excess = next - t - burst * interval;
        if (excess > 0) return { ok: false, retryAfterMs: Math.ceil(excess) };
        if (await write({ id, tenant, type: 'rate', tat: next }, current?._etag)) return { ok: true };
        await pauseAfterConflict(attempt, random);
      }
      // Constant contention on one tenant's cell is itself a burst: ask the caller to slow down.
      return { ok: false, retryAfterMs: Math.ceil(interval) };
    },

    async takeSubmissions(tenant, { perSecond, burst }, clock, cell, count) {
      const interval = 1000 / perSecond;
      const id = cell === 'tes' ? 'rate-tes' : 'rate';
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const current = await read<RateDoc>(tenant, id);
        const t = clock.now().getTime();
        const tat = Math.max(current?.tat ?? t, t);
        // GCRA for k cells: the k-th is conforming while tat + k·T − t ≤ burst·T.
        const room = Math.floor((burst * interval - (tat - t)) / interval + 1e-9);
        const granted = Math.max(0, Math.min(count, room));
        const retryAfterMs =
          granted < count ? Math.ceil(tat + (granted + 1) * interval - t - burst * interval) : 0;
        if (granted === 0) return { granted, retryAfterMs: Math.max(1, retryAfterMs) };
        if (await write({ id, tenant, type: 'rate', tat: tat + granted * interval }, current?._etag))
          return { granted, retryAfterMs: Math.max(0, retryAfterMs) };
        await pauseAfterConflict(attempt, random);
      }
      return { granted: 0, retryAfterMs: Math.ceil(interval) };
    },

    async reserve(tenant, job, limits, now) {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const current = await read<UsageDoc>(tenant, 'usage');
        let doc: UsageDoc = current ?? { id: 'usage', tenant, type: 'usage', reservations: {} };
        const found = doc.reservations[job.key];
        if (found && found.tasks === job.tasks && (job.for === undefined || found.for === job.for))
          return { ok: true };
        // Something else under this key: is the entry found still holding room? Only the ledger pruned
        // against the job documents can say.
        if (found) doc = await prune(doc, now);
        const held = doc.reservations[job.key];
        const tasks = held ? Math.max(held.tasks, job.tasks) : job.tasks;
        const fits = (d: UsageDoc) => {
          const { [job.key]: _own, ...others } = d.reservations;
          const u = totals({ ...d, reservations: others });
          if (u.activeJobs + 1 > limits.maxActiveJobs) return 'maxActiveJobs' as const;
          if (u.tasksInFlight + tasks > limits.maxTasksInFlight) return 'maxTasksInFlight' as const;
          return undefined;
        };
        if (fits(doc) && !found) doc = await prune(doc, now);
        const over = fits(doc);
        if (over) {
          // Keep the pruning (fewer reads next time); losing this write to a race costs nothing.
          if (current && Object.keys(doc.reservations).length < Object.keys(current.reservations).length)
            await write(doc, current._etag);
          return { ok: false, limit: over, usage: totals(doc) };
        }
        const entry: Reservation = {
          tasks,
          at: now.toISOString(),
          ...(job.for !== undefined ? { for: job.for } : {}),
        };
        const next: UsageDoc = { ...doc, reservations: { ...doc.reservations, [job.key]: entry } };
        if (await write(next, current?._etag)) return { ok: true };
        await pauseAfterConflict(attempt, random);
      }
      throw new AdmissionContentionError(tenant);
    },

    async reservePool(tenant, pool, limit, now, held) {
      const id = pool.poolId.toLowerCase();
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const current = await read<UsageDoc>(tenant, 'usage');
        const doc: UsageDoc = current ?? { id: 'usage', tenant, type: 'usage', reservations: {} };
        const pools = doc.pools ?? {};
        if (pools[id]) return { ok: true };
        const [recorded, onJobs] = await Promise.all([held(), activeJobPools(tenant)]);
        const live = new Set([...[...recorded].map((p) => p.toLowerCase()), ...onJobs]);
        if (live.has(id)) return { ok: true };
        // A reserved entry lasts while a pool record or an active job names the pool, or while its job
        // is still being planned (within the grace): a pool deleted since frees its place at once.
        const kept: Record<string, PoolEntry> = {};
        await Promise.all(
          Object.entries(pools).map(async ([p, entry]) => {
            if (live.has(p)) kept[p] = entry;
            else if (
              now.getTime() - Date.parse(entry.at) < UNWRITTEN_GRACE_MS &&
              (entry.job === undefined || (await stillPlanning(tenant, entry.job)))
            )
              kept[p] = entry;
          }),
        );
        const holding = new Set([...live, ...Object.keys(kept)]);
        if (holding.size + 1 > limit) {
          if (current && Object.keys(kept).length < Object.keys(pools).length)
            await write({ ...doc, pools: kept }, current._etag);
          return { ok: false, held: [...holding].sort() };
        }
        const entry: PoolEntry = { at: now.toISOString(), job: pool.job };
        const next: UsageDoc = { ...doc, pools: { ...kept, [id]: entry } };
        if (await write(next, current?._etag)) return { ok: true };
        await pauseAfterConflict(attempt, random);
      }
      throw new AdmissionContentionError(tenant);
    },

    async usage(tenant, now) {
      const current = await read<UsageDoc>(tenant, 'usage');
      if (!current) return { activeJobs: 0, tasksInFlight: 0 };
      return totals(await prune(current, now));
    },
  };
}
