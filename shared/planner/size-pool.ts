/**
 * Pool sizing by slots: pure decisions for the pool controller.
 *
 * Batch's autoscale formulas count tasks (`$PendingTasks`), not slots, so they over-provision when
 * tasks need one slot of many and under-provision when tasks need several. Here the target is the
 * packing of the slots really waiting or running — the same packer the planner uses — over every
 * active job placed on the pool, bounded by:
 * - each job's own cap (`maxNodes`): a job never gets more nodes than it asked for, however many
 *   jobs share the pool;
 * - the pool maximum;
 * - the tenant's node limit, shared fairly by the tenant's pools (proportional to what each wants),
 *   and never exceeded even while a shrinking pool still holds nodes that are finishing tasks.
 * The decision to apply a target adds hysteresis: grow at once, shrink only after demand has stayed
 * below the target for a while, delete only after a pool has been empty and idle long enough.
 */
import { packSlots } from './pack.js';

/** What one job still needs on the pool: tasks by the slots each needs (`[slots, tasks]` pairs). */
export interface JobDemand {
  readonly remaining: readonly (readonly [slots: number, tasks: number])[];
  /** The job's cap on nodes (its `maxNodes`, or the pool maximum when it set none). */
  readonly maxNodes: number;
}

/** Nodes needed to run every remaining task of one job at once (0 when nothing remains). */
export function nodesFor(remaining: JobDemand['remaining'], slotsPerNode: number): number {
  let total = 0;
  for (const [, tasks] of remaining) total += tasks;
  if (total === 0) return 0;
  const sizes = new Uint16Array(total);
  let i = 0;
  for (const [slots, tasks] of remaining) {
    sizes.fill(Math.min(slots, slotsPerNode), i, i + tasks);
    i += tasks;
  }
  // The fast packing: this runs for every pool on every pass; the plan's improvement phase is for plans.
  return packSlots(sizes, slotsPerNode, { improve: false }).nodes;
}

/**
 * The nodes a pool should have for its jobs: the packing of all their remaining tasks together
 * (sharing nodes across jobs), but no more than the sum of what each job may have on its own.
 */
export function desiredNodes(jobs: readonly JobDemand[], slotsPerNode: number, poolMaxNodes: number): number {
  if (jobs.length === 0) return 0;
  let capped = 0;
  for (const job of jobs) capped += Math.min(nodesFor(job.remaining, slotsPerNode), job.maxNodes);
  const together = nodesFor(
    jobs.flatMap((j) => j.remaining),
    slotsPerNode,
  );
  return Math.min(together, capped, poolMaxNodes);
}

export interface PoolClaim {
  readonly poolId: string;
  readonly desired: number;
  /** The pool's target now. */
  readonly target: number;
  /** max(target, current): nodes the pool holds or is about to hold. */
  readonly holding: number;
  /** Nodes the pool has now (allocated, whatever their state); `holding` when not given. */
  readonly current?: number;
  /** Nodes running a task now: a pool is never asked for fewer (only idle nodes may go). Default 0. */
  readonly busy?: number;
}

/** What one pool gets of the tenant's node limit. */
export interface NodeShare {
  /** The size the pool should have: its target after this pass, before the controller's hysteresis. */
  readonly nodes: number;
  /** Its fair share of the limit (what it would get were no other pool holding nodes over theirs). */
  readonly fair: number;
  /**
   * Nodes of its fair share it cannot have yet because other pools still hold them (0 when none):
   * it waits on the tenant's node limit, and pools above their share should let idle nodes go now.
   */
  readonly short: number;
}

/**
 * Shares a tenant's node limit among its pools, in two steps.
 *
 * 1. Fair shares: each pool may have what it wants while the pools together want no more than the
 *    limit; beyond it, shares are proportional to what each wants (largest remainder, at least one
 *    node for a pool that wants any while the limit allows).
 * 2. Room: a pool grows only into nodes no pool holds or is about to hold: the limit minus, for
 *    every pool, the larger of its target and its current nodes. A pool asked to shrink frees nothing
 *    yet — the shrink may wait out its delay, Batch may still be resizing, and its nodes stay until
 *    Batch removes them — so its room appears in a later pass, once its target or nodes are down. The
 *    room is handed out once, among all growing pools, in proportion to what each is short — never
 *    the same room to two pools. Taking back nodes a pool still has (a shrink under way) is free. A
 *    pool is never asked below the nodes it has busy.
 *
 * So when the pools held no more than the limit before the pass, they still do after it whether or
 * not the shrinks asked for happen: Σ over growing pools of max(nodes, current) plus Σ over the
 * others of max(target, current) ≤ limit. When they held more (the limit was lowered), nothing grows.
 */
export function shareNodeLimit(pools: readonly PoolClaim[], maxNodes: number): Map<string, NodeShare> {
  const limit = Math.max(0, maxNodes);
  const ordered = [...pools].sort((a, b) => (a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0));
  const fair = fairShares(ordered, limit);
  const currentOf = (p: PoolClaim) => Math.max(0, p.current ?? p.holding);
  // Step 2a: every pool at its size without growth. A pool wanting less keeps at least what is busy
  // (busy nodes cannot go; asking for fewer only leaves the pool resizing until their tasks end).
  const base = new Map<string, number>();
  for (const p of ordered) {
    const f = fair.get(p.poolId)!;
    // Busy nodes are nodes it has: keeping them costs no room.
    const busy = Math.min(Math.max(0, p.busy ?? 0), currentOf(p));
    // Nodes it has already (a shrink under way) may be kept for free: they are counted as held anyway.
    const free = Math.max(p.target, Math.min(f, currentOf(p)));
    base.set(p.poolId, Math.max(busy, f >= p.target ? Math.min(f, free) : f));
  }
  const heldNow = ordered.reduce((n, p) => n + Math.max(p.holding, p.target, currentOf(p)), 0);
  // Over the limit already (it was lowered, or Batch gave more than asked): nothing grows.
  const room = Math.max(0, limit - heldNow);
  // Step 2b: the room, once, among the pools short of their fair share, by what each is short.
  const wants = ordered
    .map((p) => ({ p, want: fair.get(p.poolId)! - base.get(p.poolId)! }))
    .filter((w) => w.want > 0);
  const wanted = wants.reduce((n, w) => n + w.want, 0);
  const given = new Map<string, number>();
  if (wanted <= room) {
    for (const w of wants) given.set(w.p.poolId, w.want);
  } else if (room > 0) {
    let left = room;
    const exact = wants.map((w) => (w.want * room) / wanted);
    wants.forEach((w, i) => {
      const g = Math.min(Math.floor(exact[i]!), left);
      given.set(w.p.poolId, g);
      left -= g;
    });
    const byFraction = wants
      .map((w, i) => ({ w, frac: exact[i]! - Math.floor(exact[i]!) }))
      .sort((a, b) => b.frac - a.frac);
    for (const { w } of byFraction) {
      if (left <= 0) break;
      const now = given.get(w.p.poolId)!;
      if (now < w.want) {
        given.set(w.p.poolId, now + 1);
        left--;
      }
    }
  }
  const out = new Map<string, NodeShare>();
  for (const p of pools) {
    const f = fair.get(p.poolId)!;
    const nodes = base.get(p.poolId)! + (given.get(p.poolId) ?? 0);
    out.set(p.poolId, { nodes, fair: f, short: Math.max(0, f - nodes) });
  }
  return out;
}

/** Step 1 of `shareNodeLimit`: what each pool may have of the limit, ignoring what others hold. */
function fairShares(ordered: readonly PoolClaim[], limit: number): Map<string, number> {
  const wanted = ordered.reduce((n, p) => n + Math.max(0, p.desired), 0);
  const share = new Map<string, number>();
  if (wanted <= limit) {
    for (const p of ordered) share.set(p.poolId, Math.max(0, p.desired));
    return share;
  }
  let left = limit;
  const exact = ordered.map((p) => (Math.max(0, p.desired) * limit) / wanted);
  ordered.forEach((p, i) => {
    const base = p.desired > 0 ? Math.max(Math.floor(exact[i]!), left > 0 ? 1 : 0) : 0;
    const given = Math.min(base, left, p.desired);
    share.set(p.poolId, given);
    left -= given;
  });
  // The remainder goes by largest fractional part, ties by pool id (deterministic).
  const byFraction = ordered
    .map((p, i) => ({ p, frac: exact[i]! - Math.floor(exact[i]!) }))
    .sort((a, b) => b.frac - a.frac);
  for (const { p } of byFraction) {
    if (left <= 0) break;
    const now = share.get(p.poolId)!;
    if (now < p.desired) {
      share.set(p.poolId, now + 1);
      left--;
    }
  }
  return share;
}

export interface PoolObservation {
  readonly state: string;
  readonly allocationState: string;
  readonly target: number;
  /** Since when the wanted size has been below the target (from the controller's record). */
  readonly belowSince?: string;
  /** Since when the pool has had no demand and no nodes. */
  readonly emptySince?: string;
}

export type PoolAction =
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'grow'; readonly to: number }
  | { readonly kind: 'shrink'; readonly to: number }
  | { readonly kind: 'delete' };

export interface Hysteresis {
  /** Wanted size must stay below the target this long before the pool shrinks. */
  readonly shrinkAfterMs: number;
  /** An empty pool (no demand, no nodes) is deleted after this long. */
  readonly deleteAfterMs: number;
}

export function decidePoolAction(
  pool: PoolObservation,
  wanted: number,
  now: Date,
  hysteresis: Hysteresis,
): PoolAction {
  if (pool.state !== 'active') return { kind: 'none', reason: `the pool is ${pool.state}` };
  if (pool.allocationState !== 'steady') {
    // Batch refuses a resize while one is in progress; never race it (or another controller).
    return { kind: 'none', reason: `the pool is ${pool.allocationState}` };
  }
  if (wanted > pool.target) return { kind: 'grow', to: wanted };
  if (wanted < pool.target) {
    const since = pool.belowSince ? Date.parse(pool.belowSince) : now.getTime();
    if (now.getTime() - since >= hysteresis.shrinkAfterMs) return { kind: 'shrink', to: wanted };
    return { kind: 'none', reason: 'demand is below the target, waiting before shrinking' };
  }
  if (wanted === 0 && pool.target === 0 && pool.emptySince) {
    if (now.getTime() - Date.parse(pool.emptySince) >= hysteresis.deleteAfterMs) return { kind: 'delete' };
  }
  return { kind: 'none', reason: 'the pool has the size it needs' };
}

/**
 * A job's histogram scaled to the `waiting` tasks it still has (largest remainder, so the counts sum
 * to `waiting`). Exact when every task needs the same slots; otherwise an estimate, since Batch's task
 * counts do not say which tasks are left.
 */
export function scaleHistogram(
  histogram: readonly (readonly [number, number])[],
  waiting: number,
): [number, number][] {
  const total = histogram.reduce((n, [, c]) => n + c, 0);
  if (waiting <= 0 || total === 0) return [];
  if (waiting >= total) return histogram.map(([s, c]) => [s, c]);
  const exact = histogram.map(([s, c]) => ({ s, x: (c * waiting) / total }));
  const out = exact.map(({ s, x }) => [s, Math.floor(x)] as [number, number]);
  let left = waiting - out.reduce((n, [, c]) => n + c, 0);
  const order = exact
    .map((e, i) => ({ i, frac: e.x - Math.floor(e.x), s: e.s }))
    // Ties go to the larger size: never under-provision because of rounding.
    .sort((a, b) => b.frac - a.frac || b.s - a.s);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]![1]++;
    left--;
  }
  return out.filter(([, c]) => c > 0);
}
