/**
 * Filling free slots of the pools whose situation changed ("dirty").
 *
 * Scheduling never scans all tasks: each job keeps FIFO queues of runnable tasks per requiredSlots;
 * each pool keeps its nodes in buckets by free slots. A pool's jobs are served by priority (higher
 * first), then age; within a job the oldest head among the queues whose size fits some node runs
 * first. `pack` puts a task on the fullest node that fits it (fill one node before the next),
 * `spread` on the emptiest. A task needing more slots than a node has stays active for ever, as in
 * Batch. Tasks waiting on dependencies sit outside the queues until their last dependency is met.
 * A job never gets a node where its preparation task failed; the other jobs still do.
 */
import type { JobRec, NodeRec, PoolRec, TaskRec } from './model.js';
import type { AccountState } from './state.js';
import { dequeue, startTask } from './tasks.js';

export function scheduleDirty(s: AccountState, at: number): void {
  if (s.dirty.size === 0) return;
  const keys = [...s.dirty];
  s.dirty.clear();
  for (const key of keys) {
    const pool = s.pools.get(key);
    if (pool) schedulePool(s, pool, at);
  }
}

function maxFree(pool: PoolRec): number {
  for (let k = pool.slots; k > 0; k--) if ((pool.byFree[k]?.size ?? 0) > 0) return k;
  return 0;
}

/** A node of the bucket, leaving out the nodes a job may not use (its preparation failed there). */
function firstOf(set: Set<NodeRec> | undefined, skip: ReadonlySet<NodeRec> | undefined): NodeRec | undefined {
  if (!set || set.size === 0) return undefined;
  if (!skip || skip.size === 0) return set.values().next().value;
  for (const node of set) if (!skip.has(node)) return node;
  return undefined;
}

function pickNode(pool: PoolRec, slots: number, skip?: ReadonlySet<NodeRec>): NodeRec | undefined {
  if (pool.fill === 'pack') {
    for (let k = slots; k <= pool.slots; k++) {
      const node = firstOf(pool.byFree[k], skip);
      if (node) return node;
    }
    return undefined;
  }
  for (let k = pool.slots; k >= slots; k--) {
    const node = firstOf(pool.byFree[k], skip);
    if (node) return node;
  }
  return undefined;
}

function headOf(job: JobRec, slots: number): TaskRec | undefined {
  const q = job.ready.get(slots);
  if (!q) return undefined;
  for (let e = q.peek(); e; e = q.peek()) {
    if (e.token === e.task.queueToken && e.task.inQueue && e.task.state === 'active') return e.task;
    q.shift();
  }
  job.ready.delete(slots);
  return undefined;
}

function schedulePool(s: AccountState, pool: PoolRec, at: number): void {
  if (pool.state !== 'active') return;
  const jobs = [...(s.jobsByPool.get(pool.key) ?? [])]
    .filter((j) => j.state === 'active' && j.readyCount > 0)
    .sort((a, b) => b.priority - a.priority || a.seq - b.seq);
  for (const job of jobs) {
    for (;;) {
      const room = maxFree(pool);
      if (room === 0) return;
      let best: TaskRec | undefined;
      for (const slots of [...job.ready.keys()]) {
        if (slots > room) continue;
        const head = headOf(job, slots);
        if (head && (!best || head.seq < best.seq)) best = head;
      }
      if (!best) break;
      // No usable node for this job's task: leave the job and serve the next one.
      const node = pickNode(pool, best.requiredSlots, job.prep?.blocked);
      if (!node) break;
      job.ready.get(best.requiredSlots)?.shift();
      dequeue(best);
      startTask(s, best, node, at);
    }
  }
}
