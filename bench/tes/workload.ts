/**
 * The TES bench's day of tasks: seeded, so every run (and both strategies in a run) sees the same
 * stream.
 *
 * A workflow engine submits a step's tasks together (a scatter: one task for most steps, up to a few
 * hundred for a sample sweep), every task of a step with the same resources and about the same run
 * time. Steps arrive over office hours (a Poisson process, five times busier from 09:00 to 18:00 than
 * at night; the same intensity as the pools bench), each with:
 * - `cpu_cores` 1, 2, 4 or 8 and `ram_gb` = cores × 2, 4, 8 or 16 GB per core (what workflow
 *   engines' process definitions typically ask for: GATK-style 1-2 cores with 4-8 GB, aligners with
 *   8 cores, a few memory-heavy callers);
 * - a run time drawn log-normally per step (median 12 minutes, from 2 minutes to 6 hours), ±20% per
 *   task.
 * Dependencies between steps are not modelled: the stream is what reaches the TES server.
 */
import { arrivalIntensity, DAY_SECONDS, fmtDuration, quantile, seededRandom } from '../pools/workload.js';

export interface TesBenchTask {
  readonly id: string;
  /** Seconds after the start of the day, on the step grid. */
  readonly arrival: number;
  readonly cpuCores: number;
  readonly ramGb: number;
  readonly seconds: number;
  /** The workflow step (scatter) it belongs to. */
  readonly step: number;
}

export interface TesWorkloadOptions {
  readonly seed: number;
  /** Tasks over the day. */
  readonly tasks: number;
  /** Arrivals fall on multiples of this (the simulation step). */
  readonly stepSeconds: number;
}

const CORES: readonly (readonly [number, number])[] = [
  [1, 0.35],
  [2, 0.3],
  [4, 0.2],
  [8, 0.15],
];
const GB_PER_CORE: readonly (readonly [number, number])[] = [
  [2, 0.3],
  [4, 0.4],
  [8, 0.2],
  [16, 0.1],
];

export function makeTesWorkload(options: TesWorkloadOptions): TesBenchTask[] {
  const random = seededRandom(options.seed);
  const normal = () => {
    // Box–Muller; 1 - random() keeps the logarithm finite.
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const pick = <T>(weighted: readonly (readonly [T, number])[]): T => {
    const total = weighted.reduce((n, [, w]) => n + w, 0);
    let x = random() * total;
    for (const [value, w] of weighted) {
      x -= w;
      if (x < 0) return value;
    }
    return weighted[weighted.length - 1]![0];
  };
  // Arrival times follow the intensity: drawn uniformly over the day and kept with it (rejection).
  const arrival = () => {
    for (;;) {
      const t = random() * DAY_SECONDS;
      if (random() < arrivalIntensity(t)) {
        return Math.min(DAY_SECONDS, Math.ceil(t / options.stepSeconds) * options.stepSeconds);
      }
    }
  };

  interface Scatter {
    readonly at: number;
    readonly width: number;
    readonly cores: number;
    readonly ramGb: number;
    readonly baseSeconds: number;
  }
  const scatters: Scatter[] = [];
  for (let total = 0; total < options.tasks; ) {
    const size = random();
    const wanted =
      size < 0.4
        ? 1
        : size < 0.7
          ? 2 + Math.floor(random() * 9)
          : size < 0.9
            ? 11 + Math.floor(random() * 40)
            : 51 + Math.floor(random() * 250);
    const width = Math.min(wanted, options.tasks - total);
    const cores = pick(CORES);
    scatters.push({
      at: arrival(),
      width,
      cores,
      ramGb: cores * pick(GB_PER_CORE),
      baseSeconds: Math.min(6 * 3600, Math.max(120, Math.exp(Math.log(720) + 1.1 * normal()))),
    });
    total += width;
  }
  scatters.sort((a, b) => a.at - b.at);

  const tasks: TesBenchTask[] = [];
  scatters.forEach((s, step) => {
    for (let i = 0; i < s.width; i++) {
      tasks.push({
        id: `s${String(step).padStart(4, '0')}-${i}`,
        arrival: s.at,
        cpuCores: s.cores,
        ramGb: s.ramGb,
        seconds: Math.max(60, Math.round(s.baseSeconds * (0.8 + 0.4 * random()))),
        step,
      });
    }
  });
  return tasks;
}

/** Lines describing the stream, printed above the table. */
export function describeTesWorkload(tasks: readonly TesBenchTask[], options: TesWorkloadOptions): string[] {
  const steps = new Map<number, number>();
  for (const t of tasks) steps.set(t.step, (steps.get(t.step) ?? 0) + 1);
  const widths = [...steps.values()];
  const seconds = tasks.map((t) => t.seconds).sort((a, b) => a - b);
  const share = (f: (t: TesBenchTask) => number) => {
    const by = new Map<number, number>();
    for (const t of tasks) by.set(f(t), (by.get(f(t)) ?? 0) + 1);
    return [...by.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([v, n]) => `${v}:${Math.round((100 * n) / Math.max(1, tasks.length))}%`)
      .join(' ');
  };
  const perBand = (from: number, to: number) =>
    tasks.filter((t) => t.arrival >= from * 3600 && t.arrival < to * 3600).length;
  const coreHours = tasks.reduce((n, t) => n + t.cpuCores * t.seconds, 0) / 3600;
  return [
    `workload (seed ${options.seed}): ${tasks.length} TES tasks over 24 simulated hours, in ${widths.length} ` +
      `workflow steps (scatters: ${widths.filter((w) => w === 1).length} of 1 task, ` +
      `${widths.filter((w) => w > 1 && w <= 10).length} of 2-10, ${widths.filter((w) => w > 10 && w <= 50).length} of 11-50, ` +
      `${widths.filter((w) => w > 50).length} of 51-300)`,
    `  cpu_cores ${share((t) => t.cpuCores)}; ram_gb per core ${share((t) => t.ramGb / t.cpuCores)}`,
    `  run times: median ${fmtDuration(quantile(seconds, 0.5))}, p95 ${fmtDuration(quantile(seconds, 0.95))}, ` +
      `max ${fmtDuration(seconds[seconds.length - 1] ?? 0)} (log-normal per step around 12 min, ±20% per task)`,
    `  arrivals: Poisson, 5× busier 09:00-18:00 than at night; tasks by time of day 00-07 ${perBand(0, 7)}, ` +
      `07-09 ${perBand(7, 9)}, 09-18 ${perBand(9, 18)}, 18-24 ${perBand(18, 24.01)}`,
    `  asked: ${coreHours.toFixed(0)} core-hours`,
  ];
}
