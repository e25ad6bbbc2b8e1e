/**
 * Bad nodes, found by the pool controller from each pool's node list (the rule: `model/node-health.ts`).
 *
 * - Managed pool (this deployment's owner stamp in its metadata): at most `MAX_REMOVALS_PER_PASS` bad
 *   nodes leave per pass through Batch's removenodes (`requeue`: their running tasks go back to the
 *   queue), only while the pool is steady (Batch removes only from a steady pool, and a resize of the
 *   same pass would meet a resizing pool: the controller skips sizing in a pass that removed a node;
 *   the next pass grows the pool back if demand remains). Never the pool's last healthy node.
 * - Existing pool (the operator's): nothing is done to it; the bad node is reported.
 *
 * Either way every job of the pool that has not ended gets a line in its history and an event
 * (`slotwise.job.node_removed` / `slotwise.job.node_unhealthy`) naming the node and why, once per node.
 *
 * Batch calls: the node list the controller reads per managed pool anyway (it replaced the busy-node
 * count, so a pass costs no extra call), one removenodes call per removal (with the pool read of its
 * owner guard); for existing pools one Cosmos query per pass and one node list per pool in use, at
 * most `MAX_EXISTING_POOLS_PER_PASS`.
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway, PoolInfo } from '../adapters/batch/batch-gateway.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { JobOnPool, PoolDemandReader } from '../adapters/cosmos/pool-demand.js';
import type { ManagedPoolDoc } from '../adapters/cosmos/pool-store.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { PoolOwner } from '../model/batch-names.js';
import type { HistoryNote, JobDoc, NodeEventDetail } from '../model/job.js';
import { makeEvent } from '../model/lifecycle.js';
import { type BadNode, judgeNodes, type NodeBaseline, type NodeHealth } from '../model/node-health.js';
import { announce } from './announce.js';

export const NODE_REMOVED_EVENT = 'slotwise.job.node_removed';
export const NODE_UNHEALTHY_EVENT = 'slotwise.job.node_unhealthy';

/** Bad nodes one pass removes from one pool: a burst of failures never empties a pool at once. */
export const MAX_REMOVALS_PER_PASS = 1;
/** Existing pools whose nodes one pass looks at. */
export const MAX_EXISTING_POOLS_PER_PASS = 50;

export interface BadNodeDeps {
  readonly jobs: JobStore;
  readonly batch: Pick<BatchGateway, 'removeNodes' | 'listNodeHealth'>;
  /** Every account: an existing pool's nodes are read in the account its jobs run in. */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  readonly demand: PoolDemandReader;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly log?: (message: string) => void;
}

export interface ManagedPoolHealth {
  /** Nodes removed this pass (the controller then leaves the pool's size alone until the next). */
  readonly removed: number;
  /** What to keep on the pool's record for the next pass. */
  readonly baselines: Record<string, NodeBaseline>;
}

/** Judges a managed pool's nodes and removes a bad one (see the module comment). */
export async function removeBadNodes(
  input: {
    readonly doc: ManagedPoolDoc;
    readonly pool: PoolInfo;
    readonly nodes: readonly NodeHealth[];
    readonly jobs: readonly JobOnPool[];
  },
  deps: BadNodeDeps,
): Promise<ManagedPoolHealth> {
  const { doc, pool } = input;
  const verdicts = judgeNodes(input.nodes, doc.nodeBaselines ?? {});
  const baselines = { ...verdicts.baselines };
  if (verdicts.bad.length === 0 || pool.state !== 'active' || pool.allocationState !== 'steady')
    return { removed: 0, baselines };
  const owner: PoolOwner = { tenant: doc.tenant, spec: doc.spec };
  let removed = 0;
  for (const bad of verdicts.bad.slice(0, MAX_REMOVALS_PER_PASS)) {
    // A node that still runs the pool's tasks well is never the last one taken.
    if (bad.reason === 'NodeFailsTasks' && verdicts.healthy < 1) continue;
    const outcome = await deps.batch.removeNodes(pool.id, [bad.nodeId], owner);
    if (outcome !== 'done') {
      deps.log?.(`Bad node ${bad.nodeId} of pool ${pool.id} not removed this pass: ${outcome}`);
      continue;
    }
    removed++;
    delete baselines[bad.nodeId];
    await recordOnJobs(doc.tenant, pool.id, input.jobs, bad, 'removed', deps);
  }
  return { removed, baselines };
}

/** Existing pools: bad nodes are reported to the jobs on them, never acted on. Returns the reports. */
export async function reportBadNodesOnExistingPools(deps: BadNodeDeps): Promise<number> {
  let reported = 0;
  const pools = await deps.demand.listExistingPoolsInUse(MAX_EXISTING_POOLS_PER_PASS);
  for (const { poolId, account, tenants } of pools) {
    try {
      // Nothing is kept between passes for a pool Slotwise does not own (see node-health.ts).
      const { bad } = judgeNodes(
        await (deps.accounts && account !== undefined
          ? deps.accounts.gateway(account)
          : deps.batch
        ).listNodeHealth(poolId),
      );
      if (bad.length === 0) continue;
      for (const tenant of tenants) {
        const jobs = await deps.demand.listOnPool(tenant, poolId);
        for (const node of bad) reported += await recordOnJobs(tenant, poolId, jobs, node, 'reported', deps);
      }
    } catch (e) {
      deps.log?.(`Nodes of existing pool ${poolId} not checked this pass: ${describeError(e)}`);
    }
  }
  return reported;
}

/** A history line and an event on each job of the pool, once per job and node; returns the jobs told. */
async function recordOnJobs(
  tenant: string,
  poolId: string,
  jobs: readonly JobOnPool[],
  bad: BadNode,
  action: NodeEventDetail['action'],
  deps: BadNodeDeps,
): Promise<number> {
  const code = action === 'removed' ? 'NodeRemoved' : 'NodeUnhealthy';
  const message =
    action === 'removed'
      ? `Node ${bad.nodeId} was removed from pool ${poolId} (its running tasks requeued): ${bad.message}`
      : `Node ${bad.nodeId} of pool ${poolId} looks bad and is left as it is (the pool is not Slotwise's): ${bad.message}`;
  let told = 0;
  for (const job of jobs) {
    const iso = deps.clock.now().toISOString();
    const result = await deps.jobs.update(tenant, job.jobId, (current) => {
      if (current.endedAt) return undefined;
      if (current.history.some((h) => h.note?.code === code && h.note.nodeId === bad.nodeId))
        return undefined;
      const note: HistoryNote = { code, message, poolId, nodeId: bad.nodeId };
      const next: JobDoc = {
        ...current,
        updatedAt: iso,
        history: [...current.history, { state: current.state, at: iso, note }],
      };
      next.events = [
        ...current.events,
        {
          ...makeEvent(next, current.state, iso, deps.ids.uuid()),
          type: action === 'removed' ? NODE_REMOVED_EVENT : NODE_UNHEALTHY_EVENT,
          detail: { node: { poolId, nodeId: bad.nodeId, reason: bad.reason, message: bad.message, action } },
        },
      ];
      return next;
    });
    if (result?.changed) {
      told++;
      await announce(result.job, deps.queues);
    }
  }
  return told;
}
