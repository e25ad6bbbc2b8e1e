/**
 * GA4GH TES 1.1 tasks as Slotwise keeps them (container `tes-tasks`, partition key `/tenant`).
 *
 * The wire types below are the spec's (ga4gh/task-execution-schemas @ v1.1,
 * `openapi/task_execution_service.openapi.yaml`), field names exactly as on the wire. Only these
 * fields ever leave Slotwise: clients such as py-tes refuse any other (see `tes-views.ts`).
 *
 * A TES task runs as one Batch task in a long-lived Batch job (a "lane": one per tenant and pool
 * spec, a job document with `lane` set), so the number of Batch jobs stays small whatever the number
 * of TES tasks. The document is the projection every read is served from: no read calls Batch.
 */

export const TES_STATES = [
  'UNKNOWN',
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'PAUSED',
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'PREEMPTED',
  'CANCELING',
] as const;

export type TesState = (typeof TES_STATES)[number];

/** States a task never leaves. */
export const TES_FINAL_STATES: ReadonlySet<TesState> = new Set([
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'PREEMPTED',
]);

export function isFinalTesState(state: TesState): boolean {
  return TES_FINAL_STATES.has(state);
}

export type TesFileType = 'FILE' | 'DIRECTORY';

export interface TesInput {
  readonly name?: string;
  readonly description?: string;
  /** Absent only when `content` is set. */
  readonly url?: string;
  /** Absolute path inside the executors' containers. */
  readonly path: string;
  readonly type: TesFileType;
  readonly content?: string;
  readonly streamable?: boolean;
}

export interface TesOutput {
  readonly name?: string;
  readonly description?: string;
  readonly url: string;
  /** Absolute container path; may hold POSIX wildcards (then `path_prefix` is required). */
  readonly path: string;
  readonly path_prefix?: string;
  readonly type: TesFileType;
}

export interface TesResources {
  readonly cpu_cores?: number;
  readonly preemptible?: boolean;
  readonly ram_gb?: number;
  readonly disk_gb?: number;
  readonly zones?: readonly string[];
  /** Only the keys Slotwise supports, lower-cased (the spec: unsupported keys are never stored or returned). */
  readonly backend_parameters?: Readonly<Record<string, string>>;
  readonly backend_parameters_strict?: boolean;
}

export interface TesExecutor {
  readonly image: string;
  readonly command: readonly string[];
  readonly workdir?: string;
  readonly stdin?: string;
  readonly stdout?: string;
  readonly stderr?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly ignore_error?: boolean;
}

export interface TesExecutorLog {
  readonly start_time?: string;
  readonly end_time?: string;
  /** A tail of the executor's stdout (see docs/tes.md for how much). */
  readonly stdout?: string;
  readonly stderr?: string;
  readonly exit_code: number;
}

export interface TesOutputFileLog {
  readonly url: string;
  readonly path: string;
  /** int64 as a string, as the spec says ("official JSON doesn't support int64"). */
  readonly size_bytes: string;
}

export interface TesTaskLog {
  readonly logs: readonly TesExecutorLog[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly start_time?: string;
  readonly end_time?: string;
  readonly outputs: readonly TesOutputFileLog[];
  readonly system_logs?: readonly string[];
}

/** What a client may send in `POST /tasks` (read-only fields dropped), after validation. */
export interface TesTaskRequest {
  readonly name?: string;
  readonly description?: string;
  readonly inputs: readonly TesInput[];
  readonly outputs: readonly TesOutput[];
  readonly resources?: TesResources;
  readonly executors: readonly TesExecutor[];
  readonly volumes: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Where the task runs: the pool spec (VM size, slots per node, node kind) that picks its lane, and
 * the slots it takes there.
 */
export interface TesPlacement {
  /** Stable hash of the tenant and the pool spec: tasks with the same key share a lane. */
  readonly laneKey: string;
  readonly vmSize: string;
  readonly taskSlotsPerNode: number;
  readonly requiredSlots: number;
  readonly lowPriority: boolean;
  /** The lane pool's cap on nodes. */
  readonly maxNodes: number;
}

/** The lane a task was added to (set when the submitter added it to Batch). */
export interface TesLaneRef {
  /** The lane's job document id (`GET /api/jobs/{id}` shows it). */
  readonly jobId: string;
  readonly batchJobId: string;
  readonly poolId: string;
  /** The lane's Batch account (absent: the primary account). */
  readonly account?: string;
  readonly submittedAt: string;
}

export interface TesTaskDoc {
  /** The TES id (also the Batch task id). */
  readonly id: string;
  readonly tenant: string;
  readonly type: 'tes-task';
  readonly state: TesState;
  /** RFC 3339. */
  readonly creationTime: string;
  readonly updatedAt: string;
  /** `creationTime|id`: one string to order and page by, newest first (`GET /tasks`). */
  readonly sortKey: string;
  /** `request.name`, kept on top for the `name_prefix` filter (the request is not indexed). */
  readonly name?: string;
  readonly request: TesTaskRequest;
  /** Query helpers for `tag_key`/`tag_value` filters: every key, and every `JSON.stringify([key, value])`. */
  readonly tagKeys: readonly string[];
  readonly tagPairs: readonly string[];
  readonly placement: TesPlacement;
  readonly lane?: TesLaneRef;
  readonly cancelRequestedAt?: string;
  /** One per attempt, in the spec's shape (FULL-only fields are stripped by the view). */
  readonly logs: readonly TesTaskLog[];
  /** Lines about the task as a whole (warnings at creation, why it failed), shown in FULL. */
  readonly systemLogs: readonly string[];
  /** Set once the task reached a final state. */
  readonly endedAt?: string;
  /** What Batch last showed of the task (the reconcile pass's memory). */
  readonly batch?: {
    readonly state: string;
    readonly stateTransitionTime?: string;
    /** When the attempt Batch last showed started: another start time is another attempt. */
    readonly startTime?: string;
    readonly retryCount: number;
    readonly requeueCount: number;
  };
  readonly _etag?: string;
}
