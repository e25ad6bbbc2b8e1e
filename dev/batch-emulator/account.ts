/**
 * The simulated Batch account: pools of nodes with task slots, jobs, tasks, and time.
 *
 * Time moves in events on a min-heap (pool allocation done, node ready, task done, job wall clock,
 * job state settling, deletions finishing). `advance()` replays every event up to the clock's now in
 * order and, after each instant, fills free slots of the pools whose situation changed ("dirty").
 *
 * `Account` is the facade the REST and control handlers call. The work is done by plain functions
 * over one `AccountState` (state.ts): pools.ts (pools, nodes, preemption), jobs.ts, tasks.ts (tasks,
 * dependencies, runs), scheduling.ts (filling free slots), events.ts (the event loop), runs.ts (a
 * run's directory, command and file transfers on its node's disk) and job-prep.ts (job preparation
 * and release tasks).
 */
import type { SimClock } from './clock.js';
import type { CoreQuotaSettings } from './core-quotas.js';
import { advance, nextEventAt } from './events.js';
import { type FileShareMapping, listFileShares, mapFileShare, unmapFileShare } from './file-shares.js';
import {
  addJob,
  armJobWallClock,
  checkAllComplete,
  deleteJob,
  disableJob,
  enableJob,
  removeJobNow,
  setJobPriority,
  terminateJob,
  touchJob,
} from './jobs.js';
import type { DeallocationOption, JobRec, NodeRec, PoolRec, TaskRec } from './model.js';
import { type NodeFault, removeNodes, setNodeFault } from './node-faults.js';
import {
  addPool,
  deletePool,
  failNextAllocation,
  preemptibleNodes,
  preemptNodes,
  resize,
  setPreemptionRate,
  stopResize,
  touchPool,
} from './pools.js';
import type { PreemptionConfig } from './preemption.js';
import { AccountState, type SimulationTimings } from './state.js';
import { addTask, deleteTask, reactivateTask, terminateTask } from './tasks.js';
import type { PoolShape } from './validate.js';

export class Account {
  /** Everything the simulation holds; the modules act on it. */
  private readonly state: AccountState;
  readonly pools: AccountState['pools'];
  readonly jobs: AccountState['jobs'];
  readonly applications: AccountState['applications'];
  readonly quotas: AccountState['quotas'];
  readonly taskCounts: AccountState['taskCounts'];
  readonly preemption: AccountState['preemption'];

  constructor(
    readonly clock: SimClock,
    readonly timings: SimulationTimings,
  ) {
    const state = new AccountState(clock, timings);
    this.state = state;
    this.pools = state.pools;
    this.jobs = state.jobs;
    this.applications = state.applications;
    this.quotas = state.quotas;
    this.taskCounts = state.taskCounts;
    this.preemption = state.preemption;
  }

  get coreQuotas(): CoreQuotaSettings {
    return this.state.coreQuotas;
  }

  set coreQuotas(settings: CoreQuotaSettings) {
    this.state.coreQuotas = settings;
  }

  reset(): void {
    this.state.reset();
  }

  /** The account name and URL tasks see as AZ_BATCH_ACCOUNT_NAME / AZ_BATCH_ACCOUNT_URL. */
  setIdentity(accountName: string, accountUrl: string): void {
    this.state.identity.accountName = accountName;
    this.state.identity.accountUrl = accountUrl;
  }

  /** `off`: no storage is contacted, as if every host were remote (scripted failures still apply). */
  setTransfers(mode: 'loopback' | 'off'): void {
    this.state.transfersLive = mode === 'loopback';
  }

  /** Backs an Azure Files share with a host directory (file-shares.ts); FileShareError when unusable. */
  mapFileShare(mapping: FileShareMapping): void {
    mapFileShare(this.state, mapping, this.clock.now());
  }

  /** Ends a share's mapping; false when it had none. */
  unmapFileShare(accountName: string, shareName: string): boolean {
    return unmapFileShare(this.state, accountName, shareName, this.clock.now());
  }

  fileShares(): FileShareMapping[] {
    return listFileShares(this.state);
  }

  /** Bytes and files the nodes moved (`GET /_emulator/transfers`). */
  transfers(): ReturnType<AccountState['transfers']['view']> {
    return this.state.transfers.view();
  }

  // ---------------------------------------------------------------- pools

  addPool(body: Record<string, unknown>, shape: PoolShape): PoolRec {
    return addPool(this.state, body, shape);
  }

  touchPool(pool: PoolRec): void {
    touchPool(this.state, pool);
  }

  resize(
    pool: PoolRec,
    dedicated: number,
    lowPriority: number,
    option: DeallocationOption,
    resizeTimeout: string,
  ): void {
    resize(this.state, pool, dedicated, lowPriority, option, resizeTimeout);
  }

  stopResize(pool: PoolRec): void {
    stopResize(this.state, pool);
  }

  deletePool(pool: PoolRec): void {
    deletePool(this.state, pool);
  }

  failNextAllocation(pool: PoolRec, code: string, message: string): void {
    failNextAllocation(pool, code, message);
  }

  /** Pools_RemoveNodes: the named nodes leave, the pool's target drops by as many. */
  removeNodes(
    pool: PoolRec,
    nodes: readonly NodeRec[],
    option: DeallocationOption,
    resizeTimeout: string,
  ): void {
    removeNodes(this.state, pool, nodes, option, resizeTimeout);
  }

  /** Scripts a node's health (test-only control). */
  setNodeFault(node: NodeRec, fault: NodeFault): void {
    setNodeFault(this.state, node, fault);
  }

  // ---------------------------------------------------------------- preemption

  /** Low-priority nodes that can be preempted now: started, in service. */
  preemptibleNodes(pool: PoolRec): NodeRec[] {
    return preemptibleNodes(pool);
  }

  /**
   * Preempts low-priority nodes: each goes to `preempted` and its running tasks back to the queue
   * (Batch requeues them without consuming a retry). The node stays in the pool and in
   * currentLowPriorityNodes, as Batch reports it; after `recoverAfterSeconds` it comes back with its
   * id through `starting` (undefined: it stays preempted until a resize removes it).
   */
  preemptNodes(nodes: readonly NodeRec[], recoverAfterSeconds: number | undefined): void {
    preemptNodes(this.state, nodes, recoverAfterSeconds);
  }

  /** Applies a new preemption rate to every low-priority node in service. */
  setPreemptionRate(config: PreemptionConfig): void {
    setPreemptionRate(this.state, config);
  }

  // ---------------------------------------------------------------- jobs

  addJob(body: Record<string, unknown>, poolId: string): JobRec {
    return addJob(this.state, body, poolId);
  }

  armJobWallClock(job: JobRec): void {
    armJobWallClock(this.state, job);
  }

  touchJob(job: JobRec, at = this.clock.now()): void {
    touchJob(this.state, job, at);
  }

  setJobPriority(job: JobRec, priority: number): void {
    setJobPriority(this.state, job, priority);
  }

  terminateJob(job: JobRec, reason: string, at = this.clock.now()): void {
    terminateJob(this.state, job, reason, at);
  }

  deleteJob(job: JobRec): void {
    deleteJob(this.state, job);
  }

  /** Gone at once, as if deleted out of band (portal, another client). */
  removeJobNow(job: JobRec): void {
    removeJobNow(this.state, job);
  }

  disableJob(job: JobRec, disableTasks: 'requeue' | 'terminate' | 'wait'): void {
    disableJob(this.state, job, disableTasks);
  }

  enableJob(job: JobRec): void {
    enableJob(this.state, job);
  }

  checkAllComplete(job: JobRec, at: number): void {
    checkAllComplete(this.state, job, at);
  }

  // ---------------------------------------------------------------- tasks

  addTask(job: JobRec, body: Record<string, unknown>): TaskRec {
    return addTask(this.state, job, body);
  }

  terminateTask(task: TaskRec): void {
    terminateTask(this.state, task);
  }

  reactivateTask(task: TaskRec): void {
    reactivateTask(this.state, task);
  }

  deleteTask(task: TaskRec): void {
    deleteTask(this.state, task);
  }

  // ---------------------------------------------------------------- time

  /** Moves the simulation to the clock's now: events in order, free slots filled after each instant. */
  advance(): void {
    advance(this.state);
  }

  nextEventAt(): number | undefined {
    return nextEventAt(this.state);
  }
}
