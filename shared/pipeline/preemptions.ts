/**
 * Preemptions counted per job, by the pool controller on its managed low-priority (Spot) pools.
 *
 * Batch keeps no per-task count of preemptions: a preempted task goes back to `active` with its
 * `retryCount` and `requeueCount` unchanged (`requeueCount` counts the requeues a user asked for: a
 * removal or a disable). What Batch does show is the node: it reads `preempted` from the moment it is
 * taken (`stateTransitionTime`), and its `recentTasks` name the tasks it ran last. So each pass lists
 * the pool's `preempted` nodes (one filtered node list, low-priority pools only); a node whose
 * preemption has not been seen before counts, for each job, its recent tasks that were running when
 * the node was taken: those not `completed`, or started again after the preemption. The preemptions
 * seen are kept on the pool's record first, then added to the jobs' `preemptions`, so a pass that
 * stops half way never counts one twice (it may, rarely, count one too few).
 */

import type { BatchGateway, PreemptedNode } from '../adapters/batch/batch-gateway.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { JobOnPool } from '../adapters/cosmos/pool-demand.js';
import type { ManagedPoolDoc, PoolStore } from '../adapters/cosmos/pool-store.js';
import type { Clock } from '../core/clock.js';

export interface PreemptionDeps {
  readonly batch: Pick<BatchGateway, 'listPreemptedNodes'>;
  readonly pools: Pick<PoolStore, 'update'>;
  readonly jobs: JobStore;
  readonly clock: Clock;
}

/** Tasks of each Batch job (lowercase id) that newly preempted nodes took. Pure. */
export function preemptedTasksByJob(
  nodes: readonly PreemptedNode[],
  seen: Readonly<Record<string, string>>,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const node of nodes) {
    if (seen[node.id] === node.preemptedAt) continue;
    const at = Date.parse(node.preemptedAt);
    for (const t of node.recentTasks) {
      const lost = t.state !== 'completed' || (t.startTime !== undefined && Date.parse(t.startTime) > at);
      if (!lost) continue;
      const key = t.jobId.toLowerCase();
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Counts the pool's new preemptions on its jobs; returns the tasks counted. */
export async function countPreemptions(
  input: { readonly doc: ManagedPoolDoc; readonly jobs: readonly JobOnPool[] },
  deps: PreemptionDeps,
): Promise<number> {
  const { doc } = input;
  const nodes = await deps.batch.listPreemptedNodes(doc.id);
  const seen = doc.preemptionsSeen ?? {};
  const now = Object.fromEntries(nodes.map((n) => [n.id, n.preemptedAt]));
  const counts = preemptedTasksByJob(nodes, seen);
  const unchanged =
    Object.keys(now).length === Object.keys(seen).length &&
    Object.entries(now).every(([id, at]) => seen[id] === at);
  if (unchanged) return 0;
  await deps.pools.update(doc.id, (current) => {
    const next: ManagedPoolDoc = { ...current, preemptionsSeen: now };
    if (Object.keys(now).length === 0) delete next.preemptionsSeen;
    return next;
  });
  let counted = 0;
  for (const job of input.jobs) {
    const n = job.batchJobId ? (counts.get(job.batchJobId.toLowerCase()) ?? 0) : 0;
    if (n === 0) continue;
    await deps.jobs.update(doc.tenant, job.jobId, (current) =>
      current.endedAt
        ? undefined
        : {
            ...current,
            preemptions: (current.preemptions ?? 0) + n,
            updatedAt: deps.clock.now().toISOString(),
          },
    );
    counted += n;
  }
  return counted;
}
