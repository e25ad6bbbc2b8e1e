/**
 * Task chunks planned for a job: ≤ 100 Batch task bodies each, under the add-collection body limit.
 * Stored beside the job (same partition) so the submitter can resume from the first chunk not yet
 * added after any crash or redelivery.
 */
import type { Container } from '@azure/cosmos';
import type { TaskBody } from '../planner/batch-bodies.js';
import { stripSystem } from './cosmos-setup.js';

export interface ChunkDoc {
  id: string;
  type: 'chunk';
  tenant: string;
  /** Lowercased job id. */
  job: string;
  index: number;
  tasks: TaskBody[];
  added: boolean;
  addedAt?: string;
}

export interface ChunkStore {
  put(tenant: string, jobId: string, index: number, tasks: TaskBody[]): Promise<void>;
  /** Chunks not yet added, in order. */
  listPending(tenant: string, jobId: string, limit: number): Promise<ChunkDoc[]>;
  markAdded(chunk: ChunkDoc, at: Date): Promise<void>;
  /** All chunks of a job (or those with `from` ≤ index < `to`), in order, read page by page. */
  listAll(tenant: string, jobId: string, range?: { from?: number; to?: number }): AsyncGenerator<ChunkDoc>;
}

export function chunkDocId(jobId: string, index: number): string {
  return `chunk:${jobId.toLowerCase()}:${String(index).padStart(7, '0')}`;
}

export function createChunkStore(container: Container): ChunkStore {
  return {
    async put(tenant, jobId, index, tasks) {
      const doc: ChunkDoc = {
        id: chunkDocId(jobId, index),
        type: 'chunk',
        tenant,
        job: jobId.toLowerCase(),
        index,
        tasks,
        added: false,
      };
      await container.items.upsert(doc);
    },
    async listPending(tenant, jobId, limit) {
      const { resources } = await container.items
        .query<ChunkDoc>(
          {
            query: `SELECT TOP ${limit} * FROM c WHERE c.type = 'chunk' AND c.job = @job AND c.added = false ORDER BY c.index`,
            parameters: [{ name: '@job', value: jobId.toLowerCase() }],
          },
          { partitionKey: tenant },
        )
        .fetchAll();
      return resources.map(stripSystem);
    },
    async markAdded(chunk, at) {
      await container.item(chunk.id, chunk.tenant).patch([
        { op: 'set', path: '/added', value: true },
        { op: 'set', path: '/addedAt', value: at.toISOString() },
      ]);
    },
    async *listAll(tenant, jobId, range = {}) {
      const filters = ["c.type = 'chunk'", 'c.job = @job'];
      const parameters: { name: string; value: string | number }[] = [
        { name: '@job', value: jobId.toLowerCase() },
      ];
      if (range.from !== undefined) {
        filters.push('c.index >= @from');
        parameters.push({ name: '@from', value: range.from });
      }
      if (range.to !== undefined) {
        filters.push('c.index < @to');
        parameters.push({ name: '@to', value: range.to });
      }
      const iterator = container.items.query<ChunkDoc>(
        { query: `SELECT * FROM c WHERE ${filters.join(' AND ')} ORDER BY c.index`, parameters },
        { partitionKey: tenant, maxItemCount: 50 },
      );
      while (iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        for (const r of resources ?? []) yield stripSystem(r);
      }
    },
  };
}
