/**
 * Tasks: creation, dependencies, the job's queues of runnable tasks, and a task's runs on a node
 * (start, finish, retry, requeue) up to its completion, which releases its dependents and may act on
 * its job. User actions on a task (terminate, reactivate, delete) are here too.
 */
import { parseDuration } from './command.js';
import { Deque } from './deque.js';
import { resolveExitOptions, type TaskEnding } from './exit-conditions.js';
import { gateTask } from './job-prep.js';
import { checkAllComplete, disableJob, terminateJob } from './jobs.js';
import type { FailureInfo, JobRec, NodeRec, QueueEntry, TaskRec } from './model.js';
import { failRunOnNode, finishNodeFailure } from './node-faults.js';
import { NODE_ROOT_DIR, taskRootDirectory } from './node-fs.js';
import { rebucket, removeNodeIfDone, settleAllocation } from './pools.js';
import { type RunSpec, startRun, startUploads } from './runs.js';
import { type AccountState, markDirty, newEtag } from './state.js';

/** Tasks a node lists in `recentTasks`. */
const RECENT_TASKS = 20;

export function addTask(s: AccountState, job: JobRec, body: Record<string, unknown>): TaskRec {
  const now = s.clock.now();
  const constraints = (body.constraints ?? {}) as Record<string, unknown>;
  const wall = parseDuration(constraints.maxWallClockTime);
  const id = String(body.id);
  const task: TaskRec = {
    id,
    key: id.toLowerCase(),
    job,
    body,
    state: 'active',
    stateTransitionTime: now,
    creationTime: now,
    etag: newEtag(now),
    lastModified: now,
    requiredSlots: Number(body.requiredSlots ?? 1),
    durationMs: 0,
    exitCode: 0,
    maxRetries:
      constraints.maxTaskRetryCount === undefined
        ? job.maxTaskRetryCount
        : Number(constraints.maxTaskRetryCount),
    ...(wall !== undefined ? { wallClockMs: wall } : {}),
    retryCount: 0,
    requeueCount: 0,
    attempt: 0,
    queueToken: 0,
    inQueue: false,
    unmetDependencies: 0,
    seq: s.taskSeq++,
  };
  job.tasks.set(task.key, task);
  job.counts.active++;
  job.slotCounts.active += task.requiredSlots;
  s.taskCounts.record(job, now);
  registerDependencies(task);
  if (task.unmetDependencies === 0) enqueue(s, task, false);
  // A task that others were already waiting for changes nothing until it completes.
  return task;
}

// ---------------------------------------------------------------- dependencies

function dependencyIds(task: TaskRec): string[] {
  const deps = task.body.dependsOn as
    | { taskIds?: string[]; taskIdRanges?: { start: number; end: number }[] }
    | undefined;
  if (!deps) return [];
  const ids = new Set<string>();
  for (const id of deps.taskIds ?? []) ids.add(String(id).toLowerCase());
  for (const r of deps.taskIdRanges ?? []) for (let n = r.start; n <= r.end; n++) ids.add(String(n));
  return [...ids];
}

function registerDependencies(task: TaskRec): void {
  const job = task.job;
  for (const depKey of dependencyIds(task)) {
    const dep = job.tasks.get(depKey);
    if (dep && dep.state === 'completed' && dep.satisfiesDependents) continue;
    task.unmetDependencies++;
    const list = job.dependents.get(depKey);
    if (list) list.push(task);
    else job.dependents.set(depKey, [task]);
  }
}

function satisfyDependents(s: AccountState, task: TaskRec): void {
  const job = task.job;
  const waiting = job.dependents.get(task.key);
  if (!waiting) return;
  job.dependents.delete(task.key);
  for (const t of waiting) {
    if (t.state !== 'active' || !job.tasks.has(t.key)) continue;
    t.unmetDependencies--;
    if (t.unmetDependencies === 0) enqueue(s, t, false);
  }
}

// ---------------------------------------------------------------- queues and state

export function enqueue(s: AccountState, task: TaskRec, front: boolean): void {
  const job = task.job;
  let q = job.ready.get(task.requiredSlots);
  if (!q) {
    q = new Deque<QueueEntry>();
    job.ready.set(task.requiredSlots, q);
  }
  task.queueToken++;
  task.inQueue = true;
  const entry = { task, token: task.queueToken };
  if (front) q.unshift(entry);
  else q.push(entry);
  job.readyCount++;
  markDirty(s, job.poolKey);
}

export function dequeue(task: TaskRec): void {
  if (!task.inQueue) return;
  task.inQueue = false;
  task.job.readyCount--;
}

export function release(s: AccountState, task: TaskRec): void {
  const node = task.node;
  if (!node) return;
  node.free += task.requiredSlots;
  node.running.delete(task);
  task.node = undefined;
  if (!node.leaving) {
    if (node.running.size === 0 && node.state === 'running') {
      node.state = 'idle';
      node.stateTransitionTime = s.clock.now();
    }
    rebucket(node);
    markDirty(s, node.pool.key);
  } else {
    removeNodeIfDone(node);
    if (node.running.size === 0) settleAllocation(node.pool, s.clock.now());
  }
}

export function moveCounts(
  s: AccountState,
  task: TaskRec,
  from: 'active' | 'running',
  to: keyof JobRec['counts'],
  at: number,
): void {
  const job = task.job;
  job.counts[from]--;
  job.slotCounts[from] -= task.requiredSlots;
  job.counts[to]++;
  job.slotCounts[to] += task.requiredSlots;
  s.taskCounts.record(job, at);
}

export function setTaskState(task: TaskRec, state: TaskRec['state'], at: number): void {
  task.previousState = task.state;
  task.previousStateTransitionTime = task.stateTransitionTime;
  task.state = state;
  task.stateTransitionTime = at;
  task.etag = newEtag(at);
  task.lastModified = at;
}

// ---------------------------------------------------------------- runs

/**
 * Puts a task first in its node's `recentTasks`: Batch lists there "the Tasks whose state has recently
 * changed" on the node (BatchService.json `ComputeNode.recentTasks`, `TaskInformation`), so a start,
 * an end or a requeue on the node moves it to the front.
 */
function noteRecent(node: NodeRec | undefined, task: TaskRec): void {
  if (!node) return;
  node.recent = [task, ...(node.recent ?? []).filter((t) => t !== task)].slice(0, RECENT_TASKS);
}

export function requeueRunning(s: AccountState, task: TaskRec, at: number): void {
  noteRecent(task.node, task);
  release(s, task);
  task.attempt++;
  task.requeueCount++;
  task.lastRequeueTime = at;
  setTaskState(task, 'active', at);
  moveCounts(s, task, 'running', 'active', at);
  enqueue(s, task, true);
}

/** Ends a task: the final result, failure info, dependents, job actions. */
export function completeTask(
  s: AccountState,
  task: TaskRec,
  at: number,
  exitCode: number | undefined,
  failure?: FailureInfo,
  ending: TaskEnding = exitCode === undefined ? { kind: 'ended' } : { kind: 'exitCode', code: exitCode },
): void {
  const job = task.job;
  const from = task.state === 'running' || task.state === 'preparing' ? 'running' : 'active';
  dequeue(task);
  // A run whose files went up has left its slots already: it ends on the node it ran on.
  noteRecent(task.node ?? (from === 'running' ? task.ranOn : undefined), task);
  release(s, task);
  task.attempt++;
  setTaskState(task, 'completed', at);
  task.endTime = at;
  task.shownExitCode = exitCode;
  task.result = failure ? 'failure' : 'success';
  task.failureInfo = failure;
  moveCounts(s, task, from, failure ? 'failed' : 'succeeded', at);
  const options = resolveExitOptions(task.body, ending, failure !== undefined);
  task.satisfiesDependents = options.dependencyAction === 'satisfy';
  if (task.satisfiesDependents) satisfyDependents(s, task);
  if (job.onTaskFailure === 'performexitoptionsjobaction' && job.state === 'active') {
    if (options.jobAction === 'terminate') terminateJob(s, job, 'TaskFailed', at);
    else if (options.jobAction === 'disable') disableJob(s, job, 'requeue');
  }
  checkAllComplete(s, job, at);
}

export function startTask(s: AccountState, task: TaskRec, node: NodeRec, at: number): void {
  node.free -= task.requiredSlots;
  node.running.add(task);
  noteRecent(node, task);
  if (node.state === 'idle') {
    node.state = 'running';
    node.stateTransitionTime = at;
  }
  rebucket(node);
  task.node = node;
  task.lastNode = { poolId: node.pool.id, nodeId: node.id };
  task.ranOn = node;
  task.attempt++;
  task.startTime = at;
  if (task.retryCount > 0) task.lastRetryTime = at;
  moveCounts(s, task, 'active', 'running', at);
  const gate = gateTask(s, task.job, node, at);
  if (gate === 'blocked') {
    // Scheduling skips a node whose preparation failed; should a task land there, it goes back.
    release(s, task);
    task.attempt++;
    moveCounts(s, task, 'running', 'active', at);
    enqueue(s, task, true);
    return;
  }
  setTaskState(task, gate === 'run' ? 'running' : 'preparing', at);
  if (gate === 'run') beginRun(s, task, at);
}

function taskSpec(task: TaskRec, node: NodeRec): RunSpec {
  return {
    kind: 'task',
    node,
    job: task.job,
    dirName: task.id,
    body: task.body,
    statsKey: `${task.job.id}/${task.id}`,
  };
}

/** Whether a run's I/O may still act on the task: same attempt, still running, not deleted. */
function currentRun(s: AccountState, task: TaskRec, attempt: number): () => boolean {
  return () =>
    task.attempt === attempt &&
    task.state === 'running' &&
    task.job.tasks.get(task.key) === task &&
    s.jobs.get(task.job.key) === task.job;
}

/** Runs the task's command on its node (after the job preparation task, when it had to wait). */
export function beginRun(s: AccountState, task: TaskRec, at: number): void {
  const node = task.node;
  if (!node) return;
  if (task.state === 'preparing') {
    task.startTime = at;
    setTaskState(task, 'running', at);
  }
  const attempt = task.attempt;
  if (node.failsTasks) {
    failRunOnNode(s, task, at);
    return;
  }
  task.nodeFailure = undefined;
  startRun(s, taskSpec(task, node), at, currentRun(s, task, attempt), (outcome, known) => {
    let runFor = 0;
    if (outcome.kind === 'preProcessingError') task.runFailure = outcome.failure;
    else {
      task.runFailure = undefined;
      task.durationMs = outcome.durationMs;
      task.exitCode = outcome.exitCode;
      runFor = task.wallClockMs !== undefined ? Math.min(task.durationMs, task.wallClockMs) : task.durationMs;
    }
    // Transfers take no simulated time (runs.ts): the run ends at its simulated end, and no sooner
    // than its downloads are in.
    const end = (task.startTime ?? at) + runFor;
    s.events.push({ at: Math.max(end, known), kind: 'taskDone', task, attempt, endAt: end });
  });
}

export function hasRetriesLeft(task: TaskRec): boolean {
  return task.maxRetries === -1 || task.retryCount < task.maxRetries;
}

/** A failed run that Batch retries: the task goes back to the front of the queue as a new attempt. */
export function retryRun(
  s: AccountState,
  task: TaskRec,
  at: number,
  shownExitCode: number | undefined,
): void {
  noteRecent(task.node, task);
  release(s, task);
  task.attempt++;
  task.retryCount++;
  task.shownExitCode = shownExitCode;
  setTaskState(task, 'active', at);
  moveCounts(s, task, 'running', 'active', at);
  enqueue(s, task, true);
}

export function finishRun(s: AccountState, task: TaskRec, at: number): void {
  // Batch's totalTasksRun: the tasks "completed on the node", each run counted (retries too); a run
  // cut short by a preemption, a requeue or a removal is not. A run whose files go up counts when
  // they are up, with totalTasksSucceeded, so the two never disagree in between.
  const uploads =
    !task.nodeFailure &&
    !task.runFailure &&
    !(task.wallClockMs !== undefined && task.durationMs > task.wallClockMs) &&
    !(task.exitCode !== 0 && (task.maxRetries === -1 || task.retryCount < task.maxRetries));
  if (task.node && !uploads) task.node.totalTasksRun++;
  if (task.nodeFailure) {
    finishNodeFailure(s, task, at);
    return;
  }
  if (task.runFailure) {
    // Not retried: the command never ran, and the same files would fail again.
    completeTask(s, task, at, undefined, task.runFailure, { kind: 'preProcessingError' });
    return;
  }
  const timedOut = task.wallClockMs !== undefined && task.durationMs > task.wallClockMs;
  if (timedOut) {
    completeTask(s, task, at, undefined, {
      category: 'usererror',
      code: 'TaskEnded',
      message: 'Task Was Ended',
      details: [{ name: 'Reason', value: 'MaxWallClockTimeExpiry' }],
    });
    return;
  }
  const code = task.exitCode;
  if (code !== 0 && hasRetriesLeft(task)) {
    retryRun(s, task, at, code);
    return;
  }
  const node = task.node;
  if (!node) return;
  // The output files go up after the last run. Transfers take no simulated time, so the command's
  // slots are free at its simulated end; the task reads `running` until its files are up, and then
  // completes with that end as its endTime.
  const spec = taskSpec(task, node);
  const current = currentRun(s, task, task.attempt);
  release(s, task);
  startUploads(s, spec, code, at, current, (failure) => {
    node.totalTasksRun++;
    if (failure) {
      completeTask(s, task, at, code, failure, { kind: 'fileUploadError', code });
      return;
    }
    if (code === 0) node.totalTasksSucceeded++;
    completeTask(
      s,
      task,
      at,
      code,
      code === 0
        ? undefined
        : {
            category: 'usererror',
            code: 'FailureExitCode',
            message: 'The task exited with an exit code representing a failure',
            details: [{ name: 'Message', value: 'The task process exited with an unexpected exit code' }],
          },
    );
  });
}

// ---------------------------------------------------------------- user actions

export function terminateTask(s: AccountState, task: TaskRec): void {
  if (task.state === 'completed') return;
  completeTask(s, task, s.clock.now(), undefined, {
    category: 'usererror',
    code: 'TaskEnded',
    message: 'Task Was Ended by User Request',
  });
}

export function reactivateTask(s: AccountState, task: TaskRec): void {
  const now = s.clock.now();
  const job = task.job;
  const from = task.result === 'failure' ? 'failed' : 'succeeded';
  job.counts[from]--;
  job.slotCounts[from] -= task.requiredSlots;
  job.counts.active++;
  job.slotCounts.active += task.requiredSlots;
  s.taskCounts.record(job, now);
  setTaskState(task, 'active', now);
  task.retryCount = 0;
  task.result = undefined;
  task.failureInfo = undefined;
  task.shownExitCode = undefined;
  task.endTime = undefined;
  task.satisfiesDependents = undefined;
  enqueue(s, task, false);
}

export function deleteTask(s: AccountState, task: TaskRec): void {
  const job = task.job;
  const bucket =
    task.state === 'completed'
      ? task.result === 'failure'
        ? 'failed'
        : 'succeeded'
      : task.state === 'active'
        ? 'active'
        : 'running';
  dequeue(task);
  release(s, task);
  task.attempt++;
  // Deleting a task deletes its directory on the node.
  task.ranOn?.fs.remove(`${NODE_ROOT_DIR}/${taskRootDirectory(job.id, task.id)}`, s.clock.now());
  job.counts[bucket]--;
  job.slotCounts[bucket] -= task.requiredSlots;
  s.taskCounts.record(job, s.clock.now());
  job.tasks.delete(task.key);
  checkAllComplete(s, job, s.clock.now());
}
