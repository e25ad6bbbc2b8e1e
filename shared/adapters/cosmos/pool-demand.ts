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
  /** The Batch job of the job's current attempt (absent before it is planned). */
  readonly batchJobId?: string;
}

export interface PoolDemandReader {
  /** The tenant's jobs placed on the pool that have not ended. */
  listOnPool(tenant: string, poolId: string): Promise<JobOnPool[]>;
  /**
   * Existing (operator's) pools that jobs not yet ended run on, each with the tenants using it (one
   * query over every tenant; Batch pool ids compare ignoring case). At most `limit` pools.
   */
  /** Existing pools jobs run on, per Batch account (`account` absent: the primary). */
  listExistingPoolsInUse(limit: number): Promise<{ poolId: string; account?: string; tenants: string[] }[]>;
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
          batchJobId?: string;
        }>(
          {
            query:
              "SELECT c.jobId, c.state, c.taskCounts, c.plan, c.waiting, c.batch.jobId AS batchJobId FROM c WHERE c.tenant = @tenant AND c.type = 'job' AND c.batch.poolId = @pool AND NOT IS_DEFINED(c.endedAt)",
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
          ...(r.batchJobId ? { batchJobId: r.batchJobId } : {}),
        }))
        .sort((a, b) => (a.jobId < b.jobId ? -1 : 1));
    },
    async listExistingPoolsInUse(limit) {
      const { resources } = await jobs.items
        .query<{ tenant: string; poolId: string; account?: string }>({
          query:
            "SELECT c.tenant, c.batch.poolId, c.batch.account FROM c WHERE c.type = 'job' AND c.batch.managedPool = false AND NOT IS_DEFINED(c.endedAt)",
        })
        .fetchAll();
      const pools = new Map<string, { poolId: string; account?: string; tenants: Set<string> }>();
      for (const r of resources) {
        if (!r.poolId) continue;
        // Pool ids are per account: the same id in two accounts is two pools.
        const key = `${r.account ?? ''}/${r.poolId.toLowerCase()}`;
        const entry = pools.get(key) ?? {
          poolId: r.poolId,
          ...(r.account ? { account: r.account } : {}),
          tenants: new Set<string>(),
        };
        entry.tenants.add(r.tenant);
        pools.set(key, entry);
      }
      return [...pools.values()]
        .sort((a, b) => (a.poolId.toLowerCase() < b.poolId.toLowerCase() ? -1 : 1))
        .slice(0, limit)
        .map((p) => ({ ...p, tenants: [...p.tenants].sort() }));
    },
  };
}
