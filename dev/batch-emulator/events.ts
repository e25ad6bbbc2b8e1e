/**
 * Simulated time: the events on the account's min-heap (pool allocation done, node ready, task done,
 * job wall clock, job state settling, deletions finishing) replayed in order up to the clock's now.
 * Every event carries the version of what it acts on when that can change meanwhile; a stale event
 * does nothing.
 */
import { checkAllComplete, setJobState, terminateJob } from './jobs.js';
import {
  allocateNodes,
  preemptNode,
  removeNodeIfDone,
  setAllocationState,
  settleAllocation,
} from './pools.js';
import { scheduleDirty } from './scheduling.js';
import { nodeJoined } from './start-task.js';
import { type AccountState, markDirty, ms, type SimEvent } from './state.js';
import { finishRun } from './tasks.js';

/** Moves the simulation to the clock's now: events in order, free slots filled after each instant. */
export function advance(s: AccountState): void {
  const now = s.clock.now();
  for (;;) {
    const e = s.events.peek();
    if (!e || e.at > now) break;
    s.events.pop();
    handle(s, e);
    if (s.events.peek()?.at !== e.at) scheduleDirty(s, e.at);
  }
  scheduleDirty(s, now);
}

export function nextEventAt(s: AccountState): number | undefined {
  return s.events.peek()?.at;
}

function handle(s: AccountState, e: SimEvent): void {
  switch (e.kind) {
    case 'poolAllocated': {
      const pool = e.pool;
      if (pool.state !== 'active' || e.version !== pool.allocVersion || s.pools.get(pool.key) !== pool)
        return;
      const injected = pool.failNextAllocation;
      if (injected?.code === 'AllocationTimedout' && e.at < pool.resizeDeadline) {
        // An injected timeout holds the pool in `resizing` until its resizeTimeout runs out.
        s.events.push({ ...e, at: pool.resizeDeadline });
        return;
      }
      pool.awaitingAllocation = false;
      for (const node of [...pool.nodes.values()]) removeNodeIfDone(node);
      pool.failNextAllocation = undefined;
      pool.resizeErrors = injected ? [injected] : allocateNodes(s, pool, e.at);
      settleAllocation(pool, e.at);
      return;
    }
    case 'nodeReady': {
      const node = e.node;
      if (
        node.leaving ||
        node.state !== 'starting' ||
        node.incarnation !== e.incarnation ||
        !node.pool.nodes.has(node.id)
      )
        return;
      // Mounts and the pool's start task, then into service (start-task.ts).
      nodeJoined(s, node, e.at);
      return;
    }
    case 'nodeRecovered': {
      const node = e.node;
      if (node.leaving || node.state !== 'preempted' || node.incarnation !== e.incarnation) return;
      if (!node.pool.nodes.has(node.id) || node.pool.state !== 'active') return;
      // Batch found capacity again: the node keeps its id and starts afresh.
      node.incarnation++;
      node.state = 'starting';
      node.stateTransitionTime = e.at;
      s.events.push({
        at: e.at + ms(s.timings.nodeStartSeconds),
        kind: 'nodeReady',
        node,
        incarnation: node.incarnation,
      });
      return;
    }
    case 'nodePreempted':
      if (e.policy !== s.preemption.version || e.node.incarnation !== e.incarnation) return;
      if (!e.node.pool.nodes.has(e.node.id)) return;
      preemptNode(s, e.node, e.at, s.preemption.recoverAfterSeconds(s.timings.allocationSeconds));
      return;
    case 'stopResizeDone':
      if (e.version === e.pool.allocVersion && e.pool.allocationState === 'stopping') {
        for (const node of [...e.pool.nodes.values()]) removeNodeIfDone(node);
        setAllocationState(e.pool, 'steady', e.at);
      }
      return;
    case 'poolGone':
      if (s.pools.get(e.pool.key) === e.pool) s.pools.delete(e.pool.key);
      return;
    case 'taskDone':
      if (e.task.state === 'running' && e.task.attempt === e.attempt) finishRun(s, e.task, e.endAt ?? e.at);
      return;
    case 'jobWallClock':
      if (e.version === e.job.wallClockVersion && (e.job.state === 'active' || e.job.state === 'disabled'))
        terminateJob(s, e.job, 'MaxWallClockTimeExpiry', e.at);
      return;
    case 'jobSettle':
      if (e.job.state !== e.from) return;
      setJobState(s, e.job, e.to, e.at);
      if (e.to === 'completed') e.job.endTime = e.at;
      if (e.to === 'active') {
        markDirty(s, e.job.poolKey);
        checkAllComplete(s, e.job, e.at);
      }
      return;
    case 'jobGone':
      if (s.jobs.get(e.job.key) === e.job) s.jobs.delete(e.job.key);
      return;
    case 'deferred':
      e.run(e.at);
      return;
  }
}
