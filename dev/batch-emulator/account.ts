/**
 * The simulated Batch account: pools of nodes with task slots, jobs, tasks, and time.
 *
 * Time moves in events on a min-heap (pool allocation done, node ready, task done, job wall clock,
 * job state settling, deletions finishing). `advance()` replays every event up to the clock's now in
 * order and, after each instant, fills free slots of the pools whose situation changed ("dirty").
 *
 * Scheduling never scans all tasks: each job keeps FIFO queues of runnable tasks per requiredSlots;
 * each pool keeps its nodes in buckets by free slots. A pool's jobs are served by priority (higher
 * first), then age; within a job the oldest head among the queues whose size fits some node runs
 * first. `pack` puts a task on the fullest node that fits it (fill one node before the next),
 * `spread` on the emptiest. A task needing more slots than a node has stays active for ever, as in
 * Batch. Tasks waiting on dependencies sit outside the queues until their last dependency is met.
 */
import type { SimClock } from './clock.js';
import { commandBehaviour, parseDuration } from './command.js';
import { admitNodes, type CoreQuotaSettings, defaultCoreQuotas, type ResizeErrorRec } from './core-quotas.js';
import { Deque } from './deque.js';
import { errors } from './errors.js';
import { resolveExitOptions, type TaskEnding } from './exit-conditions.js';
import { MinHeap } from './heap.js';
import type {
  ApplicationRec,
  DeallocationOption,
  FailureInfo,
  JobRec,
  JobState,
  NodeRec,
  PoolRec,
  QueueEntry,
  TaskRec,
} from './model.js';
import { type PreemptionConfig, PreemptionPolicy } from './preemption.js';
import { TaskCountHistory } from './task-count-history.js';
import { fileUploadFailure, preProcessingFailure } from './task-files.js';

export interface SimulationTimings {
  /** Simulated seconds from a resize until its nodes are allocated. */
  allocationSeconds: number;
  /** Simulated seconds a new node spends starting before it takes tasks. */
  nodeStartSeconds: number;
  /** Simulated seconds a deleting pool or job lingers before it is gone. */
  deleteSeconds: number;
  /** Simulated seconds a job spends terminating / disabling / enabling. */
  transitionSeconds: number;
}

type SimEvent =
  | { at: number; kind: 'poolAllocated'; pool: PoolRec; version: number }
  | { at: number; kind: 'nodeReady'; node: NodeRec; incarnation: number }
  | { at: number; kind: 'nodeRecovered'; node: NodeRec; incarnation: number }
  | { at: number; kind: 'nodePreempted'; node: NodeRec; incarnation: number; policy: number }
  | { at: number; kind: 'stopResizeDone'; pool: PoolRec; version: number }
  | { at: number; kind: 'poolGone'; pool: PoolRec }
  | { at: number; kind: 'taskDone'; task: TaskRec; attempt: number }
  | { at: number; kind: 'jobWallClock'; job: JobRec; version: number }
  | { at: number; kind: 'jobSettle'; job: JobRec; from: JobState; to: JobState }
  | { at: number; kind: 'jobGone'; job: JobRec };

const ACTIVE_JOB_STATES: ReadonlySet<JobState> = new Set([
  'active',
  'disabling',
  'disabled',
  'enabling',
  'terminating',
]);

let etagSeq = 0;
/** An opaque, always-changing ETag in Batch's style (`0x8D…`). */
export function newEtag(now: number): string {
  etagSeq = (etagSeq + 1) % 0xfffff;
  return `0x8D${(Math.floor(now) % 0xfffffffffff).toString(16).toUpperCase().padStart(11, '0')}${etagSeq.toString(16).toUpperCase().padStart(5, '0')}`;
}

function hash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16).padStart(8, '0');
}

export class Account {
  readonly pools = new Map<string, PoolRec>();
  readonly jobs = new Map<string, JobRec>();
  readonly applications = new Map<string, ApplicationRec>();
  readonly quotas = { activeJobs: 10_000, pools: 1_000 };
  coreQuotas: CoreQuotaSettings = defaultCoreQuotas();
  readonly taskCounts = new TaskCountHistory();
  readonly preemption = new PreemptionPolicy();
  private readonly jobsByPool = new Map<string, Set<JobRec>>();
  private readonly dirty = new Set<string>();
  private readonly events = new MinHeap<SimEvent>();
  private activeJobs = 0;
  private jobSeq = 0;
  private taskSeq = 0;

  constructor(
    readonly clock: SimClock,
    readonly timings: SimulationTimings,
  ) {}

  reset(): void {
    this.pools.clear();
    this.jobs.clear();
    this.applications.clear();
    this.jobsByPool.clear();
    this.dirty.clear();
    this.events.clear();
    this.activeJobs = 0;
    this.quotas.activeJobs = 10_000;
    this.quotas.pools = 1_000;
    this.coreQuotas = defaultCoreQuotas();
    this.taskCounts.setLag(0, [], this.clock.now());
    this.preemption.set({ ratePerNodeHour: 0 });
  }

  private ms(seconds: number): number {
    return seconds * 1000;
  }

  // ---------------------------------------------------------------- pools

  addPool(
    body: Record<string, unknown>,
    shape: {
      slots: number;
      fill: 'pack' | 'spread';
      vmSize: string;
      containers: boolean;
      autoScale: boolean;
    },
  ): PoolRec {
    if (this.pools.size >= this.quotas.pools)
      throw errors.conflict('PoolQuotaReached', 'The specified account has reached its pool quota.');
    const now = this.clock.now();
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
    this.pools.set(pool.key, pool);
    const [dedicated, lowPriority] = shape.autoScale
      ? [autoScaleTarget(String(body.autoScaleFormula ?? '')), 0]
      : [Number(body.targetDedicatedNodes ?? 0), Number(body.targetLowPriorityNodes ?? 0)];
    this.resize(pool, dedicated, lowPriority, 'requeue', pool.resizeTimeout);
    this.markDirty(pool.key);
    return pool;
  }

  touchPool(pool: PoolRec): void {
    const now = this.clock.now();
    pool.etag = newEtag(now);
    pool.lastModified = now;
  }

  private setAllocationState(pool: PoolRec, state: PoolRec['allocationState'], at: number): void {
    pool.allocationState = state;
    pool.allocationStateTransitionTime = at;
  }

  resize(
    pool: PoolRec,
    dedicated: number,
    lowPriority: number,
    option: DeallocationOption,
    resizeTimeout: string,
  ): void {
    const now = this.clock.now();
    pool.targetDedicated = dedicated;
    pool.targetLowPriority = lowPriority;
    pool.resizeTimeout = resizeTimeout;
    pool.resizeErrors = [];
    pool.allocVersion++;
    pool.awaitingAllocation = true;
    this.touchPool(pool);
    this.setAllocationState(pool, 'resizing', now);
    // Shrinking picks its victims now: idle nodes first, then the least busy.
    for (const lowPri of [false, true]) {
      const target = lowPri ? lowPriority : dedicated;
      const kept = [...pool.nodes.values()].filter((n) => n.lowPriority === lowPri && !n.leaving);
      const excess = kept.length - target;
      if (excess > 0) {
        kept.sort((a, b) => a.running.size - b.running.size);
        for (const node of kept.slice(0, excess)) this.retireNode(node, option, now);
      }
    }
    // Capacity that takes longer than the resize timeout never arrives: the allocation ends at the
    // deadline with AllocationTimedout.
    pool.resizeDeadline = now + (parseDuration(resizeTimeout) ?? this.ms(15 * 60));
    pool.allocationDue = now + this.ms(this.timings.allocationSeconds);
    this.events.push({
      at: Math.min(pool.allocationDue, pool.resizeDeadline),
      kind: 'poolAllocated',
      pool,
      version: pool.allocVersion,
    });
  }

  stopResize(pool: PoolRec): void {
    if (pool.allocationState !== 'resizing') return;
    const now = this.clock.now();
    pool.allocVersion++;
    pool.awaitingAllocation = false;
    this.setAllocationState(pool, 'stopping', now);
    this.touchPool(pool);
    this.events.push({
      at: now + this.ms(this.timings.transitionSeconds),
      kind: 'stopResizeDone',
      pool,
      version: pool.allocVersion,
    });
  }

  deletePool(pool: PoolRec): void {
    if (pool.state === 'deleting') return;
    const now = this.clock.now();
    pool.state = 'deleting';
    pool.stateTransitionTime = now;
    pool.allocVersion++;
    pool.targetDedicated = 0;
    pool.targetLowPriority = 0;
    this.setAllocationState(pool, 'resizing', now);
    this.touchPool(pool);
    for (const node of pool.nodes.values()) if (!node.leaving) this.retireNode(node, 'requeue', now);
    this.events.push({ at: now + this.ms(this.timings.deleteSeconds), kind: 'poolGone', pool });
  }

  failNextAllocation(pool: PoolRec, code: string, message: string): void {
    pool.failNextAllocation = { code, message };
  }

  private unbucket(node: NodeRec): void {
    if (node.bucket >= 0) node.pool.byFree[node.bucket]?.delete(node);
    node.bucket = -1;
  }

  private rebucket(node: NodeRec): void {
    this.unbucket(node);
    if (node.leaving || node.state === 'starting' || node.state === 'preempted') return;
    node.bucket = node.free;
    node.pool.byFree[node.free]?.add(node);
  }

  /** Takes a node out of service; its running tasks are requeued, ended or left to finish. */
  private retireNode(node: NodeRec, option: DeallocationOption, now: number): void {
    node.leaving = true;
    node.state = 'leavingpool';
    node.stateTransitionTime = now;
    this.unbucket(node);
    for (const task of [...node.running]) {
      if (option === 'requeue') this.requeueRunning(task, now);
      else if (option === 'terminate')
        this.completeTask(task, now, undefined, {
          category: 'usererror',
          code: 'TaskEnded',
          message: 'Task Was Ended by User Request',
          details: [{ name: 'Reason', value: 'The compute node was removed from the pool.' }],
        });
    }
  }

  private removeNodeIfDone(node: NodeRec): void {
    if (!node.leaving || node.running.size > 0) return;
    node.pool.nodes.delete(node.id);
    this.unbucket(node);
  }

  private settleAllocation(pool: PoolRec, at: number): void {
    if (pool.allocationState !== 'resizing' || pool.awaitingAllocation) return;
    for (const node of pool.nodes.values()) if (node.leaving && node.running.size > 0) return;
    this.setAllocationState(pool, 'steady', at);
  }

  private addNode(pool: PoolRec, lowPriority: boolean, at: number): void {
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
    };
    pool.nodes.set(node.id, node);
    this.events.push({
      at: at + this.ms(this.timings.nodeStartSeconds),
      kind: 'nodeReady',
      node,
      incarnation: 0,
    });
  }

  // ---------------------------------------------------------------- preemption

  /** Low-priority nodes that can be preempted now: started, in service. */
  preemptibleNodes(pool: PoolRec): NodeRec[] {
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
  preemptNodes(nodes: readonly NodeRec[], recoverAfterSeconds: number | undefined): void {
    const now = this.clock.now();
    for (const node of nodes) this.preemptNode(node, now, recoverAfterSeconds);
  }

  private preemptNode(node: NodeRec, at: number, recoverAfterSeconds: number | undefined): void {
    if (!node.lowPriority || node.leaving || (node.state !== 'idle' && node.state !== 'running')) return;
    node.state = 'preempted';
    node.stateTransitionTime = at;
    node.incarnation++;
    this.unbucket(node);
    for (const task of [...node.running]) {
      this.release(task);
      task.attempt++;
      this.setTaskState(task, 'active', at);
      this.moveCounts(task, 'running', 'active', at);
      this.enqueue(task, true);
    }
    if (recoverAfterSeconds !== undefined)
      this.events.push({
        at: at + this.ms(recoverAfterSeconds),
        kind: 'nodeRecovered',
        node,
        incarnation: node.incarnation,
      });
  }

  /** Arms the random preemption of a node that just came into service, when a rate is set. */
  private armPreemption(node: NodeRec, at: number): void {
    if (!node.lowPriority) return;
    const delayMs = this.preemption.nextDelayMs();
    if (delayMs === undefined) return;
    this.events.push({
      at: at + delayMs,
      kind: 'nodePreempted',
      node,
      incarnation: node.incarnation,
      policy: this.preemption.version,
    });
  }

  /** Applies a new preemption rate to every low-priority node in service. */
  setPreemptionRate(config: PreemptionConfig): void {
    this.preemption.set(config);
    const now = this.clock.now();
    for (const pool of this.pools.values())
      for (const node of this.preemptibleNodes(pool)) this.armPreemption(node, now);
  }

  // ---------------------------------------------------------------- jobs

  private jobsOf(poolKey: string): Set<JobRec> {
    let set = this.jobsByPool.get(poolKey);
    if (!set) {
      set = new Set();
      this.jobsByPool.set(poolKey, set);
    }
    return set;
  }

  addJob(body: Record<string, unknown>, poolId: string): JobRec {
    if (this.activeJobs >= this.quotas.activeJobs) {
      throw errors.conflict(
        'ActiveJobAndScheduleQuotaReached',
        'The specified account has reached its quota of active jobs and job schedules.',
      );
    }
    const now = this.clock.now();
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
      seq: this.jobSeq++,
      wallClockVersion: 0,
    };
    this.jobs.set(job.key, job);
    this.jobsOf(job.poolKey).add(job);
    this.activeJobs++;
    this.taskCounts.jobCreated(job, now);
    this.armJobWallClock(job);
    this.checkAllComplete(job, now);
    return job;
  }

  armJobWallClock(job: JobRec): void {
    job.wallClockVersion++;
    const wall = parseDuration(job.maxWallClockTime);
    if (wall !== undefined)
      this.events.push({
        at: job.creationTime + wall,
        kind: 'jobWallClock',
        job,
        version: job.wallClockVersion,
      });
  }

  touchJob(job: JobRec, at = this.clock.now()): void {
    job.etag = newEtag(at);
    job.lastModified = at;
  }

  private setJobState(job: JobRec, state: JobState, at: number): void {
    const wasActive = ACTIVE_JOB_STATES.has(job.state);
    job.previousState = job.state;
    job.previousStateTransitionTime = job.stateTransitionTime;
    job.state = state;
    job.stateTransitionTime = at;
    this.touchJob(job, at);
    this.activeJobs += (ACTIVE_JOB_STATES.has(state) ? 1 : 0) - (wasActive ? 1 : 0);
    // A completed job never runs tasks again: keep the pool's scheduling pass to live jobs.
    if (state === 'completed') this.jobsByPool.get(job.poolKey)?.delete(job);
  }

  setJobPriority(job: JobRec, priority: number): void {
    job.priority = priority;
    this.markDirty(job.poolKey);
  }

  terminateJob(job: JobRec, reason: string, at = this.clock.now()): void {
    if (!ACTIVE_JOB_STATES.has(job.state) || job.state === 'terminating') return;
    this.setJobState(job, 'terminating', at);
    job.terminateReason = reason;
    for (const task of job.tasks.values()) {
      if (task.state === 'running' || task.state === 'preparing')
        this.completeTask(task, at, undefined, {
          category: 'usererror',
          code: 'TaskEnded',
          message: 'Task Was Ended by User Request',
          details: [{ name: 'Reason', value: `The job was terminated (${reason}).` }],
        });
    }
    this.events.push({
      at: at + this.ms(this.timings.transitionSeconds),
      kind: 'jobSettle',
      job,
      from: 'terminating',
      to: 'completed',
    });
  }

  deleteJob(job: JobRec): void {
    if (job.state === 'deleting') return;
    const now = this.clock.now();
    for (const task of job.tasks.values()) if (task.node) this.release(task);
    this.setJobState(job, 'deleting', now);
    this.jobsByPool.get(job.poolKey)?.delete(job);
    this.events.push({ at: now + this.ms(this.timings.deleteSeconds), kind: 'jobGone', job });
  }

  /** Gone at once, as if deleted out of band (portal, another client). */
  removeJobNow(job: JobRec): void {
    for (const task of job.tasks.values()) if (task.node) this.release(task);
    if (ACTIVE_JOB_STATES.has(job.state)) this.activeJobs--;
    job.state = 'deleting';
    this.jobsByPool.get(job.poolKey)?.delete(job);
    this.jobs.delete(job.key);
  }

  disableJob(job: JobRec, disableTasks: 'requeue' | 'terminate' | 'wait'): void {
    const now = this.clock.now();
    this.setJobState(job, 'disabling', now);
    for (const task of job.tasks.values()) {
      if (task.state !== 'running') continue;
      if (disableTasks === 'requeue') this.requeueRunning(task, now);
      else if (disableTasks === 'terminate')
        this.completeTask(task, now, undefined, {
          category: 'usererror',
          code: 'TaskEnded',
          message: 'Task Was Ended by User Request',
        });
    }
    this.events.push({
      at: now + this.ms(this.timings.transitionSeconds),
      kind: 'jobSettle',
      job,
      from: 'disabling',
      to: 'disabled',
    });
  }

  enableJob(job: JobRec): void {
    const now = this.clock.now();
    this.setJobState(job, 'enabling', now);
    this.events.push({
      at: now + this.ms(this.timings.transitionSeconds),
      kind: 'jobSettle',
      job,
      from: 'enabling',
      to: 'active',
    });
  }

  checkAllComplete(job: JobRec, at: number): void {
    if (job.state !== 'active' || job.onAllTasksComplete !== 'terminatejob') return;
    if (job.counts.active === 0 && job.counts.running === 0) this.terminateJob(job, 'AllTasksComplete', at);
  }

  // ---------------------------------------------------------------- tasks

  addTask(job: JobRec, body: Record<string, unknown>): TaskRec {
    const now = this.clock.now();
    const { durationMs, exitCode } = commandBehaviour(String(body.commandLine ?? ''));
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
      durationMs,
      exitCode,
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
      seq: this.taskSeq++,
    };
    job.tasks.set(task.key, task);
    job.counts.active++;
    job.slotCounts.active += task.requiredSlots;
    this.taskCounts.record(job, now);
    this.registerDependencies(task);
    if (task.unmetDependencies === 0) this.enqueue(task, false);
    // A task that others were already waiting for changes nothing until it completes.
    return task;
  }

  private dependencyIds(task: TaskRec): string[] {
    const deps = task.body.dependsOn as
      | { taskIds?: string[]; taskIdRanges?: { start: number; end: number }[] }
      | undefined;
    if (!deps) return [];
    const ids = new Set<string>();
    for (const id of deps.taskIds ?? []) ids.add(String(id).toLowerCase());
    for (const r of deps.taskIdRanges ?? []) for (let n = r.start; n <= r.end; n++) ids.add(String(n));
    return [...ids];
  }

  private registerDependencies(task: TaskRec): void {
    const job = task.job;
    for (const depKey of this.dependencyIds(task)) {
      const dep = job.tasks.get(depKey);
      if (dep && dep.state === 'completed' && dep.satisfiesDependents) continue;
      task.unmetDependencies++;
      const list = job.dependents.get(depKey);
      if (list) list.push(task);
      else job.dependents.set(depKey, [task]);
    }
  }

  private satisfyDependents(task: TaskRec): void {
    const job = task.job;
    const waiting = job.dependents.get(task.key);
    if (!waiting) return;
    job.dependents.delete(task.key);
    for (const t of waiting) {
      if (t.state !== 'active' || !job.tasks.has(t.key)) continue;
      t.unmetDependencies--;
      if (t.unmetDependencies === 0) this.enqueue(t, false);
    }
  }

  private enqueue(task: TaskRec, front: boolean): void {
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
    this.markDirty(job.poolKey);
  }

  private dequeue(task: TaskRec): void {
    if (!task.inQueue) return;
    task.inQueue = false;
    task.job.readyCount--;
  }

  private markDirty(poolKey: string): void {
    this.dirty.add(poolKey);
  }

  private release(task: TaskRec): void {
    const node = task.node;
    if (!node) return;
    node.free += task.requiredSlots;
    node.running.delete(task);
    task.node = undefined;
    if (!node.leaving) {
      if (node.running.size === 0 && node.state === 'running') {
        node.state = 'idle';
        node.stateTransitionTime = this.clock.now();
      }
      this.rebucket(node);
      this.markDirty(node.pool.key);
    } else {
      this.removeNodeIfDone(node);
      if (node.running.size === 0) this.settleAllocation(node.pool, this.clock.now());
    }
  }

  private moveCounts(
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
    this.taskCounts.record(job, at);
  }

  private setTaskState(task: TaskRec, state: TaskRec['state'], at: number): void {
    task.previousState = task.state;
    task.previousStateTransitionTime = task.stateTransitionTime;
    task.state = state;
    task.stateTransitionTime = at;
    task.etag = newEtag(at);
    task.lastModified = at;
  }

  private requeueRunning(task: TaskRec, at: number): void {
    this.release(task);
    task.attempt++;
    task.requeueCount++;
    task.lastRequeueTime = at;
    this.setTaskState(task, 'active', at);
    this.moveCounts(task, 'running', 'active', at);
    this.enqueue(task, true);
  }

  /** Ends a task: the final result, failure info, dependents, job actions. */
  private completeTask(
    task: TaskRec,
    at: number,
    exitCode: number | undefined,
    failure?: FailureInfo,
    ending: TaskEnding = exitCode === undefined ? { kind: 'ended' } : { kind: 'exitCode', code: exitCode },
  ): void {
    const job = task.job;
    const from = task.state === 'running' || task.state === 'preparing' ? 'running' : 'active';
    this.dequeue(task);
    this.release(task);
    task.attempt++;
    this.setTaskState(task, 'completed', at);
    task.endTime = at;
    task.shownExitCode = exitCode;
    task.result = failure ? 'failure' : 'success';
    task.failureInfo = failure;
    this.moveCounts(task, from, failure ? 'failed' : 'succeeded', at);
    const options = resolveExitOptions(task.body, ending, failure !== undefined);
    task.satisfiesDependents = options.dependencyAction === 'satisfy';
    if (task.satisfiesDependents) this.satisfyDependents(task);
    if (job.onTaskFailure === 'performexitoptionsjobaction' && job.state === 'active') {
      if (options.jobAction === 'terminate') this.terminateJob(job, 'TaskFailed', at);
      else if (options.jobAction === 'disable') this.disableJob(job, 'requeue');
    }
    this.checkAllComplete(job, at);
  }

  terminateTask(task: TaskRec): void {
    if (task.state === 'completed') return;
    this.completeTask(task, this.clock.now(), undefined, {
      category: 'usererror',
      code: 'TaskEnded',
      message: 'Task Was Ended by User Request',
    });
  }

  reactivateTask(task: TaskRec): void {
    const now = this.clock.now();
    const job = task.job;
    const from = task.result === 'failure' ? 'failed' : 'succeeded';
    job.counts[from]--;
    job.slotCounts[from] -= task.requiredSlots;
    job.counts.active++;
    job.slotCounts.active += task.requiredSlots;
    this.taskCounts.record(job, now);
    this.setTaskState(task, 'active', now);
    task.retryCount = 0;
    task.result = undefined;
    task.failureInfo = undefined;
    task.shownExitCode = undefined;
    task.endTime = undefined;
    task.satisfiesDependents = undefined;
    this.enqueue(task, false);
  }

  deleteTask(task: TaskRec): void {
    const job = task.job;
    const bucket =
      task.state === 'completed'
        ? task.result === 'failure'
          ? 'failed'
          : 'succeeded'
        : task.state === 'active'
          ? 'active'
          : 'running';
    this.dequeue(task);
    this.release(task);
    task.attempt++;
    job.counts[bucket]--;
    job.slotCounts[bucket] -= task.requiredSlots;
    this.taskCounts.record(job, this.clock.now());
    job.tasks.delete(task.key);
    this.checkAllComplete(job, this.clock.now());
  }

  private startTask(task: TaskRec, node: NodeRec, at: number): void {
    node.free -= task.requiredSlots;
    node.running.add(task);
    node.totalTasksRun++;
    if (node.state === 'idle') {
      node.state = 'running';
      node.stateTransitionTime = at;
    }
    this.rebucket(node);
    task.node = node;
    task.lastNode = { poolId: node.pool.id, nodeId: node.id };
    task.attempt++;
    task.startTime = at;
    if (task.retryCount > 0) task.lastRetryTime = at;
    this.setTaskState(task, 'running', at);
    this.moveCounts(task, 'active', 'running', at);
    // A resource file that cannot be downloaded ends the task before its command runs.
    const runFor = preProcessingFailure(task.body)
      ? 0
      : task.wallClockMs !== undefined
        ? Math.min(task.durationMs, task.wallClockMs)
        : task.durationMs;
    this.events.push({ at: at + runFor, kind: 'taskDone', task, attempt: task.attempt });
  }

  private finishRun(task: TaskRec, at: number): void {
    const setupFailure = preProcessingFailure(task.body);
    if (setupFailure) {
      // Not retried: the command never ran, and the same files would fail again.
      this.completeTask(task, at, undefined, setupFailure, { kind: 'preProcessingError' });
      return;
    }
    const timedOut = task.wallClockMs !== undefined && task.durationMs > task.wallClockMs;
    if (timedOut) {
      this.completeTask(task, at, undefined, {
        category: 'usererror',
        code: 'TaskEnded',
        message: 'Task Was Ended',
        details: [{ name: 'Reason', value: 'MaxWallClockTimeExpiry' }],
      });
      return;
    }
    const code = task.exitCode;
    if (code !== 0 && (task.maxRetries === -1 || task.retryCount < task.maxRetries)) {
      this.release(task);
      task.attempt++;
      task.retryCount++;
      task.shownExitCode = code;
      this.setTaskState(task, 'active', at);
      this.moveCounts(task, 'running', 'active', at);
      this.enqueue(task, true);
      return;
    }
    const uploadFailure = fileUploadFailure(task.body);
    if (uploadFailure) {
      this.completeTask(task, at, code, uploadFailure, { kind: 'fileUploadError', code });
      return;
    }
    if (code === 0 && task.node) task.node.totalTasksSucceeded++;
    this.completeTask(
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
  }

  // ---------------------------------------------------------------- time

  /** Moves the simulation to the clock's now: events in order, free slots filled after each instant. */
  advance(): void {
    const now = this.clock.now();
    for (;;) {
      const e = this.events.peek();
      if (!e || e.at > now) break;
      this.events.pop();
      this.handle(e);
      if (this.events.peek()?.at !== e.at) this.scheduleDirty(e.at);
    }
    this.scheduleDirty(now);
  }

  nextEventAt(): number | undefined {
    return this.events.peek()?.at;
  }

  private handle(e: SimEvent): void {
    switch (e.kind) {
      case 'poolAllocated': {
        const pool = e.pool;
        if (pool.state !== 'active' || e.version !== pool.allocVersion || this.pools.get(pool.key) !== pool)
          return;
        const injected = pool.failNextAllocation;
        if (injected?.code === 'AllocationTimedout' && e.at < pool.resizeDeadline) {
          // An injected timeout holds the pool in `resizing` until its resizeTimeout runs out.
          this.events.push({ ...e, at: pool.resizeDeadline });
          return;
        }
        pool.awaitingAllocation = false;
        for (const node of [...pool.nodes.values()]) this.removeNodeIfDone(node);
        pool.failNextAllocation = undefined;
        pool.resizeErrors = injected ? [injected] : this.allocateNodes(pool, e.at);
        this.settleAllocation(pool, e.at);
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
        node.state = 'idle';
        node.stateTransitionTime = e.at;
        this.rebucket(node);
        this.markDirty(node.pool.key);
        this.armPreemption(node, e.at);
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
        this.events.push({
          at: e.at + this.ms(this.timings.nodeStartSeconds),
          kind: 'nodeReady',
          node,
          incarnation: node.incarnation,
        });
        return;
      }
      case 'nodePreempted':
        if (e.policy !== this.preemption.version || e.node.incarnation !== e.incarnation) return;
        if (!e.node.pool.nodes.has(e.node.id)) return;
        this.preemptNode(e.node, e.at, this.preemption.recoverAfterSeconds(this.timings.allocationSeconds));
        return;
      case 'stopResizeDone':
        if (e.version === e.pool.allocVersion && e.pool.allocationState === 'stopping') {
          for (const node of [...e.pool.nodes.values()]) this.removeNodeIfDone(node);
          this.setAllocationState(e.pool, 'steady', e.at);
        }
        return;
      case 'poolGone':
        if (this.pools.get(e.pool.key) === e.pool) this.pools.delete(e.pool.key);
        return;
      case 'taskDone':
        if (e.task.state === 'running' && e.task.attempt === e.attempt) this.finishRun(e.task, e.at);
        return;
      case 'jobWallClock':
        if (e.version === e.job.wallClockVersion && (e.job.state === 'active' || e.job.state === 'disabled'))
          this.terminateJob(e.job, 'MaxWallClockTimeExpiry', e.at);
        return;
      case 'jobSettle':
        if (e.job.state !== e.from) return;
        this.setJobState(e.job, e.to, e.at);
        if (e.to === 'completed') e.job.endTime = e.at;
        if (e.to === 'active') {
          this.markDirty(e.job.poolKey);
          this.checkAllComplete(e.job, e.at);
        }
        return;
      case 'jobGone':
        if (this.jobs.get(e.job.key) === e.job) this.jobs.delete(e.job.key);
        return;
    }
  }

  /**
   * Adds the nodes a resize asked for, as far as the core quotas allow; returns the resize errors.
   * Capacity that would arrive after the resize timeout does not arrive at all.
   */
  private allocateNodes(pool: PoolRec, at: number): ResizeErrorRec[] {
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
      const admitted = admitNodes(this.coreQuotas, this.pools.values(), pool, lowPri, wanted);
      for (let i = 0; i < admitted.count; i++) this.addNode(pool, lowPri, at);
      if (admitted.error) errors.push(admitted.error);
    }
    return errors;
  }

  private scheduleDirty(at: number): void {
    if (this.dirty.size === 0) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      const pool = this.pools.get(key);
      if (pool) this.schedulePool(pool, at);
    }
  }

  private maxFree(pool: PoolRec): number {
    for (let k = pool.slots; k > 0; k--) if ((pool.byFree[k]?.size ?? 0) > 0) return k;
    return 0;
  }

  private pickNode(pool: PoolRec, slots: number): NodeRec | undefined {
    if (pool.fill === 'pack') {
      for (let k = slots; k <= pool.slots; k++) {
        const set = pool.byFree[k];
        if (set && set.size > 0) return set.values().next().value;
      }
      return undefined;
    }
    for (let k = pool.slots; k >= slots; k--) {
      const set = pool.byFree[k];
      if (set && set.size > 0) return set.values().next().value;
    }
    return undefined;
  }

  private headOf(job: JobRec, slots: number): TaskRec | undefined {
    const q = job.ready.get(slots);
    if (!q) return undefined;
    for (let e = q.peek(); e; e = q.peek()) {
      if (e.token === e.task.queueToken && e.task.inQueue && e.task.state === 'active') return e.task;
      q.shift();
    }
    job.ready.delete(slots);
    return undefined;
  }

  private schedulePool(pool: PoolRec, at: number): void {
    if (pool.state !== 'active') return;
    const jobs = [...(this.jobsByPool.get(pool.key) ?? [])]
      .filter((j) => j.state === 'active' && j.readyCount > 0)
      .sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    for (const job of jobs) {
      for (;;) {
        const room = this.maxFree(pool);
        if (room === 0) return;
        let best: TaskRec | undefined;
        for (const slots of [...job.ready.keys()]) {
          if (slots > room) continue;
          const head = this.headOf(job, slots);
          if (head && (!best || head.seq < best.seq)) best = head;
        }
        if (!best) break;
        const node = this.pickNode(pool, best.requiredSlots);
        if (!node) break;
        job.ready.get(best.requiredSlots)?.shift();
        this.dequeue(best);
        this.startTask(best, node, at);
      }
    }
  }
}

/** The constant an autoscale formula assigns to $TargetDedicatedNodes (or $TargetDedicated), else 0. */
export function autoScaleTarget(formula: string): number {
  const m = /\$TargetDedicated(?:Nodes)?\s*=\s*(\d+)\s*;?/i.exec(formula);
  return m ? Number(m[1]) : 0;
}
