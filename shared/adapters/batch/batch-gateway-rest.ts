/**
 * The pipeline's Batch port implemented over the Batch REST client (`shared/batch/`). Maps Batch's
 * answers to the pipeline's vocabulary: `...Exists` on create means "already there", `...NotFound` on
 * read means undefined, a job already terminating or completed counts as terminated.
 */

import { isOwnJob, isOwnPool } from '../../model/batch-names.js';
import type { FailedTask } from '../../model/job.js';
import { traceparentOf, withTraceMetadata } from '../telemetry/trace-context.js';
import { addTasks } from './add-tasks.js';
import type { BatchGateway, PoolInfo } from './batch-gateway.js';
import { type BatchClient, BatchError } from './client.js';

interface WirePool {
  id: string;
  vmSize: string;
  taskSlotsPerNode?: number;
  state?: string;
  allocationState?: string;
  targetDedicatedNodes?: number;
  targetLowPriorityNodes?: number;
  currentDedicatedNodes?: number;
  currentLowPriorityNodes?: number;
  virtualMachineConfiguration?: { containerConfiguration?: { containerImageNames?: string[] } };
  metadata?: { name: string; value: string }[];
  resizeErrors?: { code?: string; message?: string }[];
}

function toPoolInfo(p: WirePool): PoolInfo {
  const container = p.virtualMachineConfiguration?.containerConfiguration;
  return {
    id: p.id,
    vmSize: p.vmSize,
    taskSlotsPerNode: p.taskSlotsPerNode ?? 1,
    state: p.state ?? 'active',
    allocationState: p.allocationState ?? 'steady',
    targetDedicatedNodes: p.targetDedicatedNodes ?? 0,
    targetLowPriorityNodes: p.targetLowPriorityNodes ?? 0,
    currentNodes: (p.currentDedicatedNodes ?? 0) + (p.currentLowPriorityNodes ?? 0),
    currentDedicatedNodes: p.currentDedicatedNodes ?? 0,
    currentLowPriorityNodes: p.currentLowPriorityNodes ?? 0,
    resizeErrors: (p.resizeErrors ?? []).map((e) => ({
      code: e.code ?? 'Unknown',
      message: e.message ?? '',
    })),
    containerImages: container ? (container.containerImageNames ?? []) : undefined,
    metadata: Object.fromEntries((p.metadata ?? []).map((m) => [m.name, m.value])),
  };
}

/** Failed tasks, as Batch's task list filters them (`executionInfo/result` allows eq and ne). */
const FAILED_TASKS = "executionInfo/result eq 'failure'";
/** Empty pages followed in one call before answering with none and the link. */
const EMPTY_PAGES_FOLLOWED = 10;

const notFound = (e: unknown) => e instanceof BatchError && e.status === 404;
const exists = (e: unknown, code: string) => e instanceof BatchError && e.code === code;

export function createRestBatchGateway(
  client: BatchClient,
  options: { addConcurrency?: number } = {},
): BatchGateway {
  const gateway: BatchGateway = {
    async getPool(poolId) {
      try {
        return toPoolInfo((await client.pools.get(poolId)) as unknown as WirePool);
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async createPool(pool) {
      try {
        await client.pools.add(pool);
        return 'created';
      } catch (e) {
        if (exists(e, 'PoolExists')) return 'exists';
        if (exists(e, 'PoolBeingDeleted')) return 'deleting';
        throw e;
      }
    },
    async resizePool(poolId, target, owner) {
      const pool = await gateway.getPool(poolId);
      if (!pool) return 'missing';
      if (!isOwnPool(pool.metadata, owner)) return 'foreign';
      await client.pools.resize(poolId, {
        targetDedicatedNodes: target.dedicated,
        targetLowPriorityNodes: target.lowPriority,
        nodeDeallocationOption: 'taskcompletion',
      });
      return 'done';
    },
    async countBusyNodes(poolId) {
      let n = 0;
      for await (const _ of client.nodes.list(poolId, { filter: "state eq 'running'", select: 'id' })) n++;
      return n;
    },
    async deletePool(poolId, owner) {
      const pool = await gateway.getPool(poolId);
      if (!pool) return 'missing';
      if (!isOwnPool(pool.metadata, owner)) return 'foreign';
      try {
        await client.pools.delete(poolId);
      } catch (e) {
        if (notFound(e)) return 'missing';
        if (!exists(e, 'PoolBeingDeleted')) throw e;
      }
      return 'done';
    },
    async createJob(job) {
      try {
        // `slotwise.traceparent`: the submit's trace context, so the Batch job leads back to the job's trace.
        await client.jobs.add(withTraceMetadata(job, traceparentOf()));
        return 'created';
      } catch (e) {
        if (exists(e, 'JobExists')) return 'exists';
        throw e;
      }
    },
    async getJob(jobId) {
      try {
        const job = (await client.jobs.get(jobId)) as {
          id: string;
          state: string;
          executionInfo?: { terminateReason?: string };
          metadata?: { name: string; value: string }[];
        };
        return {
          id: job.id,
          state: job.state,
          ...(job.executionInfo?.terminateReason
            ? { terminateReason: job.executionInfo.terminateReason }
            : {}),
          metadata: Object.fromEntries((job.metadata ?? []).map((m) => [m.name, m.value])),
        };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async terminateJobWhenTasksComplete(jobId) {
      try {
        await client.jobs.patch(jobId, { onAllTasksComplete: 'terminatejob' });
      } catch (e) {
        // Already ended (an earlier attempt switched it and every task finished): nothing to switch.
        if (!exists(e, 'JobCompleted') && !exists(e, 'JobBeingTerminated')) throw e;
      }
    },
    async terminateJob(jobId, reason, owner) {
      const job = await gateway.getJob(jobId);
      if (!job) return 'missing';
      if (!isOwnJob(job.metadata, owner)) return 'foreign';
      try {
        await client.jobs.terminate(jobId, reason);
      } catch (e) {
        if (notFound(e)) return 'missing';
        if (exists(e, 'JobCompleted') || exists(e, 'JobBeingTerminated') || exists(e, 'JobBeingDeleted')) {
          return 'done';
        }
        throw e;
      }
      return 'done';
    },
    async addTasks(jobId, tasks) {
      const results = await addTasks(client, jobId, tasks, { concurrency: options.addConcurrency ?? 8 });
      const failed = results.filter((r) => r.outcome === 'failed');
      return {
        added: results.filter((r) => r.outcome === 'added').length,
        existed: results.filter((r) => r.outcome === 'exists').length,
        failed: failed.map((r) => ({
          taskId: r.taskId,
          code: r.error?.code ?? 'Unknown',
          message: r.error?.message ?? '',
        })),
      };
    },
    async getTaskCounts(jobId) {
      try {
        const { taskCounts } = await client.jobs.getTaskCounts(jobId);
        return taskCounts;
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async listFailedTasks(jobId, limit) {
      const failed: FailedTask[] = [];
      for await (const t of client.tasks.list(jobId, {
        filter: "executionInfo/result eq 'failure'",
        select: 'id,executionInfo',
      })) {
        const info = (
          t as { executionInfo?: { exitCode?: number; failureInfo?: { code?: string; message?: string } } }
        ).executionInfo;
        failed.push({
          taskId: (t as { id: string }).id,
          ...(info?.exitCode !== undefined ? { exitCode: info.exitCode } : {}),
          ...(info?.failureInfo?.code ? { failureCode: info.failureInfo.code } : {}),
          ...(info?.failureInfo?.message ? { failureMessage: info.failureInfo.message } : {}),
        });
        if (failed.length >= limit) break;
      }
      return failed;
    },
    async countTasks(jobId, filter) {
      let n = 0;
      for await (const _ of client.tasks.list(jobId, { filter, select: 'id', maxResults: 1000 })) n++;
      return n;
    },
    async forEachEndedTask(jobId, each) {
      for await (const t of client.tasks.list(jobId, {
        filter: "state eq 'completed'",
        select: 'id,requiredSlots,executionInfo,nodeInfo',
        maxResults: 1000,
      })) {
        const task = t as {
          id: string;
          requiredSlots?: number;
          executionInfo?: {
            startTime?: string;
            endTime?: string;
            result?: 'success' | 'failure';
            exitCode?: number;
            failureInfo?: { code?: string };
          };
          nodeInfo?: { nodeId?: string };
        };
        const info = task.executionInfo;
        each({
          id: task.id,
          requiredSlots: task.requiredSlots ?? 1,
          ...(info?.startTime ? { startTime: info.startTime } : {}),
          ...(info?.endTime ? { endTime: info.endTime } : {}),
          ...(task.nodeInfo?.nodeId ? { nodeId: task.nodeInfo.nodeId } : {}),
          ...(info?.result ? { result: info.result } : {}),
          ...(info?.exitCode !== undefined ? { exitCode: info.exitCode } : {}),
          ...(info?.failureInfo?.code ? { failureCode: info.failureInfo.code } : {}),
        });
      }
    },
    async listUnsucceededTasks(jobId, { failedOnly }) {
      const ids: string[] = [];
      const filter = failedOnly ? FAILED_TASKS : `${FAILED_TASKS} or state eq 'active'`;
      for await (const t of client.tasks.list(jobId, { filter, select: 'id' }))
        ids.push((t as { id: string }).id);
      return ids;
    },
    async listFailedTaskPage(jobId, { maxResults, continuation }) {
      // A filtered page may come back empty with a link (Batch stops scanning at its time budget):
      // follow a few such links here, so a caller sees ids or the end, never an endless empty page.
      let link = continuation;
      for (let pages = 0; ; pages++) {
        const page = await client.tasks.listPage(
          jobId,
          { filter: FAILED_TASKS, select: 'id', maxResults },
          link,
        );
        link = page.nextLink;
        const ids = page.value.map((t) => String(t.id));
        if (ids.length > 0 || !link || pages >= EMPTY_PAGES_FOLLOWED)
          return { ids, ...(link ? { continuation: link } : {}) };
      }
    },
    async reactivateTask(jobId, taskId) {
      await client.tasks.reactivate(jobId, taskId);
    },
    async deleteEndedJob(jobId, owner) {
      const job = await gateway.getJob(jobId);
      if (!job) return 'missing';
      if (!isOwnJob(job.metadata, owner)) return 'foreign';
      if (job.state === 'deleting') return 'done';
      if (job.state !== 'completed') return 'notEnded';
      try {
        await client.jobs.delete(jobId);
      } catch (e) {
        if (notFound(e)) return 'missing';
        if (!exists(e, 'JobBeingDeleted')) throw e;
      }
      return 'done';
    },
    async ping(signal) {
      for await (const _ of client.applications.list({ maxResults: 1, ...(signal ? { signal } : {}) })) break;
    },
  };
  return gateway;
}
