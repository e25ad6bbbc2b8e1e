/**
 * The pipeline's Batch port implemented over the Batch REST client (`shared/batch/`). Maps Batch's
 * answers to the pipeline's vocabulary: `...Exists` on create means "already there", `...NotFound` on
 * read means undefined, a job already terminating or completed counts as terminated.
 */

import { redactSas } from '../../core/redact-sas.js';
import { isOwnJob, isOwnPool } from '../../model/batch-names.js';
import type { FailedTask, NodePreparation } from '../../model/job.js';
import type { NodeHealth } from '../../model/node-health.js';
import { traceparentOf, withTraceMetadata } from '../telemetry/trace-context.js';
import { addTasks } from './add-tasks.js';
import type {
  BatchGateway,
  ListedJob,
  NodeActivity,
  PoolInfo,
  PreemptedNode,
  TaskFilter,
  TaskInfo,
} from './batch-gateway.js';
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

/** What `TaskInfo` needs of a task, and nothing more (`$select` keeps list pages small). */
const TASK_INFO_SELECT = 'id,state,requiredSlots,executionInfo,nodeInfo';

/**
 * The `$filter` for a task list. Batch's task list filters `state` and `executionInfo/result` with
 * `eq`/`ne`, joined by `and`/`or` (learn.microsoft.com/rest/api/batchservice/odata-filters-in-batch,
 * "List tasks"). `running` includes `preparing`, as `taskcounts.running` does.
 */
export function taskFilterText(filter: TaskFilter): string | undefined {
  const terms: string[] = [];
  if (filter.state === 'running') terms.push("(state eq 'preparing' or state eq 'running')");
  else if (filter.state) terms.push(`state eq '${filter.state}'`);
  if (filter.result) terms.push(`executionInfo/result eq '${filter.result}'`);
  return terms.length > 0 ? terms.join(' and ') : undefined;
}

interface WireTask {
  id: string;
  state?: string;
  requiredSlots?: number;
  executionInfo?: {
    startTime?: string;
    endTime?: string;
    exitCode?: number;
    result?: string;
    retryCount?: number;
    requeueCount?: number;
    lastRetryTime?: string;
    failureInfo?: { category?: string; code?: string; message?: string };
  };
  nodeInfo?: { nodeId?: string };
}

const taskStates = new Set(['active', 'preparing', 'running', 'completed']);

export function toTaskInfo(t: WireTask): TaskInfo {
  const info = t.executionInfo ?? {};
  const failure = info.failureInfo;
  return {
    id: t.id,
    state: (taskStates.has(t.state ?? '') ? t.state : 'active') as TaskInfo['state'],
    requiredSlots: t.requiredSlots ?? 1,
    retryCount: info.retryCount ?? 0,
    requeueCount: info.requeueCount ?? 0,
    ...(info.startTime ? { startTime: info.startTime } : {}),
    ...(info.endTime ? { endTime: info.endTime } : {}),
    ...(info.lastRetryTime ? { lastRetryTime: info.lastRetryTime } : {}),
    ...(info.exitCode !== undefined ? { exitCode: info.exitCode } : {}),
    ...(info.result === 'success' || info.result === 'failure' ? { result: info.result } : {}),
    ...(failure
      ? {
          failure: {
            category: failure.category ?? 'unmapped',
            code: failure.code ?? 'Unknown',
            message: redactSas(failure.message ?? ''),
          },
        }
      : {}),
    ...(t.nodeInfo?.nodeId ? { nodeId: t.nodeInfo.nodeId } : {}),
  };
}

/** Batch's `$skiptoken` in a list's `odata.nextLink`. */
function skipTokenOf(nextLink: string): string {
  let token: string | null = null;
  try {
    token = new URL(nextLink).searchParams.get('$skiptoken');
  } catch {
    token = null;
  }
  if (!token)
    throw new BatchError({
      code: 'InvalidResponse',
      message: 'Batch answered a next page link without a $skiptoken',
      retryable: false,
    });
  return token;
}

/** An item of Jobs_ListJobPreparationAndReleaseTaskStatus (BatchJobPreparationAndReleaseTaskStatus). */
interface WirePreparationStatus {
  nodeId?: string;
  jobPreparationTaskExecutionInfo?: {
    state?: string;
    exitCode?: number;
    retryCount?: number;
    result?: string;
    failureInfo?: { category?: string; code?: string; message?: string };
  };
}

/** A node's preparation as the pipeline keeps it; the failure message with any SAS redacted. */
export function toNodePreparation(item: WirePreparationStatus): NodePreparation | undefined {
  const info = item.jobPreparationTaskExecutionInfo;
  if (!item.nodeId || !info) return undefined;
  const failure = info.failureInfo;
  return {
    nodeId: item.nodeId,
    state: info.state === 'completed' ? 'completed' : 'running',
    ...(info.result === 'success' || info.result === 'failure' ? { result: info.result } : {}),
    ...(info.exitCode !== undefined ? { exitCode: info.exitCode } : {}),
    ...(info.retryCount !== undefined ? { retryCount: info.retryCount } : {}),
    ...(failure
      ? {
          failure: {
            category: failure.category ?? 'unmapped',
            code: failure.code ?? 'Unknown',
            message: redactSas(failure.message ?? ''),
          },
        }
      : {}),
  };
}

/**
 * What the reconcile listing reads of a job. Batch's `$select` takes top-level properties
 * (learn.microsoft.com/azure/batch/batch-efficient-list-queries), so `executionInfo` comes whole
 * (a few fields) for its `terminateReason`.
 */
const LISTED_JOB_SELECT = 'id,state,stateTransitionTime,executionInfo,poolInfo,metadata';

interface WireListedJob {
  id: string;
  state?: string;
  stateTransitionTime?: string;
  executionInfo?: { terminateReason?: string; poolId?: string };
  poolInfo?: { poolId?: string };
  metadata?: { name: string; value: string }[];
}

export function toListedJob(j: WireListedJob): ListedJob {
  const poolId = j.poolInfo?.poolId ?? j.executionInfo?.poolId;
  return {
    id: j.id,
    state: j.state ?? 'active',
    stateTransitionTime: j.stateTransitionTime ?? '',
    ...(j.executionInfo?.terminateReason ? { terminateReason: j.executionInfo.terminateReason } : {}),
    ...(poolId ? { poolId } : {}),
    metadata: Object.fromEntries((j.metadata ?? []).map((m) => [m.name, m.value])),
  };
}

/** A node of a node list with `$select=id,state,recentTasks` (BatchService.json `TaskInformation`). */
interface WireNodeActivity {
  id: string;
  state?: string;
  recentTasks?: {
    jobId?: string;
    taskId?: string;
    taskState?: string;
    executionInfo?: { startTime?: string; endTime?: string };
  }[];
}

export function toNodeActivity(n: WireNodeActivity): NodeActivity {
  return {
    id: n.id,
    state: n.state ?? 'unknown',
    recentTasks: (n.recentTasks ?? []).map((t) => ({
      jobId: t.jobId ?? '',
      taskId: t.taskId ?? '',
      state: t.taskState ?? '',
      ...(t.executionInfo?.startTime ? { startTime: t.executionInfo.startTime } : {}),
      ...(t.executionInfo?.endTime ? { endTime: t.executionInfo.endTime } : {}),
    })),
  };
}

/**
 * A list's items in pages of `size`. The client fetches Batch's next page only when an item past the
 * current one is asked for, so a page cut at `maxresults` costs exactly one call, and a consumer that
 * stops between pages makes no further call.
 */
async function* pagesOf<T>(
  items: AsyncIterable<Record<string, unknown>>,
  size: number,
  map: (item: Record<string, unknown>) => T,
): AsyncIterable<T[]> {
  let page: T[] = [];
  for await (const item of items) {
    page.push(map(item));
    if (page.length >= size) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

const notFound = (e: unknown) => e instanceof BatchError && e.status === 404;
/** A task file Batch cannot serve now: no such file, task or job, not run yet, or its node is gone. */
const fileGone = (e: unknown) => e instanceof BatchError && (e.status === 404 || e.status === 409);
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
    async listNodeHealth(poolId) {
      const nodes: NodeHealth[] = [];
      try {
        for await (const n of client.nodes.list(poolId, {
          select: 'id,state,runningTasksCount,totalTasksRun,totalTasksSucceeded',
          maxResults: 1000,
        })) {
          const node = n as {
            id: string;
            state?: string;
            runningTasksCount?: number;
            totalTasksRun?: number;
            totalTasksSucceeded?: number;
          };
          nodes.push({
            id: node.id,
            state: node.state ?? 'unknown',
            running: node.runningTasksCount ?? 0,
            totalRun: node.totalTasksRun ?? 0,
            totalSucceeded: node.totalTasksSucceeded ?? 0,
          });
        }
      } catch (e) {
        if (notFound(e)) return [];
        throw e;
      }
      return nodes;
    },
    async listPreemptedNodes(poolId) {
      const nodes: PreemptedNode[] = [];
      try {
        for await (const n of client.nodes.list(poolId, {
          filter: "state eq 'preempted'",
          select: 'id,stateTransitionTime,recentTasks',
        })) {
          const node = n as {
            id: string;
            stateTransitionTime?: string;
            recentTasks?: {
              jobId?: string;
              taskId?: string;
              taskState?: string;
              executionInfo?: { startTime?: string };
            }[];
          };
          nodes.push({
            id: node.id,
            preemptedAt: node.stateTransitionTime ?? '',
            recentTasks: (node.recentTasks ?? []).map((t) => ({
              jobId: t.jobId ?? '',
              taskId: t.taskId ?? '',
              state: t.taskState ?? '',
              ...(t.executionInfo?.startTime ? { startTime: t.executionInfo.startTime } : {}),
            })),
          });
        }
      } catch (e) {
        if (notFound(e)) return [];
        throw e;
      }
      return nodes;
    },
    async removeNodes(poolId, nodeIds, owner) {
      const pool = await gateway.getPool(poolId);
      if (!pool) return 'missing';
      if (!isOwnPool(pool.metadata, owner)) return 'foreign';
      try {
        await client.pools.removeNodes(poolId, { nodeList: nodeIds, nodeDeallocationOption: 'requeue' });
      } catch (e) {
        if (exists(e, 'PoolBeingResized')) return 'busy';
        if (notFound(e)) return 'missing';
        throw e;
      }
      return 'done';
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
          ...(info?.failureInfo?.message ? { failureMessage: redactSas(info.failureInfo.message) } : {}),
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
    async listTaskPage(jobId, { filter, maxResults, skipToken }) {
      try {
        const filterText = taskFilterText(filter);
        const page = await client.tasks.listPage(jobId, {
          ...(filterText ? { filter: filterText } : {}),
          select: TASK_INFO_SELECT,
          maxResults,
          ...(skipToken ? { skipToken } : {}),
        });
        return {
          tasks: page.value.map((t) => toTaskInfo(t as unknown as WireTask)),
          ...(page.nextLink ? { skipToken: skipTokenOf(page.nextLink) } : {}),
        };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async listEndedTasks(jobId, { since, result, maxResults }) {
      // `stateTransitionTime` takes ge on Batch's task list (learn.microsoft.com/rest/api/batchservice/
      // odata-filters-in-batch, "List tasks"); a completed task's is when it completed.
      const terms = ["state eq 'completed'"];
      if (since) terms.push(`stateTransitionTime ge datetime'${since}'`);
      if (result) terms.push(`executionInfo/result eq '${result}'`);
      try {
        const page = await client.tasks.listPage(jobId, {
          filter: terms.join(' and '),
          select: `${TASK_INFO_SELECT},stateTransitionTime`,
          maxResults,
        });
        return {
          tasks: page.value.map((t) => ({
            ...toTaskInfo(t as unknown as WireTask),
            stateTransitionTime: String((t as { stateTransitionTime?: string }).stateTransitionTime ?? ''),
          })),
          truncated: page.nextLink !== undefined,
        };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async listChangedTasks(jobId, { since, maxResults, skipToken }) {
      try {
        const page = await client.tasks.listPage(jobId, {
          ...(since ? { filter: `stateTransitionTime ge datetime'${since}'` } : {}),
          select: `${TASK_INFO_SELECT},stateTransitionTime`,
          maxResults,
          ...(skipToken ? { skipToken } : {}),
        });
        return {
          tasks: page.value.map((t) => ({
            ...toTaskInfo(t as unknown as WireTask),
            stateTransitionTime: String((t as { stateTransitionTime?: string }).stateTransitionTime ?? ''),
          })),
          ...(page.nextLink ? { skipToken: skipTokenOf(page.nextLink) } : {}),
        };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async terminateTask(jobId, taskId) {
      try {
        await client.tasks.terminate(jobId, taskId);
        return 'done';
      } catch (e) {
        if (notFound(e)) return 'missing';
        // Ended already (it may have finished as the cancel came): nothing left to stop.
        if (exists(e, 'TaskCompleted')) return 'done';
        throw e;
      }
    },
    async getTask(jobId, taskId) {
      try {
        const task = await client.tasks.get(jobId, taskId, { select: TASK_INFO_SELECT });
        return toTaskInfo(task as unknown as WireTask);
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async getTaskFileProperties(jobId, taskId, path) {
      try {
        const head = await client.tasks.fileProperties(jobId, taskId, path);
        return {
          size: head.contentLength,
          isDirectory: head.isDirectory,
          ...(head.lastModified ? { lastModified: head.lastModified } : {}),
        };
      } catch (e) {
        if (fileGone(e)) return 'gone';
        throw e;
      }
    },
    async readTaskFile(jobId, taskId, path, range) {
      try {
        return await client.tasks.getFile(jobId, taskId, path, range);
      } catch (e) {
        if (fileGone(e)) return 'gone';
        throw e;
      }
    },
    async listPreparationStatus(jobId) {
      const nodes: NodePreparation[] = [];
      try {
        for await (const item of client.jobs.listPreparationStatus(jobId, { maxResults: 1000 })) {
          const node = toNodePreparation(item as WirePreparationStatus);
          if (node) nodes.push(node);
        }
      } catch (e) {
        if (notFound(e)) return undefined;
        // A job without a preparation task (Batch answers 409 JobPreparationTaskNotSpecified).
        if (exists(e, 'JobPreparationTaskNotSpecified')) return [];
        throw e;
      }
      return nodes;
    },
    async listNodeIds(poolId) {
      const ids: string[] = [];
      try {
        for await (const n of client.nodes.list(poolId, { select: 'id' })) ids.push(String(n.id));
      } catch (e) {
        if (notFound(e)) return [];
        throw e;
      }
      return ids;
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
    listJobPages({ since, maxResults }) {
      // `stateTransitionTime` takes ge on Batch's job list (learn.microsoft.com/rest/api/batchservice/
      // odata-filters-in-batch, "List jobs").
      return pagesOf(
        client.jobs.list({
          ...(since ? { filter: `stateTransitionTime ge datetime'${since}'` } : {}),
          select: LISTED_JOB_SELECT,
          maxResults,
        }),
        maxResults,
        (j) => toListedJob(j as unknown as WireListedJob),
      );
    },
    async *listNodeActivityPages(poolId, { maxResults }) {
      try {
        yield* pagesOf(
          client.nodes.list(poolId, { select: 'id,state,recentTasks', maxResults }),
          maxResults,
          (n) => toNodeActivity(n as unknown as WireNodeActivity),
        );
      } catch (e) {
        if (notFound(e)) return;
        throw e;
      }
    },
    async ping(signal) {
      for await (const _ of client.applications.list({ maxResults: 1, ...(signal ? { signal } : {}) })) break;
    },
  };
  return gateway;
}
