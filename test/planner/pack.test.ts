import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  firstFitDecreasing,
  lowerBound,
  packSlots,
  planWaves,
  TaskTooLargeError,
} from '../../shared/planner/pack.js';

function checkValid(sizes: number[], capacity: number, result: ReturnType<typeof packSlots>) {
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

describe('slot packing', () => {
  it('packs exact fits into the optimum', () => {
    const sizes = [8, 8, 5, 5, 5, 3, 3, 3, 2, 2, 2, 2, 4, 4, 4, 4]; // 64 slots = 4 nodes of 16
    const result = packSlots(sizes, 16);
    checkValid(sizes, 16, result);
    expect(result.nodes).toBe(4);
    expect(result.lowerBound).toBe(4);
  });

  it('beats first-fit-decreasing on its classic 11/9 family', () => {
    // Johnson's worst case scaled to integers: C = 120, ε = 2 → sizes 62, 34, 32, 26 (6n of each
    // first/second, ...). OPT packs {62,32,26} and {34,34,26,26}; FFD wastes space.
    const n = 6;
    const sizes = [
      ...new Array(6 * n).fill(62),
      ...new Array(6 * n).fill(34),
      ...new Array(6 * n).fill(32),
      ...new Array(12 * n).fill(26),
    ];
    const capacity = 120;
    const ffd = firstFitDecreasing(sizes, capacity);
    const ours = packSlots(sizes, capacity);
    checkValid(sizes, capacity, ours);
    expect(ours.nodes).toBeLessThan(ffd.nodes);
    expect(ours.nodes).toBeLessThanOrEqual(ours.lowerBound + 1);
  });

  it('handles single sizes, full-node tasks and empty input', () => {
    expect(packSlots(new Array(10).fill(1), 4).nodes).toBe(3);
    expect(packSlots(new Array(5).fill(4), 4).nodes).toBe(5);
    expect(packSlots([], 4)).toMatchObject({ nodes: 0, lowerBound: 0 });
  });

  it('uses the L2 bound where the volume bound is weak', () => {
    // Three tasks of 6 on nodes of 10: volume says 2, but no two fit together.
    expect(lowerBound([6, 6, 6], 10)).toBe(3);
  });

  it('rejects a task larger than a node, naming it', () => {
    expect(() => packSlots([1, 2, 9], 8)).toThrow(TaskTooLargeError);
    try {
      packSlots([1, 2, 9], 8);
    } catch (e) {
      expect((e as TaskTooLargeError).index).toBe(2);
      expect((e as TaskTooLargeError).code).toBe('TaskTooLarge');
    }
    expect(() => packSlots([0], 8)).toThrow(TaskTooLargeError);
    expect(() => packSlots([1.5], 8)).toThrow(TaskTooLargeError);
  });

  it('counts waves when the pool is capped', () => {
    expect(planWaves({ nodes: 10 }, 4)).toBe(3);
    expect(planWaves({ nodes: 4 }, 4)).toBe(1);
    expect(planWaves({ nodes: 0 }, 4)).toBe(0);
  });
});

describe('slot packing properties', () => {
  const instance = fc.integer({ min: 1, max: 64 }).chain((capacity) =>
    fc.record({
      capacity: fc.constant(capacity),
      sizes: fc.array(fc.integer({ min: 1, max: capacity }), { maxLength: 300 }),
    }),
  );

  it('places every task once, never over capacity, between the lower bound and FFD', () => {
    fc.assert(
      fc.property(instance, ({ capacity, sizes }) => {
        const result = packSlots(sizes, capacity);
        checkValid(sizes, capacity, result);
        const ffd = firstFitDecreasing(sizes, capacity);
        expect(result.nodes).toBeGreaterThanOrEqual(result.lowerBound);
        expect(result.nodes).toBeLessThanOrEqual(ffd.nodes);
        expect(result.lowerBound).toBe(lowerBound(sizes, capacity));
      }),
      { numRuns: 300 },
    );
  });
});
