/**
 * The API representation of a task (GET /api/jobs/{id}/tasks and …/tasks/{taskId}), from what Batch
 * shows of it. Batch keeps only a task's latest attempt (`executionInfo`, with retry and requeue
 * counts): earlier attempts are listed by number only.
 */
import type { TaskInfo } from '../adapters/batch/batch-gateway.js';

export interface TaskFailureView {
  readonly category: string;
  readonly code: string;
  readonly message: string;
}

export interface TaskItem {
  /** The caller's task id. */
  readonly id: string;
  readonly state: TaskInfo['state'];
  readonly result?: 'success' | 'failure';
  readonly exitCode?: number;
  readonly failure?: TaskFailureView;
  readonly retryCount: number;
  readonly requeueCount: number;
  readonly nodeId?: string;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly requiredSlots: number;
  readonly links: {
    readonly self: string;
    readonly stdout: string;
    readonly stderr: string;
    readonly outputs: string;
  };
}

export interface TaskAttempt {
  /** 1 for the first run; a retry after a failed run is the next number. */
  readonly attempt: number;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly exitCode?: number;
  readonly result?: 'success' | 'failure';
  readonly failure?: TaskFailureView;
  readonly nodeId?: string;
}

export interface TaskDetail extends TaskItem {
  readonly attempts: readonly TaskAttempt[];
}

/** Earlier attempts listed at most (a task with unlimited retries could have thousands). */
export const MAX_ATTEMPTS_SHOWN = 100;

export function taskLinks(jobId: string, taskId: string, basePath = '/api'): TaskItem['links'] {
  const job = `${basePath}/jobs/${encodeURIComponent(jobId)}`;
  const self = `${job}/tasks/${encodeURIComponent(taskId)}`;
  return {
    self,
    stdout: `${self}/files/stdout.txt`,
    stderr: `${self}/files/stderr.txt`,
    outputs: `${job}/outputs?${new URLSearchParams({ prefix: `${taskId}/` })}`,
  };
}

export function toTaskItem(jobId: string, callerTaskId: string, task: TaskInfo): TaskItem {
  return {
    id: callerTaskId,
    state: task.state,
    ...(task.result ? { result: task.result } : {}),
    ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
    ...(task.failure ? { failure: task.failure } : {}),
    retryCount: task.retryCount,
    requeueCount: task.requeueCount,
    ...(task.nodeId ? { nodeId: task.nodeId } : {}),
    ...(task.startTime ? { startTime: task.startTime } : {}),
    ...(task.endTime ? { endTime: task.endTime } : {}),
    requiredSlots: task.requiredSlots,
    links: taskLinks(jobId, callerTaskId),
  };
}

/**
 * The attempts Batch's one `executionInfo` lets us tell apart. Batch retries a task only after a
 * failed run (a nonzero exit code), so every attempt before the one it describes failed; their times,
 * exit codes and nodes are not kept. The attempt described is the one running or ended
 * (`retryCount + 1`), or, for a task back in the queue waiting for its retry, the failed one
 * (`retryCount`). Requeues (a node lost under a running task) are counted in `requeueCount`, not here.
 */
export function attemptsOf(task: TaskInfo): TaskAttempt[] {
  const ran = task.startTime !== undefined || task.retryCount > 0;
  if (!ran) return [];
  const waitingForRetry = task.state === 'active';
  const latest = waitingForRetry ? task.retryCount : task.retryCount + 1;
  if (latest < 1) return [];
  const first = Math.max(1, latest - MAX_ATTEMPTS_SHOWN + 1);
  const attempts: TaskAttempt[] = [];
  for (let n = first; n < latest; n++) attempts.push({ attempt: n, result: 'failure' });
  attempts.push({
    attempt: latest,
    ...(task.startTime ? { startTime: task.startTime } : {}),
    ...(task.endTime ? { endTime: task.endTime } : {}),
    ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
    ...(task.result ? { result: task.result } : waitingForRetry ? { result: 'failure' as const } : {}),
    ...(task.failure ? { failure: task.failure } : {}),
    ...(task.nodeId ? { nodeId: task.nodeId } : {}),
  });
  return attempts;
}
