/**
 * Per-tenant admission state, in the tenant's own partition of the `jobs` container:
 *
 * - `rate`: a GCRA (generic cell rate algorithm) cell, one number (the theoretical arrival time), so
 *   submissions per second hold across every instance of the app, with a burst allowance.
 * - `usage`: a ledger of the tenant's admitted jobs that may still be active (job document id → task
 *   count). A reservation is made before the job document is written and is keyed by the job, so a
 *   retried or redelivered submission reserves once. Reservations are not released at every end
 *   transition (there are many); instead, when a new reservation would pass a limit, the ledger is
 *   pruned against the job documents: ended jobs, and reservations whose job was never written
 *   (a crash between the two writes) after a grace period, are dropped. The limit is therefore never
 *   exceeded and never held by a job that has ended.
 *
 * Both documents are updated with ETag concurrency: two instances admitting at once never both take
 * the last slot.
 */
import type { Container } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';
import { cosmosStatus } from './cosmos-setup.js';

interface RateDoc {
  id: 'rate';
  tenant: string;
  type: 'rate';
  /** Theoretical arrival time (ms since the epoch) of the next conforming submission. */
  tat: number;
  _etag?: string;
}

export interface Reservation {
  readonly tasks: number;
  readonly at: string;
}

interface UsageDoc {
  id: 'usage';
  tenant: string;
  type: 'usage';
  reservations: Record<string, Reservation>;
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

export interface UsageStore {
  /** Takes one submission from the tenant's rate budget. */
  takeSubmission(
    tenant: string,
    rate: { perSecond: number; burst: number },
    clock: { now(): Date },
  ): Promise<RateOutcome>;
  /** Reserves room for a job (idempotent per job), pruning ended jobs when the ledger looks full. */
  reserve(
    tenant: string,
    job: { key: string; tasks: number },
    limits: { maxActiveJobs: number; maxTasksInFlight: number },
    now: Date,
  ): Promise<ReserveOutcome>;
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
    id: 'rate' | 'usage',
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

  /** Ids of the tenant's job documents that have not ended (one query in the tenant's partition). */
  async function activeJobIds(tenant: string): Promise<Set<string>> {
    const { resources } = await jobs.items
      .query<{ id: string }>(
        {
          query:
            "SELECT c.id FROM c WHERE c.tenant = @tenant AND c.type = 'job' AND NOT IS_DEFINED(c.endedAt)",
          parameters: [{ name: '@tenant', value: tenant }],
        },
        { partitionKey: tenant },
      )
      .fetchAll();
    return new Set(resources.map((r) => r.id));
  }

  async function exists(tenant: string, key: string): Promise<boolean> {
    try {
      const { resource } = await jobs.item(key, tenant).read<{ id: string }>();
      return resource !== undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return false;
      throw e;
    }
  }

  /** Drops reservations of ended jobs, and of jobs never written once the grace period is over. */
  async function prune(doc: UsageDoc, now: Date): Promise<UsageDoc> {
    const active = await activeJobIds(doc.tenant);
    const kept: Record<string, Reservation> = {};
    await Promise.all(
      Object.entries(doc.reservations).map(async ([key, r]) => {
        if (active.has(key)) kept[key] = r;
        else if (now.getTime() - Date.parse(r.at) < UNWRITTEN_GRACE_MS && !(await exists(doc.tenant, key)))
          kept[key] = r; // admitted a moment ago; its job document is being written
      }),
    );
    return { ...doc, reservations: kept };
  }

  const totals = (doc: UsageDoc): Usage => {
    const all = Object.values(doc.reservations);
    return { activeJobs: all.length, tasksInFlight: all.reduce((n, r) => n + r.tasks, 0) };
  };

  return {
    async takeSubmission(tenant, { perSecond, burst }, clock) {
      const interval = 1000 / perSecond;
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const current = await read<RateDoc>(tenant, 'rate');
        // Read the clock with the document: a submission that lost a few races is not "early".
        const t = clock.now().getTime();
        const tat = Math.max(current?.tat ?? t, t);
        const next = tat + interval;
        const excess = next - t - burst * interval;
        if (excess > 0) return { ok: false, retryAfterMs: Math.ceil(excess) };
        if (await write({ id: 'rate', tenant, type: 'rate', tat: next }, current?._etag)) return { ok: true };
        await pauseAfterConflict(attempt, random);
      }
      // Constant contention on one tenant's cell is itself a burst: ask the caller to slow down.
      return { ok: false, retryAfterMs: Math.ceil(interval) };
    },

    async reserve(tenant, job, limits, now) {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const current = await read<UsageDoc>(tenant, 'usage');
        let doc: UsageDoc = current ?? { id: 'usage', tenant, type: 'usage', reservations: {} };
        if (doc.reservations[job.key]) return { ok: true };
        const fits = (d: UsageDoc) => {
          const u = totals(d);
          if (u.activeJobs + 1 > limits.maxActiveJobs) return 'maxActiveJobs' as const;
          if (u.tasksInFlight + job.tasks > limits.maxTasksInFlight) return 'maxTasksInFlight' as const;
          return undefined;
        };
        if (fits(doc)) doc = await prune(doc, now);
        const over = fits(doc);
        if (over) {
          // Keep the pruning (fewer reads next time); losing this write to a race costs nothing.
          if (current && Object.keys(doc.reservations).length < Object.keys(current.reservations).length)
            await write(doc, current._etag);
          return { ok: false, limit: over, usage: totals(doc) };
        }
        const next: UsageDoc = {
          ...doc,
          reservations: { ...doc.reservations, [job.key]: { tasks: job.tasks, at: now.toISOString() } },
        };
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
