import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decidePoolAction,
  desiredNodes,
  nodesFor,
  type PoolClaim,
  scaleHistogram,
  shareNodeLimit,
} from '../../shared/planner/size-pool.js';

const hysteresis = { shrinkAfterMs: 60_000, deleteAfterMs: 600_000 };
const steady = { state: 'active', allocationState: 'steady' };

describe('pool sizing by slots', () => {
  it('packs slots, not tasks: 8 one-slot tasks need one 8-slot node, 3 five-slot tasks need three', () => {
    expect(nodesFor([[1, 8]], 8)).toBe(1);
    expect(nodesFor([[5, 3]], 8)).toBe(3);
    expect(
      nodesFor(
        [
          [5, 3],
          [3, 3],
        ],
        8,
      ),
    ).toBe(3);
    expect(nodesFor([], 8)).toBe(0);
  });

  it('sizes a shared pool for the combined demand of its jobs, each bounded by its own cap', () => {
    const job = { remaining: [[4, 16]] as const, maxNodes: 8 };
    // Ten jobs that each need 8 nodes of 8 slots: the pool gets 80, not 8.
    expect(
      desiredNodes(
        Array.from({ length: 10 }, () => job),
        8,
        1000,
      ),
    ).toBe(80);
    // A job capped at 2 nodes does not get more because it shares the pool.
    expect(desiredNodes([{ remaining: [[4, 16]], maxNodes: 2 }], 8, 1000)).toBe(2);
    // Small jobs share nodes: two jobs of 3 one-slot tasks fit one 8-slot node.
    expect(
      desiredNodes(
        [
          { remaining: [[1, 3]], maxNodes: 5 },
          { remaining: [[1, 3]], maxNodes: 5 },
        ],
        8,
        1000,
      ),
    ).toBe(1);
    expect(
      desiredNodes(
        Array.from({ length: 10 }, () => job),
        8,
        50,
      ),
    ).toBe(50);
  });

  it("shares a tenant's node limit fairly and never lets the pools hold more than it", () => {
    const claim = (poolId: string, desired: number, target = 0, holding = target): PoolClaim => ({
      poolId,
      desired,
      target,
      holding,
    });
    const sizes = (share: ReturnType<typeof shareNodeLimit>) =>
      Object.fromEntries([...share].map(([id, s]) => [id, s.nodes]));
    expect(sizes(shareNodeLimit([claim('a', 30), claim('b', 10)], 100))).toEqual({
      a: 30,
      b: 10,
    });
    expect(sizes(shareNodeLimit([claim('a', 150), claim('b', 50)], 100))).toEqual({
      a: 75,
      b: 25,
    });
    // Pool a still holds 80 nodes finishing tasks: b may grow only into what is left.
    expect(sizes(shareNodeLimit([claim('a', 20, 20, 80), claim('b', 60)], 100))).toEqual({
      a: 20,
      b: 20,
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(200), fc.nat(100), fc.nat(100)), { minLength: 1, maxLength: 6 }),
        fc.nat(300),
        (raw, limit) => {
          const pools = raw.map(([desired, target, extra], i) =>
            claim(`p${i}`, desired, target, target + extra),
          );
          const share = shareNodeLimit(pools, limit);
          for (const p of pools) {
            const to = share.get(p.poolId)!.nodes;
            expect(to).toBeGreaterThanOrEqual(0);
            // A pool only grows within the limit left by the others' holdings (taking back nodes it
            // still has while a shrink is under way costs no room).
            if (to > p.holding) {
              const others = pools.filter((q) => q !== p).reduce((n, q) => n + q.holding, 0);
              expect(to).toBeLessThanOrEqual(Math.max(0, limit - others));
              expect(to).toBeLessThanOrEqual(p.desired);
            }
          }
          const granted = pools.reduce((n, p) => n + Math.min(share.get(p.poolId)!.nodes, p.desired), 0);
          expect(granted).toBeLessThanOrEqual(
            Math.max(
              limit,
              pools.reduce((n, p) => n + p.target, 0),
            ),
          );
        },
      ),
    );
  });

  it('grows at once, shrinks only after the demand stayed low, never while resizing', () => {
    const now = new Date('2026-01-01T00:10:00Z');
    expect(decidePoolAction({ ...steady, target: 2 }, 5, now, hysteresis)).toEqual({ kind: 'grow', to: 5 });
    expect(
      decidePoolAction({ ...steady, allocationState: 'resizing', target: 2 }, 5, now, hysteresis).kind,
    ).toBe('none');
    expect(decidePoolAction({ ...steady, target: 5 }, 2, now, hysteresis).kind).toBe('none');
    expect(
      decidePoolAction({ ...steady, target: 5, belowSince: '2026-01-01T00:09:30Z' }, 2, now, hysteresis).kind,
    ).toBe('none');
    expect(
      decidePoolAction({ ...steady, target: 5, belowSince: '2026-01-01T00:08:00Z' }, 2, now, hysteresis),
    ).toEqual({ kind: 'shrink', to: 2 });
    expect(
      decidePoolAction({ ...steady, target: 0, emptySince: '2026-01-01T00:00:00Z' }, 0, now, hysteresis),
    ).toEqual({
      kind: 'delete',
    });
    expect(
      decidePoolAction({ ...steady, target: 0, emptySince: '2026-01-01T00:09:00Z' }, 0, now, hysteresis).kind,
    ).toBe('none');
    expect(
      decidePoolAction({ state: 'deleting', allocationState: 'steady', target: 0 }, 3, now, hysteresis).kind,
    ).toBe('none');
  });
});

describe('scaleHistogram', () => {
  it('keeps the histogram when nothing ran, scales it to what is left, exactly for one size', () => {
    expect(scaleHistogram([[2, 10]], 4)).toEqual([[2, 4]]);
    expect(
      scaleHistogram(
        [
          [1, 6],
          [4, 2],
        ],
        8,
      ),
    ).toEqual([
      [1, 6],
      [4, 2],
    ]);
    expect(
      scaleHistogram(
        [
          [1, 6],
          [4, 2],
        ],
        4,
      ),
    ).toEqual([
      [1, 3],
      [4, 1],
    ]);
    expect(
      scaleHistogram(
        [
          [1, 6],
          [4, 2],
        ],
        0,
      ),
    ).toEqual([]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 1000 })), {
          maxLength: 8,
        }),
        fc.nat(10_000),
        (h, waiting) => {
          const total = h.reduce((n, [, c]) => n + c, 0);
          const scaled = scaleHistogram(h, waiting);
          expect(scaled.reduce((n, [, c]) => n + c, 0)).toBe(Math.min(waiting, total));
        },
      ),
    );
  });
});
