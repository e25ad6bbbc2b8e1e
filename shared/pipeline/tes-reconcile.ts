/**
 * TES reconcile pass (timer, with the job reconcile's schedule): Batch's view of each lane's tasks →
 * the TES task documents every read is served from.
 *
 * By listing, not by task: per lane, one task list filtered on `stateTransitionTime` from the lane's
 * watermark (Batch's "List tasks" takes `ge` on it), so a pass costs a call per lane and per 1,000
 * changed tasks, whatever the number of tasks waiting or running. A task that completed is read once
 * more from the results store (its run report and log tails, written by the task itself), never from
 * its node. Requeues (a Spot node preempted, a node lost) append a task log per attempt, as the spec
 * says for retries. Idempotent: the watermark keeps a margin, and a document moves only forward.
 *
 * The pass also sizes each lane (its plan = its unfinished tasks, for the pool controller), ends the
 * unfinished tasks of a lane that ended (SYSTEM_ERROR with the lane's reason), and re-sends the wake-up
 * of tasks that have waited for the submitter too long (a lost message).
 */
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway, EndedTaskInfo } from '../adapters/batch/batch-gateway.js';
import type { ResultsStore } from '../adapters/blob/results-store.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { TesTaskStore } from '../adapters/cosmos/tes-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock } from '../core/clock.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { describeError } from '../core/errors.js';
import type { JobDoc } from '../model/job.js';
import { parseTesRunReport, type TesRunReport, tesOutcome } from '../model/tes-run-report.js';
import { isFinalTesState, type TesTaskDoc, type TesTaskLog } from '../model/tes-task.js';
import { tesExecutorLogPath, tesRunReportPath } from '../planner/tes-task-body.js';
import { inAccount } from './job-account.js';
import { recordDemand } from './tes-submit.js';

export interface TesReconcileDeps {
  readonly tesTasks: TesTaskStore;
  readonly jobs: JobStore;
  readonly batch: BatchGateway;
  /** Every account: a lane's calls go to its own. */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  readonly results: Pick<ResultsStore, 'read'>;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly log?: (message: string) => void;
}

export interface TesReconcileReport {
  lanes: number;
  /** Task documents changed. */
  changed: number;
  /** Batch tasks read from the lists. */
  listed: number;
  /** Batch calls made. */
  batchCalls: number;
  /** Wake-ups re-sent for tasks the submitter had not taken. */
  rewoken: number;
  errors: number;
}

/** Tasks per list page (Batch's maximum). */
const PAGE = 1000;
/** Pages per lane per pass; the rest is read on the next pass (the watermark stays put). */
const PAGES_PER_PASS = 20;
/** Re-read this far behind the newest change seen: Batch's list is not a snapshot. */
const WATERMARK_MARGIN_MS = 5000;
/** An ended lane's tasks are read for this long after it ended (its last changes). */
const ENDED_LANE_WINDOW_MS = 3_600_000;
/** Tasks not taken by the submitter for this long are woken again. */
const STRANDED_AFTER_MS = 15_000;
/** Bytes of an executor's stdout and stderr shown in the task's FULL view (the tail). */
export const TES_LOG_TAIL_BYTES = 64 * 1024;

export async function reconcileTesLanes(deps: TesReconcileDeps): Promise<TesReconcileReport> {
  const report: TesReconcileReport = {
    lanes: 0,
    changed: 0,
    listed: 0,
    batchCalls: 0,
    rewoken: 0,
    errors: 0,
  };
  const now = deps.clock.now().getTime();
  const stranded = await deps.tesTasks.listStrandedLaneKeys(
    new Date(now - STRANDED_AFTER_MS).toISOString(),
    100,
  );
  for (const key of stranded) {
    await deps.queues.send(queueNames.tes, key);
    report.rewoken++;
  }
  const lanes = await deps.jobs.listLanes({
    endedAfter: new Date(now - ENDED_LANE_WINDOW_MS).toISOString(),
    limit: 1000,
  });
  report.lanes = lanes.length;
  await mapWithConcurrency(lanes, 4, async (lane) => {
    try {
      await reconcileLane(lane, deps, report);
    } catch (e) {
      report.errors++;
      deps.log?.(`TES lane ${lane.jobId}: ${describeError(e)}`);
    }
  });
  return report;
}

async function reconcileLane(
  lane: JobDoc,
  deps: TesReconcileDeps,
  report: TesReconcileReport,
): Promise<void> {
  const batchJobId = lane.batch?.jobId;
  if (!batchJobId) return;
  const watermark = lane.lane?.watermark;
  const since = watermark ? new Date(Date.parse(watermark) - WATERMARK_MARGIN_MS).toISOString() : undefined;
  let skipToken: string | undefined;
  let newest = watermark;
  let complete = false;
  let gone = false;
  for (let page = 0; page < PAGES_PER_PASS; page++) {
    const listed = await inAccount(deps, lane.batch?.account).batch.listChangedTasks(batchJobId, {
      ...(since ? { since } : {}),
      maxResults: PAGE,
      ...(skipToken ? { skipToken } : {}),
    });
    report.batchCalls++;
    if (!listed) {
      gone = true;
      break;
    }
    report.listed += listed.tasks.length;
    for (const t of listed.tasks)
      if (!newest || t.stateTransitionTime > newest) newest = t.stateTransitionTime;
    await applyPage(lane, listed.tasks, deps, report);
    skipToken = listed.skipToken;
    if (!skipToken) {
      complete = true;
      break;
    }
  }
  if (complete && newest && newest !== watermark) {
    await deps.jobs.update(lane.tenant, lane.jobId, (current) =>
      current.lane && (!current.lane.watermark || newest! > current.lane.watermark)
        ? { ...current, lane: { ...current.lane, watermark: newest! } }
        : undefined,
    );
  }
  if ((lane.endedAt && complete) || gone) await endLaneTasks(lane, gone, deps, report);
  else if (lane.batch) await recordDemand(lane.tenant, { lane, poolId: lane.batch.poolId }, deps);
}

async function applyPage(
  lane: JobDoc,
  tasks: readonly EndedTaskInfo[],
  deps: TesReconcileDeps,
  report: TesReconcileReport,
): Promise<void> {
  if (tasks.length === 0) return;
  const byId = new Map(tasks.map((t) => [t.id, t]));
  for (let i = 0; i < tasks.length; i += 100) {
    const ids = tasks.slice(i, i + 100).map((t) => t.id);
    // By id, not by lane: a task Batch already runs may not have its lane recorded yet.
    const docs = await deps.tesTasks.listUnfinishedByIds(lane.tenant, ids);
    await mapWithConcurrency(docs, 16, async (doc) => {
      const task = byId.get(doc.id);
      if (task && (await applyTask(doc, task, lane, deps))) report.changed++;
    });
  }
}

/** One Batch task onto its document; true when the document changed. */
async function applyTask(
  doc: TesTaskDoc,
  task: EndedTaskInfo,
  lane: JobDoc,
  deps: TesReconcileDeps,
): Promise<boolean> {
  // Only this lane's tasks (a task id is the TES id, unique in the tenant; the lane key must match).
  if (doc.placement.laneKey !== lane.lane?.key || (doc.lane && doc.lane.jobId !== lane.jobId)) return false;
  const seen = doc.batch;
  if (seen && seen.stateTransitionTime === task.stateTransitionTime && seen.state === task.state)
    return false;
  const ended = task.state === 'completed';
  const run = ended ? await readRun(doc, deps) : undefined;
  const outcome = tesOutcome({
    batch: task,
    ...(run?.report ? { report: run.report } : {}),
    ...(run ? { stdoutTails: run.stdout, stderrTails: run.stderr } : {}),
    cancelRequested: doc.cancelRequestedAt !== undefined,
    doc,
  });
  const now = deps.clock.now().toISOString();
  const result = await deps.tesTasks.update(
    doc.tenant,
    doc.id,
    (current) => {
      if (isFinalTesState(current.state)) return undefined;
      const prior = current.batch;
      let logs: TesTaskLog[] = [...current.logs];
      // An attempt that ended without the task completing (its Spot node preempted, its node lost or
      // removed): Batch puts the task back in the queue. Preemption does not count in `requeueCount`
      // (the spec counts user requests only), so it shows as a running task back to `active`, or
      // running again from another start time; the ended attempt keeps its log, a new one begins.
      if (endedAttempt(prior, task)) {
        const last = logs[logs.length - 1];
        const closed: TesTaskLog = {
          ...(last ?? { logs: [], outputs: [] }),
          ...(prior?.startTime && !last?.start_time ? { start_time: prior.startTime } : {}),
          ...(!last?.end_time ? { end_time: task.state === 'active' ? task.stateTransitionTime : now } : {}),
          system_logs: [
            ...(last?.system_logs ?? []),
            `attempt ${Math.max(1, logs.length)} did not finish: its node was preempted or lost, and Batch put the task back in the queue`,
          ],
        };
        logs = last ? [...logs.slice(0, -1), closed] : [closed];
        logs.push({ logs: [], outputs: [] });
      }
      if (outcome.log)
        logs =
          logs.length === 0
            ? [outcome.log]
            : [...logs.slice(0, -1), mergeLog(logs[logs.length - 1]!, outcome.log)];
      const state =
        current.state === 'CANCELING' && !isFinalTesState(outcome.state) ? 'CANCELING' : outcome.state;
      return {
        ...current,
        // Recorded here when Batch runs the task before the submitter wrote its lane (or it crashed).
        ...(current.lane || !lane.batch
          ? {}
          : {
              lane: {
                jobId: lane.jobId,
                batchJobId: lane.batch.jobId,
                poolId: lane.batch.poolId,
                submittedAt: now,
              },
            }),
        state,
        logs,
        systemLogs: [
          ...current.systemLogs,
          ...outcome.systemLogs.filter((l) => !current.systemLogs.includes(l)),
        ],
        batch: {
          state: task.state,
          stateTransitionTime: task.stateTransitionTime,
          ...(task.startTime ? { startTime: task.startTime } : {}),
          retryCount: task.retryCount,
          requeueCount: task.requeueCount,
        },
        ...(isFinalTesState(state) ? { endedAt: now } : {}),
        updatedAt: now,
      };
    },
    doc,
  );
  return result?.changed === true;
}

/** Whether the attempt seen before ended without the task completing (see applyTask). */
function endedAttempt(prior: TesTaskDoc['batch'], task: EndedTaskInfo): boolean {
  if (!prior) return false;
  if (task.requeueCount > prior.requeueCount || task.retryCount > prior.retryCount) return true;
  const ran = prior.state === 'running' || prior.state === 'preparing';
  if (ran && task.state === 'active') return true;
  return ran && !!prior.startTime && !!task.startTime && task.startTime !== prior.startTime;
}

/** The later view of an attempt wins, but the system logs of both are kept. */
function mergeLog(earlier: TesTaskLog, later: TesTaskLog): TesTaskLog {
  const lines = [...(earlier.system_logs ?? []), ...(later.system_logs ?? [])];
  return { ...earlier, ...later, ...(lines.length > 0 ? { system_logs: [...new Set(lines)] } : {}) };
}

/** The task's run report and the tails of its executors' logs, as the task uploaded them. */
async function readRun(
  doc: TesTaskDoc,
  deps: TesReconcileDeps,
): Promise<{ report?: TesRunReport; stdout: (string | undefined)[]; stderr: (string | undefined)[] }> {
  const text = async (path: string, tail?: number) => {
    const blob = await deps.results
      .read(doc.tenant, path, tail ? { suffix: tail } : undefined)
      .catch(() => undefined);
    return blob ? new TextDecoder().decode(await new Response(blob.stream).arrayBuffer()) : undefined;
  };
  const reportText = await text(tesRunReportPath(doc.id));
  const report = reportText === undefined ? undefined : parseTesRunReport(reportText);
  const count = doc.request.executors.length;
  const tails = await Promise.all(
    Array.from({ length: count }, async (_, i) => [
      await text(tesExecutorLogPath(doc.id, i, 'stdout'), TES_LOG_TAIL_BYTES),
      await text(tesExecutorLogPath(doc.id, i, 'stderr'), TES_LOG_TAIL_BYTES),
    ]),
  );
  return {
    ...(report ? { report } : {}),
    stdout: tails.map((t) => t[0]),
    stderr: tails.map((t) => t[1]),
  };
}

/** A lane that ended (or whose Batch job is gone) leaves its unfinished tasks SYSTEM_ERROR, or CANCELED. */
async function endLaneTasks(
  lane: JobDoc,
  gone: boolean,
  deps: TesReconcileDeps,
  report: TesReconcileReport,
): Promise<void> {
  const left = await deps.tesTasks.listUnfinishedInLane(lane.tenant, lane.jobId);
  const why = gone
    ? `the Batch job of the task's lane (${lane.batch?.jobId}) is gone`
    : `the task's lane ended (${lane.state}${lane.failure ? `: ${lane.failure.code}: ${lane.failure.message}` : ''})`;
  const now = deps.clock.now().toISOString();
  for (const doc of left) {
    const result = await deps.tesTasks.update(lane.tenant, doc.id, (current) =>
      isFinalTesState(current.state)
        ? undefined
        : {
            ...current,
            state: current.cancelRequestedAt ? 'CANCELED' : 'SYSTEM_ERROR',
            systemLogs: [...current.systemLogs, `The task did not run to its end: ${why}`],
            endedAt: now,
            updatedAt: now,
          },
    );
    if (result?.changed) report.changed++;
  }
}
