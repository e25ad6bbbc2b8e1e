/**
 * The bench's day of work: seeded, so every run (and every strategy in a run) sees the same jobs.
 *
 * Two pool specs, as a team would have them: a general 16-slot pool (tasks of 1, 2, 4 or 8 slots)
 * and a memory 8-slot pool (1, 2 or 4 slots). Most jobs need one slot size for all their tasks; some
 * mix sizes. Job sizes are mostly small, some medium, a few large sweeps; a job's tasks take about
 * the same time (a log-normal base per job, ±25% per task). Arrivals follow office hours (a Poisson
 * process, quiet at night, five times busier from 09:00 to 18:00) plus three bursts where a pipeline
 * drops several jobs at once.
 */

export interface BenchTask {
  readonly id: string;
  readonly slots: number;
  readonly seconds: number;
}

export interface PoolSpec {
  readonly name: string;
  readonly vmSize: string;
  readonly slotsPerNode: number;
  /** Slot sizes a task on this pool may need, with their weights. */
  readonly slotWeights: readonly (readonly [slots: number, weight: number])[];
  /** Share of the jobs that go to this pool. */
  readonly share: number;
}

export interface BenchJob {
  readonly id: string;
  /** Seconds after the start of the day, on the step grid. */
  readonly arrival: number;
  readonly spec: PoolSpec;
  /** The job's `maxNodes`; undefined = the planner's default (20). */
  readonly maxNodes?: number;
  readonly tasks: readonly BenchTask[];
}

export interface WorkloadOptions {
  readonly seed: number;
  /** Expected jobs over the day (bursts included). */
  readonly jobs: number;
  /** Arrivals fall on multiples of this (the simulation step). */
  readonly stepSeconds: number;
}

export const DAY_SECONDS = 24 * 3600;

export const poolSpecs: readonly PoolSpec[] = [
  {
    name: 'general',
    vmSize: 'standard_d16s_v3',
    slotsPerNode: 16,
    slotWeights: [
      [1, 0.45],
      [2, 0.25],
      [4, 0.2],
      [8, 0.1],
    ],
    share: 0.7,
  },
  {
    name: 'memory',
    vmSize: 'standard_e8s_v3',
    slotsPerNode: 8,
    slotWeights: [
      [1, 0.4],
      [2, 0.35],
      [4, 0.25],
    ],
    share: 0.3,
  },
];

/** Pipelines that drop several jobs at once: [seconds into the day, jobs]. */
const BURSTS: readonly (readonly [number, number])[] = [
  [9 * 3600, 8],
  [13.5 * 3600, 8],
  [16 * 3600, 8],
];

/** xorshift32: small, fast and repeatable (quality is ample for a workload generator). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Relative arrival rate at a time of day: 0.2 at night, 1 from 09:00 to 18:00, linear ramps between. */
export function arrivalIntensity(secondOfDay: number): number {
  const h = secondOfDay / 3600;
  if (h < 7 || h >= 20) return 0.2;
  if (h < 9) return 0.2 + 0.4 * (h - 7);
  if (h < 18) return 1;
  return 1 - 0.4 * (h - 18);
}

export function makeWorkload(options: WorkloadOptions): BenchJob[] {
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
  const onGrid = (t: number) =>
    Math.min(DAY_SECONDS, Math.ceil(t / options.stepSeconds) * options.stepSeconds);

  // Poisson arrivals by thinning: a homogeneous process at the peak rate, kept with the intensity.
  const burstJobs = BURSTS.reduce((n, [, k]) => n + k, 0);
  let meanIntensity = 0;
  for (let t = 0; t < DAY_SECONDS; t += 60) meanIntensity += arrivalIntensity(t) / (DAY_SECONDS / 60);
  const peakRate = Math.max(0, options.jobs - burstJobs) / (meanIntensity * DAY_SECONDS);
  const arrivals: number[] = [];
  if (peakRate > 0) {
    for (
      let t = -Math.log(1 - random()) / peakRate;
      t < DAY_SECONDS;
      t += -Math.log(1 - random()) / peakRate
    ) {
      if (random() < arrivalIntensity(t)) arrivals.push(onGrid(t));
    }
  }
  for (const [at, k] of BURSTS) for (let i = 0; i < k; i++) arrivals.push(onGrid(at));
  arrivals.sort((a, b) => a - b);

  return arrivals.map((arrival, n) => {
    const spec = pick(poolSpecs.map((s) => [s, s.share] as const));
    const size = random();
    const count =
      size < 0.55
        ? 2 + Math.floor(random() * 23)
        : size < 0.9
          ? 25 + Math.floor(random() * 126)
          : 151 + Math.floor(random() * 450);
    // Large sweeps ask for more nodes than the default cap.
    const maxNodes = count > 150 ? 40 : undefined;
    const mixed = random() < 0.3;
    const jobSlots = pick(spec.slotWeights);
    const base = Math.min(5400, Math.max(60, Math.exp(Math.log(480) + 0.8 * normal())));
    const tasks: BenchTask[] = [];
    for (let i = 0; i < count; i++) {
      tasks.push({
        id: `t${i}`,
        slots: mixed ? pick(spec.slotWeights) : jobSlots,
        seconds: Math.max(10, Math.round(base * (0.75 + 0.5 * random()))),
      });
    }
    return {
      id: `job-${String(n).padStart(4, '0')}`,
      arrival,
      spec,
      ...(maxNodes !== undefined ? { maxNodes } : {}),
      tasks,
    };
  });
}

/** Node-seconds no strategy can beat: each pool's slot-seconds ÷ its slots per node. */
export function lowerBoundNodeSeconds(jobs: readonly BenchJob[]): number {
  let total = 0;
  for (const job of jobs) {
    let slotSeconds = 0;
    for (const t of job.tasks) slotSeconds += t.slots * t.seconds;
    total += slotSeconds / job.spec.slotsPerNode;
  }
  return total;
}

/** Lines describing the workload, printed above the table. */
export function describeWorkload(jobs: readonly BenchJob[], options: WorkloadOptions): string[] {
  const tasks = jobs.flatMap((j) => j.tasks);
  const seconds = tasks.map((t) => t.seconds).sort((a, b) => a - b);
  const lines = [
    `workload (seed ${options.seed}): ${jobs.length} jobs, ${tasks.length} tasks over 24 simulated hours`,
  ];
  for (const spec of poolSpecs) {
    const own = jobs.filter((j) => j.spec === spec);
    const ownTasks = own.flatMap((j) => j.tasks);
    const bySlots = new Map<number, number>();
    for (const t of ownTasks) bySlots.set(t.slots, (bySlots.get(t.slots) ?? 0) + 1);
    const mix = [...bySlots.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}:${Math.round((100 * n) / Math.max(1, ownTasks.length))}%`)
      .join(' ');
    const mixedJobs = own.filter((j) => new Set(j.tasks.map((t) => t.slots)).size > 1).length;
    lines.push(
      `  pool ${spec.name} (${spec.vmSize}, ${spec.slotsPerNode} slots/node): ${own.length} jobs ` +
        `(${mixedJobs} with mixed sizes), ${ownTasks.length} tasks, slots per task ${mix}`,
    );
  }
  const jobSizes = jobs.map((j) => j.tasks.length);
  const small = jobSizes.filter((n) => n < 25).length;
  const large = jobSizes.filter((n) => n > 150).length;
  lines.push(
    `  job sizes: ${small} with 2-24 tasks, ${jobs.length - small - large} with 25-150, ` +
      `${large} with 151-600 (maxNodes 40; others the default 20)`,
  );
  lines.push(
    `  task durations: median ${fmtDuration(quantile(seconds, 0.5))}, p95 ${fmtDuration(quantile(seconds, 0.95))}, ` +
      `max ${fmtDuration(seconds[seconds.length - 1] ?? 0)} (log-normal per job around 8 min, ±25% per task)`,
  );
  const perBand = (from: number, to: number) =>
    jobs.filter((j) => j.arrival >= from * 3600 && j.arrival < to * 3600).length;
  lines.push(
    `  arrivals: Poisson, 5× busier 09:00-18:00 than at night; bursts of 8 jobs at 09:00, 13:30, 16:00; ` +
      `jobs by time of day 00-07 ${perBand(0, 7)}, 07-09 ${perBand(7, 9)}, 09-18 ${perBand(9, 18)}, ` +
      `18-24 ${perBand(18, 24.01)}`,
  );
  const slotHours = tasks.reduce((n, t) => n + t.slots * t.seconds, 0) / 3600;
  lines.push(`  slot-hours ${slotHours.toFixed(0)}`);
  return lines;
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function fmtDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}
