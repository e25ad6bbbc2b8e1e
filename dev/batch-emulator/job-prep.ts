/**
 * Job preparation and release tasks, as the spec's BatchJobPreparationTask and BatchJobReleaseTask
 * describe them:
 *
 * - The preparation task runs on a node before the first task of its job there, once per node (again
 *   after the node lost its disk to a preemption). With `waitForSuccess` (default true) the job's
 *   tasks on that node wait in `preparing`; if it fails (a non-zero exit after
 *   `constraints.maxTaskRetryCount` retries, default 0, or a pre-processing error, never retried) no
 *   task of the job is scheduled on that node again, and the waiting ones go back to the queue for
 *   other nodes. Without `waitForSuccess`, tasks run alongside it and keep running whatever it does.
 * - The release task runs when the job ends (terminate, wall clock, all tasks complete, a task
 *   failure's job action) on every node where the preparation task ran and completed, in the
 *   background (no slot), at most `maxWallClockTime` (default and limit 15 minutes). The job stays
 *   `terminating` until every release run completed.
 */
import { parseDuration } from './command.js';
import type { JobPrepState, JobRec, NodeRec, PrepExec, SideRun } from './model.js';
import { NodeFs } from './node-fs.js';
import { prepTaskId, type RunOutcome, type RunSpec, startRun } from './runs.js';
import { type AccountState, markDirty, ms } from './state.js';
import { beginRun, enqueue, moveCounts, release, setTaskState } from './tasks.js';

type Body = Record<string, unknown>;

const RELEASE_LIMIT_MS = 15 * 60_000;

export function newPrepState(body: Body): JobPrepState | undefined {
  return body.jobPreparationTask ? { runs: new Map(), blocked: new Set(), pendingReleases: 0 } : undefined;
}

const prepBody = (job: JobRec) => job.body.jobPreparationTask as Body;
const waitsForSuccess = (job: JobRec) => prepBody(job).waitForSuccess !== false;

function spec(job: JobRec, node: NodeRec, kind: 'prep' | 'release'): RunSpec {
  const body = (kind === 'prep' ? job.body.jobPreparationTask : job.body.jobReleaseTask) as Body;
  const id =
    kind === 'prep' ? (prepTaskId(job) as string) : typeof body.id === 'string' ? body.id : 'jobrelease';
  return { kind, node, job, dirName: id, body, statsKey: `${job.id}/${id}@${node.id}` };
}

const nodeInService = (s: AccountState, node: NodeRec) =>
  s.pools.get(node.pool.key) === node.pool && node.pool.nodes.get(node.id) === node;

/** Ends a side run with an outcome: the wall clock, the exit code, a pre-processing error. */
export function settle(run: SideRun, outcome: RunOutcome, wallMs: number | undefined, at: number): void {
  run.state = 'completed';
  run.endTime = at;
  if (outcome.kind === 'preProcessingError') {
    run.result = 'failure';
    run.failureInfo = outcome.failure;
    return;
  }
  if (wallMs !== undefined && outcome.durationMs > wallMs) {
    run.result = 'failure';
    run.failureInfo = {
      category: 'usererror',
      code: 'TaskEnded',
      message: 'Task Was Ended',
      details: [{ name: 'Reason', value: 'MaxWallClockTimeExpiry' }],
    };
    return;
  }
  run.exitCode = outcome.exitCode;
  run.result = outcome.exitCode === 0 ? 'success' : 'failure';
  if (outcome.exitCode !== 0)
    run.failureInfo = {
      category: 'usererror',
      code: 'FailureExitCode',
      message: 'The task exited with an exit code representing a failure',
      details: [{ name: 'Message', value: 'The task process exited with an unexpected exit code' }],
    };
}

// ---------------------------------------------------------------- preparation

/**
 * Before a task of the job runs on a node: starts the preparation task there if it has not run on
 * this incarnation of the node, and says whether the task may run now or waits in `preparing`.
 */
export function gateTask(
  s: AccountState,
  job: JobRec,
  node: NodeRec,
  at: number,
): 'run' | 'wait' | 'blocked' {
  const prep = job.prep;
  if (!prep) return 'run';
  if (prep.blocked.has(node)) return 'blocked';
  let exec = prep.runs.get(node);
  if (!exec || exec.incarnation !== node.incarnation) exec = startPrep(s, job, node, at, exec);
  if (!waitsForSuccess(job) || exec.result === 'success') return 'run';
  return 'wait';
}

function startPrep(s: AccountState, job: JobRec, node: NodeRec, at: number, old?: PrepExec): PrepExec {
  const exec: PrepExec = old ?? {
    node,
    incarnation: node.incarnation,
    state: 'running',
    startTime: at,
    retryCount: 0,
    attempt: 0,
  };
  job.prep!.runs.set(node, exec);
  // A node that lost its disk prepares afresh: a new run, with its own retries.
  exec.incarnation = node.incarnation;
  exec.retryCount = 0;
  exec.lastRetryTime = undefined;
  exec.release = undefined;
  runPrep(s, job, exec, at);
  return exec;
}

function runPrep(s: AccountState, job: JobRec, exec: PrepExec, at: number): void {
  exec.attempt++;
  exec.state = 'running';
  exec.startTime = at;
  exec.endTime = undefined;
  exec.exitCode = undefined;
  exec.failureInfo = undefined;
  exec.result = undefined;
  const attempt = exec.attempt;
  const current = () =>
    exec.attempt === attempt && exec.node.incarnation === exec.incarnation && s.jobs.get(job.key) === job;
  const wallMs = parseDuration((prepBody(job).constraints as Body | undefined)?.maxWallClockTime);
  startRun(s, spec(job, exec.node, 'prep'), at, current, (outcome, known) => {
    const runFor =
      outcome.kind === 'ran' ? Math.min(outcome.durationMs, wallMs ?? Number.POSITIVE_INFINITY) : 0;
    // Transfers take no simulated time: the run ends at its simulated end, once they are done.
    const end = exec.startTime + runFor;
    s.events.push({
      at: Math.max(end, known),
      kind: 'deferred',
      run: (now) => {
        if (current()) finishPrep(s, job, exec, outcome, wallMs, end, now);
      },
    });
  });
}

function finishPrep(
  s: AccountState,
  job: JobRec,
  exec: PrepExec,
  outcome: RunOutcome,
  wallMs: number | undefined,
  end: number,
  at: number,
): void {
  settle(exec, outcome, wallMs, end);
  const timedOut = exec.failureInfo?.code === 'TaskEnded';
  const constraints = (prepBody(job).constraints ?? {}) as Body;
  const max = Number(constraints.maxTaskRetryCount ?? 0);
  // Only a non-zero exit is retried; pre-processing errors and timeouts are not.
  if (
    outcome.kind === 'ran' &&
    !timedOut &&
    exec.result === 'failure' &&
    (max === -1 || exec.retryCount < max)
  ) {
    exec.retryCount++;
    exec.lastRetryTime = at;
    runPrep(s, job, exec, at);
    return;
  }
  const node = exec.node;
  const waiting = [...node.running].filter((t) => t.job === job && t.state === 'preparing');
  if (exec.result === 'success' || !waitsForSuccess(job)) {
    for (const t of waiting) beginRun(s, t, at);
    return;
  }
  // Failed with waitForSuccess: the node takes no task of this job until it is reimaged.
  job.prep!.blocked.add(node);
  for (const t of waiting) {
    release(s, t);
    t.attempt++;
    setTaskState(t, 'active', at);
    moveCounts(s, t, 'running', 'active', at);
    enqueue(s, t, true);
  }
  markDirty(s, node.pool.key);
}

/** A preempted node loses its disk: the next task of each job there prepares the node again. */
export function wipeNode(s: AccountState, node: NodeRec, at: number): void {
  node.fs = new NodeFs(at);
  for (const job of s.jobsByPool.get(node.pool.key) ?? []) {
    const exec = job.prep?.runs.get(node);
    if (!exec) continue;
    exec.attempt++;
    job.prep!.blocked.delete(node);
  }
}

// ---------------------------------------------------------------- release

/** Starts the release runs of a job that is ending; false when there are none to wait for. */
export function startReleases(s: AccountState, job: JobRec, at: number): boolean {
  const prep = job.prep;
  const body = job.body.jobReleaseTask as Body | undefined;
  if (!prep || !body) return false;
  const wallMs = Math.min(parseDuration(body.maxWallClockTime) ?? RELEASE_LIMIT_MS, RELEASE_LIMIT_MS);
  for (const exec of prep.runs.values()) {
    if (exec.state !== 'completed' || exec.release) continue;
    if (exec.incarnation !== exec.node.incarnation || !nodeInService(s, exec.node)) continue;
    const run: SideRun = { state: 'running', startTime: at, retryCount: 0, attempt: 1 };
    exec.release = run;
    prep.pendingReleases++;
    const current = () => s.jobs.get(job.key) === job && run.attempt === 1;
    startRun(s, spec(job, exec.node, 'release'), at, current, (outcome, known) => {
      const runFor = outcome.kind === 'ran' ? Math.min(outcome.durationMs, wallMs) : 0;
      const end = at + runFor;
      s.events.push({
        at: Math.max(end, known),
        kind: 'deferred',
        run: (now) => {
          if (!current() || run.state === 'completed') return;
          settle(run, outcome, wallMs, end);
          prep.pendingReleases--;
          if (prep.pendingReleases === 0) settleTerminating(s, job, now);
        },
      });
    });
  }
  return prep.pendingReleases > 0;
}

/** The terminating job completes a moment after its last release run. */
function settleTerminating(s: AccountState, job: JobRec, at: number): void {
  if (job.state !== 'terminating') return;
  s.events.push({
    at: Math.max(at, job.stateTransitionTime + ms(s.timings.transitionSeconds)),
    kind: 'jobSettle',
    job,
    from: 'terminating',
    to: 'completed',
  });
}
