import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tripletInstance, uniformInstance } from '../../bench/pack-instances.js';
import { firstFitDecreasing, lowerBound, type PackResult, packSlots } from '../../shared/planner/pack.js';

function checkFeasible(sizes: readonly number[], capacity: number, result: PackResult) {
  const loads = new Array<number>(result.nodes).fill(0);
  expect(result.assignment.length).toBe(sizes.length);
  sizes.forEach((s, i) => {
    const node = result.assignment[i]!;
    expect(node).toBeLessThan(result.nodes);
    loads[node]! += s;
  });
  for (let n = 0; n < result.nodes; n++) {
    expect(loads[n]).toBe(result.nodeLoads[n]);
    expect(loads[n]).toBeLessThanOrEqual(capacity);
    expect(loads[n]).toBeGreaterThan(0);
  }
}

/** The exact optimum of a tiny instance, by depth-first search over bins (largest task first). */
function bruteForceOptimum(sizes: readonly number[], capacity: number): number {
  const items = [...sizes].sort((a, b) => b - a);
  let best = items.length;
  const loads: number[] = [];
  const place = (i: number) => {
    if (loads.length >= best) return;
    if (i === items.length) {
      best = loads.length;
      return;
    }
    const s = items[i]!;
    const tried = new Set<number>();
    for (let b = 0; b < loads.length; b++) {
      if (loads[b]! + s > capacity || tried.has(loads[b]!)) continue;
      tried.add(loads[b]!);
      loads[b]! += s;
      place(i + 1);
      loads[b]! -= s;
    }
    loads.push(s);
    place(i + 1);
    loads.pop();
  };
  place(0);
  return best;
}

describe('hard instances with a known optimum', () => {
  const grid = [60, 100, 150, 256].flatMap((capacity) => [334, 1000].map((nodes) => ({ capacity, nodes })));

  it.each(grid)('packs triplets optimally and proves it: C = $capacity, $nodes nodes', ({
    capacity,
    nodes,
  }) => {
    const instance = tripletInstance(nodes, capacity, nodes * 7 + capacity);
    const fast = packSlots(instance.sizes, capacity, { improve: false });
    const result = packSlots(instance.sizes, capacity);
    checkFeasible(instance.sizes, capacity, result);
    // The instance is hard for the fast packer (that is why the phase exists) ...
    expect(fast.nodes).toBeGreaterThan(instance.optimum);
    // ... and the improvement reaches the optimum, which the LP bound proves.
    expect(result.nodes).toBe(instance.optimum);
    expect(result.lpBound).toBe(instance.optimum);
    expect(result.provenOptimal).toBe(true);
    expect(result.algorithm).toBe('lp-dive');
  });

  it.each(grid)('packs uniform instances optimally: C = $capacity, $nodes nodes', ({ capacity, nodes }) => {
    const instance = uniformInstance(nodes, capacity, nodes * 11 + capacity);
    const result = packSlots(instance.sizes, capacity);
    checkFeasible(instance.sizes, capacity, result);
    expect(result.nodes).toBe(instance.optimum);
    expect(result.provenOptimal).toBe(true);
  });

  it('stays within one node of the optimum on generated triplet and uniform instances', () => {
    const family = fc.record({
      triplet: fc.boolean(),
      capacity: fc.integer({ min: 40, max: 256 }),
      nodes: fc.integer({ min: 1, max: 400 }),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    });
    fc.assert(
      fc.property(family, ({ triplet, capacity, nodes, seed }) => {
        const instance = (triplet ? tripletInstance : uniformInstance)(nodes, capacity, seed);
        const result = packSlots(instance.sizes, capacity);
        checkFeasible(instance.sizes, capacity, result);
        expect(result.lpBound).toBeLessThanOrEqual(instance.optimum);
        expect(result.nodes).toBeLessThanOrEqual(instance.optimum + 1);
        expect(result.nodes).toBeLessThanOrEqual(firstFitDecreasing(instance.sizes, capacity).nodes);
        if (result.provenOptimal) expect(result.nodes).toBe(instance.optimum);
      }),
      { numRuns: 40 },
    );
  });
});

describe('packing properties with the improvement phase', () => {
  const instance = fc.integer({ min: 1, max: 256 }).chain((capacity) =>
    fc.record({
      capacity: fc.constant(capacity),
      sizes: fc.array(fc.integer({ min: 1, max: capacity }), { maxLength: 400 }),
    }),
  );

  it('is feasible, never worse than FFD or the fast packing, and never below its bounds', () => {
    fc.assert(
      fc.property(instance, ({ capacity, sizes }) => {
        const result = packSlots(sizes, capacity);
        checkFeasible(sizes, capacity, result);
        expect(result.nodes).toBeLessThanOrEqual(firstFitDecreasing(sizes, capacity).nodes);
        expect(result.nodes).toBeLessThanOrEqual(packSlots(sizes, capacity, { improve: false }).nodes);
        expect(result.lowerBound).toBe(lowerBound(sizes, capacity));
        expect(result.lpBound).toBeGreaterThanOrEqual(result.lowerBound);
        expect(result.nodes).toBeGreaterThanOrEqual(result.lpBound);
        expect(result.provenOptimal).toBe(result.nodes === result.lpBound);
      }),
      { numRuns: 200 },
    );
  });

  it('reports a bound no larger than the true optimum on small instances', () => {
    const small = fc.integer({ min: 2, max: 30 }).chain((capacity) =>
      fc.record({
        capacity: fc.constant(capacity),
        sizes: fc.array(fc.integer({ min: 1, max: capacity }), { minLength: 1, maxLength: 10 }),
      }),
    );
    fc.assert(
      fc.property(small, ({ capacity, sizes }) => {
        const optimum = bruteForceOptimum(sizes, capacity);
        const result = packSlots(sizes, capacity);
        expect(result.lpBound).toBeLessThanOrEqual(optimum);
        if (result.provenOptimal) expect(result.nodes).toBe(optimum);
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic: the same request gives the same packing, task by task', () => {
    const { sizes, capacity } = tripletInstance(200, 150, 42);
    const a = packSlots(sizes, capacity);
    const b = packSlots(sizes, capacity);
    expect(Array.from(b.assignment)).toEqual(Array.from(a.assignment));
    expect(b).toMatchObject({ nodes: a.nodes, lpBound: a.lpBound, improveWork: a.improveWork });
    // The phase works on size counts, so the order of the tasks does not change the node count.
    const reversed = packSlots([...sizes].reverse(), capacity);
    expect(reversed.nodes).toBe(a.nodes);
  });

  it('keeps the fast packing when asked, or when it has no budget', () => {
    const { sizes, capacity } = tripletInstance(200, 150, 42);
    const fast = packSlots(sizes, capacity, { improve: false });
    expect(fast.improveWork).toBe(0);
    expect(fast.algorithm).not.toBe('lp-dive');
    expect(fast.lpBound).toBe(fast.lowerBound);
    const noBudget = packSlots(sizes, capacity, { workBudget: 0 });
    expect(noBudget.nodes).toBe(fast.nodes);
    expect(Array.from(noBudget.assignment)).toEqual(Array.from(fast.assignment));
  });

  it('proves a packing optimal with the LP bound where L2 cannot', () => {
    // C = 28: the 28 and both 21s need nodes of their own, and L2 sees 7 + 7 free slots for 5 + 4 + 4.
    // But no 7 slots hold two of the small tasks (9 and 8), so one needs a fourth node: the LP knows.
    const sizes = [21, 4, 28, 5, 21, 4];
    const result = packSlots(sizes, 28);
    checkFeasible(sizes, 28, result);
    expect(result.lowerBound).toBe(3);
    expect(result.lpBound).toBe(4);
    expect(result.nodes).toBe(4);
    expect(result.provenOptimal).toBe(true);
    expect(bruteForceOptimum(sizes, 28)).toBe(4);
  });
});
