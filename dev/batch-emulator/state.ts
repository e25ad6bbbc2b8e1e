/**
 * The state of one simulated account, shared by the modules that act on it (pools.ts, jobs.ts,
 * tasks.ts, scheduling.ts, events.ts): the records, the event heap, the set of pools to schedule,
 * counters and settings. Those modules are plain functions over this object; `Account` (account.ts)
 * is the facade the REST and control handlers call.
 *
 * The modules call one another (a task's completion may terminate its job, which ends its other
 * tasks), so some import each other; they only call, never read another's values at load time.
 */
import type { SimClock } from './clock.js';
import { type CoreQuotaSettings, defaultCoreQuotas } from './core-quotas.js';
import type { FileShareMount } from './file-shares.js';
import { MinHeap } from './heap.js';
import type { ApplicationRec, JobRec, JobState, NodeRec, PoolRec, TaskRec } from './model.js';
import type { DirEntry } from './node-fs.js';
import { PreemptionPolicy } from './preemption.js';
import { TaskCountHistory } from './task-count-history.js';
import { TransferStats } from './transfer-stats.js';
import { Limiter } from './transfers.js';

/** Real transfers in flight at once per account, so a large sweep does not open a socket per task. */
export const TRANSFER_CONCURRENCY = 16;

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

/** What happens at a simulated instant; handled in events.ts. */
export type SimEvent =
  | { at: number; kind: 'poolAllocated'; pool: PoolRec; version: number }
  | { at: number; kind: 'nodeReady'; node: NodeRec; incarnation: number }
  | { at: number; kind: 'nodeRecovered'; node: NodeRec; incarnation: number }
  | { at: number; kind: 'nodePreempted'; node: NodeRec; incarnation: number; policy: number }
  | { at: number; kind: 'stopResizeDone'; pool: PoolRec; version: number }
  | { at: number; kind: 'poolGone'; pool: PoolRec }
  /** `endAt`: the run's simulated end, when real I/O made the event itself come later. */
  | { at: number; kind: 'taskDone'; task: TaskRec; attempt: number; endAt?: number }
  | { at: number; kind: 'jobWallClock'; job: JobRec; version: number }
  | { at: number; kind: 'jobSettle'; job: JobRec; from: JobState; to: JobState }
  | { at: number; kind: 'jobGone'; job: JobRec }
  /** A step decided when asynchronous I/O finished, or a preparation/release run ending; it checks staleness itself. */
  | { at: number; kind: 'deferred'; run: (at: number) => void };

export class AccountState {
  readonly pools = new Map<string, PoolRec>();
  readonly jobs = new Map<string, JobRec>();
  readonly applications = new Map<string, ApplicationRec>();
  readonly quotas = { activeJobs: 10_000, pools: 1_000 };
  coreQuotas: CoreQuotaSettings = defaultCoreQuotas();
  readonly taskCounts = new TaskCountHistory();
  readonly preemption = new PreemptionPolicy();
  /** The jobs each pool serves (by pool key), live ones only. */
  readonly jobsByPool = new Map<string, Set<JobRec>>();
  /** Pools whose situation changed since their last scheduling pass. */
  readonly dirty = new Set<string>();
  readonly events = new MinHeap<SimEvent>();
  activeJobs = 0;
  jobSeq = 0;
  taskSeq = 0;
  readonly transfers = new TransferStats();
  readonly limiter = new Limiter(TRANSFER_CONCURRENCY);
  /** Whether loopback storage is contacted for real (`transfers: 'loopback'`, the default). */
  transfersLive = true;
  /** The storage behind pool mounts, by source (a share, a container): one directory every node mounts. */
  readonly mounts = new Map<string, DirEntry>();
  /**
   * Azure Files shares backed by host directories, by `<account>/<share>` (file-shares.ts): the
   * emulator's configuration, kept by `reset`.
   */
  readonly fileShares = new Map<string, FileShareMount>();
  /** The account's name and URL, for AZ_BATCH_ACCOUNT_NAME / AZ_BATCH_ACCOUNT_URL. */
  readonly identity = { accountName: '', accountUrl: '' };

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
    this.transfers.reset();
    this.mounts.clear();
  }
}

export function ms(seconds: number): number {
  return seconds * 1000;
}

export function markDirty(s: AccountState, poolKey: string): void {
  s.dirty.add(poolKey);
}

let etagSeq = 0;
/** An opaque, always-changing ETag in Batch's style (`0x8D…`). */
export function newEtag(now: number): string {
  etagSeq = (etagSeq + 1) % 0xfffff;
  return `0x8D${(Math.floor(now) % 0xfffffffffff).toString(16).toUpperCase().padStart(11, '0')}${etagSeq.toString(16).toUpperCase().padStart(5, '0')}`;
}
