/**
 * A job's task chunks (≤ 100 Batch task bodies each, under the add-collection body limit), by index.
 *
 * The plan's own chunks (indexes below `plan.chunks`) are never stored: the plan is a pure function of
 * the stored request, so they are rebuilt on demand (`rebuildChunks`), and only progress (how many
 * chunks and tasks are in) lives on the job document. Measured on a 1,000,000-task sweep, storing them
 * cost ~10,000 writes (~100 MB, ~500,000 RU) and as many reads, against one pass over the request
 * (docs/planning.md, "Scale and Azure's limits").
 *
 * What cannot be recomputed is stored: a retry's resubmission (the tasks that did not succeed), in the
 * `chunks` container under a partition of its own per job (`/job` = `tenant/jobid`), so no logical
 * partition grows with the number of jobs. Items are read by id in index order (point reads, no
 * query), carry a `ttl` so Cosmos expires them when nothing can need them any more, and the submitter
 * deletes an attempt's chunks once a later attempt has replaced them.
 */
import type { Container } from '@azure/cosmos';
import type { TaskBody } from '../../model/batch-bodies.js';
import type { JobDoc } from '../../model/job.js';
import { rebuildChunks } from '../../planner/plan-job.js';
import { cosmosStatus, stripSystem } from './cosmos-setup.js';

export interface ChunkDoc {
  id: string;
  type: 'chunk';
  tenant: string;
  /** Partition value: `tenant/jobid` (job id lowercased). */
  job: string;
  index: number;
  tasks: TaskBody[];
  /** Seconds Cosmos keeps the item after its last write. */
  ttl?: number;
}

/** One chunk as the submitter and retry read it: its index, its tasks, and where its first task is. */
export interface Chunk {
  readonly index: number;
  readonly tasks: TaskBody[];
}

export interface ChunkStore {
  /** Stores a chunk that cannot be rebuilt from the request (a retry's resubmission). */
  put(tenant: string, jobId: string, index: number, tasks: TaskBody[]): Promise<void>;
  /**
   * Chunks of `job` from index `from` on (to `to`, exclusive, or `submission.chunksTotal`), in order:
   * rebuilt from the request below `plan.chunks`, read by id above. `fromTask` is the index of chunk
   * `from`'s first task when it is a plan chunk (the submitter knows it as `tasksAdded`); without it the
   * rebuild starts at the first task and skips.
   */
  read(job: JobDoc, from: number, options?: { to?: number; fromTask?: number }): AsyncGenerator<Chunk>;
  /** All chunks of a job (or those with `from` ≤ index < `to`), in order. */
  listAll(tenant: string, jobId: string, range?: { from?: number; to?: number }): AsyncGenerator<Chunk>;
  /** Deletes stored chunks `from` ≤ index < `to` (absent ones are fine). */
  remove(tenant: string, jobId: string, range: { from: number; to: number }): Promise<void>;
}

export function chunkPartition(tenant: string, jobId: string): string {
  return `${tenant}/${jobId.toLowerCase()}`;
}

export function chunkDocId(index: number): string {
  return `chunk:${String(index).padStart(7, '0')}`;
}

export interface ChunkStoreOptions {
  /** Reads the job document (the request and plan a rebuild needs). */
  readonly getJob: (tenant: string, jobId: string) => Promise<JobDoc | undefined>;
  /** Seconds a stored chunk lives. Default 30 days: longer than any job is kept retryable. */
  readonly ttlSeconds?: number;
  /** Point reads in flight while reading ahead. Default 4. */
  readonly readAhead?: number;
}

export function createChunkStore(container: Container, options: ChunkStoreOptions): ChunkStore {
  const ttl = options.ttlSeconds ?? 30 * 24 * 3600;
  const readAhead = Math.max(1, options.readAhead ?? 4);

  const readStored = async (partition: string, index: number): Promise<ChunkDoc | undefined> => {
    try {
      const { resource } = await container.item(chunkDocId(index), partition).read<ChunkDoc>();
      return resource ? stripSystem(resource) : undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  };

  async function* read(
    job: JobDoc,
    from: number,
    opts: { to?: number; fromTask?: number } = {},
  ): AsyncGenerator<Chunk> {
    const planned = job.plan?.chunks ?? 0;
    const to = opts.to ?? job.submission?.chunksTotal ?? planned;
    let index = from;
    if (index < planned && index < to && job.request && job.plan) {
      // Rebuilt: a jump to `fromTask` when known, otherwise skip whole chunks from the start.
      const start = opts.fromTask !== undefined ? index : 0;
      let at = start;
      for (const tasks of rebuildChunks(job.request, job.plan, opts.fromTask ?? 0)) {
        if (at >= to || at >= planned) break;
        if (at >= index) yield { index: at, tasks };
        at++;
      }
      index = Math.max(index, Math.min(at, planned));
    }
    // Stored chunks: point reads by id, a few ahead, in order.
    const partition = chunkPartition(job.tenant, job.jobId);
    const pending: Promise<ChunkDoc | undefined>[] = [];
    let next = Math.max(index, planned);
    while (next < to || pending.length > 0) {
      while (pending.length < readAhead && next < to) {
        const ahead = readStored(partition, next++);
        ahead.catch(() => undefined); // read ahead and maybe never awaited (a range ended early)
        pending.push(ahead);
      }
      const doc = await pending.shift()!;
      // A missing chunk ends the range: it was never written (an interrupted retry) or has expired.
      if (!doc) break;
      yield { index: doc.index, tasks: doc.tasks };
    }
  }

  return {
    async put(tenant, jobId, index, tasks) {
      const doc: ChunkDoc = {
        id: chunkDocId(index),
        type: 'chunk',
        tenant,
        job: chunkPartition(tenant, jobId),
        index,
        tasks,
        ttl,
      };
      await container.items.upsert(doc);
    },
    read,
    async *listAll(tenant, jobId, range = {}) {
      const job = await options.getJob(tenant, jobId);
      if (!job) return;
      yield* read(job, range.from ?? 0, range.to !== undefined ? { to: range.to } : {});
    },
    async remove(tenant, jobId, range) {
      const partition = chunkPartition(tenant, jobId);
      let next = range.from;
      // Bounded concurrency: a retry's chunks are at most what one attempt wrote.
      const worker = async () => {
        while (next < range.to) {
          const index = next++;
          try {
            await container.item(chunkDocId(index), partition).delete();
          } catch (e) {
            if (cosmosStatus(e) !== 404) throw e;
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
    },
  };
}
