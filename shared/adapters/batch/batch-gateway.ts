/**
 * What the pipeline needs from Azure Batch, and nothing more. The adapter over the REST client lives
 * in `batch-gateway-rest.ts`; keeping the port narrow keeps the stages readable and their tests honest.
 */

import type { JobBody, PoolBody, TaskBody } from '../../model/batch-bodies.js';
import type { JobOwner, PoolOwner } from '../../model/batch-names.js';
import type { FailedTask, NodePreparation } from '../../model/job.js';
import type { NodeHealth } from '../../model/node-health.js';

/** What a guarded action found: done, nothing there, or a resource that is not this owner's (left alone). */
export type GuardedOutcome = 'done' | 'missing' | 'foreign';

export interface PoolInfo {
  readonly id: string;
  readonly vmSize: string;
  readonly taskSlotsPerNode: number;
  readonly state: string;
  readonly allocationState: string;
  readonly targetDedicatedNodes: number;
  readonly targetLowPriorityNodes: number;
  readonly currentNodes: number;
  readonly currentDedicatedNodes: number;
  readonly currentLowPriorityNodes: number;
  /** Why the last resize did not reach its target (quota, capacity, timeout), as Batch reports it. */
  readonly resizeErrors: readonly { readonly code: string; readonly message: string }[];
  readonly containerImages: readonly string[] | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A preempted node and the tasks it ran last (Batch's `recentTasks`, each with its current state). */
export interface PreemptedNode {
  readonly id: string;
  readonly preemptedAt: string;
  readonly recentTasks: readonly {
    readonly jobId: string;
    readonly taskId: string;
    readonly state: string;
    readonly startTime?: string;
  }[];
}

export interface BatchJobInfo {
  readonly id: string;
  /** Batch job state: active, terminating, completed, deleting, ... */
  readonly state: string;
  readonly terminateReason?: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface BatchTaskCounts {
  readonly active: number;
  readonly running: number;
  readonly completed: number;
  readonly succeeded: number;
  readonly failed: number;
}

export interface AddTasksOutcome {
  readonly added: number;
  readonly existed: number;
  readonly failed: readonly { readonly taskId: string; readonly code: string; readonly message: string }[];
}

/** A completed task as read once when its job ends: what efficiency and exit conditions need. */
export interface EndedTask {
  readonly id: string;
  readonly requiredSlots: number;
  /** The last attempt's start and end (Batch keeps only the most recent). */
  readonly startTime?: string;
  readonly endTime?: string;
  readonly nodeId?: string;
  readonly result?: 'success' | 'failure';
  readonly exitCode?: number;
  /** Batch's failure code, e.g. `FailureExitCode`, `BlobDownloadMiscError`, `FileUploadMiscError`, `TaskEnded`. */
  readonly failureCode?: string;
}

export interface FailedTaskPage {
  readonly ids: readonly string[];
  /** Where the listing goes on; absent when this was its last page. */
  readonly continuation?: string;
}

/** Batch's task states (`preparing`: the node runs the job preparation task first). */
export type BatchTaskState = 'active' | 'preparing' | 'running' | 'completed';

/** Which tasks a task list page holds: Batch `$filter` terms, joined by `and`. */
export interface TaskFilter {
  /** `running` takes `preparing` too, as Batch's task counts do. */
  readonly state?: 'active' | 'running' | 'completed';
  readonly result?: 'success' | 'failure';
}

/** A task as Batch shows it: its latest attempt only (Batch keeps no history of earlier ones). */
export interface TaskInfo {
  /** Batch's task id (see `model/task-ids.ts` for the caller's). */
  readonly id: string;
  readonly state: BatchTaskState;
  readonly requiredSlots: number;
  /** Retries Batch made after a nonzero exit code. */
  readonly retryCount: number;
  /** Times Batch put the task back in the queue (node lost, preempted, rebooted): not retries. */
  readonly requeueCount: number;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly lastRetryTime?: string;
  readonly exitCode?: number;
  readonly result?: 'success' | 'failure';
  readonly failure?: { readonly category: string; readonly code: string; readonly message: string };
  readonly nodeId?: string;
}

/** A task that ended, as one page of `listEndedTasks` shows it. */
export interface EndedTaskInfo extends TaskInfo {
  /** When Batch moved the task to `completed` (the task-event watermark). */
  readonly stateTransitionTime: string;
}

export interface EndedTaskPage {
  readonly tasks: readonly EndedTaskInfo[];
  /** More tasks matched than the page holds (Batch gave a next link). */
  readonly truncated: boolean;
}

export interface ChangedTaskPage {
  readonly tasks: readonly EndedTaskInfo[];
  /** Batch's `$skiptoken` for the next page; absent on the last. */
  readonly skipToken?: string;
}

export interface TaskInfoPage {
  readonly tasks: readonly TaskInfo[];
  /** Batch's `$skiptoken` for the next page; absent on the last. A page may be empty and still have one. */
  readonly skipToken?: string;
}

/** A byte range, both ends included. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export interface TaskFileProperties {
  readonly size: number;
  readonly isDirectory: boolean;
  readonly lastModified?: string;
}

/**
 * A Batch job as the account's job list shows it (Jobs_List with `$select`): what the reconcile
 * listing needs to tell a job that moved from one that did not, and whose it is.
 */
export interface ListedJob {
  readonly id: string;
  /** Batch job state: active, disabling, disabled, enabling, terminating, completed, deleting. */
  readonly state: string;
  /** When the job entered `state` (Batch's clock). */
  readonly stateTransitionTime: string;
  readonly terminateReason?: string;
  readonly poolId?: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A task a node ran or runs, as its `recentTasks` show it (Batch `TaskInformation`). */
export interface RecentTask {
  readonly jobId: string;
  readonly taskId: string;
  /** Batch task state now: active, preparing, running, completed. */
  readonly state: string;
  readonly startTime?: string;
  readonly endTime?: string;
}

/** A node and the tasks whose state recently changed on it (Batch `recentTasks`, most recent first). */
export interface NodeActivity {
  readonly id: string;
  readonly state: string;
  readonly recentTasks: readonly RecentTask[];
}

export interface BatchGateway {
  getPool(poolId: string): Promise<PoolInfo | undefined>;
  /** 'exists' when a pool with that id is already there; 'deleting' while one with that id is being deleted. */
  createPool(pool: PoolBody): Promise<'created' | 'exists' | 'deleting'>;
  /**
   * Resizes only a pool whose metadata names this owner. Shrinking removes nodes only once their
   * running tasks complete (`nodeDeallocationOption: taskcompletion`).
   */
  resizePool(
    poolId: string,
    target: { dedicated: number; lowPriority: number },
    owner: PoolOwner,
  ): Promise<GuardedOutcome>;
  /** Nodes of the pool with tasks running on them (state `running`). */
  countBusyNodes(poolId: string): Promise<number>;
  /**
   * Every node of the pool with its state and task counts (one node list, every page; empty when the
   * pool does not exist): what the bad-node rule (`model/node-health.ts`) and the busy count read.
   */
  listNodeHealth(poolId: string): Promise<NodeHealth[]>;
  /**
   * Removes the named nodes (Pools_RemoveNodes, their running tasks requeued) from a pool whose
   * metadata names this owner. 'busy' while the pool is resizing (Batch removes only from a steady
   * pool); 'missing' when the pool or a node is gone.
   */
  removeNodes(poolId: string, nodeIds: readonly string[], owner: PoolOwner): Promise<GuardedOutcome | 'busy'>;
  /**
   * The pool's nodes in state `preempted` (one filtered node list), each with when it was preempted
   * (`stateTransitionTime`) and its `recentTasks`. Empty when the pool does not exist.
   */
  listPreemptedNodes(poolId: string): Promise<PreemptedNode[]>;
  /** Deletes only a pool whose metadata names this owner; a pool already being deleted is 'done'. */
  deletePool(poolId: string, owner: PoolOwner): Promise<GuardedOutcome>;
  createJob(job: JobBody): Promise<'created' | 'exists'>;
  getJob(jobId: string): Promise<BatchJobInfo | undefined>;
  /** PATCH onAllTasksComplete → terminatejob, once every task is in. */
  terminateJobWhenTasksComplete(jobId: string): Promise<void>;
  /**
   * Terminates only a Batch job whose metadata names this owner. Idempotent: a job already
   * terminating or completed counts as terminated.
   */
  terminateJob(jobId: string, reason: string, owner: JobOwner): Promise<GuardedOutcome>;
  addTasks(jobId: string, tasks: readonly TaskBody[]): Promise<AddTasksOutcome>;
  /** undefined when the Batch job does not exist. */
  getTaskCounts(jobId: string): Promise<BatchTaskCounts | undefined>;
  listFailedTasks(jobId: string, limit: number): Promise<FailedTask[]>;
  /** Tasks matching an OData filter, counted from the task list (ids only, every page). */
  countTasks(jobId: string, filter: string): Promise<number>;
  /** Every completed task of the job, page by page, with only the fields `EndedTask` names. */
  forEachEndedTask(jobId: string, each: (task: EndedTask) => void): Promise<void>;
  /** Ids of tasks that failed, or (failedOnly false) that did not succeed (failed or never run). */
  listUnsucceededTasks(jobId: string, options: { failedOnly: boolean }): Promise<string[]>;
  /**
   * One page (at most `maxResults`, possibly none) of the ids of the job's failed tasks, in Batch's
   * list order. `continuation` is the previous page's: one listing can be worked through over many
   * invocations, each task met once, whatever happens to the tasks already passed.
   */
  listFailedTaskPage(
    jobId: string,
    options: { maxResults: number; continuation?: string },
  ): Promise<FailedTaskPage>;
  reactivateTask(jobId: string, taskId: string): Promise<void>;
  /**
   * The job preparation task on every node that ran it (Jobs_ListJobPreparationAndReleaseTaskStatus,
   * every page; Batch lists nodes since removed from the pool too). undefined when the Batch job
   * does not exist; empty when it has no preparation task.
   */
  listPreparationStatus(jobId: string): Promise<readonly NodePreparation[] | undefined>;
  /** Ids of the pool's current nodes. */
  listNodeIds(poolId: string): Promise<string[]>;
  /**
   * One page of the job's tasks (one Batch call): at most `maxResults`, selecting only what `TaskInfo`
   * needs. `skipToken` is a previous page's. undefined when the Batch job does not exist.
   */
  listTaskPage(
    jobId: string,
    options: { filter: TaskFilter; maxResults: number; skipToken?: string },
  ): Promise<TaskInfoPage | undefined>;
  /** One task; undefined when the task or its job does not exist. */
  getTask(jobId: string, taskId: string): Promise<TaskInfo | undefined>;
  /**
   * One page (one Batch call) of the job's tasks whose state changed at or after `since` (every task
   * without it), in any state: how a long-lived job's tasks are followed by listing, not one call per
   * task. undefined when the Batch job does not exist.
   */
  listChangedTasks(
    jobId: string,
    options: { since?: string; maxResults: number; skipToken?: string },
  ): Promise<ChangedTaskPage | undefined>;
  /** Terminates one task (it completes with Batch's `TaskEnded`); 'missing' when it or its job is gone. */
  terminateTask(jobId: string, taskId: string): Promise<'done' | 'missing'>;
  /**
   * One page (one Batch call, at most `maxResults`) of the job's tasks that completed at or after
   * `since` (all of them without it), of one result or both. undefined when the Batch job does not exist.
   */
  listEndedTasks(
    jobId: string,
    options: { since?: string; result?: 'success' | 'failure'; maxResults: number },
  ): Promise<EndedTaskPage | undefined>;
  /**
   * A file of the task's directory on its node (`stdout.txt`, `wd/out.txt`), as Batch serves it while
   * the node keeps it. 'gone' when Batch cannot serve it: no such file, task or job, the task has not
   * run, or its node is no longer there (Batch answers 404 or 409).
   */
  getTaskFileProperties(jobId: string, taskId: string, path: string): Promise<TaskFileProperties | 'gone'>;
  /** The bytes `range` names of that file (Batch `ocp-range`); 'gone' as above. */
  readTaskFile(jobId: string, taskId: string, path: string, range: ByteRange): Promise<Uint8Array | 'gone'>;

  /**
   * Deletes a Batch job only when its metadata names this owner and it has ended (`completed`):
   * 'notEnded' leaves a job still active or terminating alone. A job already being deleted is 'done'.
   */
  deleteEndedJob(jobId: string, owner: JobOwner): Promise<GuardedOutcome | 'notEnded'>;
  /**
   * The account's jobs, a page at a time: each page is one Batch call of at most `maxResults` jobs
   * (Batch fills a page up to `maxresults`; should it answer a short one, a page here spans two
   * calls). With `since`, only jobs whose state changed at or after it (`stateTransitionTime ge`).
   * Selects only what `ListedJob` names. Stop iterating to stop calling.
   */
  listJobPages(options: { since?: string; maxResults: number }): AsyncIterable<readonly ListedJob[]>;
  /**
   * The pool's nodes with their `recentTasks`, a page at a time as `listJobPages` pages (one node
   * list, `$select=id,state,recentTasks`). Nothing when the pool does not exist.
   */
  listNodeActivityPages(
    poolId: string,
    options: { maxResults: number },
  ): AsyncIterable<readonly NodeActivity[]>;
  /** Round trip for health checks. */
  ping(signal?: AbortSignal): Promise<void>;
}
