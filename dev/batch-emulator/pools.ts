/**
 * Pools and their nodes: creation, resizes (allocation as far as the core quotas allow, within the
 * resize timeout), stopping and deleting, nodes coming into service and leaving it, the free-slot
 * buckets scheduling picks nodes from, and the preemption of low-priority nodes.
 */
import { parseDuration } from './command.js';
import { admitNodes, type ResizeErrorRec } from './core-quotas.js';
import { errors } from './errors.js';
import { wipeNode } from './job-prep.js';
import type { DeallocationOption, NodeRec, PoolRec } from './model.js';
import { NodeFs } from './node-fs.js';
import type { PreemptionConfig } from './preemption.js';
import { type AccountState, markDirty, ms, newEtag } from './state.js';
import { completeTask, enqueue, moveCounts, release, requeueRunning, setTaskState } from './tasks.js';
import type { PoolShape } from './validate.js';

function hash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16).padStart(8, '0');
}

export function addPool(s: AccountState, body: Record<string, unknown>, shape: PoolShape): PoolRec {
  if (s.pools.size >= s.quotas.pools)
    throw errors.conflict('PoolQuotaReached', 'The specified account has reached its pool quota.');
  const now = s.clock.now();
  const id = String(body.id);
  const pool: PoolRec = {
    id,
    key: id.toLowerCase(),
    body,
    creationTime: now,
    state: 'active',
    stateTransitionTime: now,
    allocationState: 'steady',
    allocationStateTransitionTime: now,
    targetDedicated: 0,
    targetLowPriority: 0,
    resizeTimeout: typeof body.resizeTimeout === 'string' ? body.resizeTimeout : 'PT15M',
    vmSize: shape.vmSize,
    slots: shape.slots,
    fill: shape.fill,
    containers: shape.containers,
    autoScale: shape.autoScale,
    nodes: new Map(),
    byFree: Array.from({ length: shape.slots + 1 }, () => new Set<NodeRec>()),
    etag: newEtag(now),
    lastModified: now,
    resizeErrors: [],
    allocVersion: 0,
    awaitingAllocation: false,
    resizeDeadline: now,
    allocationDue: now,
    nodeSeq: 0,
  };
  s.pools.set(pool.key, pool);
  const [dedicated, lowPriority] = shape.autoScale
    ? [autoScaleTarget(String(body.autoScaleFormula ?? '')), 0]
    : [Number(body.targetDedicatedNodes ?? 0), Number(body.targetLowPriorityNodes ?? 0)];
  resize(s, pool, dedicated, lowPriority, 'requeue', pool.resizeTimeout);
  markDirty(s, pool.key);
  return pool;
}

/** The constant an autoscale formula assigns to $TargetDedicatedNodes (or $TargetDedicated), else 0. */
export function autoScaleTarget(formula: string): number {
  const m = /\$TargetDedicated(?:Nodes)?\s*=\s*(\d+)\s*;?/i.exec(formula);
  return m ? Number(m[1]) : 0;
}

export function touchPool(s: AccountState, pool: PoolRec): void {
  const now = s.clock.now();
  pool.etag = newEtag(now);
  pool.lastModified = now;
}

export function setAllocationState(pool: PoolRec, state: PoolRec['allocationState'], at: number): void {
  pool.allocationState = state;
  pool.allocationStateTransitionTime = at;
}

export function resize(
  s: AccountState,
  pool: PoolRec,
  dedicated: number,
  lowPriority: number,
  option: DeallocationOption,
  resizeTimeout: string,
): void {
  const now = s.clock.now();
  pool.targetDedicated = dedicated;
  pool.targetLowPriority = lowPriority;
  pool.resizeTimeout = resizeTimeout;
  pool.resizeOperation = {
    targetDedicatedNodes: dedicated,
    targetLowPriorityNodes: lowPriority,
    resizeTimeout,
    nodeDeallocationOption: option,
    startTime: now,
  };
  pool.resizeErrors = [];
  pool.allocVersion++;
  pool.awaitingAllocation = true;
  touchPool(s, pool);
  setAllocationState(pool, 'resizing', now);
  // Shrinking picks its victims now: idle nodes first, then the least busy.
  for (const lowPri of [false, true]) {
    const target = lowPri ? lowPriority : dedicated;
    const kept = [...pool.nodes.values()].filter((n) => n.lowPriority === lowPri && !n.leaving);
    const excess = kept.length - target;
    if (excess > 0) {
      kept.sort((a, b) => a.running.size - b.running.size);
      for (const node of kept.slice(0, excess)) retireNode(s, node, option, now);
    }
  }
  // Capacity that takes longer than the resize timeout never arrives: the allocation ends at the
  // deadline with AllocationTimedout.
  scheduleAllocationEnd(s, pool, now, resizeTimeout);
}

/** When the resize begun at `now` settles: allocation done, or its resize timeout (default 15 min). */
export function scheduleAllocationEnd(
  s: AccountState,
  pool: PoolRec,
  now: number,
  resizeTimeout: unknown,
): void {
  pool.resizeDeadline = now + (parseDuration(resizeTimeout) ?? ms(15 * 60));
  pool.allocationDue = now + ms(s.timings.allocationSeconds);
  s.events.push({
    at: Math.min(pool.allocationDue, pool.resizeDeadline),
    kind: 'poolAllocated',
    pool,
    version: pool.allocVersion,
  });
}

export function stopResize(s: AccountState, pool: PoolRec): void {
  if (pool.allocationState !== 'resizing') return;
  const now = s.clock.now();
  pool.allocVersion++;
  pool.awaitingAllocation = false;
  setAllocationState(pool, 'stopping', now);
  touchPool(s, pool);
  s.events.push({
    at: now + ms(s.timings.transitionSeconds),
    kind: 'stopResizeDone',
    pool,
    version: pool.allocVersion,
  });
}

export function deletePool(s: AccountState, pool: PoolRec): void {
  if (pool.state === 'deleting') return;
  const now = s.clock.now();
  pool.state = 'deleting';
  pool.stateTransitionTime = now;
  pool.allocVersion++;
  pool.targetDedicated = 0;
  pool.targetLowPriority = 0;
  setAllocationState(pool, 'resizing', now);
  touchPool(s, pool);
  for (const node of pool.nodes.values()) if (!node.leaving) retireNode(s, node, 'requeue', now);
  s.events.push({ at: now + ms(s.timings.deleteSeconds), kind: 'poolGone', pool });
}

export function failNextAllocation(pool: PoolRec, code: string, message: string): void {
  pool.failNextAllocation = { code, message };
}

export function unbucket(node: NodeRec): void {
  if (node.bucket >= 0) node.pool.byFree[node.bucket]?.delete(node);
  node.bucket = -1;
}

export function rebucket(node: NodeRec): void {
  unbucket(node);
  if (node.leaving || (node.state !== 'idle' && node.state !== 'running')) return;
  node.bucket = node.free;
  node.pool.byFree[node.free]?.add(node);
}

/** Takes a node out of service; its running tasks are requeued, ended or left to finish. */
export function retireNode(s: AccountState, node: NodeRec, option: DeallocationOption, now: number): void {
  node.leaving = true;
  node.state = 'leavingpool';
  node.stateTransitionTime = now;
  unbucket(node);
  for (const task of [...node.running]) {
    if (option === 'requeue') requeueRunning(s, task, now);
    else if (option === 'terminate')
      completeTask(s, task, now, undefined, {
        category: 'usererror',
        code: 'TaskEnded',
        message: 'Task Was Ended by User Request',
        details: [{ name: 'Reason', value: 'The compute node was removed from the pool.' }],
      });
  }
}

export function removeNodeIfDone(node: NodeRec): void {
  if (!node.leaving || node.running.size > 0) return;
  node.pool.nodes.delete(node.id);
  unbucket(node);
}

export function settleAllocation(pool: PoolRec, at: number): void {
  if (pool.allocationState !== 'resizing' || pool.awaitingAllocation) return;
  for (const node of pool.nodes.values()) if (node.leaving && node.running.size > 0) return;
  setAllocationState(pool, 'steady', at);
}

function addNode(s: AccountState, pool: PoolRec, lowPriority: boolean, at: number): void {
  pool.nodeSeq++;
  const node: NodeRec = {
    id: `tvmps_${hash(pool.key)}${pool.nodeSeq.toString(16).padStart(8, '0')}_${lowPriority ? 'p' : 'd'}`,
    pool,
    lowPriority,
    state: 'starting',
    stateTransitionTime: at,
    allocationTime: at,
    free: pool.slots,
    running: new Set(),
    leaving: false,
    bucket: -1,
    totalTasksRun: 0,
    totalTasksSucceeded: 0,
    incarnation: 0,
    fs: new NodeFs(at),
  };
  pool.nodes.set(node.id, node);
  s.events.push({
    at: at + ms(s.timings.nodeStartSeconds),
    kind: 'nodeReady',
    node,
    incarnation: 0,
  });
}

/**
 * Adds the nodes a resize asked for, as far as the core quotas allow; returns the resize errors.
 * Capacity that would arrive after the resize timeout does not arrive at all.
 */
export function allocateNodes(s: AccountState, pool: PoolRec, at: number): ResizeErrorRec[] {
  const errors: ResizeErrorRec[] = [];
  const timedOut = pool.allocationDue > pool.resizeDeadline;
  for (const lowPri of [false, true]) {
    const target = lowPri ? pool.targetLowPriority : pool.targetDedicated;
    let have = 0;
    for (const n of pool.nodes.values()) if (n.lowPriority === lowPri && !n.leaving) have++;
    const wanted = target - have;
    if (wanted <= 0) continue;
    if (timedOut) {
      errors.push({
        code: 'AllocationTimedout',
        message: `Desired number of ${lowPri ? 'low-priority' : 'dedicated'} nodes could not be allocated as the resize timeout (${pool.resizeTimeout}) was reached.`,
      });
      continue;
    }
    const admitted = admitNodes(s.coreQuotas, s.pools.values(), pool, lowPri, wanted);
    for (let i = 0; i < admitted.count; i++) addNode(s, pool, lowPri, at);
    if (admitted.error) errors.push(admitted.error);
  }
  return errors;
}

// ---------------------------------------------------------------- preemption

/** Low-priority nodes that can be preempted now: started, in service. */
export function preemptibleNodes(pool: PoolRec): NodeRec[] {
  return [...pool.nodes.values()].filter(
    (n) => n.lowPriority && !n.leaving && (n.state === 'idle' || n.state === 'running'),
  );
}

/**
 * Preempts low-priority nodes: each goes to `preempted` and its running tasks back to the queue
 * (Batch requeues them without consuming a retry). The node stays in the pool and in
 * currentLowPriorityNodes, as Batch reports it; after `recoverAfterSeconds` it comes back with its
 * id through `starting` (undefined: it stays preempted until a resize removes it).
 */
export function preemptNodes(
  s: AccountState,
  nodes: readonly NodeRec[],
  recoverAfterSeconds: number | undefined,
): void {
  const now = s.clock.now();
  for (const node of nodes) preemptNode(s, node, now, recoverAfterSeconds);
}

export function preemptNode(
  s: AccountState,
  node: NodeRec,
  at: number,
  recoverAfterSeconds: number | undefined,
): void {
  if (!node.lowPriority || node.leaving || (node.state !== 'idle' && node.state !== 'running')) return;
  node.state = 'preempted';
  node.stateTransitionTime = at;
  node.incarnation++;
  unbucket(node);
  // The VM is taken away with its disk (Batch's low-priority preemption).
  wipeNode(s, node, at);
  for (const task of [...node.running]) {
    release(s, task);
    task.attempt++;
    setTaskState(task, 'active', at);
    moveCounts(s, task, 'running', 'active', at);
    enqueue(s, task, true);
  }
  if (recoverAfterSeconds !== undefined)
    s.events.push({
      at: at + ms(recoverAfterSeconds),
      kind: 'nodeRecovered',
      node,
      incarnation: node.incarnation,
    });
}

/** Arms the random preemption of a node that just came into service, when a rate is set. */
export function armPreemption(s: AccountState, node: NodeRec, at: number): void {
  if (!node.lowPriority) return;
  const delayMs = s.preemption.nextDelayMs();
  if (delayMs === undefined) return;
  s.events.push({
    at: at + delayMs,
    kind: 'nodePreempted',
    node,
    incarnation: node.incarnation,
    policy: s.preemption.version,
  });
}

/** Applies a new preemption rate to every low-priority node in service. */
export function setPreemptionRate(s: AccountState, config: PreemptionConfig): void {
  s.preemption.set(config);
  const now = s.clock.now();
  for (const pool of s.pools.values()) for (const node of preemptibleNodes(pool)) armPreemption(s, node, now);
}
