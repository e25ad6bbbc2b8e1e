/**
 * Improvement phase: a diving heuristic on the Gilmore–Gomory LP (see `pattern-lp.ts`), the primal
 * side of branch-and-price for cutting stock as described by G. Belov and G. Scheithauer, "A
 * branch-and-cut-and-price algorithm for one-dimensional stock cutting and two-dimensional two-stage
 * cutting", European Journal of Operational Research 171 (2006) 85–106 (with residual rounding after
 * G. Wäscher and T. Gau, "Heuristics for the integer one-dimensional cutting stock problem: a
 * computational study", OR Spektrum 18 (1996) 131–144):
 * 1. solve the LP over the remaining size counts;
 * 2. fix ⌊x⌋ nodes of every basic pattern (this keeps the basis optimal for what is left);
 * 3. round one more node of a fractional pattern up, preferring (among the first three in the
 *    dive's order) one after which the residual LP still allows the target node count, and repeat
 *    on the residual until nothing is left, or the LP shows the dive cannot beat the best packing.
 * Up to three dives run, each ordering the fractional patterns its own way (largest fraction, fullest
 * node, largest value), until one reaches max(⌈LP bound⌉, L2), which proves it optimal. If none does,
 * a depth-first search follows: the same steps, but fixing one node fewer of each pattern (so the
 * LP can still move it), branching on the first four fractional patterns, and backtracking from
 * every branch whose residual LP bound exceeds the target — branch-and-price with the LP bound as
 * its only cut, stopped by the budget.
 * Everything works on counts per distinct size, so a million tasks cost what a thousand do. The
 * whole phase runs on a budget of work units and falls back to the packing it was given.
 */
import {
  integerBound,
  type LpSolution,
  type Pattern,
  PatternPool,
  solvePatternLp,
  WorkBudget,
} from './pattern-lp.js';

/** A node pattern as slot size → tasks, used `repeat` times. */
export interface PatternRun {
  readonly uses: ReadonlyMap<number, number>;
  readonly repeat: number;
}

export interface ImproveOutcome {
  /** A better packing than the incumbent, if one was found. */
  readonly runs?: PatternRun[];
  /** ⌈LP bound⌉ (or ⌈Farley bound⌉ when the LP was cut short); 0 when not computed. */
  readonly lpBound: number;
  readonly workUsed: number;
}

/** Packs leftover counts (per slot size, index = size) the fast way; used to finish a dive. */
export type FastPacker = (counts: Float64Array) => PatternRun[];

/** How a dive picks the pattern to round up among the fractional ones; each dive uses one. */
type Rule = (a: Candidate, b: Candidate) => number;
interface Candidate {
  readonly pattern: Pattern;
  readonly x: number;
  readonly frac: number;
  readonly load: number;
  readonly order: number;
}
const rules: readonly Rule[] = [
  // Largest fractional part first: the LP is most nearly sure of it.
  (a, b) => b.frac - a.frac || a.order - b.order,
  // The fullest node first: waste is what an optimal packing cannot afford.
  (a, b) => b.load - a.load || b.frac - a.frac || a.order - b.order,
  // The pattern the LP uses most.
  (a, b) => b.x - a.x || a.order - b.order,
];
/** Patterns tried at each rounding before settling for one that loses a node. */
const CANDIDATES_PER_STEP = 3;
/** Patterns tried at each level of the backtracking search. */
const BRANCHES = 4;

/**
 * Looks for a packing of `counts` (tasks per slot size) with fewer than `incumbentNodes` nodes, and
 * computes the LP bound on the way. `knownBound` (L2) joins ⌈LP⌉ in the target that ends the search.
 */
export function improveByDiving(
  counts: Float64Array,
  capacity: number,
  incumbentNodes: number,
  seedRuns: readonly PatternRun[],
  knownBound: number,
  workLimit: number,
  fastPack: FastPacker,
): ImproveOutcome {
  const distinct: number[] = [];
  const indexOf = new Int32Array(capacity + 1).fill(-1);
  for (let s = capacity; s >= 1; s--)
    if (counts[s]! > 0) {
      indexOf[s] = distinct.length;
      distinct.push(s);
    }
  const sizes = Int32Array.from(distinct);
  const problem = { sizes, capacity };
  const demand0 = Float64Array.from(distinct, (s) => counts[s]!);
  const budget = new WorkBudget(workLimit);
  const pool = new PatternPool();
  // The pattern packer's runs are good columns to start from.
  for (const run of seedRuns) {
    const entries = [...run.uses].map(([s, n]) => [indexOf[s]!, n] as const).sort((a, b) => a[0] - b[0]);
    pool.add({ index: Int32Array.from(entries, (e) => e[0]), count: Int32Array.from(entries, (e) => e[1]) });
  }

  const lp0 = solvePatternLp(problem, demand0, pool, budget);
  if (!lp0) return { lpBound: 0, workUsed: budget.used };
  const lpBound = integerBound(lp0.lowerBound);
  const target = Math.max(lpBound, knownBound);
  let bestNodes = incumbentNodes;
  let bestRuns: PatternRun[] | undefined;
  if (bestNodes <= target || !lp0.optimal) return { lpBound, workUsed: budget.used };

  const loadOf = (p: Pattern) => {
    let load = 0;
    for (let k = 0; k < p.index.length; k++) load += sizes[p.index[k]!]! * p.count[k]!;
    return load;
  };

  for (const rule of rules) {
    if (budget.exhausted || bestNodes <= target) break;
    const demand = Float64Array.from(demand0);
    const fixed = new Map<string, { pattern: Pattern; repeat: number }>();
    let used = 0;
    const fix = (p: Pattern, times: number) => {
      const key = patternKey(p);
      const entry = fixed.get(key);
      if (entry) entry.repeat += times;
      else fixed.set(key, { pattern: p, repeat: times });
      for (let k = 0; k < p.index.length; k++) demand[p.index[k]!]! -= p.count[k]! * times;
      used += times;
    };
    const left = () => demand.some((d) => d > 0);
    let lp: LpSolution = lp0;
    let abandoned = false;

    for (;;) {
      // The LP of what is left bounds every completion of this dive.
      if (used + integerBound(lp.lowerBound) >= bestNodes) {
        abandoned = true;
        break;
      }
      // ⌊x⌋ nodes of every basic pattern: the basis stays optimal for the rest.
      const candidates: Candidate[] = [];
      lp.patterns.forEach((p, i) => {
        const xi = lp.x[i]!;
        const whole = Math.min(Math.floor(xi + 1e-9), timesAvailable(p, demand));
        if (whole > 0) fix(p, whole);
        const frac = xi - whole;
        if (frac > 1e-9) candidates.push({ pattern: p, x: xi, frac, load: loadOf(p), order: i });
      });
      if (!left() || budget.exhausted) break;
      candidates.sort(rule);
      // Round one pattern up; prefer one after which the LP still allows the target.
      let next: LpSolution | undefined;
      let fallback: { pattern: Pattern; lp: LpSolution | undefined; total: number } | undefined;
      let chosen = false;
      for (const c of candidates.slice(0, CANDIDATES_PER_STEP)) {
        const up = trim(c.pattern, demand);
        if (!up.count.some((n) => n > 0)) continue;
        fix(up, 1);
        next = solvePatternLp(problem, demand, pool, budget);
        const total = used + (next ? integerBound(next.lowerBound) : 0);
        if (total <= target) {
          chosen = true;
          break;
        }
        if (!fallback || total < fallback.total) fallback = { pattern: up, lp: next, total };
        fix(up, -1);
        if (budget.exhausted) break;
      }
      if (!chosen) {
        if (!fallback) break;
        fix(fallback.pattern, 1);
        next = fallback.lp;
      }
      if (!next || budget.exhausted) break;
      lp = next;
    }
    if (abandoned) continue;

    // Finish whatever the dive left with the fast packer.
    const runs = toRuns([...fixed.values()], sizes);
    if (left()) {
      const rest = new Float64Array(capacity + 1);
      distinct.forEach((s, g) => {
        rest[s] = demand[g]!;
      });
      runs.push(...fastPack(rest));
    }
    const nodes = runs.reduce((n, r) => n + r.repeat, 0);
    if (nodes < bestNodes) {
      bestNodes = nodes;
      bestRuns = runs;
    }
  }

  // Still above the target: a depth-first search that backtracks where the dives got stuck (near
  // the end, as a rule), rounding up one of the first few fractional patterns at each level and
  // pruning every branch whose residual LP bound exceeds the target. Whatever it completes meets the
  // target, hence is optimal; it stops at the budget. It fixes one node fewer of each pattern than
  // the dives: residual rounding alone often locks in patterns no optimal packing completes.
  if (bestNodes > target && !budget.exhausted) {
    const demand = Float64Array.from(demand0);
    const stack: { pattern: Pattern; repeat: number }[] = [];
    let used = 0;
    const fix = (p: Pattern, times: number) => {
      stack.push({ pattern: p, repeat: times });
      for (let k = 0; k < p.index.length; k++) demand[p.index[k]!]! -= p.count[k]! * times;
      used += times;
    };
    const unwind = (mark: number) => {
      while (stack.length > mark) {
        const { pattern: p, repeat: times } = stack.pop()!;
        for (let k = 0; k < p.index.length; k++) demand[p.index[k]!]! += p.count[k]! * times;
        used -= times;
      }
    };
    const left = () => demand.some((d) => d > 0);
    let found: PatternRun[] | undefined;
    /** True when the search is over (a packing meeting the target was found, or the budget is spent). */
    const search = (lp: LpSolution): boolean => {
      if (used + integerBound(lp.lowerBound) > target) return false;
      const mark = stack.length;
      const candidates: Candidate[] = [];
      lp.patterns.forEach((p, i) => {
        const xi = lp.x[i]!;
        const whole = Math.min(Math.max(0, Math.floor(xi + 1e-9) - 1), timesAvailable(p, demand));
        if (whole > 0) fix(p, whole);
        const frac = xi - whole;
        if (frac > 1e-9) candidates.push({ pattern: p, x: xi, frac, load: loadOf(p), order: i });
      });
      if (!left()) {
        found = toRuns(stack, sizes);
        return true;
      }
      candidates.sort(rules[1]);
      for (const c of candidates.slice(0, BRANCHES)) {
        if (budget.exhausted) return true;
        const up = trim(c.pattern, demand);
        if (!up.count.some((n) => n > 0)) continue;
        const inner = stack.length;
        fix(up, 1);
        if (!left()) {
          found = toRuns(stack, sizes);
          return true;
        }
        const next = solvePatternLp(problem, demand, pool, budget);
        if (next && search(next)) return true;
        unwind(inner);
      }
      unwind(mark);
      return budget.exhausted;
    };
    search(lp0);
    if (found && found.reduce((n, r) => n + r.repeat, 0) < bestNodes) {
      bestNodes = found.reduce((n, r) => n + r.repeat, 0);
      bestRuns = found;
    }
  }
  return { ...(bestRuns ? { runs: bestRuns } : {}), lpBound, workUsed: budget.used };
}

function patternKey(p: Pattern): string {
  let key = '';
  for (let k = 0; k < p.index.length; k++) if (p.count[k]! > 0) key += `${p.index[k]}:${p.count[k]},`;
  return key;
}

function timesAvailable(p: Pattern, demand: Float64Array): number {
  let t = Number.POSITIVE_INFINITY;
  for (let k = 0; k < p.index.length; k++) {
    const c = p.count[k]!;
    if (c > 0) t = Math.min(t, Math.floor(demand[p.index[k]!]! / c));
  }
  return t === Number.POSITIVE_INFINITY ? 0 : t;
}

function trim(p: Pattern, demand: Float64Array): Pattern {
  return {
    index: p.index,
    count: Int32Array.from(p.count, (c, k) => Math.min(c, demand[p.index[k]!]!)),
  };
}

/** Fixed patterns, merged by content, as runs of slot size → tasks. */
function toRuns(fixed: readonly { pattern: Pattern; repeat: number }[], sizes: Int32Array): PatternRun[] {
  const merged = new Map<string, { uses: Map<number, number>; repeat: number }>();
  for (const { pattern, repeat } of fixed) {
    if (repeat <= 0) continue;
    const key = patternKey(pattern);
    if (key === '') continue;
    const entry = merged.get(key);
    if (entry) {
      entry.repeat += repeat;
      continue;
    }
    const uses = new Map<number, number>();
    for (let k = 0; k < pattern.index.length; k++)
      if (pattern.count[k]! > 0) uses.set(sizes[pattern.index[k]!]!, pattern.count[k]!);
    merged.set(key, { uses, repeat });
  }
  return [...merged.values()];
}
