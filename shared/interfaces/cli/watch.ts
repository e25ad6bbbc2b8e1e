/**
 * Following a job to its end: poll `GET /api/jobs/{id}` and show progress, as a live bar on a
 * terminal (cli-progress: redraws in place, hides the cursor, falls back cleanly when the stream is
 * not a TTY) or one plain line per change otherwise, so logs and pipes stay readable.
 */
import cliProgress from 'cli-progress';
import { type ApiClient, type CliJob, finalStates } from './api-client.js';
import { countsLine, totalTasks } from './render.js';

export interface ProgressReporter {
  update(job: CliJob): void;
  stop(): void;
}

/** A live bar: done tasks of all tasks, with the state and the four counts beside it. */
export function barReporter(stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        '{bar} {percentage}% | {state} | active {active} · running {running} · succeeded {succeeded} · failed {failed}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      // Redraw on every poll even when the done count stays put (running tasks change).
      forceRedraw: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(job) {
      const total = Math.max(1, totalTasks(job));
      const done = job.taskCounts.succeeded + job.taskCounts.failed;
      const payload = { state: job.state, ...job.taskCounts };
      if (!started) {
        bar.start(total, done, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** One line per change of state or counts: what a log file or CI output should get. */
export function lineReporter(
  write: (line: string) => void,
  now: () => Date = () => new Date(),
): ProgressReporter {
  let last = '';
  return {
    update(job) {
      const line = `${job.state.padEnd(10)} ${countsLine(job)}`;
      if (line === last) return;
      last = line;
      write(`${now().toISOString().slice(11, 19)} ${line}`);
    },
    stop() {},
  };
}

export const silentReporter: ProgressReporter = { update() {}, stop() {} };

/** Polls until the job reaches a final state; returns it. */
export async function watchJob(
  api: ApiClient,
  id: string,
  reporter: ProgressReporter,
  { intervalMs = 1000, first }: { intervalMs?: number; first?: CliJob } = {},
): Promise<CliJob> {
  let job = first ?? (await api.get(id));
  try {
    for (;;) {
      reporter.update(job);
      if (finalStates.has(job.state)) return job;
      await new Promise((r) => setTimeout(r, intervalMs));
      job = await api.get(id);
    }
  } finally {
    reporter.stop();
  }
}

/** The line printed after a watch: how the job ended and, if it failed, why. */
export function summaryLines(job: CliJob): string[] {
  const c = job.taskCounts;
  const took =
    job.endedAt !== undefined
      ? ` in ${((Date.parse(job.endedAt) - Date.parse(job.createdAt)) / 1000).toFixed(1)} s`
      : '';
  const nodes = job.plan
    ? `; ${job.plan.nodes} node${job.plan.nodes === 1 ? '' : 's'}, lower bound ${job.plan.lowerBound}`
    : '';
  const lines = [
    `job ${job.id} ${job.state}${took}: ${c.succeeded} succeeded, ${c.failed} failed of ${totalTasks(job)} tasks${nodes}`,
  ];
  if (job.failure) lines.push(`  ${job.failure.code}: ${job.failure.message}`);
  for (const t of (job.failure?.failedTasks ?? []).slice(0, 10)) {
    lines.push(`  task ${t.taskId}${t.exitCode !== undefined ? ` exited ${t.exitCode}` : ''}`);
  }
  for (const e of job.errors ?? []) lines.push(`  ${e.field ? `${e.field}: ` : ''}${e.message}`);
  return lines;
}
