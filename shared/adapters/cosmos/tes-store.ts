/**
 * TES task documents (`type: 'tes-task'`), in the tenant's partition of the `jobs` container beside
 * its job documents: every read a TES client makes is a point read or one partition-scoped query
 * here, never a Batch call. Queries filter top-level fields only (the stored request is not indexed).
 */
import type { Container, SqlParameter } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';
import type { TesState, TesTaskDoc } from '../../model/tes-task.js';
import { cosmosStatus } from './cosmos-setup.js';

export interface TesListFilter {
  readonly namePrefix?: string;
  readonly state?: TesState;
  /** `[key, value]`; value '' matches any value of the key (the spec's rule). */
  readonly tags: readonly (readonly [string, string])[];
  readonly limit: number;
  /** The `sortKey` of the last task of the previous page: this page starts after it. */
  readonly after?: string;
}

export interface TesTaskPage {
  readonly tasks: readonly TesTaskDoc[];
  /** The `sortKey` to continue after; absent on the last page. */
  readonly next?: string;
}

export interface LaneDemand {
  /** Unfinished tasks of the lane (submitted or not). */
  readonly tasks: number;
  /** `[slots, tasks]` ascending. */
  readonly slotHistogram: readonly (readonly [number, number])[];
}

export interface TesTaskStore {
  /** Creates the document; an id already taken is an error (ids are fresh uuids). */
  create(doc: TesTaskDoc): Promise<TesTaskDoc>;
  get(tenant: string, id: string): Promise<TesTaskDoc | undefined>;
  /**
   * As JobStore.update: `mutate` returns the new document or undefined; ETag conflicts re-read.
   * `known`, a document just read with its `_etag`, saves the first read.
   */
  update(
    tenant: string,
    id: string,
    mutate: (doc: TesTaskDoc) => TesTaskDoc | undefined,
    known?: TesTaskDoc,
  ): Promise<{ doc: TesTaskDoc; changed: boolean } | undefined>;
  list(tenant: string, filter: TesListFilter): Promise<TesTaskPage>;
  /** Tasks of a lane key not yet added to Batch (oldest first), cancelled ones included. */
  listUnsubmitted(tenant: string, laneKey: string, limit: number): Promise<TesTaskDoc[]>;
  /**
   * Lane keys with a task created before `before` and still not added to Batch (the timer's safety net
   * for a lost wake-up message), across tenants.
   */
  listStrandedLaneKeys(before: string, limit: number): Promise<{ tenant: string; laneKey: string }[]>;
  /** Unfinished tasks of a lane job (added to Batch). */
  listUnfinishedInLane(tenant: string, laneJobId: string): Promise<TesTaskDoc[]>;
  /** Unfinished tasks among `ids` (at most 100), whether or not their lane is recorded yet. */
  listUnfinishedByIds(tenant: string, ids: readonly string[]): Promise<TesTaskDoc[]>;
  /** The lane key's unfinished tasks by slots: what its pool is sized by. */
  laneDemand(tenant: string, laneKey: string): Promise<LaneDemand>;
  /** Unfinished TES tasks of the tenant (admission against `maxTasksInFlight`). */
  countUnfinished(tenant: string): Promise<number>;
}

export class TesStoreError extends SlotwiseError {}

const UNFINISHED = 'NOT IS_DEFINED(c.endedAt)';

export function createTesTaskStore(container: Container): TesTaskStore {
  const read = async (tenant: string, id: string): Promise<TesTaskDoc | undefined> => {
    try {
      const { resource } = await container.item(id, tenant).read<TesTaskDoc>();
      return resource?.type === 'tes-task' ? resource : undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  };
  const query = async (tenant: string | undefined, text: string, parameters: SqlParameter[]) => {
    const { resources } = await container.items
      .query<TesTaskDoc>({ query: text, parameters }, tenant ? { partitionKey: tenant } : {})
      .fetchAll();
    return resources;
  };
  return {
    async create(doc) {
      const { resource } = await container.items.create(doc);
      if (!resource) throw new TesStoreError('TesStoreWriteFailed', `TES task '${doc.id}' was not written`);
      return resource as unknown as TesTaskDoc;
    },
    get: read,
    async update(tenant, id, mutate, known) {
      for (let attempt = 0; attempt < 20; attempt++) {
        const current = attempt === 0 && known?._etag ? known : await read(tenant, id);
        if (!current) return undefined;
        const next = mutate(current);
        if (!next) return { doc: current, changed: false };
        try {
          const { resource } = await container
            .item(id, tenant)
            .replace(next, { accessCondition: { type: 'IfMatch', condition: current._etag! } });
          return { doc: resource as unknown as TesTaskDoc, changed: true };
        } catch (e) {
          if (cosmosStatus(e) === 412) continue;
          throw e;
        }
      }
      throw new TesStoreError('TesStoreContention', `TES task '${id}' kept changing under an update`, {
        retryable: true,
      });
    },
    async list(tenant, filter) {
      const terms = ['c.tenant = @tenant', "c.type = 'tes-task'"];
      const parameters: SqlParameter[] = [{ name: '@tenant', value: tenant }];
      if (filter.namePrefix) {
        terms.push('STARTSWITH(c.name, @prefix)');
        parameters.push({ name: '@prefix', value: filter.namePrefix });
      }
      if (filter.state) {
        terms.push('c.state = @state');
        parameters.push({ name: '@state', value: filter.state });
      }
      filter.tags.forEach(([key, value], i) => {
        if (value === '') {
          terms.push(`ARRAY_CONTAINS(c.tagKeys, @tk${i})`);
          parameters.push({ name: `@tk${i}`, value: key });
        } else {
          terms.push(`ARRAY_CONTAINS(c.tagPairs, @tp${i})`);
          parameters.push({ name: `@tp${i}`, value: JSON.stringify([key, value]) });
        }
      });
      if (filter.after) {
        terms.push('c.sortKey < @after');
        parameters.push({ name: '@after', value: filter.after });
      }
      const rows = await query(
        tenant,
        `SELECT TOP ${filter.limit + 1} * FROM c WHERE ${terms.join(' AND ')} ORDER BY c.sortKey DESC`,
        parameters,
      );
      const tasks = rows.slice(0, filter.limit);
      return rows.length > filter.limit ? { tasks, next: tasks[tasks.length - 1]!.sortKey } : { tasks };
    },
    async listUnsubmitted(tenant, laneKey, limit) {
      return query(
        tenant,
        `SELECT TOP ${Math.max(1, Math.floor(limit))} * FROM c WHERE c.tenant = @tenant AND c.type = 'tes-task' AND c.placement.laneKey = @key AND NOT IS_DEFINED(c.lane) AND ${UNFINISHED} ORDER BY c.sortKey`,
        [
          { name: '@tenant', value: tenant },
          { name: '@key', value: laneKey },
        ],
      );
    },
    async listStrandedLaneKeys(before, limit) {
      const rows = await container.items
        .query<{ tenant: string; laneKey: string }>({
          query: `SELECT TOP ${Math.max(1, Math.floor(limit))} c.tenant, c.placement.laneKey AS laneKey FROM c WHERE c.type = 'tes-task' AND NOT IS_DEFINED(c.lane) AND ${UNFINISHED} AND c.creationTime < @before`,
          parameters: [{ name: '@before', value: before }],
        })
        .fetchAll();
      const seen = new Map<string, { tenant: string; laneKey: string }>();
      for (const r of rows.resources) seen.set(`${r.tenant}\n${r.laneKey}`, r);
      return [...seen.values()];
    },
    async listUnfinishedInLane(tenant, laneJobId) {
      return query(
        tenant,
        `SELECT * FROM c WHERE c.tenant = @tenant AND c.type = 'tes-task' AND c.lane.jobId = @lane AND ${UNFINISHED}`,
        [
          { name: '@tenant', value: tenant },
          { name: '@lane', value: laneJobId },
        ],
      );
    },
    async listUnfinishedByIds(tenant, ids) {
      if (ids.length === 0) return [];
      const parameters: SqlParameter[] = [
        { name: '@tenant', value: tenant },
        ...ids.map((id, i) => ({ name: `@id${i}`, value: id })),
      ];
      return query(
        tenant,
        `SELECT * FROM c WHERE c.tenant = @tenant AND c.type = 'tes-task' AND c.id IN (${ids.map((_, i) => `@id${i}`).join(', ')}) AND ${UNFINISHED}`,
        parameters,
      );
    },
    async laneDemand(tenant, laneKey) {
      const rows = await container.items
        .query<{ s: number }>(
          {
            query: `SELECT c.placement.requiredSlots AS s FROM c WHERE c.tenant = @tenant AND c.type = 'tes-task' AND c.placement.laneKey = @key AND ${UNFINISHED}`,
            parameters: [
              { name: '@tenant', value: tenant },
              { name: '@key', value: laneKey },
            ],
          },
          { partitionKey: tenant },
        )
        .fetchAll();
      const bySlots = new Map<number, number>();
      for (const r of rows.resources) bySlots.set(r.s, (bySlots.get(r.s) ?? 0) + 1);
      return {
        tasks: rows.resources.length,
        slotHistogram: [...bySlots.entries()].sort((a, b) => a[0] - b[0]),
      };
    },
    async countUnfinished(tenant) {
      const { resources } = await container.items
        .query<number>(
          {
            query: `SELECT VALUE COUNT(1) FROM c WHERE c.tenant = @tenant AND c.type = 'tes-task' AND ${UNFINISHED}`,
            parameters: [{ name: '@tenant', value: tenant }],
          },
          { partitionKey: tenant },
        )
        .fetchAll();
      return resources[0] ?? 0;
    },
  };
}
