/**
 * Broken nodes and taking nodes out of a pool by name.
 *
 * - Pools_RemoveNodes (`POST /pools/{id}/removenodes`): the named nodes leave; the pool goes
 *   `resizing` and back to `steady` with its target lowered by the nodes removed; their running tasks
 *   are requeued, ended or left to finish as `nodeDeallocationOption` says (Batch REST reference,
 *   "Pool - Remove Nodes"; body `BatchNodeRemoveOptions` in Azure/azure-rest-api-specs
 *   specification/batch; example PoolRemoveNodes.json).
 * - A scripted bad node (`/_emulator/pools/{id}/bad-node`, test-only): Batch's own states for a broken
 *   node, `unusable` and `starttaskfailed` (BatchNodeState), in which it takes no tasks and its running
 *   ones are requeued; or `failTasks`, a node that looks healthy but fails every task sent to it before
 *   the command starts (a full disk: TaskFailureInformationCodes.DiskFull of the Batch .NET SDK), each
 *   failure using up one of the task's retries as a non-zero exit would.
 */

import type { DeallocationOption, FailureInfo, NodeRec, PoolRec, TaskRec } from './model.js';
import {
  rebucket,
  retireNode,
  scheduleAllocationEnd,
  setAllocationState,
  touchPool,
  unbucket,
} from './pools.js';
import { type AccountState, markDirty, ms } from './state.js';
import { completeTask, hasRetriesLeft, requeueRunning, retryRun } from './tasks.js';

/** Simulated seconds a task spends on a `failTasks` node before it fails. */
export const NODE_FAULT_RUN_SECONDS = 1;

export const NODE_FAULT_FAILURE: FailureInfo = {
  category: 'servererror',
  code: 'DiskFull',
  message: 'There is not enough disk space on the compute node to run the task',
};

export type NodeFault = 'failTasks' | 'unusable' | 'starttaskfailed' | 'healthy';

/** A run on a `failTasks` node: it ends shortly, failed, without its command having run. */
export function failRunOnNode(s: AccountState, task: TaskRec, at: number): void {
  task.nodeFailure = NODE_FAULT_FAILURE;
  task.durationMs = 0;
  s.events.push({ at: at + ms(NODE_FAULT_RUN_SECONDS), kind: 'taskDone', task, attempt: task.attempt });
}

/** The end of such a run: retried while the task has retries left, else completed with the failure. */
export function finishNodeFailure(s: AccountState, task: TaskRec, at: number): void {
  const failure = task.nodeFailure ?? NODE_FAULT_FAILURE;
  task.nodeFailure = undefined;
  if (hasRetriesLeft(task)) {
    retryRun(s, task, at, undefined);
    return;
  }
  completeTask(s, task, at, undefined, failure, { kind: 'preProcessingError' });
}

/** Scripts a node's health; `healthy` undoes any fault. */
export function setNodeFault(s: AccountState, node: NodeRec, fault: NodeFault): void {
  const now = s.clock.now();
  node.failsTasks = fault === 'failTasks';
  if (fault === 'unusable' || fault === 'starttaskfailed') {
    node.state = fault;
    node.stateTransitionTime = now;
    unbucket(node);
    // A node that breaks loses its running tasks; Batch puts them back in the queue.
    for (const task of [...node.running]) requeueRunning(s, task, now);
  } else if (node.state === 'unusable' || node.state === 'starttaskfailed') {
    node.state = node.running.size > 0 ? 'running' : 'idle';
    node.stateTransitionTime = now;
    rebucket(node);
  }
  markDirty(s, node.pool.key);
}

/**
 * Removes the named nodes (the REST layer has checked they belong to the pool and the pool is steady):
 * the pool resizes to its targets less the nodes removed.
 */
export function removeNodes(
  s: AccountState,
  pool: PoolRec,
  nodes: readonly NodeRec[],
  option: DeallocationOption,
  resizeTimeout: string,
): void {
  const now = s.clock.now();
  const leaving = nodes.filter((n) => !n.leaving);
  const lowPriority = leaving.filter((n) => n.lowPriority).length;
  pool.targetDedicated = Math.max(0, pool.targetDedicated - (leaving.length - lowPriority));
  pool.targetLowPriority = Math.max(0, pool.targetLowPriority - lowPriority);
  pool.resizeTimeout = resizeTimeout;
  pool.resizeErrors = [];
  pool.allocVersion++;
  pool.awaitingAllocation = true;
  touchPool(s, pool);
  setAllocationState(pool, 'resizing', now);
  for (const node of leaving) retireNode(s, node, option, now);
  scheduleAllocationEnd(s, pool, now, resizeTimeout);
  markDirty(s, pool.key);
}
