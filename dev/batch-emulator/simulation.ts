/**
 * The simulated Batch account: pools with nodes and task slots, jobs, tasks, and a clock that runs
 * `clockFactor` times faster than real time (plus manual advances).
 *
 * Time moves in events (a min-heap on simulated time): pool allocation finishing, tasks finishing,
 * job wall clocks expiring. After each event, and whenever a request arrives, free slots are filled:
 * for each pool, active jobs by priority (then age), each job's queue of active tasks in order; a
 * task starts on a node with at least `requiredSlots` free slots (`pack`: the first such node,
 * `spread`: the node with most free slots). A task that fits no node stays active, as in Batch.
 * Command lines: `sleep N` runs N simulated seconds; `exit K` ends with exit code K.
 */
import { errors } from './errors.js';

export interface SimClock {
  now(): number;
}

export function createSimClock(factor: number, realNow: () => number = Date.now) {
  let baseReal = realNow();
  let baseSim = realNow();
  let rate = factor;
  return {
    now: () => baseSim + (realNow() - baseReal) * rate,
    get factor() {
      return rate;
    },
    setFactor(next: number) {
      baseSim = baseSim + (realNow() - baseReal) * rate;
      baseReal = realNow();
      rate = next;
    },
    advance(ms: number) {
      baseSim += ms;
    },
  };
}

export interface NodeRec {
  id: string;
  free: number;
  running: Set<TaskRec>;
  lowPriority: boolean;
  since: number;
}

export interface PoolRec {
  id: string;
  body: Record<string, unknown>;
  creationTime: number;
  state: 'active' | 'deleting';
  stateTransitionTime: number;
  allocationState: 'steady' | 'resizing' | 'stopping';
  allocationStateTransitionTime: number;
  targetDedicated: number;
  targetLowPriority: number;
  nodes: NodeRec[];
  slots: number;
  fill: 'pack' | 'spread';
  etag: string;
  lastModified: number;
  resizeErrors: unknown[];
  nodeSeq: number;
}

export interface Counts {
  active: number;
  running: number;
  succeeded: number;
  failed: number;
}

export interface JobRec {
  id: string;
  body: Record<string, unknown>;
  state: 'active' | 'disabling' | 'disabled' | 'enabling' | 'terminating' | 'completed' | 'deleting';
  previousState?: string;
  previousStateTransitionTime?: number;
  stateTransitionTime: number;
  creationTime: number;
  etag: string;
  lastModified: number;
  poolId: string;
  priority: number;
  onAllTasksComplete: 'noaction' | 'terminatejob';
  onTaskFailure: 'noaction' | 'performexitoptionsjobaction';
  usesTaskDependencies: boolean;
  maxTaskRetryCount: number;
  terminateReason?: string;
  endTime?: number;
  tasks: Map<string, TaskRec>;
  order: TaskRec[];
  queue: TaskRec[];
  counts: Counts;
  slotCounts: Counts;
  seq: number;
}

export interface TaskRec {
  id: string;
  job: JobRec;
  body: Record<string, unknown>;
  state: 'active' | 'preparing' | 'running' | 'completed';
  previousState?: string;
  previousStateTransitionTime?: number;
  stateTransitionTime: number;
  creationTime: number;
  etag: string;
  lastModified: number;
  requiredSlots: number;
  durationMs: number;
  exitCode: number;
  maxRetries: number;
  wallClockMs?: number;
  retryCount: number;
  requeueCount: number;
  startTime?: number;
  endTime?: number;
  result?: 'success' | 'failure';
  lastExitCode?: number;
  failureInfo?: { category: string; code: string; message: string };
  node?: NodeRec;
  pool?: PoolRec;
  endsAt?: number;
  attempt: number;
  dependsOn?: { taskIds?: string[]; taskIdRanges?: { start: number; end: number }[] };
}

type Event =
  | { at: number; kind: 'poolReady'; pool: PoolRec; version: number }
  | { at: number; kind: 'poolGone'; pool: PoolRec }
  | { at: number; kind: 'taskDone'; task: TaskRec; attempt: number }
  | { at: number; kind: 'jobWallClock'; job: JobRec }
  | { at: number; kind: 'jobGone'; job: JobRec }
  | { at: number; kind: 'jobCompleted'; job: JobRec };

class Heap {
  private items: Event[] = [];
  get size() {
    return this.items.length;
  }
  peek(): Event | undefined {
    return this.items[0];
  }
  push(e: Event) {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= a[i]!.at) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Event | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.at < a[m]!.at) m = l;
        if (r < a.length && a[r]!.at < a[m]!.at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** `sleep N` → N simulated seconds; `exit K` → exit code K. */
export function commandBehaviour(commandLine: string): { durationMs: number; exitCode: number } {
  const sleep = /\bsleep\s+(\d+(?:\.\d+)?)/.exec(commandLine);
  const exit = /\bexit\s+(-?\d+)/.exec(commandLine);
  return { durationMs: sleep ? Number(sleep[1]) * 1000 : 0, exitCode: exit ? Number(exit[1]) : 0 };
}

/** ISO 8601 duration → ms (days, hours, minutes, seconds). */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      text,
    );
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  return (
    ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60_000 +
    Number(m[4] ?? 0) * 1000
  );
}

let etagSeq = 0;
export function newEtag(): string {
  etagSeq++;
  return `0x8DE${(Date.now() * 1000 + etagSeq).toString(16).toUpperCase().slice(-12).padStart(12, '0')}`;
}

export class Account {
  readonly pools = new Map<string, PoolRec>();
  readonly jobs = new Map<string, JobRec>();
  readonly applications = new Map<
    string,
    { id: string; displayName: string; versions: string[]; defaultVersion?: string }
  >();
  quotas = { activeJobs: 10_000, pools: 1_000 };
  private events = new Heap();
  private jobSeq = 0;
  /** Simulated seconds a pool takes to allocate nodes. */
  allocationMs: number;

  constructor(
    readonly clock: { now(): number },
    options: { allocationSeconds?: number } = {},
  ) {
    this.allocationMs = (options.allocationSeconds ?? 30) * 1000;
  }

  reset(): void {
    this.pools.clear();
    this.jobs.clear();
    this.events = new Heap();
  }

  // ---- pools ----
  addPool(body: Record<string, unknown>, slots: number, fill: 'pack' | 'spread'): PoolRec {
    const now = this.clock.now();
    if (this.pools.size >= this.quotas.pools)
      throw errors.conflict('PoolQuotaReached', 'The specified account has reached its pool quota.');
    const pool: PoolRec = {
      id: String(body.id),
      body,
      creationTime: now,
      state: 'active',
      stateTransitionTime: now,
      allocationState: 'steady',
      allocationStateTransitionTime: now,
      targetDedicated: Number(body.targetDedicatedNodes ?? 0),
      targetLowPriority: Number(body.targetLowPriorityNodes ?? 0),
      nodes: [],
      slots,
      fill,
      etag: newEtag(),
      lastModified: now,
      resizeErrors: [],
      nodeSeq: 0,
    };
    this.pools.set(pool.id.toLowerCase(), pool);
    this.resize(pool, pool.targetDedicated, pool.targetLowPriority);
    return pool;
  }

  resize(pool: PoolRec, dedicated: number, lowPriority: number): void {
    const now = this.clock.now();
    pool.targetDedicated = dedicated;
    pool.targetLowPriority = lowPriority;
    pool.etag = newEtag();
    pool.lastModified = now;
    if (pool.nodes.length === dedicated + lowPriority && pool.allocationState === 'steady') return;
    pool.allocationState = 'resizing';
    pool.allocationStateTransitionTime = now;
    this.events.push({ at: now + this.allocationMs, kind: 'poolReady', pool, version: ++pool.nodeSeq });
  }

  stopResize(pool: PoolRec): void {
    pool.allocationState = 'steady';
    pool.allocationStateTransitionTime = this.clock.now();
    pool.nodeSeq++;
  }

  deletePool(pool: PoolRec): void {
    const now = this.clock.now();
    pool.state = 'deleting';
    pool.stateTransitionTime = now;
    for (const node of pool.nodes) this.requeueNode(node, now);
    pool.nodes = [];
    this.events.push({ at: now + 5000, kind: 'poolGone', pool });
  }

  private requeueNode(node: NodeRec, now: number): void {
    for (const task of node.running) {
      task.state = 'active';
      task.stateTransitionTime = now;
      task.requeueCount++;
      task.attempt++;
      task.node = undefined;
      task.job.counts.running--;
      task.job.counts.active++;
      task.job.slotCounts.running -= task.requiredSlots;
      task.job.slotCounts.active += task.requiredSlots;
      task.job.queue.unshift(task);
    }
    node.running.clear();
  }

  // ---- jobs ----
  addJob(body: Record<string, unknown>, poolId: string): JobRec {
    const now = this.clock.now();
    const active = [...this.jobs.values()].filter(
      (j) => j.state !== 'completed' && j.state !== 'deleting',
    ).length;
    if (active >= this.quotas.activeJobs) {
      throw errors.conflict(
        'ActiveJobAndScheduleQuotaReached',
        'The specified account has reached its quota of active jobs and job schedules.',
      );
    }
    const constraints = (body.constraints ?? {}) as Record<string, unknown>;
    const job: JobRec = {
      id: String(body.id),
      body,
      state: 'active',
      stateTransitionTime: now,
      creationTime: now,
      etag: newEtag(),
      lastModified: now,
      poolId,
      priority: Number(body.priority ?? 0),
      onAllTasksComplete: String(
        body.onAllTasksComplete ?? 'noaction',
      ).toLowerCase() as JobRec['onAllTasksComplete'],
      onTaskFailure: String(body.onTaskFailure ?? 'noaction').toLowerCase() as JobRec['onTaskFailure'],
      usesTaskDependencies: body.usesTaskDependencies === true,
      maxTaskRetryCount: Number(constraints.maxTaskRetryCount ?? 0),
      tasks: new Map(),
      order: [],
      queue: [],
      counts: { active: 0, running: 0, succeeded: 0, failed: 0 },
      slotCounts: { active: 0, running: 0, succeeded: 0, failed: 0 },
      seq: this.jobSeq++,
    };
    this.jobs.set(job.id.toLowerCase(), job);
    const wall = parseDuration(constraints.maxWallClockTime);
    if (wall !== undefined) this.events.push({ at: now + wall, kind: 'jobWallClock', job });
    this.checkAllComplete(job, now);
    return job;
  }

  terminateJob(job: JobRec, reason: string, at = this.clock.now()): void {
    if (job.state === 'completed' || job.state === 'terminating' || job.state === 'deleting') return;
    this.setJobState(job, 'terminating', at);
    job.terminateReason = reason;
    for (const task of job.order) {
      if (task.state === 'running' || task.state === 'preparing') {
        this.finishTask(task, at, {
          exitCode: undefined,
          failure: {
            category: 'usererror',
            code: 'TaskEnded',
            message: 'The task was ended because its job was terminated.',
          },
        });
      }
    }
    this.events.push({ at, kind: 'jobCompleted', job });
  }

  deleteJob(job: JobRec): void {
    const now = this.clock.now();
    for (const task of job.order) if (task.state === 'running' && task.node) this.release(task);
    this.setJobState(job, 'deleting', now);
    this.events.push({ at: now + 2000, kind: 'jobGone', job });
  }

  setJobState(job: JobRec, state: JobRec['state'], at: number): void {
    job.previousState = job.state;
    job.previousStateTransitionTime = job.stateTransitionTime;
    job.state = state;
    job.stateTransitionTime = at;
    job.etag = newEtag();
    job.lastModified = at;
  }

  checkAllComplete(job: JobRec, at: number): void {
    if (job.state !== 'active' || job.onAllTasksComplete !== 'terminatejob') return;
    if (job.counts.active === 0 && job.counts.running === 0) this.terminateJob(job, 'AllTasksComplete', at);
  }

  // ---- tasks ----
  addTask(job: JobRec, body: Record<string, unknown>): TaskRec {
    const now = this.clock.now();
    const { durationMs, exitCode } = commandBehaviour(String(body.commandLine ?? ''));
    const constraints = (body.constraints ?? {}) as Record<string, unknown>;
    const task: TaskRec = {
      id: String(body.id),
      job,
      body,
      state: 'active',
      stateTransitionTime: now,
      creationTime: now,
      etag: newEtag(),
      lastModified: now,
      requiredSlots: Number(body.requiredSlots ?? 1),
      durationMs,
      exitCode,
      maxRetries:
        constraints.maxTaskRetryCount === undefined
          ? job.maxTaskRetryCount
          : Number(constraints.maxTaskRetryCount),
      ...(parseDuration(constraints.maxWallClockTime) !== undefined
        ? { wallClockMs: parseDuration(constraints.maxWallClockTime)! }
        : {}),
      retryCount: 0,
      requeueCount: 0,
      attempt: 0,
      ...(body.dependsOn ? { dependsOn: body.dependsOn as TaskRec['dependsOn'] } : {}),
    };
    job.tasks.set(task.id.toLowerCase(), task);
    job.order.push(task);
    job.queue.push(task);
    job.counts.active++;
    job.slotCounts.active += task.requiredSlots;
    return task;
  }

  reactivate(task: TaskRec): void {
    const now = this.clock.now();
    const job = task.job;
    if (task.result === 'failure') {
      job.counts.failed--;
      job.slotCounts.failed -= task.requiredSlots;
    } else {
      job.counts.succeeded--;
      job.slotCounts.succeeded -= task.requiredSlots;
    }
    task.previousState = task.state;
    task.previousStateTransitionTime = task.stateTransitionTime;
    task.state = 'active';
    task.stateTransitionTime = now;
    task.retryCount = 0;
    task.result = undefined;
    task.failureInfo = undefined;
    task.etag = newEtag();
    job.counts.active++;
    job.slotCounts.active += task.requiredSlots;
    job.queue.push(task);
  }

  terminateTask(task: TaskRec): void {
    const now = this.clock.now();
    if (task.state === 'completed') return;
    if (task.state === 'active') {
      const i = task.job.queue.indexOf(task);
      if (i >= 0) task.job.queue.splice(i, 1);
    }
    this.finishTask(task, now, {
      exitCode: undefined,
      failure: { category: 'usererror', code: 'TaskEnded', message: 'The task was terminated.' },
    });
    this.checkAllComplete(task.job, now);
  }

  private dependenciesMet(task: TaskRec): boolean {
    const deps = task.dependsOn;
    if (!deps) return true;
    const done = (id: string) => {
      const t = task.job.tasks.get(id.toLowerCase());
      return t !== undefined && t.state === 'completed' && t.result === 'success';
    };
    if (deps.taskIds && !deps.taskIds.every(done)) return false;
    for (const r of deps.taskIdRanges ?? [])
      for (let n = r.start; n <= r.end; n++) if (!done(String(n))) return false;
    return true;
  }

  private release(task: TaskRec): void {
    if (task.node) {
      task.node.free += task.requiredSlots;
      task.node.running.delete(task);
    }
    task.node = undefined;
  }

  private finishTask(
    task: TaskRec,
    at: number,
    outcome: { exitCode: number | undefined; failure?: { category: string; code: string; message: string } },
  ): void {
    const job = task.job;
    const wasRunning = task.state === 'running' || task.state === 'preparing';
    this.release(task);
    task.previousState = task.state;
    task.previousStateTransitionTime = task.stateTransitionTime;
    task.state = 'completed';
    task.stateTransitionTime = at;
    task.endTime = at;
    task.etag = newEtag();
    task.lastModified = at;
    if (outcome.exitCode !== undefined) task.lastExitCode = outcome.exitCode;
    task.result = outcome.failure ? 'failure' : 'success';
    task.failureInfo = outcome.failure;
    if (wasRunning) {
      job.counts.running--;
      job.slotCounts.running -= task.requiredSlots;
    } else {
      job.counts.active--;
      job.slotCounts.active -= task.requiredSlots;
    }
    if (outcome.failure) {
      job.counts.failed++;
      job.slotCounts.failed += task.requiredSlots;
    } else {
      job.counts.succeeded++;
      job.slotCounts.succeeded += task.requiredSlots;
    }
  }

  private completeRun(task: TaskRec, at: number): void {
    const job = task.job;
    const timedOut = task.wallClockMs !== undefined && task.durationMs > task.wallClockMs;
    const exitCode = timedOut ? undefined : task.exitCode;
    if (!timedOut && exitCode !== 0 && (task.maxRetries === -1 || task.retryCount < task.maxRetries)) {
      // Retried: back to the queue with the retry counted.
      this.release(task);
      task.retryCount++;
      task.attempt++;
      task.lastExitCode = exitCode;
      task.state = 'active';
      task.stateTransitionTime = at;
      job.counts.running--;
      job.counts.active++;
      job.slotCounts.running -= task.requiredSlots;
      job.slotCounts.active += task.requiredSlots;
      job.queue.push(task);
      return;
    }
    const failure = timedOut
      ? {
          category: 'usererror',
          code: 'MaxWallClockTimeExceeded',
          message: 'The task ran longer than its maximum wall clock time.',
        }
      : exitCode !== 0
        ? {
            category: 'usererror',
            code: 'FailureExitCode',
            message: 'The task exited with an exit code representing a failure',
          }
        : undefined;
    this.finishTask(task, at, { exitCode, ...(failure ? { failure } : {}) });
    if (failure && job.onTaskFailure === 'performexitoptionsjobaction') {
      const exitConditions = (task.body.exitConditions ?? {}) as { default?: { jobAction?: string } };
      const action = (exitConditions.default?.jobAction ?? 'terminate').toLowerCase();
      if (action === 'terminate') this.terminateJob(job, 'TaskFailed', at);
    }
    this.checkAllComplete(job, at);
  }

  // ---- time ----
  /** Moves the simulation to the clock's now: events in order, slots filled after each. */
  advance(): void {
    const now = this.clock.now();
    for (let e = this.events.peek(); e && e.at <= now; e = this.events.peek()) {
      this.events.pop();
      this.handle(e);
      this.schedule(e.at);
    }
    this.schedule(now);
  }

  private handle(e: Event): void {
    switch (e.kind) {
      case 'poolReady': {
        const pool = e.pool;
        if (pool.state !== 'active' || e.version !== pool.nodeSeq) return;
        const want = pool.targetDedicated + pool.targetLowPriority;
        while (pool.nodes.length < want) {
          const lowPriority = pool.nodes.length >= pool.targetDedicated;
          pool.nodes.push({
            id: `tvmps_${pool.id.toLowerCase()}_${pool.nodes.length}_${pool.nodeSeq}`,
            free: pool.slots,
            running: new Set(),
            lowPriority,
            since: e.at,
          });
        }
        while (pool.nodes.length > want) {
          // Idle nodes go first; busy ones have their tasks requeued (nodeDeallocationOption requeue).
          const idle = pool.nodes.findIndex((n) => n.running.size === 0);
          const [removed] = pool.nodes.splice(idle >= 0 ? idle : pool.nodes.length - 1, 1);
          if (removed) this.requeueNode(removed, e.at);
        }
        pool.allocationState = 'steady';
        pool.allocationStateTransitionTime = e.at;
        pool.etag = newEtag();
        return;
      }
      case 'poolGone':
        this.pools.delete(e.pool.id.toLowerCase());
        return;
      case 'taskDone':
        if (e.task.state === 'running' && e.task.attempt === e.attempt) this.completeRun(e.task, e.at);
        return;
      case 'jobWallClock':
        if (e.job.state === 'active') this.terminateJob(e.job, 'MaxWallClockTimeExpiry', e.at);
        return;
      case 'jobCompleted':
        if (e.job.state === 'terminating') {
          this.setJobState(e.job, 'completed', e.at);
          e.job.endTime = e.at;
        }
        return;
      case 'jobGone':
        this.jobs.delete(e.job.id.toLowerCase());
        return;
    }
  }

  private schedule(at: number): void {
    for (const pool of this.pools.values()) {
      if (pool.state !== 'active' || pool.nodes.length === 0) continue;
      let free = pool.nodes.reduce((n, node) => n + node.free, 0);
      if (free === 0) continue;
      const jobs = [...this.jobs.values()]
        .filter(
          (j) =>
            j.state === 'active' && j.poolId.toLowerCase() === pool.id.toLowerCase() && j.queue.length > 0,
        )
        .sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      for (const job of jobs) {
        const waiting: TaskRec[] = [];
        while (job.queue.length > 0 && free > 0) {
          const task = job.queue.shift()!;
          if (task.state !== 'active') continue;
          const node =
            task.requiredSlots <= pool.slots && this.dependenciesMet(task)
              ? this.pickNode(pool, task.requiredSlots)
              : undefined;
          if (!node) {
            waiting.push(task);
            continue;
          }
          node.free -= task.requiredSlots;
          node.running.add(task);
          free -= task.requiredSlots;
          task.node = node;
          task.pool = pool;
          task.state = 'running';
          task.stateTransitionTime = at;
          task.startTime = at;
          task.etag = newEtag();
          job.counts.active--;
          job.counts.running++;
          job.slotCounts.active -= task.requiredSlots;
          job.slotCounts.running += task.requiredSlots;
          const runFor =
            task.wallClockMs !== undefined ? Math.min(task.durationMs, task.wallClockMs) : task.durationMs;
          this.events.push({ at: at + runFor, kind: 'taskDone', task, attempt: task.attempt });
        }
        if (waiting.length > 0) job.queue = waiting.concat(job.queue);
        if (free === 0) break;
      }
    }
  }

  private pickNode(pool: PoolRec, slots: number): NodeRec | undefined {
    if (pool.fill === 'pack') return pool.nodes.find((n) => n.free >= slots);
    let best: NodeRec | undefined;
    for (const n of pool.nodes) if (n.free >= slots && (!best || n.free > best.free)) best = n;
    return best;
  }

  nextEventAt(): number | undefined {
    return this.events.peek()?.at;
  }
}
