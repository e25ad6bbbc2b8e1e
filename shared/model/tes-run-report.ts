/**
 * The run report a TES task's wrapper writes (planner/tes-task-body.ts builds the wrapper), where it
 * and the executors' logs land in the tenant's results store, how each output is listed, and what
 * Batch's view of the task plus the report mean in TES terms (`tesOutcome`). Pure.
 *
 * Results store layout (the tenant's container, shared/adapters/blob):
 *   tes/<taskId>/inputs/<i>/content   input i's `content`, uploaded at create time, staged from there
 *   tes/<taskId>/run/report.txt       the run report (below)
 *   tes/<taskId>/run/stdout-<i>.txt   executor i's stdout, whole (TES keeps a tail: tesExecutorLog)
 *   tes/<taskId>/run/stderr-<i>.txt   executor i's stderr
 *
 * The report is UTF-8 text, one record per line, fields separated by one space:
 *
 *   slotwise-tes-run 1                       first line: format and version
 *   exec <i> <exit> <ignored> <start> <end>  executor i ran: its exit code (docker's), 1 if its
 *                                            `ignore_error` let the run go on, 0 if not, and its start
 *                                            and end (UTC, RFC 3339 with milliseconds)
 *   fail <text>                              the wrapper itself failed (preparing a folder, staging an
 *                                            input: no executor runs after it; writing an executor's
 *                                            stdout or stderr, copying an output to a shared file
 *                                            system)
 *   output <k> <bytes> <relative path>       a file output k left: its size and its path below the
 *                                            output's listing root (empty for a FILE output); the path
 *                                            is the rest of the line and may hold spaces
 *   end <exit>                               the wrapper finished with this exit code
 *
 * Lines of other kinds are ignored (later versions may add some). Outputs are listed with `find` as
 * they lie on the node after the last executor; Batch's upload rules then decide which of them are
 * uploaded (OutputFile.filePattern: wildcards skip names starting with `.`), and `tesOutcome` keeps
 * exactly those, so `tesTaskLog.outputs` names the blobs Batch wrote. Outputs to a shared file system
 * (`file://` URLs, planner/tes-task-body.ts) are copied by the wrapper itself before they are listed:
 * every file of a DIRECTORY output (hidden ones too), the matches of a wildcard as bash's glob takes
 * them (the same rule as Batch's); a copy that failed is a `fail` line. Each listed file's URL is the
 * output's URL plus its relative path, percent-encoded segment by segment.
 */
import { redactSas } from '../core/redact-sas.js';
import { segmentRegExp } from './file-pattern.js';
import type {
  TesExecutorLog,
  TesOutput,
  TesOutputFileLog,
  TesState,
  TesTaskLog,
  TesTaskRequest,
} from './tes-task.js';

/** The tenant's results store folder of one task's run: its report and executors' logs. */
export function tesRunPath(taskId: string): string {
  return `tes/${taskId}/run`;
}

/** The run report's blob in the tenant's results store. */
export function tesRunReportPath(taskId: string): string {
  return `${tesRunPath(taskId)}/${TES_REPORT_FILE}`;
}

/** Executor `index`'s whole stdout or stderr, in the tenant's results store. */
export function tesExecutorLogPath(taskId: string, index: number, stream: 'stdout' | 'stderr'): string {
  return `${tesRunPath(taskId)}/${tesExecutorLogFile(index, stream)}`;
}

/** Where input `inputIndex`'s `content` is kept in the tenant's results store (the task stages it). */
export function tesContentBlobPath(taskId: string, inputIndex: number): string {
  return `${tesContentPrefix(taskId)}${inputIndex}/content`;
}

/** The folder of a task's content inputs (a blob prefix: every content input of the task). */
export function tesContentPrefix(taskId: string): string {
  return `tes/${taskId}/inputs/`;
}

export const TES_REPORT_FILE = 'report.txt';
export const TES_REPORT_HEADER = 'slotwise-tes-run 1';

export function tesExecutorLogFile(index: number, stream: 'stdout' | 'stderr'): string {
  return `${stream}-${index}.txt`;
}

/**
 * Docker's exit code for its own failure to run a container (the daemon, the image, a mount:
 * docs.docker.com/reference/cli/docker/container/run, "Exit status"). 126 and 127 are the
 * command's (not executable, not found): the executor's fault.
 */
export const DOCKER_RUN_FAILED = 125;

// ---------------------------------------------------------------------------------------------
// Paths and how each output is listed and uploaded

/** `/a//b/./c/` → `/a/b/c`; undefined for a path that is not absolute or has a `..` segment. */
export function normalizeTesPath(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return undefined;
  return `/${segments.join('/')}`;
}

/** A path segment with POSIX wildcards (`*`, `?`, `[`), as Batch's filePattern reads them too. */
export const isWildcardSegment = (segment: string): boolean => /[*?[]/.test(segment);

/**
 * How output k is listed by the wrapper and uploaded by Batch:
 * - `file`: the file at `path` (Batch: filePattern without wildcards, `path` = the blob's name);
 * - `directory`: every file below `path` (Batch: `<dir>/**\/*`, `path` = the blob folder, each file
 *   keeping its path below the directory: OutputFileBlobContainerDestination.path);
 * - `wildcard`: the files below `base` matching `rest` (Batch: `<base>/<rest>`), whose blobs are
 *   `url` + `under` + their path below `base`. TES names a match's blob `url` + (match −
 *   path_prefix) (tesOutput.path_prefix); Batch names it `path` + (match − base), base being the
 *   pattern's segments before its first wildcard. So `under` = base − path_prefix, which Batch can
 *   express only when path_prefix ends at a directory of `base` (`/out/` or `/out` for `/out/*.txt`,
 *   not `/out/sa` for `/out/sample*.txt`): otherwise the output is `invalid` (with the reason).
 */
export type TesOutputPlan =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'directory'; readonly path: string }
  | { readonly kind: 'wildcard'; readonly base: string; readonly rest: string; readonly under: string }
  | { readonly kind: 'invalid'; readonly reason: string };

/** What Batch uploads for a DIRECTORY output, below its directory. */
export const DIRECTORY_PATTERN = '**/*';

export function tesOutputPlan(output: Pick<TesOutput, 'path' | 'path_prefix' | 'type'>): TesOutputPlan {
  const path = normalizeTesPath(output.path);
  if (path === undefined)
    return { kind: 'invalid', reason: `path '${output.path}' is not an absolute path without '..'` };
  const segments = path.split('/').slice(1);
  const wildAt = segments.findIndex(isWildcardSegment);
  if (wildAt < 0) {
    if (path === '/') return { kind: 'invalid', reason: 'path / cannot be an output' };
    return output.type === 'DIRECTORY' ? { kind: 'directory', path } : { kind: 'file', path };
  }
  const base = `/${segments.slice(0, wildAt).join('/')}`;
  const rest = segments.slice(wildAt).join('/');
  if (output.path_prefix === undefined)
    return { kind: 'invalid', reason: `path '${output.path}' has wildcards but no path_prefix` };
  const prefix = normalizeTesPath(output.path_prefix);
  const within = prefix !== undefined && (prefix === '/' || base === prefix || base.startsWith(`${prefix}/`));
  if (!within) {
    return {
      kind: 'invalid',
      reason: `path_prefix '${output.path_prefix}' must end at a folder of '${base}' (the part of path before its first wildcard): Batch keeps each match's path below that folder`,
    };
  }
  const under = base.slice(prefix === '/' ? 1 : prefix.length).replace(/^\/+/, '');
  return { kind: 'wildcard', base, rest, under };
}

/**
 * Whether Batch's filePattern `pattern` (relative, '/'-separated) uploads the file at `relative`
 * (OutputFile.filePattern: `**` any directories, a wildcard never matches a name starting with `.`
 * unless the pattern segment starts with `.`).
 */
export function batchPatternMatches(pattern: string, relative: string): boolean {
  const pat = pattern.split('/').filter((s) => s !== '' && s !== '.');
  const names = relative.split('/');
  const match = (p: number, n: number): boolean => {
    if (p === pat.length) return n === names.length;
    const seg = pat[p]!;
    if (seg === '**') {
      if (match(p + 1, n)) return true;
      // `**` walks into (non-hidden) directories: every name but the last is one.
      return n < names.length - 1 && !names[n]!.startsWith('.') && match(p, n + 1);
    }
    if (n >= names.length) return false;
    const name = names[n]!;
    if (name.startsWith('.') && !seg.startsWith('.') && isWildcardSegment(seg)) return false;
    return segmentRegExp(seg).test(name) && match(p + 1, n + 1);
  };
  return relative !== '' && match(0, 0);
}

/** The maximum depth `find` needs to list a pattern's matches below its base (none with `**`). */
export function listingDepth(rest: string): number | undefined {
  const segments = rest.split('/');
  return segments.includes('**') ? undefined : segments.length;
}

// ---------------------------------------------------------------------------------------------
// The report

export interface TesRunExecutor {
  readonly index: number;
  readonly exitCode: number;
  readonly ignored: boolean;
  readonly startTime: string;
  readonly endTime: string;
}

export interface TesRunOutput {
  /** The output's index in the task's `outputs`. */
  readonly index: number;
  /** Bytes, as a decimal string (TES's size_bytes is an int64 string). */
  readonly sizeBytes: string;
  /** Below the output's listing root; '' for a FILE output. */
  readonly relative: string;
}

export interface TesRunReport {
  readonly executors: readonly TesRunExecutor[];
  /** What the wrapper itself failed at (`fail` lines). */
  readonly failures: readonly string[];
  readonly outputs: readonly TesRunOutput[];
  /** The wrapper's exit code (`end`); absent when it did not finish. */
  readonly exitCode?: number;
}

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

/** The report's records; undefined when the text is not a run report. Malformed lines are skipped. */
export function parseTesRunReport(text: string): TesRunReport | undefined {
  const lines = text.split('\n');
  if (lines[0]?.replace(/\r$/, '') !== TES_REPORT_HEADER) return undefined;
  const executors: TesRunExecutor[] = [];
  const failures: string[] = [];
  const outputs: TesRunOutput[] = [];
  let exitCode: number | undefined;
  for (const raw of lines.slice(1)) {
    const line = raw.replace(/\r$/, '');
    const exec = /^exec (\d+) (\d+) ([01]) (\S+) (\S+)$/.exec(line);
    const output = /^output (\d+) (\d+) (.*)$/.exec(line);
    const end = /^end (\d+)$/.exec(line);
    if (exec) {
      if (!TIME.test(exec[4]!) || !TIME.test(exec[5]!)) continue;
      executors.push({
        index: Number(exec[1]),
        exitCode: Number(exec[2]),
        ignored: exec[3] === '1',
        startTime: exec[4]!,
        endTime: exec[5]!,
      });
    } else if (line.startsWith('fail ')) failures.push(line.slice(5));
    else if (output)
      outputs.push({ index: Number(output[1]), sizeBytes: String(BigInt(output[2]!)), relative: output[3]! });
    else if (end) exitCode = Number(end[1]);
  }
  return { executors, failures, outputs, ...(exitCode !== undefined ? { exitCode } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Batch's view and the report → the TES state

/** Batch's view of the task (the Batch port's TaskInfo). */
export interface TesBatchView {
  readonly state: 'active' | 'preparing' | 'running' | 'completed';
  readonly result?: 'success' | 'failure';
  readonly exitCode?: number;
  readonly failure?: { readonly category: string; readonly code: string; readonly message: string };
  readonly startTime?: string;
  readonly endTime?: string;
}

export interface TesOutcomeInput {
  readonly batch: TesBatchView;
  /** The run report, when the task uploaded one (only a completed task does). */
  readonly report?: TesRunReport;
  /** Executor i's stdout/stderr tail, by index. */
  readonly stdoutTails?: readonly (string | undefined)[];
  readonly stderrTails?: readonly (string | undefined)[];
  readonly cancelRequested: boolean;
  /** The task: its outputs name each listed file's URL and container path. */
  readonly doc: { readonly request: Pick<TesTaskRequest, 'outputs'> };
}

export interface TesOutcome {
  readonly state: TesState;
  /** The attempt's log (spec shape; system_logs left to the caller: see `systemLogs`). */
  readonly log?: TesTaskLog;
  /** Lines saying why the task failed, secret-free. */
  readonly systemLogs: string[];
}

/**
 * Batch's failure codes this reads ("Batch Status and Error Codes",
 * learn.microsoft.com/rest/api/batchservice/batch-status-and-error-codes, task scheduling errors):
 * - `FailureExitCode`: the command (the wrapper) exited non-zero; the report says why.
 * - `TaskEnded`: Batch ended the task before its command finished (terminated, or its
 *   maxWallClockTime expired).
 * - Pre-processing errors, the resource files (inputs) not staged: `BlobAccessDenied`,
 *   `BlobDownloadMiscError`, `BlobDownloadTimedOut`, `BlobNotFound`, `ResourceContainerAccessDenied`,
 *   `ResourceContainerListMiscError`, `ResourceContainerNotFound`, `ResourceDirectoryCreateFailed`,
 *   `ResourceFileCreateFailed`, … (the `Blob` and `Resource` families).
 * - File upload errors, the output files not uploaded: `FileUploadMiscError`, … (the `FileUpload`
 *   family).
 */
function describeFailure(failure: NonNullable<TesBatchView['failure']>): string {
  const what = `${failure.code}: ${redactSas(failure.message)}`;
  if (/^(Blob|Resource)/.test(failure.code)) return `Batch could not stage the task's inputs (${what})`;
  if (/^FileUpload/.test(failure.code)) return `Batch could not upload the task's outputs or logs (${what})`;
  if (failure.code === 'TaskEnded') return `Batch ended the task before it finished (${what})`;
  return `Batch reported a failure (${what})`;
}

/** A URL with its query (a SAS) and fragment removed, and `suffix` appended as path segments. */
function fileUrl(url: string, suffix: string): string {
  const bare = url.replace(/[?#].*$/s, '');
  if (suffix === '') return bare;
  const encode = /^(?:https?|file):/i.test(bare);
  const tail = suffix
    .split('/')
    .map((s) => (encode ? encodeURIComponent(s) : s))
    .join('/');
  return `${bare.replace(/\/+$/, '')}/${tail}`;
}

/** A `file:` URL reaching a report names a shared file system (any other was refused at create). */
const isSharedUrl = (url: string) => /^file:/i.test(url);

const joinPath = (dir: string, relative: string) =>
  relative === '' ? dir : `${dir === '/' ? '' : dir}/${relative}`;

/** The report's listed files as TES output file logs, keeping only those Batch uploaded. */
function outputLogs(report: TesRunReport, outputs: readonly TesOutput[]): TesOutputFileLog[] {
  const logs: TesOutputFileLog[] = [];
  const plans = outputs.map(tesOutputPlan);
  for (const listed of report.outputs) {
    const output = outputs[listed.index];
    const plan = plans[listed.index];
    if (!output || !plan) continue;
    const rel = listed.relative;
    if (plan.kind === 'file') {
      if (rel === '')
        logs.push({ url: fileUrl(output.url, ''), path: plan.path, size_bytes: listed.sizeBytes });
    } else if (plan.kind === 'directory') {
      // Copied to a shared file system with `cp -R`, which takes hidden files too.
      if (isSharedUrl(output.url) || batchPatternMatches(DIRECTORY_PATTERN, rel))
        logs.push({
          url: fileUrl(output.url, rel),
          path: joinPath(plan.path, rel),
          size_bytes: listed.sizeBytes,
        });
    } else if (plan.kind === 'wildcard') {
      if (batchPatternMatches(plan.rest, rel))
        logs.push({
          url: fileUrl(output.url, plan.under ? `${plan.under}/${rel}` : rel),
          path: joinPath(plan.base, rel),
          size_bytes: listed.sizeBytes,
        });
    }
  }
  return logs;
}

function executorLogs(input: TesOutcomeInput, report: TesRunReport): TesExecutorLog[] {
  return [...report.executors]
    .sort((a, b) => a.index - b.index)
    .map((e) => {
      const stdout = input.stdoutTails?.[e.index];
      const stderr = input.stderrTails?.[e.index];
      return {
        start_time: e.startTime,
        end_time: e.endTime,
        ...(stdout !== undefined ? { stdout } : {}),
        ...(stderr !== undefined ? { stderr } : {}),
        exit_code: e.exitCode,
      };
    });
}

/**
 * The TES state of a task from Batch's view and its run report:
 * - active → QUEUED, preparing → INITIALIZING, running → RUNNING (CANCELING once a cancel was asked);
 * - completed: CANCELED if a cancel was asked; else COMPLETE when the wrapper finished with every
 *   executor at 0 (or ignored); EXECUTOR_ERROR when an executor failed (not ignored) with its own
 *   exit code; SYSTEM_ERROR for the rest, each with a system log line: inputs not staged or outputs
 *   not uploaded (Batch's failure code), Batch ending the task, the wrapper failing, Docker failing
 *   to run a container (exit 125), or no report at all.
 */
export function tesOutcome(input: TesOutcomeInput): TesOutcome {
  const { batch, report } = input;
  const times = {
    ...(batch.startTime !== undefined ? { start_time: batch.startTime } : {}),
    ...(batch.endTime !== undefined ? { end_time: batch.endTime } : {}),
  };
  if (batch.state !== 'completed') {
    const state: TesState = input.cancelRequested
      ? 'CANCELING'
      : batch.state === 'active'
        ? 'QUEUED'
        : batch.state === 'preparing'
          ? 'INITIALIZING'
          : 'RUNNING';
    return batch.state === 'running'
      ? { state, log: { logs: [], outputs: [], ...times }, systemLogs: [] }
      : { state, systemLogs: [] };
  }
  const log: TesTaskLog = {
    logs: report ? executorLogs(input, report) : [],
    outputs: report ? outputLogs(report, input.doc.request.outputs) : [],
    ...times,
  };
  if (input.cancelRequested) return { state: 'CANCELED', log, systemLogs: [] };
  const failure = batch.failure && batch.failure.code !== 'FailureExitCode' ? batch.failure : undefined;
  const systemError = (...lines: string[]): TesOutcome => ({ state: 'SYSTEM_ERROR', log, systemLogs: lines });
  if (!report) {
    if (failure) return systemError(describeFailure(failure));
    return systemError(
      `The task ended without a run report${batch.exitCode !== undefined ? ` (its wrapper exited with code ${batch.exitCode})` : ''}: it could not be started or its report could not be uploaded`,
    );
  }
  if (report.failures.length > 0)
    return systemError(...report.failures.map((f) => `The task's wrapper failed: ${f}`));
  const failed = [...report.executors]
    .sort((a, b) => a.index - b.index)
    .find((e) => e.exitCode !== 0 && !e.ignored);
  if (failed) {
    const also = failure ? [describeFailure(failure)] : [];
    if (failed.exitCode === DOCKER_RUN_FAILED)
      return systemError(
        `Executor ${failed.index}: Docker could not run the container (exit code ${DOCKER_RUN_FAILED}: the image could not be pulled, or the daemon refused the run; see the executor's stderr)`,
        ...also,
      );
    return {
      state: 'EXECUTOR_ERROR',
      log,
      systemLogs: [`Executor ${failed.index} exited with code ${failed.exitCode}`, ...also],
    };
  }
  if (failure) return systemError(describeFailure(failure));
  if (report.exitCode === undefined) return systemError('The task ended before its wrapper finished');
  if (batch.exitCode !== undefined && batch.exitCode !== 0)
    return systemError(
      `The task's wrapper exited with code ${batch.exitCode} though every executor succeeded`,
    );
  return { state: 'COMPLETE', log, systemLogs: [] };
}
