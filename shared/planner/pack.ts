/**
 * Packing tasks into node slots: one-dimensional bin packing with small integer sizes
 * (1 ≤ requiredSlots ≤ taskSlotsPerNode ≤ 256) and up to a million items.
 *
 * Sizes are grouped by value (at most 256 distinct), so the work depends on the number of distinct
 * bin patterns, not on the number of tasks:
 * - pattern packing: open a node with the largest remaining task, fill the rest of it as fully as
 *   possible (bounded subset-sum over the remaining counts, O(distinct × C)), then repeat that same
 *   pattern as many times as the counts allow (a minimum-bin-slack rule applied in bulk);
 * - first-fit-decreasing over the same counts, with a segment tree over open nodes' free slots.
 * The better of the two is today's packing: never worse than FFD, stored with a lower bound (the
 * larger of ⌈Σ/C⌉ and Martello–Toth L2) that shows how close it is.
 *
 * Where that bound does not already prove it optimal, an improvement phase follows (unless the caller
 * asks for the fast packing): the Gilmore–Gomory LP over the distinct sizes, solved by column
 * generation (`pattern-lp.ts`), gives a stronger bound, and a dive on that LP (`lp-dive.ts`) looks for
 * a packing with fewer nodes. It runs on a deterministic work budget and keeps today's packing unless
 * it finds a strictly better one.
 */
import { SlotwiseError } from '../core/errors.js';
import { improveByDiving, type PatternRun } from './lp-dive.js';

export interface PackResult {
  readonly nodes: number;
  readonly lowerBound: number;
  /** Node index of each task, in task order. */
  readonly assignment: Uint32Array;
  /** Slots used on each node. */
  readonly nodeLoads: Uint32Array;
  readonly algorithm: 'pattern' | 'ffd' | 'lp-dive';
  /**
   * The strongest lower bound proven: max(`lowerBound`, ⌈Gilmore–Gomory LP bound⌉). Equals
   * `lowerBound` when the LP was not needed (the packing already met `lowerBound`) or not run (fast
   * packing). When the column generation stops at its budget, Farley's bound stands in for the LP's.
   */
  readonly lpBound: number;
  /** True when `nodes` equals a proven lower bound, so no packing uses fewer nodes. */
  readonly provenOptimal: boolean;
  /** Work units the improvement phase spent (0 when it did not run). */
  readonly improveWork: number;
}

export interface PackOptions {
  /**
   * Run the improvement phase (LP bound and dive) after the fast packer. Default true. The pool
   * controller, which repacks on every pass, turns it off.
   */
  readonly improve?: boolean;
  /** Work units the improvement phase may spend. Default `improveBudgetFor(tasks)`. */
  readonly workBudget?: number;
}

/**
 * Default improvement budget, in work units (basis-inverse cells, knapsack cells and pooled pattern
 * entries touched; roughly 1–2 million per millisecond on the 2-core machine the benchmarks run on):
 * about 200–400 ms at most for jobs up to 10,000 tasks, half that up to 100,000, and under 100 ms beyond,
 * where the fast packer's share of the plan time is larger and one node is a smaller share of the
 * pool. Counted, not timed, so a plan is the same on every machine. Most plans need far less: the
 * phase stops as soon as a packing meets the bound.
 */
export function improveBudgetFor(tasks: number): number {
  if (tasks <= 10_000) return 400_000_000;
  if (tasks <= 100_000) return 200_000_000;
  return 80_000_000;
}

export class TaskTooLargeError extends SlotwiseError {
  readonly index: number;
  constructor(index: number, size: number, capacity: number) {
    super('TaskTooLarge', `Task ${index} needs ${size} slots; a node has ${capacity}`);
    this.index = index;
  }
}

function countSizes(sizes: ArrayLike<number>, capacity: number): Float64Array {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new SlotwiseError('InvalidCapacity', `Node capacity must be a positive integer, got ${capacity}`);
  }
  const counts = new Float64Array(capacity + 1);
  for (let i = 0; i < sizes.length; i++) {
    const s = sizes[i]!;
    if (!Number.isInteger(s) || s < 1 || s > capacity) throw new TaskTooLargeError(i, s, capacity);
    counts[s]!++;
  }
  return counts;
}

/** max(⌈Σ/C⌉, Martello–Toth L2) over the size counts. */
export function lowerBound(sizes: ArrayLike<number>, capacity: number): number {
  return boundFromCounts(countSizes(sizes, capacity), capacity);
}

function boundFromCounts(counts: Float64Array, capacity: number): number {
  let total = 0;
  for (let s = 1; s <= capacity; s++) total += s * counts[s]!;
  let best = Math.ceil(total / capacity);
  // L2: for each k ≤ C/2, items > C−k each need their own node; items in (C/2, C−k] too, and their
  // free space can absorb items in [k, C/2]; the rest of those needs ⌈rest/C⌉ more nodes.
  for (let k = 1; k <= Math.floor(capacity / 2); k++) {
    let n1 = 0;
    let n2 = 0;
    let free2 = 0;
    let sum3 = 0;
    for (let s = 1; s <= capacity; s++) {
      const c = counts[s]!;
      if (c === 0) continue;
      if (s > capacity - k) n1 += c;
      else if (2 * s > capacity) {
        n2 += c;
        free2 += c * (capacity - s);
      } else if (s >= k) sum3 += c * s;
    }
    const bound = n1 + n2 + Math.max(0, Math.ceil((sum3 - free2) / capacity));
    if (bound > best) best = bound;
  }
  return best;
}

function patternPack(counts: Float64Array, capacity: number): PatternRun[] {
  const left = Float64Array.from(counts);
  const runs: PatternRun[] = [];
  const reachUsed = new Int32Array(capacity + 1);
  const from = new Int32Array(capacity + 1);
  let largest = capacity;
  for (;;) {
    while (largest > 0 && left[largest] === 0) largest--;
    if (largest === 0) break;
    // Node opened with the largest remaining task; fill the rest as fully as the counts allow.
    left[largest]!--;
    const room = capacity - largest;
    from.fill(-1);
    from[0] = 0;
    for (let s = Math.min(room, largest); s >= 1; s--) {
      const available = left[s]!;
      if (available === 0) continue;
      reachUsed.fill(0);
      for (let w = s; w <= room; w++) {
        if (from[w] === -1 && from[w - s] !== -1 && reachUsed[w - s]! < available) {
          from[w] = s;
          reachUsed[w] = reachUsed[w - s]! + 1;
        }
      }
    }
    let fill = room;
    while (from[fill] === -1) fill--;
    const uses = new Map<number, number>([[largest, 1]]);
    for (let w = fill; w > 0; w -= from[w]!) uses.set(from[w]!, (uses.get(from[w]!) ?? 0) + 1);
    left[largest]!++;
    let repeat = Number.POSITIVE_INFINITY;
    for (const [s, n] of uses) repeat = Math.min(repeat, Math.floor(left[s]! / n));
    for (const [s, n] of uses) left[s]! -= n * repeat;
    runs.push({ uses, repeat });
  }
  return runs;
}

/** First-fit-decreasing over size counts; returns each node's contents as size → count. */
function ffdPack(counts: Float64Array, capacity: number): PatternRun[] {
  let items = 0;
  for (let s = 1; s <= capacity; s++) items += counts[s]!;
  // Segment tree of free slots per node, to find the first node with room in O(log n).
  let size = 1;
  while (size < Math.max(1, items)) size *= 2;
  const tree = new Int32Array(2 * size).fill(0);
  const contents: Map<number, number>[] = [];
  let opened = 0;
  const update = (node: number, free: number) => {
    let i = node + size;
    tree[i] = free;
    for (i >>= 1; i >= 1; i >>= 1) tree[i] = Math.max(tree[2 * i]!, tree[2 * i + 1]!);
  };
  const firstFit = (need: number): number => {
    if (tree[1]! < need) return -1;
    let i = 1;
    while (i < size) i = tree[2 * i]! >= need ? 2 * i : 2 * i + 1;
    return i - size;
  };
  for (let s = capacity; s >= 1; s--) {
    for (let c = counts[s]!; c > 0; c--) {
      let node = firstFit(s);
      if (node < 0) {
        node = opened++;
        contents.push(new Map());
        update(node, capacity);
      }
      const bin = contents[node]!;
      bin.set(s, (bin.get(s) ?? 0) + 1);
      update(node, tree[node + size]! - s);
    }
  }
  return contents.map((uses) => ({ uses, repeat: 1 }));
}

function nodeCount(runs: readonly PatternRun[]): number {
  return runs.reduce((n, r) => n + r.repeat, 0);
}

function materialise(
  sizes: ArrayLike<number>,
  capacity: number,
  runs: readonly PatternRun[],
  bound: number,
  algorithm: PackResult['algorithm'],
  lpBound = bound,
  improveWork = 0,
): PackResult {
  const nodes = nodeCount(runs);
  // Task indices by size, handed out to nodes in order.
  const bySize: number[][] = Array.from({ length: capacity + 1 }, () => []);
  for (let i = sizes.length - 1; i >= 0; i--) bySize[sizes[i]!]!.push(i);
  const assignment = new Uint32Array(sizes.length);
  const nodeLoads = new Uint32Array(nodes);
  let node = 0;
  for (const run of runs) {
    for (let r = 0; r < run.repeat; r++, node++) {
      let load = 0;
      for (const [s, n] of run.uses) {
        const pool = bySize[s]!;
        for (let k = 0; k < n; k++) assignment[pool.pop()!] = node;
        load += s * n;
      }
      nodeLoads[node] = load;
    }
  }
  // No lower bound can exceed a packing that exists; the cap only guards against rounding.
  const strongest = Math.min(Math.max(bound, lpBound), nodes);
  return {
    nodes,
    lowerBound: bound,
    assignment,
    nodeLoads,
    algorithm,
    lpBound: strongest,
    provenOptimal: nodes <= strongest,
    improveWork,
  };
}

export function firstFitDecreasing(sizes: ArrayLike<number>, capacity: number): PackResult {
  const counts = countSizes(sizes, capacity);
  return materialise(sizes, capacity, ffdPack(counts, capacity), boundFromCounts(counts, capacity), 'ffd');
}

/** Today's fast packing over the counts: the better of pattern packing and FFD. */
function fastPack(
  counts: Float64Array,
  capacity: number,
  bound: number,
): { runs: PatternRun[]; algorithm: 'pattern' | 'ffd'; pattern: PatternRun[] } {
  const pattern = patternPack(counts, capacity);
  if (nodeCount(pattern) <= bound) return { runs: pattern, algorithm: 'pattern', pattern };
  const ffd = ffdPack(counts, capacity);
  return nodeCount(ffd) < nodeCount(pattern)
    ? { runs: ffd, algorithm: 'ffd', pattern }
    : { runs: pattern, algorithm: 'pattern', pattern };
}

/**
 * Packs tasks (requiredSlots in task order) into nodes of `capacity` slots: the fast packer, then
 * (by default) the improvement phase within its work budget. Deterministic for the same input.
 */
export function packSlots(sizes: ArrayLike<number>, capacity: number, options: PackOptions = {}): PackResult {
  const counts = countSizes(sizes, capacity);
  const bound = boundFromCounts(counts, capacity);
  const fast = fastPack(counts, capacity, bound);
  const nodes = nodeCount(fast.runs);
  if (options.improve === false || nodes <= bound)
    return materialise(sizes, capacity, fast.runs, bound, fast.algorithm);
  const improved = improveByDiving(
    counts,
    capacity,
    nodes,
    // The pattern packer's runs are few and distinct (FFD's are one per node): good first columns.
    fast.pattern,
    bound,
    options.workBudget ?? improveBudgetFor(sizes.length),
    (rest) => fastPack(rest, capacity, boundFromCounts(rest, capacity)).runs,
  );
  return improved.runs
    ? materialise(sizes, capacity, improved.runs, bound, 'lp-dive', improved.lpBound, improved.workUsed)
    : materialise(sizes, capacity, fast.runs, bound, fast.algorithm, improved.lpBound, improved.workUsed);
}

/**
 * Rounds needed when the pool is capped at `maxNodes`: the packed nodes run `maxNodes` at a time,
 * so ⌈nodes / maxNodes⌉ (an upper bound: Batch may overlap rounds as tasks finish).
 */
export function planWaves(result: Pick<PackResult, 'nodes'>, maxNodes: number): number {
  if (result.nodes === 0) return 0;
  return Math.ceil(result.nodes / Math.max(1, maxNodes));
}
