/** The emulated account's records. Keys (`key`) are lowercase ids: Batch ids are case-insensitive. */
import type { Deque } from './deque.js';
import type { NodeFs } from './node-fs.js';

export type PoolState = 'active' | 'deleting';
export type AllocationState = 'steady' | 'resizing' | 'stopping';
/**
 * `unusable` and `starttaskfailed` are Batch's states for a broken node: it takes no tasks.
 * `waitingforstarttask`: its start task runs with waitForSuccess; it takes tasks once that succeeds.
 */
export type NodeState =
  | 'starting'
  | 'waitingforstarttask'
  | 'idle'
  | 'running'
  | 'leavingpool'
  | 'preempted'
  | 'unusable'
  | 'starttaskfailed';
export type JobState =
  | 'active'
  | 'disabling'
  | 'disabled'
  | 'enabling'
  | 'terminating'
  | 'completed'
  | 'deleting';
export type TaskState = 'active' | 'preparing' | 'running' | 'completed';
export type DeallocationOption = 'requeue' | 'terminate' | 'taskcompletion' | 'retaineddata';

export interface NameValue {
  name: string;
  value: string;
}

export interface FailureInfo {
  category: 'usererror' | 'servererror';
  code: string;
  message: string;
  details?: NameValue[];
}

export interface NodeRec {
  readonly id: string;
  readonly pool: PoolRec;
  readonly lowPriority: boolean;
  state: NodeState;
  stateTransitionTime: number;
  readonly allocationTime: number;
  /** Free task slots. */
  free: number;
  readonly running: Set<TaskRec>;
  /** Chosen for removal by a shrink or a pool delete: takes no new tasks. */
  leaving: boolean;
  /** Index into the pool's free-slot buckets, or -1 while the node takes no tasks. */
  bucket: number;
  totalTasksRun: number;
  totalTasksSucceeded: number;
  /** Bumped when a low-priority node is preempted or comes back; stale node events are ignored. */
  incarnation: number;
  /** The node's disk; a new, empty one when a preemption takes the VM away. */
  fs: NodeFs;
  /** Scripted (`/_emulator/pools/{id}/bad-node`): every task run on the node fails before its command starts. */
  failsTasks?: boolean;
  /** The last tasks started on the node, most recent first (its `recentTasks`); kept through a preemption. */
  recent?: TaskRec[];
  /** The pool's start task as it ran on this incarnation of the node (its `startTask`, `startTaskInfo`). */
  startTaskRun?: StartTaskRun;
}

/** One node's start task: the body it ran with (a later pool update does not change it) and its runs. */
export interface StartTaskRun extends SideRun {
  readonly body: Record<string, unknown>;
  readonly waitForSuccess: boolean;
  /** The node incarnation it ran on: a node that comes back from a preemption runs it afresh. */
  readonly incarnation: number;
  /** Scripted (`/_emulator/pools/{id}/start-task-failures`): every attempt exits 1. */
  readonly scriptedFailure: boolean;
}

/** The last resize asked of a pool, for ARM's `resizeOperationStatus`. */
export interface ResizeOperation {
  readonly targetDedicatedNodes: number;
  readonly targetLowPriorityNodes: number;
  readonly resizeTimeout: string;
  readonly nodeDeallocationOption: DeallocationOption;
  readonly startTime: number;
}

export interface PoolRec {
  readonly id: string;
  readonly key: string;
  body: Record<string, unknown>;
  readonly creationTime: number;
  state: PoolState;
  stateTransitionTime: number;
  allocationState: AllocationState;
  allocationStateTransitionTime: number;
  targetDedicated: number;
  targetLowPriority: number;
  resizeTimeout: string;
  /** The shape fields change only while the pool has no nodes (a pool update on an empty pool). */
  vmSize: string;
  slots: number;
  fill: 'pack' | 'spread';
  containers: boolean;
  autoScale: boolean;
  readonly nodes: Map<string, NodeRec>;
  /** byFree[k] = nodes that take tasks and have exactly k free slots. */
  readonly byFree: Set<NodeRec>[];
  etag: string;
  lastModified: number;
  resizeErrors: { code: string; message: string; values?: NameValue[] }[];
  /** Bumped by every resize decision; stale allocation events are ignored. */
  allocVersion: number;
  /** A resize whose allocation event has not fired yet. */
  awaitingAllocation: boolean;
  /** Simulated time at which the current resize runs out of its resizeTimeout. */
  resizeDeadline: number;
  /** Simulated time at which the current resize's nodes would be allocated (may exceed the deadline). */
  allocationDue: number;
  nodeSeq: number;
  failNextAllocation?: { code: string; message: string };
  /** The last resize asked (creation included). */
  resizeOperation?: ResizeOperation;
  /** Scripted: how many of the next nodes to run the start task fail it. */
  startTaskFailures?: number;
}

export interface Counts {
  active: number;
  running: number;
  succeeded: number;
  failed: number;
}

export interface JobRec {
  readonly id: string;
  readonly key: string;
  body: Record<string, unknown>;
  state: JobState;
  previousState?: JobState;
  previousStateTransitionTime?: number;
  stateTransitionTime: number;
  readonly creationTime: number;
  etag: string;
  lastModified: number;
  readonly poolId: string;
  readonly poolKey: string;
  priority: number;
  onAllTasksComplete: 'noaction' | 'terminatejob';
  onTaskFailure: 'noaction' | 'performexitoptionsjobaction';
  readonly usesTaskDependencies: boolean;
  maxTaskRetryCount: number;
  maxWallClockTime?: string;
  terminateReason?: string;
  endTime?: number;
  readonly tasks: Map<string, TaskRec>;
  /** Runnable tasks by requiredSlots, each FIFO. */
  readonly ready: Map<number, Deque<QueueEntry>>;
  readyCount: number;
  /** Waiting dependents by the lowercase id they wait for. */
  readonly dependents: Map<string, TaskRec[]>;
  readonly counts: Counts;
  readonly slotCounts: Counts;
  readonly seq: number;
  wallClockVersion: number;
  /** Job preparation and release runs, when the job has a preparation task. */
  readonly prep?: JobPrepState;
}

/** One run of a job preparation or release task on a node (Jobs_ListJobPreparationAndReleaseTaskStatus). */
export interface SideRun {
  state: 'running' | 'completed';
  startTime: number;
  endTime?: number;
  exitCode?: number;
  failureInfo?: FailureInfo;
  result?: 'success' | 'failure';
  retryCount: number;
  lastRetryTime?: number;
  /** Bumped by every (re)start and by a preemption; stale completions are ignored. */
  attempt: number;
}

export interface PrepExec extends SideRun {
  readonly node: NodeRec;
  /** The node incarnation the preparation ran on: a preempted node runs it again. */
  incarnation: number;
  release?: SideRun;
}

export interface JobPrepState {
  readonly runs: Map<NodeRec, PrepExec>;
  /** Nodes whose preparation failed (with waitForSuccess): no task of the job runs there. */
  readonly blocked: Set<NodeRec>;
  /** Release runs not finished yet; the job completes when none is left. */
  pendingReleases: number;
}

export interface QueueEntry {
  readonly task: TaskRec;
  readonly token: number;
}

export interface TaskRec {
  readonly id: string;
  readonly key: string;
  readonly job: JobRec;
  body: Record<string, unknown>;
  state: TaskState;
  previousState?: TaskState;
  previousStateTransitionTime?: number;
  stateTransitionTime: number;
  readonly creationTime: number;
  etag: string;
  lastModified: number;
  readonly requiredSlots: number;
  /** The current run's simulated duration and exit code, known once its command ran. */
  durationMs: number;
  exitCode: number;
  maxRetries: number;
  wallClockMs?: number;
  retryCount: number;
  requeueCount: number;
  lastRetryTime?: number;
  lastRequeueTime?: number;
  startTime?: number;
  endTime?: number;
  result?: 'success' | 'failure';
  shownExitCode?: number;
  failureInfo?: FailureInfo;
  node?: NodeRec;
  /** Where it last ran (kept after completion for nodeInfo). */
  lastNode?: { poolId: string; nodeId: string };
  /** The node it last ran on, for its files (gone when the node leaves its pool). */
  ranOn?: NodeRec;
  /** The current run's pre-processing error (a resource file that could not be fetched). */
  runFailure?: FailureInfo;
  /** The current run failed for its node's sake (a scripted bad node): retried like a non-zero exit. */
  nodeFailure?: FailureInfo;

  /** Bumped whenever the task starts or stops running; stale completion events are ignored. */
  attempt: number;
  queueToken: number;
  inQueue: boolean;
  unmetDependencies: number;
  /** Set when completed: whether its dependents may run. */
  satisfiesDependents?: boolean;
  readonly seq: number;
}

export interface ApplicationRec {
  id: string;
  displayName: string;
  versions: string[];
  defaultVersion?: string;
}
