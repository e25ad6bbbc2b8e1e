/**
 * Job documents in Cosmos DB. Every write of an existing job goes through `update`, a read-modify-write
 * with ETag concurrency: two writers (say, two reconcilers) never lose each other's update; the loser
 * re-reads and re-applies its pure mutation.
 */
import type { Container } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';
import { type JobDoc, type JobState, jobDocId, type Lease } from '../../model/job.js';
import type { JobSummary } from '../../model/job-view.js';
import { cosmosStatus, stripSystem } from './cosmos-setup.js';

export class ConcurrencyError extends SlotwiseError {
  constructor(jobId: string) {
    super('ConcurrentUpdate', `Job ${jobId} kept changing while being updated`, { retryable: true });
  }
}

export interface JobPage {
  /** List items only: what `GET /api/jobs` shows, never the stored request (up to ~1 MB). */
  readonly jobs: readonly JobSummary[];
  /** Opaque token for the next page; absent on the last page. */
  readonly continuation?: string;
}

export interface JobStore {
  /** Creates the job; returns the existing one instead when the id is taken (ignoring case). */
  create(job: JobDoc): Promise<{ created: boolean; job: JobDoc }>;
  get(tenant: string, jobId: string): Promise<JobDoc | undefined>;
  /**
   * Applies `mutate` to the current document and writes it if it returned a new one (undefined = no
   * change). Retries on ETag conflicts with a fresh read.
   */
  update(
    tenant: string,
    jobId: string,
    mutate: (job: JobDoc) => JobDoc | undefined | Promise<JobDoc | undefined>,
  ): Promise<{ job: JobDoc; changed: boolean } | undefined>;
  /**
   * Sets `reconcileRequestedAt`, the one field task callbacks coalesce on: `decide` gets its stored
   * value (and the job) and returns the new one, or undefined to leave it. A one-field patch,
   * conditional on the ETag of the document `decide` saw (another write first: read and decide again),
   * so of callers racing on a job exactly one sets each value. `known`, a document just read with its
   * `_etag`, saves the first read. `set` is the value this call wrote; undefined when there is no job.
   */
  requestReconcile(
    tenant: string,
    jobId: string,
    decide: (requestedAt: string | undefined, job: JobDoc) => string | undefined,
    known?: JobDoc,
  ): Promise<{ readonly job: JobDoc; readonly set?: string } | undefined>;
  list(tenant: string, options: { state?: JobState; limit: number; continuation?: string }): Promise<JobPage>;
  /** Jobs Batch is running for us: the reconcile timer's working set, across tenants. */
  listInStates(
    states: readonly JobState[],
    options?: { updatedBefore?: string; limit?: number },
  ): Promise<JobDoc[]>;
  /**
   * TES lanes (jobs with `lane`) still open, or ended after `endedAfter` (their last tasks are read
   * once more), across tenants.
   */
  listLanes(options: { endedAfter: string; limit: number }): Promise<JobDoc[]>;
  /** Jobs with an event whose delivery is due before `before`. */
  listWithDueDeliveries(before: string, limit: number): Promise<JobDoc[]>;
  /**
   * The first tenant after `after` (in tenant id order) with a job matching `filter`: one cheap
   * TOP 1 query per tenant with work, so a pass can list tenants without reading their jobs.
   */
  nextTenantWithWork(filter: WorkFilter, after?: string): Promise<string | undefined>;
  /**
   * Up to `limit` of one tenant's jobs matching `filter`, oldest `updatedAt` first (ties by id),
   * strictly after the `after` work key, or (with `upTo`) at or before that key. Partition-scoped.
   * Projected (`WorkItem`): a pass reads the full document only for a job it acts on.
   */
  listTenantWork(
    tenant: string,
    filter: WorkFilter,
    options: { limit: number; after?: string; upTo?: string },
  ): Promise<WorkItem[]>;
  /** Where a periodic pass stopped, per tenant (a hint: last writer wins). */
  getCursor(loop: string): Promise<WorkCursor | undefined>;
  saveCursor(loop: string, cursor: WorkCursor): Promise<void>;
}

/** What a periodic pass looks for: jobs in some states, not updated since, or with deliveries due. */
export interface WorkFilter {
  readonly states?: readonly JobState[];
  readonly updatedBefore?: string;
  /**
   * With `updatedBefore`: or a stage's lease on the job (submit, plan) ran out before this time. A
   * lease lapses only when its holder died (a live one renews it, a finished one releases it), so
   * such a job is stuck however recently it made progress.
   */
  readonly leaseLapsedBefore?: string;
  /**
   * A retry request's lease ran out before this time while the request was still in progress: its
   * retrier died (a live one renews the lease, a finished one releases it).
   */
  readonly retryLeaseLapsedBefore?: string;
  readonly deliveryDueBefore?: string;
}

/**
 * What the periodic passes (reconcile, sweep) read of a job: state, counts, Batch refs, leases and
 * the fields the fair-order cursor needs — never the request, history or events. A job document can
 * approach 1 MB (the stored request); this is a few hundred bytes. `JobDoc` satisfies it.
 */
export interface WorkItem {
  readonly id: string;
  readonly tenant: string;
  readonly jobId: string;
  readonly state: JobState;
  readonly updatedAt: string;
  readonly taskCounts: JobDoc['taskCounts'];
  readonly batch?: JobDoc['batch'];
  readonly plan?: { readonly tasks: number };
  readonly submission?: { readonly lease?: Lease };
  readonly planning?: { readonly lease?: Lease; readonly retryAt?: string };
  readonly retry?: { readonly requestId: string; readonly lease?: Lease };
  readonly traceparent?: string;
  /** Jobs whose callback asked for task events (a few hundred bytes at most). */
  readonly taskEvents?: JobDoc['taskEvents'];
  /** TES lanes (see model/job.ts). */
  readonly lane?: JobDoc['lane'];
}

export interface WorkCursor {
  /** Tenants after this one come first in the next pass (set when a pass could not reach them all). */
  readonly tenantAfter?: string;
  /** Per tenant: the work key of the last job taken. */
  readonly after: Readonly<Record<string, string>>;
}

/** `updatedAt|id`: one indexed string that orders a tenant's jobs oldest first, ties by id. */
export function workKeyOf(job: Pick<JobDoc, 'updatedAt' | 'id'>): string {
  return `${job.updatedAt}|${job.id}`;
}

/** Cursor documents live in a partition no tenant can have (tenant ids never start with `~`). */
const CURSOR_PARTITION = '~passes';

const MAX_CONFLICT_RETRIES = 20;

export function createJobStore(container: Container): JobStore {
  const read = async (tenant: string, jobId: string): Promise<JobDoc | undefined> => {
    try {
      const { resource } = await container.item(jobDocId(jobId), tenant).read<JobDoc>();
      return resource ? stripSystem(resource) : undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  };

  return {
    async create(job) {
      try {
        const { resource } = await container.items.create(withDerived(job));
        return { created: true, job: stripSystem(resource as JobDoc) };
      } catch (e) {
        if (cosmosStatus(e) !== 409) throw e;
        const existing = await read(job.tenant, job.jobId);
        if (!existing) throw e;
        return { created: false, job: existing };
      }
    },

    get: read,

    async update(tenant, jobId, mutate) {
      for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
        const current = await read(tenant, jobId);
        if (!current) return undefined;
        const next = await mutate(structuredClone(current));
        if (!next) return { job: current, changed: false };
        try {
          const { resource } = await container
            .item(current.id, tenant)
            .replace(withDerived({ ...next, _etag: undefined }), {
              accessCondition: { type: 'IfMatch', condition: current._etag ?? '' },
            });
          return { job: stripSystem(resource as JobDoc), changed: true };
        } catch (e) {
          if (cosmosStatus(e) === 412) continue;
          throw e;
        }
      }
      throw new ConcurrencyError(jobId);
    },

    async requestReconcile(tenant, jobId, decide, known) {
      let current = known?._etag ? known : await read(tenant, jobId);
      for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES && current; attempt++) {
        const requestedAt = (current as JobDoc & { reconcileRequestedAt?: string }).reconcileRequestedAt;
        const next = decide(requestedAt, current);
        if (next === undefined) return { job: current };
        try {
          // A patch, not `update`'s replace: one timestamp, not the whole (up to ~1 MB) document.
          await container
            .item(current.id, tenant)
            .patch([{ op: 'set', path: '/reconcileRequestedAt', value: next }], {
              accessCondition: { type: 'IfMatch', condition: current._etag ?? '' },
            });
          return { job: current, set: next };
        } catch (e) {
          if (cosmosStatus(e) === 404) return undefined;
          if (cosmosStatus(e) !== 412) throw e;
          current = await read(tenant, jobId);
        }
      }
      if (!current) return undefined;
      throw new ConcurrencyError(jobId);
    },

    async list(tenant, { state, limit, continuation }) {
      const filters = ['c.tenant = @tenant', "c.type = 'job'"];
      const parameters: { name: string; value: string }[] = [{ name: '@tenant', value: tenant }];
      if (state) {
        filters.push('c.state = @state');
        parameters.push({ name: '@state', value: state });
      }
      if (continuation) {
        filters.push('c.sortKey < @after');
        parameters.push({ name: '@after', value: decodeContinuation(continuation) });
      }
      // TOP rather than OFFSET/LIMIT: the local Cosmos server understands only TOP.
      const query = `SELECT TOP ${limit + 1} ${SUMMARY_FIELDS} FROM c WHERE ${filters.join(' AND ')} ORDER BY c.sortKey DESC`;
      const { resources } = await container.items
        .query<SummaryRow>({ query, parameters }, { partitionKey: tenant })
        .fetchAll();
      const page = resources.slice(0, limit);
      const last = page[page.length - 1];
      const jobs = page.map(fromSummaryRow);
      return resources.length > limit && last
        ? { jobs, continuation: encodeContinuation(last.sortKey) }
        : { jobs };
    },

    async listInStates(states, options = {}) {
      const parameters: { name: string; value: string }[] = states.map((s, i) => ({
        name: `@s${i}`,
        value: s,
      }));
      const filters = ["c.type = 'job'", `(${states.map((_, i) => `c.state = @s${i}`).join(' OR ')})`];
      if (options.updatedBefore) {
        filters.push('c.updatedAt < @before');
        parameters.push({ name: '@before', value: options.updatedBefore });
      }
      const top = options.limit ? `TOP ${options.limit} ` : '';
      const { resources } = await container.items
        .query<JobDoc>({ query: `SELECT ${top}* FROM c WHERE ${filters.join(' AND ')}`, parameters })
        .fetchAll();
      return resources.map(stripSystem);
    },

    async listLanes({ endedAfter, limit }) {
      const { resources } = await container.items
        .query<JobDoc>({
          query: `SELECT TOP ${Math.max(1, Math.floor(limit))} * FROM c WHERE c.type = 'job' AND IS_DEFINED(c.lane) AND (NOT IS_DEFINED(c.endedAt) OR c.endedAt > @after)`,
          parameters: [{ name: '@after', value: endedAfter }],
        })
        .fetchAll();
      return resources.map(stripSystem);
    },

    async listWithDueDeliveries(before, limit) {
      const { resources } = await container.items
        .query<JobDoc>({
          query: `SELECT TOP ${limit} * FROM c WHERE c.type = 'job' AND c.nextDeliveryAt < @before`,
          parameters: [{ name: '@before', value: before }],
        })
        .fetchAll();
      return resources.map(stripSystem);
    },

    async nextTenantWithWork(filter, after) {
      const { filters, parameters } = workQuery(filter);
      if (after !== undefined) {
        filters.push('c.tenant > @tenantAfter');
        parameters.push({ name: '@tenantAfter', value: after });
      }
      const { resources } = await container.items
        .query<{ tenant: string }>({
          query: `SELECT TOP 1 c.tenant FROM c WHERE ${filters.join(' AND ')} ORDER BY c.tenant`,
          parameters,
        })
        .fetchAll();
      return resources[0]?.tenant;
    },

    async listTenantWork(tenant, filter, { limit, after, upTo }) {
      const { filters, parameters } = workQuery(filter);
      filters.push('c.tenant = @tenant');
      parameters.push({ name: '@tenant', value: tenant });
      if (after !== undefined) {
        filters.push('c.workKey > @after');
        parameters.push({ name: '@after', value: after });
      }
      if (upTo !== undefined) {
        filters.push('c.workKey <= @upTo');
        parameters.push({ name: '@upTo', value: upTo });
      }
      const { resources } = await container.items
        .query<WorkRow>(
          {
            query: `SELECT TOP ${Math.max(1, Math.floor(limit))} ${WORK_FIELDS} FROM c WHERE ${filters.join(' AND ')} ORDER BY c.workKey`,
            parameters,
          },
          { partitionKey: tenant },
        )
        .fetchAll();
      return resources.map(fromWorkRow);
    },

    async getCursor(loop) {
      try {
        const { resource } = await container
          .item(`cursor:${loop}`, CURSOR_PARTITION)
          .read<{ cursor: WorkCursor }>();
        return resource?.cursor;
      } catch (e) {
        if (cosmosStatus(e) === 404) return undefined;
        throw e;
      }
    },

    async saveCursor(loop, cursor) {
      await container.items.upsert({
        id: `cursor:${loop}`,
        type: 'cursor',
        tenant: CURSOR_PARTITION,
        cursor,
      });
    },
  };
}

/*
 * Projections. Nested paths are flattened under aliases (an object literal in SELECT yields `{}` for
 * a missing parent, which would read as "present") and put back together below. Both the local
 * Cosmos server and Cosmos DB accept these forms; checked against the local one in
 * test/scale/projections.test.ts.
 */
const WORK_FIELDS = [
  'c.id',
  'c.tenant',
  'c.jobId',
  'c.state',
  'c.updatedAt',
  'c.taskCounts',
  'c.batch',
  'c.traceparent',
  'c.plan.tasks AS planTasks',
  'c.submission.lease AS submissionLease',
  'c.planning.lease AS planningLease',
  'c.planning.retryAt AS planningRetryAt',
  'c.retry.requestId AS retryRequestId',
  'c.retry.lease AS retryLease',
  'c.taskEvents',
  'c.lane',
].join(', ');

interface WorkRow {
  id: string;
  tenant: string;
  jobId: string;
  state: JobState;
  updatedAt: string;
  taskCounts: JobDoc['taskCounts'];
  batch?: JobDoc['batch'];
  traceparent?: string;
  planTasks?: number;
  submissionLease?: Lease;
  planningLease?: Lease;
  planningRetryAt?: string;
  retryRequestId?: string;
  retryLease?: Lease;
  taskEvents?: JobDoc['taskEvents'];
  lane?: JobDoc['lane'];
}

function fromWorkRow(row: WorkRow): WorkItem {
  const planning =
    row.planningLease !== undefined || row.planningRetryAt !== undefined
      ? {
          ...(row.planningLease ? { lease: row.planningLease } : {}),
          ...(row.planningRetryAt !== undefined ? { retryAt: row.planningRetryAt } : {}),
        }
      : undefined;
  return {
    id: row.id,
    tenant: row.tenant,
    jobId: row.jobId,
    state: row.state,
    updatedAt: row.updatedAt,
    taskCounts: row.taskCounts,
    ...(row.batch ? { batch: row.batch } : {}),
    ...(row.traceparent ? { traceparent: row.traceparent } : {}),
    ...(row.planTasks !== undefined ? { plan: { tasks: row.planTasks } } : {}),
    ...(row.submissionLease ? { submission: { lease: row.submissionLease } } : {}),
    ...(planning ? { planning } : {}),
    ...(row.retryRequestId !== undefined
      ? { retry: { requestId: row.retryRequestId, ...(row.retryLease ? { lease: row.retryLease } : {}) } }
      : {}),
    ...(row.taskEvents ? { taskEvents: row.taskEvents } : {}),
    ...(row.lane ? { lane: row.lane } : {}),
  };
}

const SUMMARY_FIELDS = [
  'c.jobId',
  'c.state',
  'c.createdAt',
  'c.updatedAt',
  'c.endedAt',
  'c.sortKey',
  'c.request.displayName AS displayName',
  'c.request.pool.id AS poolId',
  'c.request.pool.vmSize AS poolVmSize',
  'c.plan.tasks AS planTasks',
  'ARRAY_LENGTH(c.request.tasks) AS requestTasks',
  'c.batch',
  'c.taskCounts',
  'c.submission.chunksTotal AS chunksTotal',
  'c.submission.chunksAdded AS chunksAdded',
  'c.submission.tasksAdded AS tasksAdded',
  'c.failure.code AS failureCode',
  'c.failure.message AS failureMessage',
  'c.waiting',
].join(', ');

interface SummaryRow {
  jobId: string;
  state: JobState;
  createdAt: string;
  updatedAt: string;
  endedAt?: string;
  sortKey: string;
  displayName?: string;
  poolId?: string;
  poolVmSize?: string;
  planTasks?: number;
  requestTasks?: number;
  batch?: JobDoc['batch'];
  taskCounts: JobDoc['taskCounts'];
  chunksTotal?: number;
  chunksAdded?: number;
  tasksAdded?: number;
  failureCode?: string;
  failureMessage?: string;
  waiting?: JobDoc['waiting'];
}

function fromSummaryRow(row: SummaryRow): JobSummary {
  const tasks = row.planTasks ?? row.requestTasks;
  return {
    jobId: row.jobId,
    state: row.state,
    ...(row.displayName ? { displayName: row.displayName } : {}),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(row.endedAt ? { endedAt: row.endedAt } : {}),
    ...(row.poolId !== undefined
      ? { pool: { id: row.poolId } }
      : row.poolVmSize !== undefined
        ? { pool: { vmSize: row.poolVmSize } }
        : {}),
    ...(tasks !== undefined ? { tasks } : {}),
    ...(row.batch ? { batch: row.batch } : {}),
    taskCounts: row.taskCounts,
    ...(row.chunksTotal !== undefined
      ? {
          submission: {
            chunksTotal: row.chunksTotal,
            chunksAdded: row.chunksAdded ?? 0,
            tasksAdded: row.tasksAdded ?? 0,
          },
        }
      : {}),
    ...(row.failureCode !== undefined
      ? { failure: { code: row.failureCode, message: row.failureMessage ?? '' } }
      : {}),
    ...(row.waiting ? { waiting: row.waiting } : {}),
  };
}

function workQuery(filter: WorkFilter): {
  filters: string[];
  parameters: { name: string; value: string }[];
} {
  const filters = ["c.type = 'job'"];
  const parameters: { name: string; value: string }[] = [];
  if (filter.states && filter.states.length > 0) {
    filters.push(`(${filter.states.map((_, i) => `c.state = @s${i}`).join(' OR ')})`);
    for (const [i, s] of filter.states.entries()) parameters.push({ name: `@s${i}`, value: s });
  }
  if (filter.updatedBefore !== undefined && filter.leaseLapsedBefore !== undefined) {
    filters.push(
      '(c.updatedAt < @before' +
        ' OR (IS_DEFINED(c.submission.lease.until) AND c.submission.lease.until < @lapsed)' +
        ' OR (IS_DEFINED(c.planning.lease.until) AND c.planning.lease.until < @lapsed))',
    );
    parameters.push({ name: '@before', value: filter.updatedBefore });
    parameters.push({ name: '@lapsed', value: filter.leaseLapsedBefore });
  } else if (filter.updatedBefore !== undefined) {
    filters.push('c.updatedAt < @before');
    parameters.push({ name: '@before', value: filter.updatedBefore });
  }
  if (filter.retryLeaseLapsedBefore !== undefined) {
    filters.push(
      "(c.retry.status = 'queued' OR c.retry.status = 'working')" +
        ' AND IS_DEFINED(c.retry.lease.until) AND c.retry.lease.until < @retryLapsed',
    );
    parameters.push({ name: '@retryLapsed', value: filter.retryLeaseLapsedBefore });
  }
  if (filter.deliveryDueBefore !== undefined) {
    filters.push('c.nextDeliveryAt < @due');
    parameters.push({ name: '@due', value: filter.deliveryDueBefore });
  }
  return { filters, parameters };
}

/**
 * `nextDeliveryAt` (earliest due pending event) is derived on every write so the sweep can find
 * undelivered events with an indexed query instead of scanning event arrays; `workKey` gives the
 * periodic passes one indexed field to order a tenant's jobs by.
 */
function withDerived(job: JobDoc): JobDoc & { nextDeliveryAt?: string; workKey: string } {
  const due = job.events
    .filter((e) => e.delivery.status === 'pending')
    .map((e) => e.delivery.nextAttemptAt ?? e.at)
    .sort()[0];
  const doc: JobDoc & { nextDeliveryAt?: string; workKey: string } = { ...job, workKey: workKeyOf(job) };
  if (due) doc.nextDeliveryAt = due;
  else delete doc.nextDeliveryAt;
  delete doc._etag;
  return doc;
}

function encodeContinuation(sortKey: string): string {
  return Buffer.from(JSON.stringify({ k: sortKey }), 'utf8').toString('base64url');
}

export class InvalidContinuationError extends SlotwiseError {
  constructor() {
    super('InvalidContinuation', 'The continuation token is not valid');
  }
}

function decodeContinuation(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof parsed.k === 'string') return parsed.k;
  } catch {
    // fall through
  }
  throw new InvalidContinuationError();
}
