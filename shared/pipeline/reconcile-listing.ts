/**
 * Reconciliation by listing, per Batch account: instead of asking Batch about every active job every
 * pass, ask each account what moved, and read only those jobs.
 *
 * Per account, concurrently (one account's trouble never holds up another's):
 * 1. Jobs the previous pass could not finish (`reconcile.pending` on the account document) are read
 *    first.
 * 2. The account's job list, filtered to jobs whose state changed since its watermark minus a skew
 *    margin (`stateTransitionTime ge`), selecting only id, state, times, pool and metadata, 1,000 a
 *    page. The first pass (no watermark yet) lists every job, completed ones too: a job that ended
 *    before it must still be seen. A listed job of ours that is not `active` any more (terminating,
 *    completed, disabled, deleting) has changed.
 * 3. Progress: one node list per pool the account's active jobs use (`$select=id,state,recentTasks`,
 *    1,000 nodes a page). A job with a task that started or ended after the watermark has
 *    progressed, and so has one whose stored counts a node contradicts (a task running where the
 *    job shows none running, or back in the queue where it shows some). Batch keeps a node's most
 *    recent tasks there (BatchService.json `ComputeNode.recentTasks`); what falls off is caught up
 *    by the job's later tasks, its end (step 2) or the catch-up.
 * 4. Then the full per-job reconcile (`reconcileJob`: counts, and whatever the job's end needs) for:
 *    pending, changed and progressed jobs, jobs still `submitted` with nothing counted, jobs with a
 *    preparation task whose tasks wait with none running (a failing preparation shows on no task),
 *    and a rotating catch-up slice of the others (the next `catchUp` in key order: this is how a
 *    Batch job deleted outside Slotwise, which no listing shows, is noticed within
 *    ⌈active jobs ÷ catchUp⌉ passes).
 * 5. Each account has a budget: at most `maxCallsPerAccount` gateway calls a pass, and none once its
 *    guard has no token to give without waiting. When the budget is spent or Batch throttles (or does
 *    not answer), the account's work stops for this pass, and what it found but did not read goes to
 *    `reconcile.pending` (bounded), read first next pass. The watermark moves to the newest Batch
 *    time the pass saw (job state transitions, task starts and ends: Batch's clock, never ours) only
 *    when the listing and the node lists were read to their end and everything left fits in
 *    `pending`; otherwise it stays, and the next pass lists the same changes again.
 *
 * Cost of a pass, per account a with P_a pools of N_p nodes, J_a jobs changed since the watermark and
 * R_a jobs read (pending + changed + progressed + new `submitted` + catchUp):
 *   Batch calls = ⌈J_a ÷ 1000⌉ (at least 1) + Σ_p ⌈N_p ÷ 1000⌉ (at least 1 each) + Σ reads
 *   where a read is 1 task-counts call, +1 job read when the job looks drained or changed state (and
 *   for pending and catch-up jobs), + the end-of-job reads once per job (reconcile.ts).
 *   Idle active jobs cost no Batch call beyond their share of the catch-up slice.
 * Cosmos, for all accounts together: T + 1 + Σ_t ⌈(jobs of tenant t + 1) ÷ 10,000⌉ projected
 *   queries over the active jobs (T tenants with active jobs; ~0.75 RU and ~600 bytes a job, the
 *   same reads the per-job pass makes to list its jobs), one point read per
 *   account document, one account document write per account, and for each job that changed the
 *   reads and ETag-guarded write `reconcileJob` makes.
 */
import type { AccountGuard } from '../adapters/batch/account-guard.js';
import type { BatchGateway, ListedJob } from '../adapters/batch/batch-gateway.js';
import type { AccountDoc, AccountReconcileState, AccountStore } from '../adapters/cosmos/account-store.js';
import type { WorkItem } from '../adapters/cosmos/job-store.js';
import { inJobSpan } from '../adapters/telemetry/spans.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { describeError } from '../core/errors.js';
import type { BatchAccountInfo } from '../model/accounts.js';
import { ownerKeys } from '../model/batch-names.js';
import { type ReconcileDeps, reconcileJob } from './reconcile.js';
import { meterGateway, type StopReason, stopReasonOf } from './reconcile-budget.js';
import {
  accountOfJob,
  boundedKeys,
  later,
  minus,
  readActiveWork,
  takeCatchUp,
  workKey,
} from './reconcile-work.js';

export interface ListingOptions {
  /** Jobs or nodes a list page asks for (Batch's `maxresults` allows up to 1,000). Default 1,000. */
  readonly pageSize?: number;
  /** Listed from the watermark minus this, for Batch's list not being a snapshot. Default 120,000 ms. */
  readonly skewMs?: number;
  /** Gateway calls per account per pass (a listing page counts one). Default 1,000. */
  readonly maxCallsPerAccount?: number;
  /** Jobs per account per pass read only to catch up on what no listing shows. Default 50. */
  readonly catchUp?: number;
  /** Jobs kept in `reconcile.pending`. Default 1,000. */
  readonly pendingLimit?: number;
  /** Jobs read at once per account. Default 8. */
  readonly concurrency?: number;
  /** Tenants whose active jobs are queried at once (Cosmos). Default 8. */
  readonly workQueries?: number;
}

export interface ListingDeps extends Omit<ReconcileDeps, 'batch'> {
  readonly accounts: {
    readonly list: readonly BatchAccountInfo[];
    gateway(name?: string): BatchGateway;
    guard(name?: string): Pick<AccountGuard, 'available'>;
  };
  readonly accountStore: AccountStore;
  readonly listing?: ListingOptions;
  readonly log?: (message: string) => void;
}

/** One account's pass. */
export interface AccountPassReport {
  readonly account: string;
  /** Gateway calls made (each listing page one). */
  readonly calls: number;
  /** Batch jobs the listing showed (the skew window's repeats included). */
  readonly listed: number;
  /** Jobs read (the per-job reconcile). */
  readonly read: number;
  /** Jobs whose document changed. */
  readonly changed: number;
  /** Jobs found to read but left for the next pass (budget, throttling). */
  readonly deferred: number;
  readonly errors: number;
  /** Set when the account's work stopped early. */
  readonly stopped?: StopReason;
  readonly watermark?: string;
}

export interface ListingPassReport {
  /** Active jobs across accounts. */
  readonly jobs: number;
  /** Active jobs naming an account the settings do not list (left alone, counted here). */
  readonly unknownAccount: number;
  readonly accounts: readonly AccountPassReport[];
}

/** What the pass keeps on the account document (`reconcile`). */
type ListingState = AccountReconcileState & {
  /** The catch-up slice continues after this job key. */
  readonly catchUpAfter?: string;
};

const MOVED_ON = new Set(['disabling', 'disabled', 'enabling', 'terminating', 'completed', 'deleting']);

export async function reconcileAccounts(deps: ListingDeps, pass: number): Promise<ListingPassReport> {
  const accounts = deps.accounts.list;
  const primary = accounts.find((a) => a.primary)?.name ?? accounts[0]?.name ?? '';
  const docs = await deps.accountStore.list(accounts.map((a) => a.name));
  const work = await readActiveWork(deps.jobs, {
    ...(deps.listing?.workQueries !== undefined ? { concurrency: deps.listing.workQueries } : {}),
  });
  const byAccount = new Map<string, WorkItem[]>(accounts.map((a) => [a.name, []]));
  let unknownAccount = 0;
  for (const job of work) {
    if (!job.batch?.jobId) continue;
    const list = byAccount.get(accountOfJob(job, primary));
    if (list) list.push(job);
    else unknownAccount++;
  }
  const docOf = new Map(docs.map((d) => [d.name, d]));
  const settled = await Promise.allSettled(
    accounts.map((a) => reconcileAccount(a.name, byAccount.get(a.name) ?? [], docOf.get(a.name), deps, pass)),
  );
  const reports = settled.map((s, i): AccountPassReport => {
    if (s.status === 'fulfilled') return s.value;
    const account = accounts[i]!.name;
    deps.log?.(`Reconcile of Batch account ${account} failed: ${describeError(s.reason)}`);
    return { account, calls: 0, listed: 0, read: 0, changed: 0, deferred: 0, errors: 1 };
  });
  return { jobs: work.length, unknownAccount, accounts: reports };
}

async function reconcileAccount(
  account: string,
  jobs: readonly WorkItem[],
  doc: AccountDoc | undefined,
  deps: ListingDeps,
  pass: number,
): Promise<AccountPassReport> {
  const o = deps.listing ?? {};
  const pageSize = o.pageSize ?? 1000;
  const state: ListingState = doc?.reconcile ?? {};
  const mark = state.watermark;
  const meter = meterGateway(
    account,
    deps.accounts.gateway(account),
    deps.accounts.guard(account),
    o.maxCallsPerAccount ?? 1000,
  );
  const gateway = meter.gateway;
  const byBatchId = new Map(jobs.map((j) => [j.batch!.jobId.toLowerCase(), j]));
  const byKey = new Map(jobs.map((j) => [workKey(j), j]));

  // What to read, in order, each job once; `checkJob` says whether its Batch job state is read too.
  const toRead = new Map<string, { job: WorkItem; checkJob: boolean; catchUp?: boolean }>();
  const want = (job: WorkItem | undefined, checkJob: boolean, catchUp = false) => {
    if (!job) return;
    const key = workKey(job);
    const seen = toRead.get(key);
    if (seen) {
      if (checkJob && !seen.checkJob) toRead.set(key, { ...seen, checkJob });
      return;
    }
    toRead.set(key, { job, checkJob, ...(catchUp ? { catchUp } : {}) });
  };
  for (const key of state.pending ?? []) want(byKey.get(key), true);

  let stopped: StopReason | undefined;
  let errors = 0;
  let listed = 0;
  let newest = mark;
  const stop = (e: unknown): boolean => {
    const reason = stopReasonOf(e);
    if (!reason) return false;
    stopped ??= reason;
    return true;
  };

  // Pending jobs go first, before the listing spends the budget.
  const done = new Set<string>();
  let read = 0;
  let changed = 0;
  const deferred: string[] = [];
  const failed: string[] = [];
  const readJobs = async (entries: { job: WorkItem; checkJob: boolean; catchUp?: boolean }[]) => {
    await mapWithConcurrency(entries, o.concurrency ?? 8, async ({ job, checkJob, catchUp }) => {
      const key = workKey(job);
      if (done.has(key)) return;
      done.add(key);
      // A catch-up job left undone needs no keeping: the slice comes round to it again.
      if (stopped) {
        if (!catchUp) deferred.push(key);
        return;
      }
      try {
        // The listing shows every state change, so the Batch job is read only for jobs whose state
        // moved or may have (and, as always, for a job whose counts look drained).
        // Every call of the read goes through this account's metered gateway.
        const readDeps: ReconcileDeps = {
          ...deps,
          batch: gateway,
          accounts: { gateway: () => gateway },
          jobStateEvery: checkJob ? 1 : Number.MAX_SAFE_INTEGER,
        };
        const decision = await inJobSpan(job, 'reconcile', () => reconcileJob(job, readDeps, pass));
        read++;
        if (decision !== 'none') changed++;
      } catch (e) {
        if (stop(e)) {
          if (!catchUp) deferred.push(key);
          return;
        }
        read++;
        errors++;
        // Kept for the next pass: the watermark may move past the change that brought this job here.
        if (!catchUp) failed.push(key);
        deps.log?.(`Reconcile of ${key} in Batch account ${account} failed: ${describeError(e)}`);
      }
    });
  };
  await readJobs([...toRead.values()]);

  const isOurs = (listedJob: ListedJob, job: WorkItem) => {
    const tenant = listedJob.metadata[ownerKeys.tenant];
    const owner = listedJob.metadata[ownerKeys.job];
    // A job carries its owner in metadata; one that names another owner is not this document's.
    return (
      (tenant === undefined || tenant === job.tenant) &&
      (owner === undefined || owner.toLowerCase() === job.jobId.toLowerCase())
    );
  };

  if (!stopped) {
    try {
      const since = mark ? minus(mark, o.skewMs ?? 120_000) : undefined;
      for await (const page of gateway.listJobPages({ ...(since ? { since } : {}), maxResults: pageSize })) {
        for (const j of page) {
          listed++;
          newest = later(newest, j.stateTransitionTime);
          const job = byBatchId.get(j.id.toLowerCase());
          if (job && isOurs(j, job) && MOVED_ON.has(j.state)) want(job, true);
        }
      }
      const pools = [...new Set(jobs.map((j) => j.batch!.poolId))].sort();
      const after = mark ? Date.parse(mark) : Number.NEGATIVE_INFINITY;
      for (const poolId of pools) {
        for await (const page of gateway.listNodeActivityPages(poolId, { maxResults: pageSize })) {
          for (const node of page) {
            for (const t of node.recentTasks) {
              newest = later(later(newest, t.startTime), t.endTime);
              const job = byBatchId.get(t.jobId.toLowerCase());
              if (!job) continue;
              const moved =
                (t.startTime !== undefined && Date.parse(t.startTime) > after) ||
                (t.endTime !== undefined && Date.parse(t.endTime) > after);
              // Counts the document has not caught up with: a task running where it shows none, or
              // one back in the queue (its node lost or preempted) where it shows some running.
              const running = t.state === 'running' || t.state === 'preparing';
              const stale =
                (running && job.taskCounts.running === 0) ||
                (t.state === 'active' && job.taskCounts.running > 0);
              if (moved || stale) want(job, false);
            }
          }
        }
      }
    } catch (e) {
      if (!stop(e)) throw e;
    }
  }
  // Whether every change since the mark was found (and is now read, or kept in `pending`).
  const foundAll = !stopped;

  // Jobs Batch has taken but that have counted nothing yet; jobs with a preparation task whose
  // tasks wait with none running (a failing preparation holds them back, and shows on no task);
  // then the catch-up slice.
  for (const job of jobs) {
    const c = job.taskCounts;
    if (job.state === 'submitted' && c.active + c.running + c.succeeded + c.failed === 0) want(job, false);
    else if (job.batch?.jobPreparation && c.active > 0 && c.running === 0) want(job, false);
  }
  const catchUp = takeCatchUp(
    jobs.filter((j) => !toRead.has(workKey(j))),
    state.catchUpAfter,
    o.catchUp ?? 50,
  );
  for (const job of catchUp.taken) want(job, true, true);
  await readJobs([...toRead.values()]);

  const pendingLimit = o.pendingLimit ?? 1000;
  const left = new Set([...deferred, ...failed]);
  const pending = boundedKeys(left, pendingLimit);
  // Nothing found may be lost: unless every change was found and what was not read fits in
  // `pending`, the next pass lists from the same mark. (Moving it when it may keeps a busy account
  // from listing an ever longer window, pass after pass.)
  const watermark = foundAll && left.size <= pendingLimit ? newest : mark;
  const caughtUpTo = stopped ? state.catchUpAfter : (catchUp.last ?? state.catchUpAfter);
  const next: ListingState = {
    ...(watermark ? { watermark } : {}),
    ...(pending.length > 0 ? { pending } : {}),
    passAt: deps.clock.now().toISOString(),
    deferred: deferred.length,
    ...(caughtUpTo ? { catchUpAfter: caughtUpTo } : {}),
  };
  await deps.accountStore.update(account, (current) => ({ ...current, reconcile: next }));
  return {
    account,
    calls: meter.calls,
    listed,
    read,
    changed,
    deferred: deferred.length,
    errors,
    ...(stopped ? { stopped } : {}),
    ...(watermark ? { watermark } : {}),
  };
}
