/**
 * Plain-text renderings of task pages, outputs and a failed task for `slotwise` (what it prints
 * without `--json`). Pure functions returning lines, as in render.ts.
 */
import { formatBytes } from '../ui/format.js';
import type { CliOutputPage, CliTask, CliTaskPage } from './task-shapes.js';

/** Columns padded to their widest cell, two spaces apart. */
export function table(head: readonly string[], rows: readonly string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

export function renderTasks(page: Pick<CliTaskPage, 'value'>): string[] {
  if (page.value.length === 0) return ['no tasks'];
  return table(
    ['ID', 'STATE', 'RESULT', 'EXIT', 'NODE', 'RETRIES', 'START', 'END'],
    page.value.map((t) => [
      t.id,
      t.state,
      t.result ?? '',
      t.exitCode !== undefined ? String(t.exitCode) : '',
      t.nodeId ?? '',
      // Requeues (the node went away, not the task's fault) are told apart from retries.
      t.requeueCount > 0 ? `${t.retryCount} (+${t.requeueCount} requeued)` : String(t.retryCount),
      t.startTime ?? '',
      t.endTime ?? '',
    ]),
  );
}

export function renderOutputs(page: Pick<CliOutputPage, 'value'>): string[] {
  if (page.value.length === 0) return ['no outputs'];
  return table(
    ['PATH', 'SIZE', 'MODIFIED'],
    page.value.map((o) => [o.path, formatBytes(o.size), o.lastModified ?? '']),
  );
}

/** The first failed task after a job failed: which, how it ended, where, and its stderr's last lines. */
export function failedTaskLines(
  task: CliTask,
  stderr: { lines: readonly string[]; partial: boolean } | undefined,
): string[] {
  const lines = [
    `first failed task: ${task.id}, exit code ${task.exitCode ?? 'none'}${task.nodeId ? ` on node ${task.nodeId}` : ''}`,
  ];
  const f = task.failure;
  if (f && (f.code || f.message)) {
    lines.push(`  ${[f.category, f.code].filter(Boolean).join(' ')}${f.message ? `: ${f.message}` : ''}`);
  }
  if (!stderr) lines.push('  stderr.txt: not there (the task did not start, or its logs were not kept)');
  else if (stderr.lines.length === 0) lines.push('  stderr.txt: empty');
  else {
    lines.push(`  stderr.txt, ${stderr.partial ? 'last ' : ''}${stderr.lines.length} lines:`);
    for (const line of stderr.lines) lines.push(`  | ${line}`);
  }
  return lines;
}
