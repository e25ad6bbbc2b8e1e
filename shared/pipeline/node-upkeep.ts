/**
 * What the pool controller does about a managed pool's nodes each pass, before sizing it: on a Spot
 * pool, count preemptions on the jobs (`preemptions.ts`); then remove a bad node (`bad-nodes.ts`).
 * A failed preemption count is logged and tried again next pass; it never holds up the sizing.
 */
import type { PoolInfo } from '../adapters/batch/batch-gateway.js';
import type { JobOnPool } from '../adapters/cosmos/pool-demand.js';
import type { ManagedPoolDoc } from '../adapters/cosmos/pool-store.js';
import { describeError } from '../core/errors.js';
import type { NodeHealth } from '../model/node-health.js';
import { type BadNodeDeps, type ManagedPoolHealth, removeBadNodes } from './bad-nodes.js';
import { countPreemptions, type PreemptionDeps } from './preemptions.js';

export async function nodeUpkeep(
  input: {
    readonly doc: ManagedPoolDoc;
    readonly pool: PoolInfo;
    readonly nodes: readonly NodeHealth[];
    readonly jobs: readonly JobOnPool[];
    /** A low-priority (Spot) pool: its nodes can be preempted. */
    readonly spot: boolean;
  },
  deps: BadNodeDeps & PreemptionDeps,
): Promise<ManagedPoolHealth & { readonly preempted: number }> {
  const preempted = input.spot
    ? await countPreemptions(input, deps).catch((e: unknown) => {
        deps.log?.(`Preemptions of pool ${input.doc.id} not counted this pass: ${describeError(e)}`);
        return 0;
      })
    : 0;
  return { ...(await removeBadNodes(input, deps)), preempted };
}
