/**
 * The run report (shared/model/tes-run-report.ts): its parsing, how outputs are planned and which
 * listed files Batch uploads, and `tesOutcome`, Batch's view of a task plus its report as a TES
 * state, log and system log lines.
 */
import { describe, expect, it } from 'vitest';
import {
  batchPatternMatches,
  parseTesRunReport,
  type TesBatchView,
  type TesOutcomeInput,
  type TesRunReport,
  tesOutcome,
  tesOutputPlan,
} from '../../../shared/model/tes-run-report.js';
import type { TesOutput } from '../../../shared/model/tes-task.js';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:00:05.250Z';

describe('parseTesRunReport', () => {
  it('reads every record, keeps paths with spaces, and skips what it does not know', () => {
    const report = parseTesRunReport(
      [
        'slotwise-tes-run 1',
        `exec 0 0 0 ${T0} ${T1}`,
        `exec 1 3 1 ${T0} ${T1}`,
        'exec 2 x 0 bad bad',
        'output 0 12 ',
        'output 1 7 sub dir/a file.txt',
        'something new 1 2 3',
        'end 0',
        '',
      ].join('\n'),
    );
    expect(report).toEqual({
      executors: [
        { index: 0, exitCode: 0, ignored: false, startTime: T0, endTime: T1 },
        { index: 1, exitCode: 3, ignored: true, startTime: T0, endTime: T1 },
      ],
      failures: [],
      outputs: [
        { index: 0, sizeBytes: '12', relative: '' },
        { index: 1, sizeBytes: '7', relative: 'sub dir/a file.txt' },
      ],
      exitCode: 0,
    });
  });

  it('is undefined for text that is not a run report', () => {
    expect(parseTesRunReport('')).toBeUndefined();
    expect(parseTesRunReport('slotwise-tes-run 2\nend 0')).toBeUndefined();
    expect(parseTesRunReport('<Error>BlobNotFound</Error>')).toBeUndefined();
  });

  it('keeps sizes beyond 2^53 exact (size_bytes is an int64 string)', () => {
    expect(parseTesRunReport('slotwise-tes-run 1\noutput 0 9007199254740993 \n')?.outputs[0]?.sizeBytes).toBe(
      '9007199254740993',
    );
  });
});

describe('outputs: plans and Batch’s upload rule', () => {
  const out = (path: string, extra: Partial<TesOutput> = {}) => ({ path, type: 'FILE' as const, ...extra });

  it('plans files, directories and wildcards, with the blob folder below the URL', () => {
    expect(tesOutputPlan(out('/a//b/./c.txt'))).toEqual({ kind: 'file', path: '/a/b/c.txt' });
    expect(tesOutputPlan(out('/a/d/', { type: 'DIRECTORY' }))).toEqual({ kind: 'directory', path: '/a/d' });
    expect(tesOutputPlan(out('/w/x/*.log', { path_prefix: '/w/' }))).toEqual({
      kind: 'wildcard',
      base: '/w/x',
      rest: '*.log',
      under: 'x',
    });
    expect(tesOutputPlan(out('/w/x/*.log', { path_prefix: '/w/x' }))).toMatchObject({ under: '' });
    expect(tesOutputPlan(out('/w/x/*.log', { path_prefix: '/' }))).toMatchObject({ under: 'w/x' });
    expect(tesOutputPlan(out('/w/s*/x', { path_prefix: '/w/s' }))).toMatchObject({ kind: 'invalid' });
    expect(tesOutputPlan(out('/w/*.log'))).toMatchObject({ kind: 'invalid' });
    expect(tesOutputPlan(out('relative.txt'))).toMatchObject({ kind: 'invalid' });
  });

  it('matches as Batch’s filePattern: ** any folders, wildcards skip names starting with a dot', () => {
    expect(batchPatternMatches('**/*', 'a.txt')).toBe(true);
    expect(batchPatternMatches('**/*', 'x/y/a.txt')).toBe(true);
    expect(batchPatternMatches('**/*', '.hidden')).toBe(false);
    expect(batchPatternMatches('**/*', '.git/config')).toBe(false);
    expect(batchPatternMatches('*.log', 'a.log')).toBe(true);
    expect(batchPatternMatches('*.log', 'd/a.log')).toBe(false);
    expect(batchPatternMatches('.*.log', '.a.log')).toBe(true);
    expect(batchPatternMatches('s[0-9]?.[!t]xt', 's1x.bxt')).toBe(true);
    expect(batchPatternMatches('s[0-9]?.[!t]xt', 's1x.txt')).toBe(false);
    expect(batchPatternMatches('*/r.txt', 'a/r.txt')).toBe(true);
    expect(batchPatternMatches('**/*.bam', 'a/b/c.bam')).toBe(true);
  });
});

const completed = (extra: Partial<TesBatchView> = {}): TesBatchView => ({
  state: 'completed',
  result: 'success',
  exitCode: 0,
  startTime: T0,
  endTime: T1,
  ...extra,
});

const report = (extra: Partial<TesRunReport> = {}): TesRunReport => ({
  executors: [{ index: 0, exitCode: 0, ignored: false, startTime: T0, endTime: T1 }],
  failures: [],
  outputs: [],
  exitCode: 0,
  ...extra,
});

const outcome = (input: Partial<TesOutcomeInput> & { batch: TesBatchView }) =>
  tesOutcome({ cancelRequested: false, doc: { request: { outputs: [] } }, ...input });

const exec = (index: number, exitCode: number, ignored = false) => ({
  index,
  exitCode,
  ignored,
  startTime: T0,
  endTime: T1,
});

describe('tesOutcome', () => {
  it('maps Batch’s states before completion, CANCELING once a cancel was asked', () => {
    expect(outcome({ batch: { state: 'active' } })).toEqual({ state: 'QUEUED', systemLogs: [] });
    expect(outcome({ batch: { state: 'preparing' } }).state).toBe('INITIALIZING');
    expect(outcome({ batch: { state: 'running', startTime: T0 } })).toEqual({
      state: 'RUNNING',
      log: { logs: [], outputs: [], start_time: T0 },
      systemLogs: [],
    });
    expect(outcome({ batch: { state: 'running' }, cancelRequested: true }).state).toBe('CANCELING');
  });

  it('COMPLETE: every executor at 0, with their times and log tails', () => {
    const o = outcome({
      batch: completed(),
      report: report({ executors: [exec(1, 0), exec(0, 0)] }),
      stdoutTails: ['out0', undefined],
      stderrTails: ['', 'err1'],
    });
    expect(o).toEqual({
      state: 'COMPLETE',
      log: {
        logs: [
          { start_time: T0, end_time: T1, stdout: 'out0', stderr: '', exit_code: 0 },
          { start_time: T0, end_time: T1, stderr: 'err1', exit_code: 0 },
        ],
        outputs: [],
        start_time: T0,
        end_time: T1,
      },
      systemLogs: [],
    });
  });

  it('an ignored failure completes; a failure not ignored is EXECUTOR_ERROR with its code', () => {
    expect(
      outcome({ batch: completed(), report: report({ executors: [exec(0, 2, true), exec(1, 0)] }) }).state,
    ).toBe('COMPLETE');
    const failed = outcome({
      batch: completed({
        result: 'failure',
        exitCode: 9,
        failure: {
          category: 'usererror',
          code: 'FailureExitCode',
          message: 'The task exited with an exit code representing a failure',
        },
      }),
      report: report({ executors: [exec(0, 0), exec(1, 9)], exitCode: 9 }),
    });
    expect(failed.state).toBe('EXECUTOR_ERROR');
    expect(failed.systemLogs).toEqual(['Executor 1 exited with code 9']);
    expect(failed.log?.logs.map((l) => l.exit_code)).toEqual([0, 9]);
  });

  it('SYSTEM_ERROR when Docker could not run a container (exit 125)', () => {
    const o = outcome({
      batch: completed({ result: 'failure', exitCode: 125 }),
      report: report({ executors: [exec(0, 125)], exitCode: 125 }),
    });
    expect(o.state).toBe('SYSTEM_ERROR');
    expect(o.systemLogs[0]).toMatch(/^Executor 0: Docker could not run the container \(exit code 125/);
  });

  it('SYSTEM_ERROR when the wrapper itself failed, apart from any executor', () => {
    const o = outcome({
      batch: completed({ result: 'failure', exitCode: 1 }),
      report: report({ executors: [], failures: ['staging inputs[2] (/ref)'], exitCode: 1 }),
    });
    expect(o).toMatchObject({
      state: 'SYSTEM_ERROR',
      systemLogs: ["The task's wrapper failed: staging inputs[2] (/ref)"],
    });
  });

  it('SYSTEM_ERROR for Batch’s staging, upload and end failures, with the code and a message without SAS', () => {
    const staging = outcome({
      batch: completed({
        result: 'failure',
        failure: {
          category: 'usererror',
          code: 'BlobAccessDenied',
          message: 'Access denied to https://a.blob.core.windows.net/c/x?sv=1&sig=abcdef',
        },
      }),
    });
    expect(staging.state).toBe('SYSTEM_ERROR');
    expect(staging.systemLogs).toEqual([
      "Batch could not stage the task's inputs (BlobAccessDenied: Access denied to https://a.blob.core.windows.net/c/x?sv=1&sig=REDACTED)",
    ]);
    const upload = outcome({
      batch: completed({
        result: 'failure',
        failure: { category: 'usererror', code: 'FileUploadMiscError', message: 'm' },
      }),
      report: report(),
    });
    expect(upload).toMatchObject({
      state: 'SYSTEM_ERROR',
      systemLogs: ["Batch could not upload the task's outputs or logs (FileUploadMiscError: m)"],
    });
    const ended = outcome({
      batch: completed({
        result: 'failure',
        failure: { category: 'usererror', code: 'TaskEnded', message: 'The task was ended' },
      }),
    });
    expect(ended).toMatchObject({
      state: 'SYSTEM_ERROR',
      systemLogs: ['Batch ended the task before it finished (TaskEnded: The task was ended)'],
    });
    // An executor's own failure stays the answer; the upload failure is said too.
    const both = outcome({
      batch: completed({
        result: 'failure',
        failure: { category: 'usererror', code: 'FileUploadMiscError', message: 'm' },
      }),
      report: report({ executors: [exec(0, 1)], exitCode: 1 }),
    });
    expect(both.state).toBe('EXECUTOR_ERROR');
    expect(both.systemLogs).toHaveLength(2);
  });

  it('SYSTEM_ERROR without a report, or when the wrapper did not finish', () => {
    expect(outcome({ batch: completed({ result: 'failure', exitCode: 137 }) })).toMatchObject({
      state: 'SYSTEM_ERROR',
      systemLogs: [expect.stringMatching(/without a run report \(its wrapper exited with code 137\)/)],
    });
    const { exitCode: _, ...unfinished } = report();
    expect(outcome({ batch: completed(), report: unfinished }).state).toBe('SYSTEM_ERROR');
  });

  it('CANCELED once a cancel was asked, whatever the run did', () => {
    expect(
      outcome({
        batch: completed({ result: 'failure', exitCode: 1 }),
        report: report({ executors: [exec(0, 1)] }),
        cancelRequested: true,
      }).state,
    ).toBe('CANCELED');
  });

  it('lists the uploaded output files: URLs without SAS, container paths, sizes; directories flattened', () => {
    const outputs: TesOutput[] = [
      { path: '/out/r.txt', type: 'FILE', url: 'https://a.blob.core.windows.net/c/run/r.txt?sv=1&sig=x' },
      { path: '/out/d', type: 'DIRECTORY', url: 'az://a/c/run/d' },
      {
        path: '/out/logs/*.log',
        path_prefix: '/out',
        type: 'FILE',
        url: 'https://a.blob.core.windows.net/c/all?sig=y',
      },
      { path: '/out/missing.txt', type: 'FILE', url: 'https://a.blob.core.windows.net/c/m?sig=z' },
    ];
    const o = tesOutcome({
      batch: completed(),
      report: report({
        outputs: [
          { index: 0, sizeBytes: '5', relative: '' },
          { index: 1, sizeBytes: '1', relative: 'a b.txt' },
          { index: 1, sizeBytes: '2', relative: 'sub/c.txt' },
          { index: 1, sizeBytes: '3', relative: '.hidden' },
          { index: 2, sizeBytes: '4', relative: 'x.log' },
          { index: 2, sizeBytes: '4', relative: 'x.txt' },
        ],
      }),
      cancelRequested: false,
      doc: { request: { outputs } },
    });
    expect(o.log?.outputs).toEqual([
      { url: 'https://a.blob.core.windows.net/c/run/r.txt', path: '/out/r.txt', size_bytes: '5' },
      { url: 'az://a/c/run/d/a b.txt', path: '/out/d/a b.txt', size_bytes: '1' },
      { url: 'az://a/c/run/d/sub/c.txt', path: '/out/d/sub/c.txt', size_bytes: '2' },
      { url: 'https://a.blob.core.windows.net/c/all/logs/x.log', path: '/out/logs/x.log', size_bytes: '4' },
    ]);
  });

  it('lists the files copied to a shared file system with their file:// URLs, hidden ones too', () => {
    const outputs: TesOutput[] = [
      { path: '/w/hello.txt', type: 'FILE', url: 'file:///mnt/work/tmp1/hello.txt' },
      // cwl-tes ends a DIRECTORY output's URL with '/'.
      { path: '/w', type: 'DIRECTORY', url: 'file:///mnt/work/tmp1/' },
      { path: '/w/*.log', path_prefix: '/w/', type: 'FILE', url: 'file:///mnt/work/logs' },
    ];
    const o = tesOutcome({
      batch: completed(),
      report: report({
        outputs: [
          { index: 0, sizeBytes: '12', relative: '' },
          { index: 1, sizeBytes: '12', relative: 'hello.txt' },
          { index: 1, sizeBytes: '3', relative: '.cache/x' },
          { index: 1, sizeBytes: '1', relative: 'a b#1.txt' },
          { index: 2, sizeBytes: '2', relative: 'run.log' },
          { index: 2, sizeBytes: '2', relative: '.hidden.log' },
        ],
      }),
      cancelRequested: false,
      doc: { request: { outputs } },
    });
    expect(o.state).toBe('COMPLETE');
    expect(o.log?.outputs).toEqual([
      { url: 'file:///mnt/work/tmp1/hello.txt', path: '/w/hello.txt', size_bytes: '12' },
      { url: 'file:///mnt/work/tmp1/hello.txt', path: '/w/hello.txt', size_bytes: '12' },
      { url: 'file:///mnt/work/tmp1/.cache/x', path: '/w/.cache/x', size_bytes: '3' },
      { url: 'file:///mnt/work/tmp1/a%20b%231.txt', path: '/w/a b#1.txt', size_bytes: '1' },
      // bash's glob skips names starting with '.', as Batch's pattern does.
      { url: 'file:///mnt/work/logs/run.log', path: '/w/run.log', size_bytes: '2' },
    ]);
  });

  it('SYSTEM_ERROR when a copy to a shared file system failed, after executors that ended well', () => {
    const o = outcome({
      batch: completed({ result: 'failure', exitCode: 1 }),
      report: report({
        executors: [exec(0, 0)],
        failures: ['copying outputs[1] (/w) to file:///mnt/work/tmp1/ failed'],
        exitCode: 1,
      }),
    });
    expect(o.state).toBe('SYSTEM_ERROR');
    expect(o.systemLogs).toEqual([
      "The task's wrapper failed: copying outputs[1] (/w) to file:///mnt/work/tmp1/ failed",
    ]);
  });
});
