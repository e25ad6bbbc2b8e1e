/**
 * The Gilmore–Gomory linear relaxation of bin packing over the distinct sizes, solved by column
 * generation: P. C. Gilmore and R. E. Gomory, "A linear programming approach to the cutting-stock
 * problem", Operations Research 9 (1961) 849–859.
 *
 * Rows are the distinct sizes still to place (at most 256 here), columns are node patterns (how many
 * tasks of each size one node holds). The master LP `min Σx  s.t.  A x = demand, x ≥ 0` is solved by a
 * revised simplex with a dense basis inverse; the entering column is first looked for among patterns
 * seen before (the pool, cheap), then by pricing: a bounded knapsack over the capacity with the dual
 * values as profits. Each pricing also yields Farley's bound, `y⁺·demand / max pattern value`
 * (A. A. Farley, "A note on bounding a class of linear programming problems, including cutting stock
 * problems", Operations Research 38 (1990) 922–923), a valid lower bound even when the column
 * generation is stopped early, so the bound reported never depends on the LP having converged.
 *
 * The work is counted in abstract units (basis-inverse cells touched, knapsack cells filled) rather
 * than measured in time, so the same input always gives the same answer on any machine.
 */

const EPS = 1e-9;

/**
 * ⌈x⌉ for a bound computed in floating point: a bound of exactly k must not round up to k + 1 from
 * rounding error (the sums reach a million tasks, so the slack is relative as well as absolute).
 */
export function integerBound(x: number): number {
  return Math.ceil(x - 1e-6 - Math.abs(x) * 1e-9);
}
/** Rebuild the basis inverse from its columns after this many pivots, to shed rounding error. */
const REFACTOR_EVERY = 64;
/** Patterns remembered across solves (later dive steps find most of their columns here). */
const POOL_LIMIT = 20_000;

/** A node pattern over global size indices: `index[k]` is taken `count[k]` times. */
export interface Pattern {
  readonly index: Int32Array;
  readonly count: Int32Array;
}

export interface LpProblem {
  /** Slot size of each global size index. */
  readonly sizes: Int32Array;
  readonly capacity: number;
}

export interface LpSolution {
  /** True when no improving column exists (the LP optimum was reached). */
  readonly optimal: boolean;
  /** Objective of the final basis (an upper bound on the LP optimum). */
  readonly value: number;
  /** The best valid lower bound on the LP optimum seen (Farley), hence on any packing. */
  readonly lowerBound: number;
  /** The basic patterns (trimmed to the demand) and their values. */
  readonly patterns: Pattern[];
  readonly x: Float64Array;
}

/** A budget in work units shared by every solve of one packing. */
export class WorkBudget {
  used = 0;
  constructor(readonly limit: number) {}
  get exhausted(): boolean {
    return this.used >= this.limit;
  }
}

/** Patterns found by pricing, kept for later solves over smaller demands. */
export class PatternPool {
  readonly patterns: Pattern[] = [];
  /** Entries over all patterns: the cost of pricing the pool once. */
  entries = 0;
  private readonly seen = new Set<string>();
  add(p: Pattern): void {
    if (this.patterns.length >= POOL_LIMIT) return;
    let key = '';
    for (let k = 0; k < p.index.length; k++) key += `${p.index[k]}:${p.count[k]},`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.patterns.push(p);
    this.entries += p.index.length;
  }
}

/**
 * Solves the master LP for `demand` (per global size index) from the all-single-size basis.
 * Returns undefined only when the demand is empty.
 */
export function solvePatternLp(
  problem: LpProblem,
  demand: Float64Array,
  pool: PatternPool,
  budget: WorkBudget,
): LpSolution | undefined {
  const { sizes, capacity } = problem;
  // Active rows: sizes with demand left.
  const rows: number[] = [];
  const rowOf = new Int32Array(sizes.length).fill(-1);
  for (let g = 0; g < sizes.length; g++) {
    if (demand[g]! > 0) {
      rowOf[g] = rows.length;
      rows.push(g);
    }
  }
  const m = rows.length;
  if (m === 0) return undefined;

  // Basis: one dense column per row, starting with "as many of this one size as fit".
  const basis: Float64Array[] = [];
  const binv = new Float64Array(m * m);
  const x = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    const g = rows[r]!;
    const k = Math.min(demand[g]!, Math.floor(capacity / sizes[g]!));
    const col = new Float64Array(m);
    col[r] = k;
    basis.push(col);
    binv[r * m + r] = 1 / k;
    x[r] = demand[g]! / k;
  }
  const rhs = new Float64Array(m);
  for (let r = 0; r < m; r++) rhs[r] = demand[rows[r]!]!;

  const y = new Float64Array(m);
  const u = new Float64Array(m);
  const entering = new Float64Array(m);
  const knap = makeKnapsack(problem, rows, demand);
  let bestBound = 0;
  let optimal = false;
  let pivots = 0;
  let scratch: Float64Array | undefined;

  for (;;) {
    // Duals: y = c_B B⁻¹ with every cost 1, i.e. the column sums of B⁻¹.
    y.fill(0);
    for (let i = 0; i < m; i++) {
      const row = i * m;
      for (let j = 0; j < m; j++) y[j]! += binv[row + j] as number;
    }
    budget.used += m * m;
    let value = 0;
    for (let i = 0; i < m; i++) value += x[i]!;

    // Entering column: the most improving pooled pattern, else the knapsack optimum.
    let found = false;
    let best = 1 + EPS;
    let bestPattern: Pattern | undefined;
    for (const p of pool.patterns) {
      let v = 0;
      for (let k = 0; k < p.index.length; k++) {
        const r = rowOf[p.index[k]!]!;
        if (r >= 0) v += y[r]! * Math.min(p.count[k]!, demand[p.index[k]!]!);
      }
      if (v > best) {
        best = v;
        bestPattern = p;
      }
    }
    budget.used += pool.entries + pool.patterns.length;
    if (bestPattern) {
      entering.fill(0);
      for (let k = 0; k < bestPattern.index.length; k++) {
        const g = bestPattern.index[k]!;
        const r = rowOf[g]!;
        if (r >= 0) entering[r] = Math.min(bestPattern.count[k]!, demand[g]!);
      }
      found = true;
    } else {
      const priced = knap.solve(y, entering);
      budget.used += knap.work;
      let ydotd = 0;
      for (let r = 0; r < m; r++) if (y[r]! > 0) ydotd += y[r]! * rhs[r]!;
      if (priced > 0) bestBound = Math.max(bestBound, ydotd / Math.max(1, priced));
      if (priced > 1 + EPS) {
        found = true;
        const idx: number[] = [];
        const cnt: number[] = [];
        for (let r = 0; r < m; r++)
          if (entering[r]! > 0) {
            idx.push(rows[r]!);
            cnt.push(entering[r]!);
          }
        pool.add({ index: Int32Array.from(idx), count: Int32Array.from(cnt) });
      } else {
        optimal = true;
      }
    }
    // Stop when the LP optimum cannot change the integer bound any more, or the budget is spent.
    if (!found || integerBound(bestBound) >= integerBound(value) || budget.exhausted) {
      optimal = optimal || integerBound(bestBound) >= integerBound(value);
      return {
        optimal,
        value,
        lowerBound: bestBound,
        patterns: basis.map((col) => toPattern(col, rows)),
        x: Float64Array.from(x, (v) => Math.max(0, v)),
      };
    }

    // Ratio test on u = B⁻¹ a.
    u.fill(0);
    for (let j = 0; j < m; j++) {
      const a = entering[j]!;
      if (a === 0) continue;
      for (let i = 0; i < m; i++) u[i]! += binv[i * m + j]! * a;
    }
    let leave = -1;
    let theta = Number.POSITIVE_INFINITY;
    for (let i = 0; i < m; i++) {
      if (u[i]! > EPS) {
        const t = x[i]! / u[i]!;
        if (t < theta - EPS) {
          theta = t;
          leave = i;
        }
      }
    }
    if (leave < 0) {
      // Cannot happen for bin packing (every pattern holds a task); treat as converged.
      return {
        optimal: false,
        value,
        lowerBound: bestBound,
        patterns: basis.map((col) => toPattern(col, rows)),
        x: Float64Array.from(x, (v) => Math.max(0, v)),
      };
    }
    for (let i = 0; i < m; i++) x[i]! -= theta * u[i]!;
    x[leave] = theta;
    const pivot = u[leave]!;
    const lrow = leave * m;
    for (let j = 0; j < m; j++) binv[lrow + j]! /= pivot;
    for (let i = 0; i < m; i++) {
      if (i === leave) continue;
      const f = u[i]!;
      if (f === 0) continue;
      const row = i * m;
      for (let j = 0; j < m; j++) binv[row + j]! -= f * binv[lrow + j]!;
    }
    budget.used += m * m;
    basis[leave] = Float64Array.from(entering);
    if (++pivots % REFACTOR_EVERY === 0) {
      if (!scratch) scratch = new Float64Array(2 * m * m);
      refactor(basis, binv, x, rhs, m, budget, scratch);
    }
  }
}

function toPattern(col: Float64Array, rows: readonly number[]): Pattern {
  const idx: number[] = [];
  const cnt: number[] = [];
  for (let r = 0; r < col.length; r++)
    if (col[r]! > 0) {
      idx.push(rows[r]!);
      cnt.push(Math.round(col[r]!));
    }
  return { index: Int32Array.from(idx), count: Int32Array.from(cnt) };
}

/** Recomputes B⁻¹ (Gauss–Jordan, partial pivoting) and x = B⁻¹ demand. */
function refactor(
  basis: readonly Float64Array[],
  binv: Float64Array,
  x: Float64Array,
  rhs: Float64Array,
  m: number,
  budget: WorkBudget,
  t: Float64Array,
): void {
  const w = 2 * m;
  t.fill(0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) t[i * w + j] = basis[j]![i]!;
    t[i * w + m + i] = 1;
  }
  for (let c = 0; c < m; c++) {
    let p = c;
    for (let i = c + 1; i < m; i++) if (Math.abs(t[i * w + c]!) > Math.abs(t[p * w + c]!)) p = i;
    if (Math.abs(t[p * w + c]!) < 1e-12) return; // keep the updated inverse
    if (p !== c)
      for (let j = 0; j < w; j++) {
        const tmp = t[c * w + j]!;
        t[c * w + j] = t[p * w + j]!;
        t[p * w + j] = tmp;
      }
    const inv = 1 / t[c * w + c]!;
    for (let j = 0; j < w; j++) t[c * w + j]! *= inv;
    for (let i = 0; i < m; i++) {
      if (i === c) continue;
      const f = t[i * w + c]!;
      if (f === 0) continue;
      for (let j = 0; j < w; j++) t[i * w + j]! -= f * t[c * w + j]!;
    }
  }
  budget.used += 2 * m * m * m;
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) binv[i * m + j] = t[i * w + m + j]!;
  for (let i = 0; i < m; i++) {
    let v = 0;
    for (let j = 0; j < m; j++) v += binv[i * m + j]! * rhs[j]!;
    x[i] = Math.max(0, v);
  }
}

/**
 * Bounded knapsack over the capacity: the pattern of greatest dual value, each size taken at most
 * min(demand, ⌊C/size⌋) times. Counts are split in powers of two so it is a 0/1 knapsack, O(items × C).
 */
function makeKnapsack(problem: LpProblem, rows: readonly number[], demand: Float64Array) {
  const { sizes, capacity } = problem;
  const itemRow: number[] = [];
  const itemMult: number[] = [];
  for (let r = 0; r < rows.length; r++) {
    const g = rows[r]!;
    let left = Math.min(demand[g]!, Math.floor(capacity / sizes[g]!));
    for (let k = 1; left > 0; k *= 2) {
      const take = Math.min(k, left);
      itemRow.push(r);
      itemMult.push(take);
      left -= take;
    }
  }
  const n = itemRow.length;
  const dp = new Float64Array(capacity + 1);
  const took = new Uint8Array(n * (capacity + 1));
  return {
    work: 0,
    /** Fills `out` (per row) with the best pattern and returns its value. */
    solve(y: Float64Array, out: Float64Array): number {
      dp.fill(0);
      took.fill(0);
      let work = 0;
      for (let k = 0; k < n; k++) {
        const r = itemRow[k]!;
        const value = y[r]! * itemMult[k]!;
        if (value <= 0) continue;
        const weight = sizes[rows[r]!]! * itemMult[k]!;
        const base = k * (capacity + 1);
        for (let w = capacity; w >= weight; w--) {
          const v = dp[w - weight]! + value;
          if (v > dp[w]!) {
            dp[w] = v;
            took[base + w] = 1;
          }
        }
        work += capacity;
      }
      this.work = work + n;
      out.fill(0);
      let w = capacity;
      for (let k = n - 1; k >= 0; k--) {
        if (took[k * (capacity + 1) + w]) {
          out[itemRow[k]!]! += itemMult[k] as number;
          w -= sizes[rows[itemRow[k]!]!]! * itemMult[k]!;
        }
      }
      return dp[capacity]!;
    },
  };
}
