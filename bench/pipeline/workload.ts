/**
 * What every `bench:pipeline` case shares: the sweep it posts, the plan's chunks built lazily for the
 * baselines, the baselines' eight workers, the host's settings, and the meters (the host's peak RSS
 * while a run is timed, CPU seconds of the child processes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { TaskBody } from '../../shared/model/batch-bodies.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';
import { planJob } from '../../shared/planner/plan-job.js';
import { type BenchServices, benchEnv } from '../local-stack.js';

export function sweep(id: string, tasks: number, maxNodes = 500) {
  return {
    id,
    pool: { vmSize: 'standard_d16s_v3', taskSlotsPerNode: 32, maxNodes },
    sweep: {
      idTemplate: 'f-{frame}',
      commandLine: 'render --frame {frame}',
      requiredSlots: 3,
      parameters: { frame: { from: 1, to: tasks } },
    },
  };
}

/** The app's settings for a pipeline run: timers as often as the local stack runs them. */
export function pipelineEnv(services: BenchServices, batchUrl: string): Record<string, string> {
  return benchEnv(services, batchUrl, {
    SLOTWISE_RECONCILE_SCHEDULE: '*/2 * * * * *',
    SLOTWISE_SWEEP_SCHEDULE: '*/10 * * * * *',
    SLOTWISE_POOL_CONTROL_SCHEDULE: '*/5 * * * * *',
  });
}

/** The plan's chunks as a lazy generator: bodies are built as they are taken. */
export function lazyChunks(id: string, n: number): Generator<TaskBody[]> {
  const checked = validateJobRequest(sweep(id, n), { checkCallbackUrl: () => undefined });
  if (!checked.ok) throw new Error('invalid');
  const plan = planJob({
    tenant: 'dev',
    jobId: id,
    request: checked.request,
    defaults: { image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, nodeAgentSkuId: 'n' },
  });
  if (!plan.ok) throw new Error('not planned');
  return plan.plan.chunks();
}

/** Eight workers take chunks from one generator (built on demand) and send each as one call. */
export async function fromChunks(
  chunks: Iterator<TaskBody[]>,
  send: (chunk: TaskBody[]) => Promise<void>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let r = chunks.next(); !r.done; r = chunks.next()) await send(r.value);
    }),
  );
}

/**
 * This process's memory (the dev host runs here) sampled every 20 ms while a window is open: each
 * window's peak RSS and peak heap in use, and the peak RSS over every window. RSS seldom falls after
 * a run, so a later window's RSS starts where an earlier one left it; the heap in use does not.
 */
export function createRssSampler() {
  let overall = process.memoryUsage().rss;
  let window: { rss: number; heap: number } | undefined;
  const timer = setInterval(() => {
    if (!window) return;
    const m = process.memoryUsage();
    window.rss = Math.max(window.rss, m.rss);
    window.heap = Math.max(window.heap, m.heapUsed);
    overall = Math.max(overall, m.rss);
  }, 20);
  return {
    /** Opens a window; closing it gives its peaks in bytes. */
    open(): () => { rss: number; heap: number } {
      const m = process.memoryUsage();
      const w = { rss: m.rss, heap: m.heapUsed };
      window = w;
      return () => {
        if (window === w) window = undefined;
        return { rss: w.rss, heap: w.heap };
      };
    },
    /** The peak RSS over every window so far. */
    get overall() {
      return overall;
    },
    stop: () => clearInterval(timer),
  };
}

/** Linux reports process CPU time in clock ticks, 100 a second on every usual kernel (`getconf CLK_TCK`). */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) used so far by a process and every process below it, from /proc;
 * undefined where there is no /proc. The services child runs Azurite as a child of its own.
 */
export function treeCpuSeconds(root: number | undefined): number | undefined {
  if (root === undefined) return undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: fields are counted after its ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(e), Number(fields[1]));
      ticks.set(Number(e), Number(fields[11]) + Number(fields[12]));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  if (!ticks.has(root)) return undefined;
  let total = 0;
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        total += t;
        break;
      }
    }
  }
  return total / TICKS_PER_SECOND;
}

/** CPU seconds this process has used (the dev host and the bench's own little work). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
