/**
 * Generators of bin-packing instances with a known optimum, after the construction of E. Falkenauer's
 * benchmark classes ("A hybrid grouping genetic algorithm for bin packing", Journal of Heuristics 2
 * (1996) 5–30), scaled to node capacities in slots. Used by the planner benchmark and the packing
 * tests; every instance is generated from a seed, nothing is copied.
 */

export interface Instance {
  readonly sizes: number[];
  readonly capacity: number;
  /** The optimum number of nodes, known by construction. */
  readonly optimum: number;
}

/** xorshift32: small, seeded, the same on every machine. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function between(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

function shuffle(sizes: number[], r: () => number): number[] {
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  return sizes;
}

/**
 * Triplets: every node of the optimum holds exactly three tasks that fill it, each strictly between
 * a quarter and half of the node (Falkenauer's first task in [0.38 C, 0.49 C], the second in what
 * leaves room for a third over C/4). No node can hold four such tasks, so `nodes` = tasks / 3 is
 * optimal. Needs C ≥ 20 for the ranges to be non-empty.
 */
export function tripletInstance(nodes: number, capacity: number, seed: number): Instance {
  const r = rng(seed);
  const minItem = Math.floor(capacity / 4) + 1;
  const maxItem = Math.ceil(capacity / 2) - 1;
  const firstHi = Math.min(Math.floor(0.49 * capacity), maxItem, capacity - 2 * minItem);
  const firstLo = Math.min(Math.ceil(0.38 * capacity), firstHi);
  const sizes: number[] = [];
  for (let b = 0; b < nodes; b++) {
    const first = between(r, firstLo, firstHi);
    const secondHi = Math.min(maxItem, capacity - first - minItem);
    const secondLo = Math.max(minItem, capacity - first - maxItem);
    const second = between(r, secondLo, secondHi);
    sizes.push(first, second, capacity - first - second);
  }
  return { sizes: shuffle(sizes, r), capacity, optimum: nodes };
}

/**
 * Uniform: task sizes drawn uniformly from Falkenauer's range [20, 100] of 150, scaled to C, but
 * cut from full nodes (each node is filled with such draws until it is exactly full), so the
 * optimum equals the volume bound Σ / C. Tasks per node average about 2.5–3, as in the classic class.
 */
export function uniformInstance(nodes: number, capacity: number, seed: number): Instance {
  const r = rng(seed);
  const lo = Math.max(1, Math.round((20 / 150) * capacity));
  const hi = Math.round((100 / 150) * capacity);
  const sizes: number[] = [];
  for (let b = 0; b < nodes; b++) {
    let left = capacity;
    while (left > 0) {
      // Take the rest when it is a valid size and either no draw can leave a valid rest, or by chance.
      if (left <= hi && (left < 2 * lo || r() < 0.3)) {
        sizes.push(left);
        break;
      }
      const s = between(r, lo, Math.min(hi, left - lo));
      sizes.push(s);
      left -= s;
    }
  }
  return { sizes: shuffle(sizes, r), capacity, optimum: nodes };
}

/** Falkenauer's uniform class as drawn (sizes uniform in [20, 100]/150 of C): optimum unknown. */
export function uniformRandom(tasks: number, capacity: number, seed: number): number[] {
  const r = rng(seed);
  const lo = Math.max(1, Math.round((20 / 150) * capacity));
  const hi = Math.round((100 / 150) * capacity);
  return Array.from({ length: tasks }, () => between(r, lo, hi));
}
