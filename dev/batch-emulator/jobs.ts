/**
 * Jobs: creation (within the active-job quota), their state machine (terminate, disable, enable,
 * delete, each settling after a simulated moment), the job wall clock, priority, and ending the job
 * when all its tasks complete.
 */
import { parseDuration } from './command.js';
import { errors } from './errors.js';
import { newPrepState, startReleases } from './job-prep.js';
import type { JobRec, JobState } from './model.js';
import { NODE_ROOT_DIR } from './node-fs.js';
import { type AccountState, markDirty, ms, newEtag } from './state.js';
import { completeTask, release, requeueRunning } from './tasks.js';

const ACTIVE_JOB_STATES: ReadonlySet<JobState> = new Set([
  'active',
  'disabling',
  'disabled',
  'enabling',
  'terminating',
]);

function jobsOf(s: AccountState, poolKey: string): Set<JobRec> {
  let set = s.jobsByPool.get(poolKey);
  if (!set) {
    set = new Set();
    s.jobsByPool.set(poolKey, set);
  }
  return set;
}

export function addJob(s: AccountState, body: Record<string, unknown>, poolId: string): JobRec {
  if (s.activeJobs >= s.quotas.activeJobs) {
    throw errors.conflict(
      'ActiveJobAndScheduleQuotaReached',
      'The specified account has reached its quota of active jobs and job schedules.',
    );
  }
  const now = s.clock.now();
  const constraints = (body.constraints ?? {}) as Record<string, unknown>;
  const id = String(body.id);
  const job: JobRec = {
    id,
    key: id.toLowerCase(),
    body,
    state: 'active',
    stateTransitionTime: now,
    creationTime: now,
    etag: newEtag(now),
    lastModified: now,
    poolId,
    poolKey: poolId.toLowerCase(),
    priority: Number(body.priority ?? 0),
    onAllTasksComplete: String(
      body.onAllTasksComplete ?? 'noaction',
    ).toLowerCase() as JobRec['onAllTasksComplete'],
    onTaskFailure: String(body.onTaskFailure ?? 'noaction').toLowerCase() as JobRec['onTaskFailure'],
    usesTaskDependencies: body.usesTaskDependencies === true,
    maxTaskRetryCount: Number(constraints.maxTaskRetryCount ?? 0),
    ...(typeof constraints.maxWallClockTime === 'string'
      ? { maxWallClockTime: constraints.maxWallClockTime }
      : {}),
    tasks: new Map(),
    ready: new Map(),
    readyCount: 0,
    dependents: new Map(),
    counts: { active: 0, running: 0, succeeded: 0, failed: 0 },
    slotCounts: { active: 0, running: 0, succeeded: 0, failed: 0 },
    seq: s.jobSeq++,
    wallClockVersion: 0,
    ...(body.jobPreparationTask ? { prep: newPrepState(body) } : {}),
  };
  s.jobs.set(job.key, job);
  jobsOf(s, job.poolKey).add(job);
  s.activeJobs++;
  s.taskCounts.jobCreated(job, now);
  armJobWallClock(s, job);
  checkAllComplete(s, job, now);
  return job;
}

export function armJobWallClock(s: AccountState, job: JobRec): void {
  job.wallClockVersion++;
  const wall = parseDuration(job.maxWallClockTime);
  if (wall !== undefined)
    s.events.push({
      at: job.creationTime + wall,
      kind: 'jobWallClock',
      job,
      version: job.wallClockVersion,
    });
}

export function touchJob(s: AccountState, job: JobRec, at = s.clock.now()): void {
  job.etag = newEtag(at);
  job.lastModified = at;
}

export function setJobState(s: AccountState, job: JobRec, state: JobState, at: number): void {
  const wasActive = ACTIVE_JOB_STATES.has(job.state);
  job.previousState = job.state;
  job.previousStateTransitionTime = job.stateTransitionTime;
  job.state = state;
  job.stateTransitionTime = at;
  touchJob(s, job, at);
  s.activeJobs += (ACTIVE_JOB_STATES.has(state) ? 1 : 0) - (wasActive ? 1 : 0);
  // A completed job never runs tasks again: keep the pool's scheduling pass to live jobs.
  if (state === 'completed') s.jobsByPool.get(job.poolKey)?.delete(job);
}

export function setJobPriority(s: AccountState, job: JobRec, priority: number): void {
  job.priority = priority;
  markDirty(s, job.poolKey);
}

export function terminateJob(s: AccountState, job: JobRec, reason: string, at = s.clock.now()): void {
  if (!ACTIVE_JOB_STATES.has(job.state) || job.state === 'terminating') return;
  setJobState(s, job, 'terminating', at);
  job.terminateReason = reason;
  for (const task of job.tasks.values()) {
    if (task.state === 'running' || task.state === 'preparing')
      completeTask(s, task, at, undefined, {
        category: 'usererror',
        code: 'TaskEnded',
        message: 'Task Was Ended by User Request',
        details: [{ name: 'Reason', value: `The job was terminated (${reason}).` }],
      });
  }
  // The job completes once its release tasks have run on the nodes it prepared.
  if (startReleases(s, job, at)) return;
  s.events.push({
    at: at + ms(s.timings.transitionSeconds),
    kind: 'jobSettle',
    job,
    from: 'terminating',
    to: 'completed',
  });
}

/** Deleting a job deletes its files on the nodes of its pool. */
function removeJobFiles(s: AccountState, job: JobRec): void {
  const pool = s.pools.get(job.poolKey);
  if (!pool) return;
  const now = s.clock.now();
  for (const node of pool.nodes.values()) node.fs.remove(`${NODE_ROOT_DIR}/workitems/${job.id}`, now);
}

export function deleteJob(s: AccountState, job: JobRec): void {
  if (job.state === 'deleting') return;
  const now = s.clock.now();
  for (const task of job.tasks.values()) if (task.node) release(s, task);
  removeJobFiles(s, job);
  setJobState(s, job, 'deleting', now);
  s.jobsByPool.get(job.poolKey)?.delete(job);
  s.events.push({ at: now + ms(s.timings.deleteSeconds), kind: 'jobGone', job });
}

/** Gone at once, as if deleted out of band (portal, another client). */
export function removeJobNow(s: AccountState, job: JobRec): void {
  for (const task of job.tasks.values()) if (task.node) release(s, task);
  removeJobFiles(s, job);
  if (ACTIVE_JOB_STATES.has(job.state)) s.activeJobs--;
  job.state = 'deleting';
  s.jobsByPool.get(job.poolKey)?.delete(job);
  s.jobs.delete(job.key);
}

export function disableJob(
  s: AccountState,
  job: JobRec,
  disableTasks: 'requeue' | 'terminate' | 'wait',
): void {
  const now = s.clock.now();
  setJobState(s, job, 'disabling', now);
  for (const task of job.tasks.values()) {
    if (task.state !== 'running' && task.state !== 'preparing') continue;
    if (disableTasks === 'requeue') requeueRunning(s, task, now);
    else if (disableTasks === 'terminate')
      completeTask(s, task, now, undefined, {
        category: 'usererror',
        code: 'TaskEnded',
        message: 'Task Was Ended by User Request',
      });
  }
  s.events.push({
    at: now + ms(s.timings.transitionSeconds),
    kind: 'jobSettle',
    job,
    from: 'disabling',
    to: 'disabled',
  });
}

export function enableJob(s: AccountState, job: JobRec): void {
  const now = s.clock.now();
  setJobState(s, job, 'enabling', now);
  s.events.push({
    at: now + ms(s.timings.transitionSeconds),
    kind: 'jobSettle',
    job,
    from: 'enabling',
    to: 'active',
  });
}

export function checkAllComplete(s: AccountState, job: JobRec, at: number): void {
  if (job.state !== 'active' || job.onAllTasksComplete !== 'terminatejob') return;
  if (job.counts.active === 0 && job.counts.running === 0) terminateJob(s, job, 'AllTasksComplete', at);
}
