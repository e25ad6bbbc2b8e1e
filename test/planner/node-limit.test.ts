/**
 * The tenant's node limit holds at every moment (issue 18): whatever the pools hold, target and
 * want, one pass of sharing never lets them hold or be about to hold more than the limit, never
 * hands the same room to two growing pools, and never asks a pool for fewer nodes than it has busy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PoolClaim, shareNodeLimit } from '../../shared/planner/size-pool.js';

interface RawPool {
  desired: number;
  target: number;
  current: number;
  busy: number;
}

const claims = (raw: readonly RawPool[]): PoolClaim[] =>
  raw.map((r, i) => ({
    poolId: `pool-${i}`,
    desired: r.desired,
    target: r.target,
    current: r.current,
    holding: Math.max(r.target, r.current),
    busy: Math.min(r.busy, r.current),
  }));

/** What the pools hold or are about to hold once each is at `size` (Batch keeps nodes until they go). */
const heldAfter = (pools: readonly PoolClaim[], size: (p: PoolClaim, i: number) => number) =>
  pools.reduce((n, p, i) => n + Math.max(size(p, i), p.current ?? p.holding), 0);

/**
 * The same after a pass in which the growing pools grew and the others may or may not have shrunk
 * (the shrink delay, a resize under way): a pool not growing still counts its target.
 */
const heldAfterPass = (pools: readonly PoolClaim[], size: (p: PoolClaim) => number) =>
  heldAfter(pools, (p) => Math.max(size(p), p.target));

const rawPool = fc.record({
  desired: fc.nat(150),
  target: fc.nat(120),
  current: fc.nat(120),
  busy: fc.nat(120),
});

describe("sharing the tenant's node limit", () => {
  it('the scenario of the issue: pools growing in one pass share the room left, never each take it', () => {
    // One pool holds 80 idle nodes (its jobs were cancelled); six new pools want 90 between them.
    const pools: PoolClaim[] = [
      { poolId: 'old', desired: 0, target: 80, current: 80, holding: 80, busy: 0 },
      ...[20, 20, 16, 16, 9, 9].map((desired, i) => ({
        poolId: `new-${i}`,
        desired,
        target: 0,
        current: 0,
        holding: 0,
        busy: 0,
      })),
    ];
    const share = shareNodeLimit(pools, 100);
    const total = heldAfterPass(pools, (p) => share.get(p.poolId)!.nodes);
    expect(total).toBeLessThanOrEqual(100);
    // All the 20 free nodes are used, and the old pool is asked to let its idle nodes go.
    expect(total).toBe(100);
    expect(share.get('old')).toEqual({ nodes: 0, fair: 0, short: 0 });
    const short = [...share.values()].reduce((n, s) => n + s.short, 0);
    expect(short).toBe(70);
    // As the old pool's nodes go, the others grow into them: next pass with its nodes gone.
    const next = pools.map((p) =>
      p.poolId === 'old'
        ? { ...p, target: 0, current: 0, holding: 0 }
        : { ...p, target: share.get(p.poolId)!.nodes, holding: share.get(p.poolId)!.nodes },
    );
    const after = shareNodeLimit(next, 100);
    for (const p of next) expect(after.get(p.poolId)!.nodes).toBe(p.desired);
  });

  it('property: Σ max(size, current) after a pass never passes the limit, and no pool loses busy nodes', () => {
    fc.assert(
      fc.property(fc.array(rawPool, { minLength: 1, maxLength: 8 }), fc.nat(400), (raw, limit) => {
        const pools = claims(raw);
        const share = shareNodeLimit(pools, limit);
        const before = heldAfter(pools, (p) => p.holding);
        // Whether or not the shrinks asked for happen in this pass.
        const after = heldAfterPass(pools, (p) => share.get(p.poolId)!.nodes);
        expect(heldAfter(pools, (p) => share.get(p.poolId)!.nodes)).toBeLessThanOrEqual(after);
        if (before <= limit) expect(after).toBeLessThanOrEqual(limit);
        // Over the limit already (it was lowered): nothing grows, so nothing adds to it.
        else expect(after).toBeLessThanOrEqual(before);
        for (const p of pools) {
          const s = share.get(p.poolId)!;
          expect(s.nodes).toBeGreaterThanOrEqual(p.busy ?? 0);
          // Growth only for what a pool wants, within its fair share.
          if (s.nodes > Math.max(p.target, p.busy ?? 0)) {
            expect(s.nodes).toBeLessThanOrEqual(p.desired);
            expect(s.nodes).toBeLessThanOrEqual(s.fair);
          }
          expect(s.short).toBe(Math.max(0, s.fair - s.nodes));
        }
        // Fair shares are within the limit.
        expect([...share.values()].reduce((n, s) => n + s.fair, 0)).toBeLessThanOrEqual(Math.max(limit, 0));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: passes in sequence (Batch catching up in between) keep the limit at every moment', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ desired: fc.nat(150) }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.array(fc.nat(150), { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 6 }), {
          minLength: 6,
          maxLength: 6,
        }),
        fc.array(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), { minLength: 6, maxLength: 6 }),
        fc.nat(200),
        (start, demands, progress, shrinkNow, limit) => {
          // Start within the limit: empty pools.
          let pools: PoolClaim[] = start.map((s, i) => ({
            poolId: `p${i}`,
            desired: s.desired,
            target: 0,
            current: 0,
            holding: 0,
            busy: 0,
          }));
          demands.forEach((wants, pass) => {
            const share = shareNodeLimit(pools, limit);
            // The controller grows at once; a shrink happens now or waits (its delay, a resize under way).
            const targets = pools.map((p, i) => {
              const nodes = share.get(p.poolId)!.nodes;
              return nodes >= p.target || shrinkNow[pass % shrinkNow.length]![i] ? nodes : p.target;
            });
            expect(heldAfter(pools, (_, i) => targets[i]!)).toBeLessThanOrEqual(limit);
            // Batch moves each pool part of the way to its target; busy nodes are some of them.
            pools = pools.map((p, i) => {
              const step = progress[pass % progress.length]![i] ?? 0;
              const current = p.current ?? 0;
              const to = targets[i]!;
              const moved = Math.round(current + (to - current) * step);
              const busy = Math.min(moved, Math.round(moved * step), to);
              return {
                ...p,
                desired: wants[i] ?? 0,
                target: to,
                current: moved,
                holding: Math.max(to, moved),
                busy,
              };
            });
            // At every sampled moment between passes the pools hold no more than the limit.
            expect(pools.reduce((n, p) => n + p.holding, 0)).toBeLessThanOrEqual(limit);
          });
        },
      ),
      { numRuns: 1000 },
    );
  });
});
