/**
 * The job document, as stored in Cosmos DB (container `jobs`, partition key `/tenant`).
 *
 * The document carries its own outbox: every state change appends an event to `events` in the same
 * write that changes `state`, so no event is ever lost between the update and the send. The notifier
 * delivers pending events in `seq` order and records the outcome on the event.
 */

import type { JobBody, PoolBody } from './batch-bodies.js';
import type { JobEfficiency } from './efficiency.js';
import type { JobRequest, TaskEventKind } from './request-schema.js';
import type { FieldError } from './validate-request.js';

export const jobStates = [
  'accepted',
  'planned',
  'submitting',
  'submitted',
  'running',
  'completed',
  'failed',
  'cancelled',
  'rejected',
] as const;

export type JobState = (typeof jobStates)[number];

export interface TaskCounts {
  active: number;
  running: number;
  succeeded: number;
  failed: number;
}

export const zeroTaskCounts: TaskCounts = { active: 0, running: 0, succeeded: 0, failed: 0 };

export interface JobFailure {
  /** Batch's error code, or a Slotwise code such as `TaskFailed`, `BatchJobDeleted`. */
  readonly code: string;
  readonly message: string;
  readonly failedTasks?: readonly FailedTask[];
}

export interface FailedTask {
  readonly taskId: string;
  readonly exitCode?: number;
  readonly failureCode?: string;
  readonly failureMessage?: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'gone' | 'none';

export interface EventDelivery {
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt?: string;
  lastAttemptAt?: string;
  lastStatus?: number;
  lastError?: string;
  deliveredAt?: string;
}

/**
 * A line in the job's history that is not a state change (its `state` is the state the job was in):
 * something done to or seen on the job's pool, such as a node removed because it failed every task.
 */
export interface HistoryNote {
  /** `NodeRemoved` (a managed pool's node taken out), `NodeUnhealthy` (seen on an existing pool, reported only). */
  readonly code: string;
  readonly message: string;
  readonly poolId?: string;
  readonly nodeId?: string;
}

export interface HistoryEntry {
  readonly state: JobState;
  readonly at: string;
  readonly note?: HistoryNote;
}

/** What a node event says of the node (`slotwise.job.node_removed`, `slotwise.job.node_unhealthy`). */
export interface NodeEventDetail {
  readonly poolId: string;
  readonly nodeId: string;
  /** Why: `NodeUnusable`, `NodeStartTaskFailed`, `NodeFailsTasks`. */
  readonly reason: string;
  readonly message: string;
  readonly action: 'removed' | 'reported';
}

/** One task of a task event (`slotwise.task.failed` / `slotwise.task.completed`). */
export interface TaskEventItem {
  /** The caller's task id. */
  readonly id: string;
  readonly exitCode?: number;
  readonly failure?: { readonly category: string; readonly code: string; readonly message: string };
  readonly nodeId?: string;
  readonly endTime?: string;
}

/** A batch of tasks that ended, carried by one task event; `more` ended meanwhile and are not listed. */
export interface TaskEventBatch {
  readonly tasks: readonly TaskEventItem[];
  readonly more: number;
  /** More tasks ended than one read could count: some are neither listed nor in `more`. */
  readonly truncated?: boolean;
}

/** What an event carries besides the job's state and counts (absent on state-change events). */
export interface EventDetail {
  readonly node?: NodeEventDetail;
  readonly taskBatch?: TaskEventBatch;
}

export interface JobEvent {
  readonly seq: number;
  /** Unique event id: the CloudEvents `id` and the `webhook-id`, stable across retries. */
  readonly id: string;
  /** e.g. `slotwise.job.completed`. */
  readonly type: string;
  readonly state: JobState;
  readonly at: string;
  readonly taskCounts: TaskCounts;
  /** Node and task events only: what happened (sent in the event's `data`). */
  detail?: EventDetail;
  delivery: EventDelivery;
}

export interface PlanSummary {
  /** Nodes needed to run every task at once (after packing). */
  readonly nodes: number;
  /** A proven lower bound on that number (the larger of ⌈Σ slots / slots per node⌉ and Martello–Toth L2). */
  readonly lowerBound: number;
  /**
   * The strongest lower bound proven, ≥ `lowerBound`: ⌈Gilmore–Gomory LP bound⌉ over the distinct slot
   * sizes (column generation; Farley's bound if it stopped at its budget). Absent on older plans.
   */
  readonly lpBound?: number;
  /** True when `nodes` equals `lpBound`: no packing of these tasks needs fewer nodes. Absent on older plans. */
  readonly provenOptimal?: boolean;
  readonly taskSlotsPerNode: number;
  readonly vmSize: string;
  /** Nodes the pool is sized to (nodes capped by maxNodes). */
  readonly poolNodes: number;
  /** How many rounds the tasks need when the pool is capped below `nodes`. */
  readonly waves: number;
  readonly tasks: number;
  readonly totalSlots: number;
  readonly chunks: number;
  /** Where application packages were placed, and why. */
  readonly applicationPackages: { readonly placement: 'pool' | 'task' | 'none'; readonly reason: string };
  /** Container images prefetched by the pool. */
  readonly containerImages: readonly string[];
  readonly nodeFillType: 'pack';
  /** Tasks by the slots each needs, `[slots, tasks]` ascending: what the pool controller packs. */
  readonly slotHistogram?: readonly (readonly [number, number])[];
  /** The job's cap on nodes of a managed pool (its `maxNodes`, default 20). */
  readonly maxNodes?: number;
  /** Present when the job's preparation downloads resource files: how often that data is copied. */
  readonly sharedData?: SharedDataCopies;
}

/**
 * The copies of the job preparation's resource files the plan implies: one per node that runs the
 * job's tasks (at most the pool's nodes, at most one per task), against one per task had every task
 * listed them itself. Fewer nodes, fewer copies: the packing is what saves the transfer.
 */
export interface SharedDataCopies {
  readonly resourceFiles: number;
  readonly preparationCopies: number;
  readonly perTaskCopies: number;
}

/**
 * Why the job waits. Batch cannot allocate the pool's nodes (capacity, timeouts): the job fails
 * with this reason at `failAt` unless the pool recovers. Without `failAt` the job waits and never
 * fails for it: the account's core quota is used up (`AccountCoreQuotaReached`, …: cores come back as
 * other pools shrink), the Batch account has no room for another job or pool
 * (`ActiveJobAndScheduleQuotaReached`, `PoolQuotaReached`), the tenant holds all the managed pools it
 * may (`ManagedPoolLimitReached`), or the pool waits for nodes other pools of the tenant hold under
 * its node limit (`TenantNodeLimit`, with the numbers in the message).
 */
export interface WaitingReason {
  readonly code: string;
  readonly message: string;
  readonly since: string;
  readonly failAt?: string;
}

export interface BatchRefs {
  /** The Batch account the job runs in (absent on jobs from before several accounts: the primary). */
  readonly account?: string;
  /** Why the job went to that account (docs/accounts.md, "Routing"). */
  readonly accountReason?: string;
  readonly poolId: string;
  readonly jobId: string;
  /** True when Slotwise created (and manages) the pool. */
  readonly managedPool: boolean;
  /**
   * Present when the Batch job has a preparation task: reconcile then reads its status per node
   * (read from this projected field, so the pass needs no stored request).
   */
  readonly jobPreparation?: { readonly waitForSuccess: boolean };
}

/** The job preparation task on one node, as Batch last reported it. */
export interface NodePreparation {
  readonly nodeId: string;
  readonly state: 'running' | 'completed';
  readonly result?: 'success' | 'failure';
  readonly exitCode?: number;
  readonly retryCount?: number;
  /** Batch's failureInfo (a non-zero exit, or a resource file that could not be downloaded). */
  readonly failure?: { readonly category: string; readonly code: string; readonly message: string };
}

/**
 * The job preparation task across the nodes that ran it: counts over every node, and at most
 * MAX_PREPARATION_NODES nodes named (failed first, then running, then succeeded).
 */
export interface PreparationStatus {
  readonly succeeded: number;
  readonly failed: number;
  readonly running: number;
  readonly nodes: readonly NodePreparation[];
}

export const MAX_PREPARATION_NODES = 100;

/** The waiting reason (and failure code) of a job whose preparation failed. */
export const PREPARATION_FAILED_CODE = 'JobPreparationFailed';

export interface Lease {
  readonly owner: string;
  readonly until: string;
}

export interface SubmissionProgress {
  chunksTotal: number;
  chunksAdded: number;
  tasksAdded: number;
  lease?: Lease;
  attempts: number;
  lastError?: string;
  /** Since when every try met a Batch authentication error (cleared by any other outcome). */
  authFailingSince?: string;
}

/** The plan stage's claim and attempt count: planning gives up (the job fails) after a bounded number. */
export interface PlanningProgress {
  attempts: number;
  lease?: Lease;
  lastError?: string;
  /** A failed attempt's retry is queued for this time; the sweep leaves the job alone until then. */
  retryAt?: string;
  /** Times the job waited for room under the tenant's `maxManagedPools` (waits are not attempts). */
  waits?: number;
}

/** A range of chunk indexes, `to` exclusive. */
export interface ChunkRange {
  readonly from: number;
  readonly to: number;
}

/**
 * A retry asked for over HTTP and done in the background by the retry stage. The request id makes
 * the work happen once: a redelivered message for a finished request does nothing.
 */
export interface RetryRequest {
  readonly requestId: string;
  /** The attempt a resubmission becomes (its Batch job id is derived from it). */
  readonly attempt: number;
  readonly requestedAt: string;
  status: 'queued' | 'working' | 'done' | 'nothing';
  mode?: 'reactivated' | 'resubmitted';
  /** Tasks reactivated or written for resubmission so far. */
  tasks: number;
  /** Why there was nothing to retry. */
  reason?: string;
  lease?: Lease;
  /**
   * Which retry of the job this is (1-based): the cap `maxRetriesPerJob` counts them. A request that
   * found nothing to retry does not use up a number. Absent on requests stored before the cap.
   */
  readonly number?: number;
  /**
   * Reactivation works through the failed tasks in one pass over Batch's task list: this is the
   * list's continuation (its `odata.nextLink`) after the last page done; absent before the first.
   * Tasks that fail again after being reactivated are behind it, so this request never retries them.
   */
  cursor?: string;
  /** The chunks holding the current attempt's tasks: what a resubmission reads. */
  readonly source: ChunkRange;
  /** Resubmission progress: next source chunk to read, and the chunks written so far. */
  sourceNext?: number;
  output?: ChunkRange;
  finishedAt?: string;
}

export interface ToleratedFailures {
  readonly count: number;
  /** The first few. */
  readonly tasks: readonly { readonly taskId: string; readonly exitCode?: number }[];
}

/**
 * Task events a job asked for (`callback.taskEvents`), and how far they have been reported. The
 * reconcile pass reads tasks that ended from `watermark` on (Batch's `stateTransitionTime` of a
 * completed task), leaving out the `atWatermark` ids already reported at that very instant.
 */
export interface TaskEventsState {
  readonly kinds: readonly TaskEventKind[];
  readonly watermark?: string;
  readonly atWatermark?: readonly string[];
  /** When the last task event was added: the next waits `TASK_EVENT_INTERVAL_MS` (task-events.ts). */
  readonly lastEventAt?: string;
  /** Tasks Batch counted as ended (of the kinds asked for) at the last look: no change, no Batch call. */
  readonly ended?: number;
}

export interface JobDoc {
  /** Document id: `job:<lowercased job id>` (job ids are unique ignoring case, as in Batch). */
  id: string;
  type: 'job';
  tenant: string;
  /** The job id as the caller wrote it. */
  jobId: string;
  state: JobState;
  createdAt: string;
  updatedAt: string;
  /** `createdAt|jobId`: one string to order and page by, newest first. */
  sortKey: string;
  /** SHA-256 of the canonical request: same id + same body is a replay, a different body a conflict. */
  requestHash: string;
  request: JobRequest | null;
  /** For rejected requests: every problem found. */
  errors?: readonly FieldError[];
  failure?: JobFailure;
  plan?: PlanSummary;
  batch?: BatchRefs;
  /** The Batch bodies the submitter sends (the pool only when Slotwise manages it). */
  batchBodies?: { readonly pool?: PoolBody; readonly job: JobBody };
  submission?: SubmissionProgress;
  planning?: PlanningProgress;
  /** Present while the job's pool cannot allocate nodes. */
  waiting?: WaitingReason;
  /** The job preparation task's status per node (jobs with a `jobPreparation`), from reconcile. */
  preparation?: PreparationStatus;
  /** Present when the callback asked for task events. */
  taskEvents?: TaskEventsState;
  /**
   * Times a task of the job was put back in the queue because its low-priority (Spot) node was
   * preempted, as the pool controller saw it (pipeline/preemptions.ts). Absent until the first.
   */
  preemptions?: number;
  retry?: RetryRequest;
  taskCounts: TaskCounts;
  /** W3C trace context of the trace the job began in (shared/adapters/telemetry); absent without telemetry. */
  traceparent?: string;
  history: HistoryEntry[];
  events: JobEvent[];
  notifyLease?: Lease;
  /** When the receiver answered 410 Gone: no event of this job is delivered after it. */
  callbackGoneAt?: string;
  /** SHA-256 of the per-job token tasks use to report back. */
  callbackTokenHash?: string;
  /** Measured once when Batch ended the job (see efficiency.ts). */
  efficiency?: JobEfficiency;
  /** Failed tasks that did not fail the job: their exit options say `jobAction: none` (see exit-conditions.ts). */
  toleratedFailures?: ToleratedFailures;
  /** Set when the job reached an end state: the reconcile timer stops looking at it. */
  endedAt?: string;
  /**
   * Present on a lane: a long-lived job that GA4GH TES tasks are added to over time (one per tenant
   * and pool spec, see model/tes-task.ts), so the Batch job count stays small whatever the task count.
   * Its plan's `tasks` and `slotHistogram` are the lane's unfinished TES tasks (kept by the TES
   * stages), which is what the pool controller sizes the pool by.
   */
  lane?: LaneInfo;
  _etag?: string;
}

export interface LaneInfo {
  readonly kind: 'tes';
  /** The placement's lane key (`TesPlacement.laneKey`). */
  readonly key: string;
  /** Set when the lane stopped taking tasks (idle too long, or its Batch job ended). */
  readonly closedAt?: string;
  /** Batch's `stateTransitionTime` of the newest task change read: the next pass lists from here. */
  readonly watermark?: string;
}

export function jobDocId(jobId: string): string {
  return `job:${jobId.toLowerCase()}`;
}
