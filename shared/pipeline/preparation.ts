/**
 * The job preparation task, followed by reconcile for jobs that have one (`batch.jobPreparation`).
 *
 * Each pass reads Batch's status of the preparation on every node that ran it (one paged listing)
 * and keeps counts and at most 100 nodes (failed first) on the job, written only when they change.
 *
 * A preparation that failed on a node (with `waitForSuccess`, the default) keeps the job's tasks off
 * that node for good: Batch does not rerun it there unless the node is reimaged. So:
 * - while some node's preparation failed and the job has tasks waiting and none running, the job
 *   shows the waiting reason `JobPreparationFailed` (node, exit code, Batch's message), without a
 *   deadline; it is cleared once tasks run again or no failure is left;
 * - the job fails with that reason only when no task can ever run: the preparation failed on every
 *   node the pool has now (its node list, not Batch's status list, which keeps removed nodes too),
 *   none is still preparing, the pool is steady (no nodes on the way that could prepare afresh), tasks
 *   are waiting and none runs. A pool that grows, or a node that is replaced, brings a new
 *   preparation, so anything short of that is a wait, not a failure.
 * Without `waitForSuccess`, Batch runs tasks on the node anyway: the status is shown, nothing waits.
 */

import type { BatchGateway, BatchTaskCounts } from '../adapters/batch/batch-gateway.js';
import type { JobStore, WorkItem } from '../adapters/cosmos/job-store.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { redactSas } from '../core/redact-sas.js';
import {
  type JobDoc,
  type JobFailure,
  MAX_PREPARATION_NODES,
  type NodePreparation,
  PREPARATION_FAILED_CODE,
  type PreparationStatus,
} from '../model/job.js';
import { makeEvent, transition } from '../model/lifecycle.js';
import { announce } from './announce.js';

export interface PreparationDeps {
  readonly jobs: JobStore;
  readonly batch: Pick<BatchGateway, 'listPreparationStatus' | 'getPool' | 'listNodeIds' | 'terminateJob'>;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
}

const ORDER: Record<string, number> = { failure: 0, running: 1, success: 2 };
const outcome = (n: NodePreparation) => (n.state === 'running' ? 'running' : (n.result ?? 'success'));

/** Counts over every node, and the first MAX_PREPARATION_NODES nodes: failed, running, succeeded. */
export function summarizePreparation(nodes: readonly NodePreparation[]): PreparationStatus {
  let succeeded = 0;
  let failed = 0;
  let running = 0;
  for (const n of nodes) {
    const o = outcome(n);
    if (o === 'failure') failed++;
    else if (o === 'running') running++;
    else succeeded++;
  }
  const kept = [...nodes]
    .sort((a, b) => ORDER[outcome(a)]! - ORDER[outcome(b)]! || a.nodeId.localeCompare(b.nodeId))
    .slice(0, MAX_PREPARATION_NODES);
  return { succeeded, failed, running, nodes: kept };
}

/** What the pool looks like when the job might be failed: its nodes now, and whether it is resizing. */
export interface PoolNow {
  readonly nodeIds: readonly string[];
  readonly steady: boolean;
}

export type PreparationDecision = {
  readonly status: PreparationStatus;
  /** `set`: the waiting reason below; `clear`: remove a `JobPreparationFailed` wait; `keep`: as is. */
  readonly waiting: { readonly kind: 'set'; readonly message: string } | { readonly kind: 'clear' | 'keep' };
  /** Present when no task of the job can ever run. */
  readonly fail?: JobFailure;
};

/** The first failed node in words: node id, exit code and Batch's message (SAS redacted). */
function describeFailure(n: NodePreparation): string {
  const exit = n.exitCode !== undefined ? ` exited with code ${n.exitCode}` : ' failed';
  const why = n.failure ? ` (${n.failure.code}: ${redactSas(n.failure.message)})` : '';
  return `node ${n.nodeId}${exit}${why}`;
}

/** Pure: what to record and whether the job waits or fails, from what Batch showed. */
export function decidePreparation(input: {
  readonly nodes: readonly NodePreparation[];
  readonly counts: Pick<BatchTaskCounts, 'active' | 'running'>;
  readonly waitForSuccess: boolean;
  readonly currentWaiting: JobDoc['waiting'];
  /** Read only when the failure rule needs it (see `mayFailJob`). */
  readonly pool?: PoolNow;
}): PreparationDecision {
  const status = summarizePreparation(input.nodes);
  const ours = input.currentWaiting?.code === PREPARATION_FAILED_CODE;
  const blocked =
    input.waitForSuccess && status.failed > 0 && input.counts.active > 0 && input.counts.running === 0;
  if (!blocked) return { status, waiting: { kind: ours ? 'clear' : 'keep' } };
  const failed = input.nodes.filter((n) => outcome(n) === 'failure');
  const first = failed.sort((a, b) => a.nodeId.localeCompare(b.nodeId))[0]!;
  const message = `Job preparation failed on ${status.failed} node(s), where the job's tasks do not run; first: ${describeFailure(first)}.`;
  const pool = input.pool;
  if (pool && mayFailJob(input.nodes, status, input.counts, input.waitForSuccess)) {
    const failedIds = new Set(failed.map((n) => n.nodeId));
    if (pool.steady && pool.nodeIds.length > 0 && pool.nodeIds.every((id) => failedIds.has(id))) {
      const inPool = failed.find((n) => pool.nodeIds.includes(n.nodeId)) ?? first;
      return {
        status,
        waiting: { kind: ours ? 'clear' : 'keep' },
        fail: {
          code: PREPARATION_FAILED_CODE,
          message: `Job preparation failed on every node of the pool (${pool.nodeIds.length}), so no task can run; first: ${describeFailure(inPool)}.`,
        },
      };
    }
  }
  // Another reason (the pool cannot allocate, the account is full) says more: it is left in place.
  if (input.currentWaiting && !ours) return { status, waiting: { kind: 'keep' } };
  if (ours && input.currentWaiting?.message === message) return { status, waiting: { kind: 'keep' } };
  return { status, waiting: { kind: 'set', message } };
}

/** Whether the pool must be read: the preparation failed somewhere, nothing prepares or runs, tasks wait. */
export function mayFailJob(
  nodes: readonly NodePreparation[],
  status: PreparationStatus,
  counts: Pick<BatchTaskCounts, 'active' | 'running'>,
  waitForSuccess: boolean,
): boolean {
  return (
    waitForSuccess &&
    nodes.length > 0 &&
    status.failed > 0 &&
    status.running === 0 &&
    counts.active > 0 &&
    counts.running === 0
  );
}

const sameStatus = (a: PreparationStatus | undefined, b: PreparationStatus) =>
  a !== undefined && JSON.stringify(a) === JSON.stringify(b);

/**
 * One job's preparation: read Batch, decide, write what changed (ETag-guarded, re-decided on the
 * fresh document). Returns whether the job document changed and whether it failed.
 */
export async function reconcilePreparation(
  job: JobDoc | WorkItem,
  batchJobId: string,
  counts: BatchTaskCounts,
  deps: PreparationDeps,
): Promise<'none' | 'changed' | 'failed'> {
  const prep = job.batch?.jobPreparation;
  if (!prep) return 'none';
  const nodes = await deps.batch.listPreparationStatus(batchJobId);
  if (!nodes) return 'none';
  const status = summarizePreparation(nodes);
  let pool: PoolNow | undefined;
  if (mayFailJob(nodes, status, counts, prep.waitForSuccess) && job.batch) {
    const info = await deps.batch.getPool(job.batch.poolId);
    pool = {
      steady:
        info?.allocationState === 'steady' &&
        info.currentDedicatedNodes + info.currentLowPriorityNodes ===
          info.targetDedicatedNodes + info.targetLowPriorityNodes,
      nodeIds: info ? await deps.batch.listNodeIds(job.batch.poolId) : [],
    };
  }
  const now = deps.clock.now();
  const iso = now.toISOString();
  const result = await deps.jobs.update(job.tenant, job.jobId, (current) => {
    if (current.state !== 'submitted' && current.state !== 'running') return undefined;
    const decision = decidePreparation({
      nodes,
      counts,
      waitForSuccess: prep.waitForSuccess,
      currentWaiting: current.waiting,
      ...(pool ? { pool } : {}),
    });
    if (decision.fail) {
      const { waiting: _cleared, ...rest } = current;
      return transition({ ...rest, preparation: decision.status }, 'failed', now, deps.ids.uuid(), {
        failure: decision.fail,
      });
    }
    const statusChanged = !sameStatus(current.preparation, decision.status);
    if (!statusChanged && decision.waiting.kind === 'keep') return undefined;
    let next: JobDoc = { ...current, preparation: decision.status, updatedAt: iso };
    if (decision.waiting.kind === 'clear') {
      const { waiting: _cleared, ...rest } = next;
      next = rest;
    } else if (decision.waiting.kind === 'set') {
      const since = current.waiting?.code === PREPARATION_FAILED_CODE ? current.waiting.since : iso;
      next = {
        ...next,
        waiting: { code: PREPARATION_FAILED_CODE, message: decision.waiting.message, since },
      };
      if (current.waiting?.code !== PREPARATION_FAILED_CODE) {
        next.events = [
          ...current.events,
          { ...makeEvent(next, current.state, iso, deps.ids.uuid()), type: 'slotwise.job.waiting' },
        ];
      }
    }
    return next;
  });
  if (!result?.changed) return 'none';
  const failed = result.job.state === 'failed';
  if (failed) {
    // Its tasks can never run: end the Batch job too, as the pool controller does for allocation.
    await deps.batch
      .terminateJob(batchJobId, 'Job preparation failed on every node', {
        tenant: result.job.tenant,
        jobId: result.job.jobId,
      })
      .catch(() => undefined);
  }
  await announce(result.job, deps.queues);
  return failed ? 'failed' : 'changed';
}

/** The preparation's status when the job ends (undefined when Batch cannot say: the end goes on). */
export async function finalPreparationStatus(
  batchJobId: string,
  deps: Pick<PreparationDeps, 'batch'>,
): Promise<PreparationStatus | undefined> {
  const nodes = await deps.batch.listPreparationStatus(batchJobId).catch(() => undefined);
  return nodes ? summarizePreparation(nodes) : undefined;
}

/** An ended job with its preparation's last status; a preparation wait ends with the job. */
export function withFinalPreparation(job: JobDoc, status: PreparationStatus | undefined): JobDoc {
  const next = status ? { ...job, preparation: status } : job;
  if (!next.endedAt || next.waiting?.code !== PREPARATION_FAILED_CODE) return next;
  const { waiting: _ended, ...rest } = next;
  return rest;
}
