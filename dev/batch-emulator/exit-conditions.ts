/**
 * A task's `exitConditions`, as Batch reads them: which exit options apply to how a task ended, the
 * defaults Batch fills in, and the checks on the add-task body.
 *
 * Batch's rules (ExitConditions / ExitOptions in the data-plane spec):
 * - an exit code is matched against `exitCodes`, then `exitCodeRanges`; an unmatched non-zero code,
 *   and a pre-processing or file upload error without its own entry, fall back to `default`;
 * - a file upload error after an exit code that `exitCodes`/`exitCodeRanges` match takes that code's
 *   options (the exit code wins);
 * - `jobAction` defaults to `none` for exit code 0 and `terminate` otherwise, and acts only when the
 *   job's `onTaskFailure` is `performexitoptionsjobaction`;
 * - `dependencyAction` defaults to `satisfy` for exit code 0 and `block` otherwise, and needs the
 *   job's `usesTaskDependencies`.
 */
import { errors } from './errors.js';

export type JobAction = 'none' | 'disable' | 'terminate';
export type DependencyAction = 'satisfy' | 'block';

export interface ExitOptions {
  jobAction?: string;
  dependencyAction?: string;
}

/** How a task ended, as far as exit conditions care. */
export type TaskEnding =
  | { readonly kind: 'exitCode'; readonly code: number }
  /** Resource files or packages could not be set up: the command never ran. */
  | { readonly kind: 'preProcessingError' }
  /** The command ran (with this exit code) but an output file could not be uploaded. */
  | { readonly kind: 'fileUploadError'; readonly code: number }
  /** Ended without an exit code of its own (wall clock, terminate). */
  | { readonly kind: 'ended' };

export interface ResolvedExitOptions {
  readonly jobAction: JobAction;
  readonly dependencyAction: DependencyAction;
}

interface ExitConditionsBody {
  exitCodes?: { code: number; exitOptions?: ExitOptions }[];
  exitCodeRanges?: { start: number; end: number; exitOptions?: ExitOptions }[];
  preProcessingError?: ExitOptions;
  fileUploadError?: ExitOptions;
  default?: ExitOptions;
}

function matchCode(ec: ExitConditionsBody, code: number): ExitOptions | undefined {
  const exact = ec.exitCodes?.find((m) => m.code === code);
  if (exact) return exact.exitOptions ?? {};
  const range = ec.exitCodeRanges?.find((r) => code >= r.start && code <= r.end);
  return range ? (range.exitOptions ?? {}) : undefined;
}

/** The options the task's exitConditions give for this ending, before Batch's defaults. */
export function exitOptionsFor(body: Record<string, unknown>, ending: TaskEnding): ExitOptions {
  const ec = (body.exitConditions ?? {}) as ExitConditionsBody;
  switch (ending.kind) {
    case 'exitCode':
      return matchCode(ec, ending.code) ?? (ending.code === 0 ? {} : (ec.default ?? {}));
    case 'preProcessingError':
      return ec.preProcessingError ?? ec.default ?? {};
    case 'fileUploadError':
      return matchCode(ec, ending.code) ?? ec.fileUploadError ?? ec.default ?? {};
    case 'ended':
      return ec.default ?? {};
  }
}

/** The options with Batch's defaults filled in: a failure terminates and blocks, a success neither. */
export function resolveExitOptions(
  body: Record<string, unknown>,
  ending: TaskEnding,
  failed: boolean,
): ResolvedExitOptions {
  const options = exitOptionsFor(body, ending);
  return {
    jobAction: (options.jobAction?.toLowerCase() ?? (failed ? 'terminate' : 'none')) as JobAction,
    dependencyAction: (options.dependencyAction?.toLowerCase() ??
      (failed ? 'block' : 'satisfy')) as DependencyAction,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const JOB_ACTIONS = ['none', 'disable', 'terminate'];
const DEPENDENCY_ACTIONS = ['satisfy', 'block'];

/**
 * The add-task checks: the shape (integers, ranges, the two enums, in any case), a jobAction only on a
 * job that performs exit-option job actions, a dependencyAction only on a job with task dependencies.
 */
export function checkExitConditions(
  exit: unknown,
  job: { readonly onTaskFailure: string; readonly usesTaskDependencies: boolean },
): void {
  if (exit === undefined) return;
  if (!isObject(exit)) throw errors.invalidProperty('exitConditions', 'The value must be an object.');
  const options: { path: string; value: unknown }[] = [];
  for (const name of ['preProcessingError', 'fileUploadError', 'default'] as const) {
    if (exit[name] !== undefined) options.push({ path: `exitConditions.${name}`, value: exit[name] });
  }
  const list = (name: 'exitCodes' | 'exitCodeRanges'): unknown[] => {
    const v = exit[name];
    if (v === undefined) return [];
    if (!Array.isArray(v))
      throw errors.invalidProperty(`exitConditions.${name}`, 'The value must be a list.');
    return v;
  };
  list('exitCodes').forEach((m, i) => {
    const path = `exitConditions.exitCodes[${i}]`;
    if (!isObject(m) || !Number.isInteger(m.code))
      throw errors.invalidProperty(`${path}.code`, 'The exit code must be an integer.');
    if (m.exitOptions === undefined) throw errors.missingProperty(`${path}.exitOptions`);
    options.push({ path: `${path}.exitOptions`, value: m.exitOptions });
  });
  list('exitCodeRanges').forEach((r, i) => {
    const path = `exitConditions.exitCodeRanges[${i}]`;
    if (
      !isObject(r) ||
      !Number.isInteger(r.start) ||
      !Number.isInteger(r.end) ||
      Number(r.start) > Number(r.end)
    )
      throw errors.invalidProperty(path, 'A range needs integers start ≤ end.');
    if (r.exitOptions === undefined) throw errors.missingProperty(`${path}.exitOptions`);
    options.push({ path: `${path}.exitOptions`, value: r.exitOptions });
  });
  for (const { path, value } of options) {
    if (!isObject(value)) throw errors.invalidProperty(path, 'The value must be an object.');
    const jobAction = value.jobAction;
    if (jobAction !== undefined) {
      if (typeof jobAction !== 'string' || !JOB_ACTIONS.includes(jobAction.toLowerCase()))
        throw errors.invalidProperty(
          `${path}.jobAction`,
          `The value must be one of ${JOB_ACTIONS.join(', ')}.`,
        );
      // The spec refuses any jobAction on a noaction job; 'none' is let through, as it changes nothing.
      if (jobAction.toLowerCase() !== 'none' && job.onTaskFailure === 'noaction')
        throw errors.invalidProperty(
          'exitConditions',
          "A jobAction other than 'none' needs the job's onTaskFailure set to performexitoptionsjobaction.",
        );
    }
    const dependencyAction = value.dependencyAction;
    if (dependencyAction !== undefined) {
      if (
        typeof dependencyAction !== 'string' ||
        !DEPENDENCY_ACTIONS.includes(dependencyAction.toLowerCase())
      )
        throw errors.invalidProperty(
          `${path}.dependencyAction`,
          `The value must be one of ${DEPENDENCY_ACTIONS.join(', ')}.`,
        );
      if (!job.usesTaskDependencies)
        throw errors.invalidProperty(
          `${path}.dependencyAction`,
          'A dependencyAction needs the job to have usesTaskDependencies set.',
        );
    }
  }
}
