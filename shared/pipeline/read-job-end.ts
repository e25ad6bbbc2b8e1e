/**
 * What a job's end needs from Batch beyond counts, read once from the completed tasks (one paged
 * list): the efficiency figures, and which failures the tasks' exit conditions tolerate (see
 * shared/model/exit-conditions.ts for what that means for the job's state).
 */

import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { Clock } from '../core/clock.js';
import { createUsageAccumulator, type JobEfficiency } from '../model/efficiency.js';
import { exitConditionsLookup, isToleratedFailure, taskEnding } from '../model/exit-conditions.js';
import type { JobDoc } from '../model/job.js';
import { toCallerTaskId } from '../model/task-ids.js';

export interface JobEndReading {
  readonly efficiency: JobEfficiency;
  /** Failed tasks whose exit options say `jobAction: none`. */
  readonly tolerated: number;
  /** The first few of them, for the job view. */
  readonly toleratedTasks: readonly { readonly taskId: string; readonly exitCode?: number }[];
}

const TOLERATED_SHOWN = 20;

export async function readJobEnd(
  job: JobDoc,
  batchJobId: string,
  deps: { readonly batch: BatchGateway; readonly clock: Clock },
): Promise<JobEndReading> {
  const usage = createUsageAccumulator();
  const conditionsOf = job.request ? exitConditionsLookup(job.request) : () => undefined;
  let tolerated = 0;
  const toleratedTasks: { taskId: string; exitCode?: number }[] = [];
  await deps.batch.forEachEndedTask(batchJobId, (task) => {
    usage.add(task);
    if (task.result !== 'failure') return;
    if (!isToleratedFailure(conditionsOf(task.id), taskEnding(task))) return;
    tolerated++;
    if (toleratedTasks.length < TOLERATED_SHOWN)
      toleratedTasks.push({
        // Batch knows a fan-in sweep's tasks by index; the job shows the caller's ids.
        taskId: job.request ? toCallerTaskId(job.request, task.id) : task.id,
        ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
      });
  });
  const slotsPerNode = job.plan?.taskSlotsPerNode ?? 1;
  return { efficiency: usage.result(slotsPerNode, deps.clock.now()), tolerated, toleratedTasks };
}
