/**
 * Exit conditions and the job's final state.
 *
 * Tasks carry Batch's `exitConditions`, sent to Batch unchanged; Batch acts on them (job actions,
 * dependency actions). Slotwise reads them once more when a job ends, to decide what the job's end
 * means to its owner:
 *
 * - `completed`: every task succeeded, or failed in a way the task declared harmless — its matching
 *   exit options say `jobAction: "none"` explicitly (an exit code, range, pre-processing or file
 *   upload entry, or `default`). Batch's own default for a failure is `terminate`, so silence is not
 *   consent: only an explicit `none` tolerates a failure. Tolerated failures still count in
 *   `taskCounts.failed` and are listed under `toleratedFailures`.
 * - `completed` too when a task's exit options terminated the Batch job on purpose (a `terminate`
 *   on a success, e.g. "exit 0 means we are done") and no task failed untolerated: the tasks never run
 *   are left in `taskCounts.active`.
 * - `failed` (`TaskFailed`) for any other failed task, whatever its dependency action.
 *
 * A `disable` job action holds the Batch job (queued tasks wait): Slotwise shows the job `running`
 * until it is cancelled, or enabled in Batch and ends.
 */
import type { ExitConditions, JobRequest, TaskSpec } from './request-schema.js';

type ExitOptions = NonNullable<ExitConditions['default']>;

/** How a task ended, as its exit conditions see it (from Batch's executionInfo). */
export type TaskEnding =
  | { readonly kind: 'exitCode'; readonly code: number }
  | { readonly kind: 'preProcessingError' }
  | { readonly kind: 'fileUploadError'; readonly code?: number }
  | { readonly kind: 'ended' };

/**
 * Failure codes of a task that could not download its resource files (Batch documents no exhaustive
 * list; these are the ones it is known to write, the emulator's included). File upload codes start
 * with `FileUpload`.
 */
const PRE_PROCESSING_CODES = new Set([
  'BlobDownloadMiscError',
  'BlobAccessDenied',
  'BlobNotFound',
  'ResourceFileDownloadError',
]);

export function taskEnding(task: { exitCode?: number; failureCode?: string }): TaskEnding {
  if (task.failureCode && PRE_PROCESSING_CODES.has(task.failureCode)) return { kind: 'preProcessingError' };
  if (task.failureCode?.startsWith('FileUpload'))
    return task.exitCode === undefined
      ? { kind: 'fileUploadError' }
      : { kind: 'fileUploadError', code: task.exitCode };
  if (task.exitCode !== undefined) return { kind: 'exitCode', code: task.exitCode };
  return { kind: 'ended' };
}

function matchCode(ec: ExitConditions, code: number): ExitOptions | undefined {
  const exact = ec.exitCodes?.find((m) => m.code === code);
  if (exact) return exact.exitOptions;
  return ec.exitCodeRanges?.find((r) => code >= r.start && code <= r.end)?.exitOptions;
}

/** The exit options Batch applies to this ending, as the task wrote them (before Batch's defaults). */
export function exitOptionsFor(ec: ExitConditions | undefined, ending: TaskEnding): ExitOptions | undefined {
  if (!ec) return undefined;
  switch (ending.kind) {
    case 'exitCode':
      return matchCode(ec, ending.code) ?? (ending.code === 0 ? undefined : ec.default);
    case 'preProcessingError':
      return ec.preProcessingError ?? ec.default;
    case 'fileUploadError':
      return (
        (ending.code !== undefined ? matchCode(ec, ending.code) : undefined) ??
        ec.fileUploadError ??
        ec.default
      );
    case 'ended':
      return ec.default;
  }
}

/** A failed task whose exit options explicitly say `jobAction: none`: it does not fail the job. */
export function isToleratedFailure(ec: ExitConditions | undefined, ending: TaskEnding): boolean {
  return exitOptionsFor(ec, ending)?.jobAction === 'none';
}

function optionsOf(ec: ExitConditions | undefined): ExitOptions[] {
  if (!ec) return [];
  return [
    ...(ec.exitCodes ?? []).map((m) => m.exitOptions),
    ...(ec.exitCodeRanges ?? []).map((m) => m.exitOptions),
    ...[ec.preProcessingError, ec.fileUploadError, ec.default].filter((o) => o !== undefined),
  ];
}

function someTask(request: JobRequest, test: (ec: ExitConditions | undefined) => boolean): boolean {
  return (request.tasks ?? []).some((t) => test(t.exitConditions)) || test(request.sweep?.exitConditions);
}

/** Batch acts on job actions only with `onTaskFailure: performexitoptionsjobaction` (and refuses them otherwise). */
export function usesJobActions(request: JobRequest): boolean {
  return someTask(request, (ec) => optionsOf(ec).some((o) => o.jobAction !== undefined));
}

/** Batch refuses a dependencyAction on a job without `usesTaskDependencies`. */
export function usesDependencyActions(request: JobRequest): boolean {
  return someTask(request, (ec) => optionsOf(ec).some((o) => o.dependencyAction !== undefined));
}

/** Whether any task could tolerate a failure: only then is the list of failures read at the end. */
export function mayTolerateFailures(request: JobRequest): boolean {
  return someTask(request, (ec) => optionsOf(ec).some((o) => o.jobAction === 'none'));
}

/** Each task id's exit conditions: explicit tasks by id (ignoring case), every other id the sweep's. */
export function exitConditionsLookup(
  request: JobRequest,
): (taskId: string) => TaskSpec['exitConditions'] | undefined {
  const byId = new Map<string, ExitConditions | undefined>();
  for (const t of request.tasks ?? []) byId.set(t.id.toLowerCase(), t.exitConditions);
  const sweep = request.sweep?.exitConditions;
  return (taskId) => {
    const key = taskId.toLowerCase();
    return byId.has(key) ? byId.get(key) : sweep;
  };
}
