/**
 * Task events, for jobs whose callback asked for them (`callback.taskEvents`): `slotwise.task.failed`
 * and `slotwise.task.completed` (tasks that succeeded), found by the reconcile pass.
 *
 * - Cheap: nothing is read unless Batch's task counts show more tasks of the kinds asked for ended
 *   than at the last look; then one filtered task list per kind (`state eq 'completed'`, the result,
 *   `stateTransitionTime ge` the watermark; one page of at most `TASK_LIST_PAGE`).
 * - Batched and rate-bounded per job and kind: one event lists up to `MAX_TASKS_PER_EVENT` tasks (the
 *   earliest ended first) and counts the rest in `more`; the next event of that kind waits
 *   `TASK_EVENT_INTERVAL_MS` — except once the job has nothing left to run or Batch has ended it,
 *   when the last tasks are reported at once (before the job's own `completed` / `failed`). `truncated` says more tasks ended than one page could count (they are neither
 *   listed nor counted).
 * - Idempotent: the watermark is on the job document, and an event is added only by the write that
 *   moves it (ETag-guarded: a reconciler that lost the race adds nothing). The event's id is fixed when
 *   it is written, so every redelivery of a batch carries the same `webhook-id`.
 * - Bounded in the document: once an older task event is no longer pending its task list is dropped
 *   (its `more` count stays), so a long job keeps at most the pending events' tasks.
 */

import type { BatchGateway, BatchTaskCounts, EndedTaskInfo } from '../adapters/batch/batch-gateway.js';
import type { JobStore, WorkItem } from '../adapters/cosmos/job-store.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import type { JobDoc, JobEvent, TaskEventItem, TaskEventsState } from '../model/job.js';
import { makeEvent } from '../model/lifecycle.js';
import type { JobRequest, TaskEventKind } from '../model/request-schema.js';
import { toCallerTaskId } from '../model/task-ids.js';
import { announce } from './announce.js';

export const TASK_FAILED_EVENT = 'slotwise.task.failed';
export const TASK_COMPLETED_EVENT = 'slotwise.task.completed';
/** One task event per job and kind at most this often (the last, once the job drained, excepted). */
export const TASK_EVENT_INTERVAL_MS = 30_000;
export const MAX_TASKS_PER_EVENT = 100;
/** The one page of ended tasks read per kind and pass. */
export const TASK_LIST_PAGE = 1000;

export interface TaskEventDeps {
  readonly jobs: JobStore;
  readonly batch: Pick<BatchGateway, 'listEndedTasks'>;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
}

const EVENT_OF: Record<TaskEventKind, string> = {
  failed: TASK_FAILED_EVENT,
  completed: TASK_COMPLETED_EVENT,
};
const RESULT_OF: Record<TaskEventKind, 'failure' | 'success'> = { failed: 'failure', completed: 'success' };

/** Tasks of the kinds asked for that Batch counts as ended. */
export function endedOfKinds(kinds: readonly TaskEventKind[], counts: BatchTaskCounts): number {
  return (
    (kinds.includes('failed') ? counts.failed : 0) + (kinds.includes('completed') ? counts.succeeded : 0)
  );
}

/** Whether a pass should look: more ended than last time, and the interval passed (or the job drained). */
export function taskEventsDue(
  state: TaskEventsState,
  counts: BatchTaskCounts,
  now: Date,
  final = false,
): boolean {
  // The Batch job has ended: the last read, whatever the (possibly lagging) counts say.
  if (final) return true;
  // Changed, not only grown: a retry's reactivation lowers the failed count before they fail again.
  if (endedOfKinds(state.kinds, counts) === (state.ended ?? 0)) return false;
  const drained = counts.active === 0 && counts.running === 0;
  const last = state.lastEventAt ? Date.parse(state.lastEventAt) : Number.NEGATIVE_INFINITY;
  return drained || now.getTime() - last >= TASK_EVENT_INTERVAL_MS;
}

/**
 * The ended tasks of one page not yet reported: at or after the watermark, minus the ids already
 * reported at the watermark itself, earliest first.
 */
export function newSince(state: TaskEventsState, tasks: readonly EndedTaskInfo[]): EndedTaskInfo[] {
  const mark = state.watermark ? Date.parse(state.watermark) : Number.NEGATIVE_INFINITY;
  const seen = new Set(state.atWatermark ?? []);
  return tasks
    .filter((t) => {
      const at = Date.parse(t.stateTransitionTime);
      return at > mark || (at === mark && !seen.has(t.id));
    })
    .sort((a, b) => Date.parse(a.stateTransitionTime) - Date.parse(b.stateTransitionTime));
}

/** The watermark after reporting `tasks` (earliest first): the latest time, and the ids at it. */
export function advance(state: TaskEventsState, tasks: readonly EndedTaskInfo[]): Partial<TaskEventsState> {
  const last = tasks[tasks.length - 1];
  if (!last) return {};
  const at = Date.parse(last.stateTransitionTime);
  const same = tasks.filter((t) => Date.parse(t.stateTransitionTime) === at).map((t) => t.id);
  const sameMark = state.watermark !== undefined && Date.parse(state.watermark) === at;
  return {
    watermark: last.stateTransitionTime,
    atWatermark: sameMark ? [...new Set([...(state.atWatermark ?? []), ...same])] : same,
  };
}

function toItem(request: JobRequest | null, task: EndedTaskInfo): TaskEventItem {
  return {
    id: request ? toCallerTaskId(request, task.id) : task.id,
    ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
    ...(task.failure ? { failure: task.failure } : {}),
    ...(task.nodeId ? { nodeId: task.nodeId } : {}),
    ...(task.endTime ? { endTime: task.endTime } : {}),
  };
}

/** Drops the task lists of task events no longer waiting for delivery (their counts stay). */
function pruned(events: readonly JobEvent[]): JobEvent[] {
  return events.map((e) =>
    e.detail?.taskBatch && e.detail.taskBatch.tasks.length > 0 && e.delivery.status !== 'pending'
      ? {
          ...e,
          detail: {
            ...e.detail,
            taskBatch: { tasks: [], more: e.detail.taskBatch.more + e.detail.taskBatch.tasks.length },
          },
        }
      : e,
  );
}

/**
 * One job's task events for this pass (see the module comment). `job` is the pass's projection;
 * `final` when Batch says the job has ended (this is then the last look). Returns the events added.
 */
export async function reportTaskEvents(
  job: WorkItem,
  batchJobId: string,
  counts: BatchTaskCounts,
  deps: TaskEventDeps,
  final = false,
): Promise<number> {
  const state = job.taskEvents;
  const now = deps.clock.now();
  if (!state || !taskEventsDue(state, counts, now, final)) return 0;
  // One read per kind asked for, from the same watermark; it then moves to the latest task of both.
  const pages: { kind: TaskEventKind; tasks: EndedTaskInfo[]; truncated: boolean }[] = [];
  const reads = await Promise.all(
    state.kinds.map((kind) =>
      deps.batch.listEndedTasks(batchJobId, {
        ...(state.watermark ? { since: state.watermark } : {}),
        result: RESULT_OF[kind],
        maxResults: TASK_LIST_PAGE,
      }),
    ),
  );
  for (const [i, page] of reads.entries()) {
    if (!page) return 0;
    pages.push({ kind: state.kinds[i]!, tasks: newSince(state, page.tasks), truncated: page.truncated });
  }
  const all = pages
    .flatMap((p) => p.tasks)
    .sort((a, b) => Date.parse(a.stateTransitionTime) - Date.parse(b.stateTransitionTime));
  const ended = endedOfKinds(state.kinds, counts);
  let added = 0;
  const result = await deps.jobs.update(job.tenant, job.jobId, (current) => {
    added = 0;
    const known = current.taskEvents;
    // Another reconciler moved the watermark since this one read it: its events stand.
    if (!known || known.watermark !== state.watermark || current.endedAt) return undefined;
    const iso = deps.clock.now().toISOString();
    let events = pruned(current.events);
    const base: JobDoc = { ...current, events };
    for (const page of pages) {
      if (page.tasks.length === 0) continue;
      const listed = page.tasks.slice(0, MAX_TASKS_PER_EVENT);
      const event: JobEvent = {
        ...makeEvent({ ...base, events }, current.state, iso, deps.ids.uuid()),
        type: EVENT_OF[page.kind],
        detail: {
          taskBatch: {
            tasks: listed.map((t) => toItem(current.request, t)),
            more: page.tasks.length - listed.length,
            ...(page.truncated ? { truncated: true } : {}),
          },
        },
      };
      events = [...events, event];
      added++;
    }
    const next: TaskEventsState = {
      ...known,
      ...advance(known, all),
      ended,
      ...(added > 0 ? { lastEventAt: iso } : {}),
    };
    return { ...current, events, taskEvents: next, ...(added > 0 ? { updatedAt: iso } : {}) };
  });
  if (result?.changed && added > 0) await announce(result.job, deps.queues);
  return result?.changed ? added : 0;
}
