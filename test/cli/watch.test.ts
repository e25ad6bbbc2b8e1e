/**
 * Progress display: the live bar on a terminal (a stand-in stream that says it is a TTY and records
 * what cli-progress writes) and the plain one-line-per-change reporter.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliJob } from '../../shared/interfaces/cli/api-client.js';
import { barReporter, lineReporter, summaryLines } from '../../shared/interfaces/cli/watch.js';

function job(
  state: CliJob['state'],
  active: number,
  running: number,
  succeeded: number,
  failed: number,
): CliJob {
  return {
    id: 'j1',
    state,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:04.000Z',
    ...(state === 'completed' || state === 'failed' ? { endedAt: '2026-01-01T00:00:04.500Z' } : {}),
    tasks: 4,
    taskCounts: { active, running, succeeded, failed },
    deliveries: [],
  };
}

/** A writable that claims to be a 120-column terminal, as cli-progress checks. */
function fakeTerminal() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  }) as Writable & Record<string, unknown>;
  Object.assign(stream, {
    isTTY: true,
    columns: 120,
    cursorTo: (_x: number, _y?: number, cb?: () => void) => cb?.() ?? true,
    clearLine: (_dir: number, cb?: () => void) => cb?.() ?? true,
    moveCursor: (_dx: number, _dy: number, cb?: () => void) => cb?.() ?? true,
    clearScreenDown: (cb?: () => void) => cb?.() ?? true,
  });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('barReporter', () => {
  it('draws done tasks of all tasks with the state and the four counts', () => {
    const terminal = fakeTerminal();
    const bar = barReporter(terminal.stream);
    bar.update(job('running', 1, 2, 1, 0));
    expect(terminal.text()).toContain('25% | running | active 1 · running 2 · succeeded 1 · failed 0');
    bar.update(job('completed', 0, 0, 3, 1));
    bar.stop();
    expect(terminal.text()).toContain('100% | completed | active 0 · running 0 · succeeded 3 · failed 1');
    // The cursor is hidden while drawing and shown again at the end.
    expect(terminal.text()).toContain('\u001b[?25l');
    expect(terminal.text().lastIndexOf('\u001b[?25h')).toBeGreaterThan(
      terminal.text().lastIndexOf('\u001b[?25l'),
    );
  });
});

describe('lineReporter', () => {
  it('prints a line only when the state or a count changes', () => {
    const lines: string[] = [];
    const report = lineReporter(
      (l) => lines.push(l),
      () => new Date('2026-01-01T12:34:56Z'),
    );
    report.update(job('running', 2, 2, 0, 0));
    report.update(job('running', 2, 2, 0, 0));
    report.update(job('running', 1, 2, 1, 0));
    expect(lines).toEqual([
      '12:34:56 running    active 2 · running 2 · succeeded 0 · failed 0',
      '12:34:56 running    active 1 · running 2 · succeeded 1 · failed 0',
    ]);
  });
});

describe('summaryLines', () => {
  it('says how the job ended, how long it took, and which tasks failed', () => {
    const failed: CliJob = {
      ...job('failed', 0, 0, 3, 1),
      failure: {
        code: 'TaskFailed',
        message: '1 task failed',
        failedTasks: [{ taskId: 'bad', exitCode: 1 }],
      },
    };
    expect(summaryLines(failed)).toEqual([
      'job j1 failed in 4.5 s: 3 succeeded, 1 failed of 4 tasks',
      '  TaskFailed: 1 task failed',
      '  task bad exited 1',
    ]);
  });
});
