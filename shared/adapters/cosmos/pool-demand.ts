/**
 * What the pool controller reads of the jobs placed on a pool: a projection of the job documents
 * (one query in the pool owner's partition), never the whole documents with their requests.
 */
import type { Container } from '@azure/cosmos';
import type { JobState, TaskCounts, WaitingReason } from '../../model/job.js';

export interface JobOnPool {
  readonly jobId: string;
  readonly state: JobState;
  readonly taskCounts: TaskCounts;
  /** Tasks in the plan. */
  readonly tasks: number;
  readonly slotHistogram: readonly (readonly [number, number])[];
  readonly maxNodes?: number;
  readonly waiting?: WaitingReason;
}

export interface PoolDemandReader {
  /** The tenant's jobs placed on the pool that have not ended. */
  listOnPool(tenant: string, poolId: string): Promise<JobOnPool[]>;
}

export function createPoolDemandReader(jobs: Container): PoolDemandReader {
  return {
    async listOnPool(tenant, poolId) {
      const { resources } = await jobs.items
        .query<{
          jobId: string;
          state: JobState;
          taskCounts: TaskCounts;
          plan?: { tasks?: number; slotHistogram?: [number, number][]; maxNodes?: number };
          waiting?: WaitingReason;
        }>(
          {
            query:
              "SELECT c.jobId, c.state, c.taskCounts, c.plan, c.waiting FROM c WHERE c.tenant = @tenant AND c.type = 'job' AND c.batch.poolId = @pool AND NOT IS_DEFINED(c.endedAt)",
            parameters: [
              { name: '@tenant', value: tenant },
              { name: '@pool', value: poolId },
            ],
          },
          { partitionKey: tenant },
        )
        .fetchAll();
      return resources
        .map((r) => ({
          jobId: r.jobId,
          state: r.state,
          taskCounts: r.taskCounts,
          tasks: r.plan?.tasks ?? 0,
          slotHistogram: r.plan?.slotHistogram ?? [],
          ...(r.plan?.maxNodes !== undefined ? { maxNodes: r.plan.maxNodes } : {}),
          ...(r.waiting ? { waiting: r.waiting } : {}),
        }))
        .sort((a, b) => (a.jobId < b.jobId ? -1 : 1));
    },
  };
}
