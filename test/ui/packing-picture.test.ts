import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderPackingText, tryPackingPicture } from '../../shared/interfaces/ui/packing-picture.js';
import { packSlots } from '../../shared/planner/pack.js';

const expand = (histogram: readonly (readonly [number, number])[]) =>
  histogram.flatMap(([slots, count]) => Array<number>(count).fill(slots));

describe('tryPackingPicture', () => {
  it('draws every task of the histogram in as many nodes as the planner packs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }).chain((capacity) =>
          fc.tuple(
            fc.constant(capacity),
            fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: capacity }), fc.integer({ min: 0, max: 40 })), {
              selector: ([slots]) => slots,
              maxLength: 8,
            }),
          ),
        ),
        ([capacity, histogram]) => {
          const picture = tryPackingPicture({ taskSlotsPerNode: capacity, slotHistogram: histogram })!;
          const sizes = expand(histogram);
          expect(picture.nodes).toBe(packSlots(sizes, capacity).nodes);
          expect(picture.kinds.reduce((n, k) => n + k.count, 0)).toBe(picture.nodes);
          const drawn = picture.kinds.flatMap((k) => Array.from({ length: k.count }, () => k.tasks).flat());
          expect(drawn.sort((a, b) => a - b)).toEqual(sizes.sort((a, b) => a - b));
          for (const kind of picture.kinds) {
            expect(kind.used).toBe(kind.tasks.reduce((a, b) => a + b, 0));
            expect(kind.used).toBeLessThanOrEqual(capacity);
          }
          expect(picture.usedSlots).toBe(sizes.reduce((a, b) => a + b, 0));
        },
      ),
    );
  });

  it('keeps a large job to a few kinds of node', () => {
    const picture = tryPackingPicture({
      taskSlotsPerNode: 8,
      slotHistogram: [
        [1, 50_000],
        [3, 50_000],
      ],
    })!;
    expect(picture.tasks).toBe(100_000);
    expect(picture.kinds.length).toBeLessThanOrEqual(4);
    // 3+3+1+1 fills a node exactly: 25,000 of them.
    expect(picture.kinds[0]).toEqual({ tasks: [3, 3, 1, 1], used: 8, count: 25_000 });
  });

  it('has no picture without a histogram or with one that does not fit the nodes', () => {
    expect(tryPackingPicture({ taskSlotsPerNode: 8 })).toBeUndefined();
    expect(tryPackingPicture({ taskSlotsPerNode: 8, slotHistogram: [[9, 1]] })).toBeUndefined();
    expect(tryPackingPicture({ taskSlotsPerNode: 0, slotHistogram: [[1, 1]] })).toBeUndefined();
    expect(tryPackingPicture({ taskSlotsPerNode: 8, slotHistogram: [[2, -1]] })).toBeUndefined();
  });
});

describe('renderPackingText', () => {
  it('draws one row per kind with alternating glyphs and free dots', () => {
    const picture = tryPackingPicture({
      taskSlotsPerNode: 8,
      slotHistogram: [
        [1, 3],
        [2, 1],
        [4, 4],
      ],
    })!;
    expect(renderPackingText(picture)).toEqual([
      '2 × ████▒▒▒▒  4+4  8/8 slots',
      '1 × ██▒█▒···  2+1(×3)  5/8 slots',
    ]);
  });

  it('scales wide nodes and says how many kinds it left out', () => {
    const picture = tryPackingPicture({
      taskSlotsPerNode: 256,
      slotHistogram: [
        [200, 3],
        [150, 1],
        [100, 1],
        [60, 1],
      ],
    })!;
    const lines = renderPackingText(picture, { maxKinds: 2 });
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\d × [█▒·]{64} {2}/);
    expect(lines[2]).toMatch(/^… \d+ more kinds? of node \(\d+ nodes\)$/);
    expect(lines[3]).toBe('(one character is 4 slots)');
  });
});
