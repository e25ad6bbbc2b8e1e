/**
 * What the pipeline needs from Azure Batch, and nothing more. The adapter over the REST client lives
 * in `batch-gateway-rest.ts`; keeping the port narrow keeps the stages readable and their tests honest.
 */

import type { JobBody, PoolBody, TaskBody } from '../../model/batch-bodies.js';
import type { JobOwner, PoolOwner } from '../../model/batch-names.js';
import type { FailedTask } from '../../model/job.js';

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
   * Deletes a Batch job only when its metadata names this owner and it has ended (`completed`):
   * 'notEnded' leaves a job still active or terminating alone. A job already being deleted is 'done'.
   */
  deleteEndedJob(jobId: string, owner: JobOwner): Promise<GuardedOutcome | 'notEnded'>;
  /** Round trip for health checks. */
  ping(signal?: AbortSignal): Promise<void>;
}
