/**
 * The checks on a request's storage fields that need more than one field or a setting: the caller's
 * container URLs (https, or http to loopback under the local switch), sweep parameters substituted
 * into output patterns and paths, the job preparation and release tasks, and the bytes a task's
 * results references take once the submitter resolves them. Field syntax is checked by the schema
 * (request-schema.ts, rules in output-rules.ts).
 */

import { MAX_RESULTS_URL_LENGTH } from './batch-bodies.js';
import { durationSeconds } from './duration.js';
import { type FieldError, fieldError } from './field-error.js';
import { CONTROL, MAX_BLOB_NAME_LENGTH, MAX_RESULTS_PATH_LENGTH, storageUrlProblem } from './output-rules.js';
import type { JobRequest, KeepLogs, OutputFileSpec, ResourceFileSpec, SweepSpec } from './request-schema.js';
import { outputPathTemplates, type ParameterStats, renderedLengths, templateShape } from './sweep.js';
import { sweepIndexOf } from './task-ids.js';

/**
 * What one reference to the results store may add to a task's body beyond what the request's JSON
 * shows: the resolved URL and SAS (MAX_RESULTS_URL_LENGTH) and the fields the planner writes around
 * it (a log output's pattern, condition and `<job>/<task>/$TaskLog/...` path; the job folder prefix).
 */
export const RESULTS_REFERENCE_BYTES = MAX_RESULTS_URL_LENGTH + 512;

/** Longest a job release task may run: Batch's own limit (BatchJobReleaseTask.maxWallClockTime). */
const MAX_RELEASE_SECONDS = 15 * 60;

/** References to the results store in one task's body: outputs there, its logs, reads from it. */
export function resultsReferences(
  task: {
    outputFiles?: readonly OutputFileSpec[] | undefined;
    resourceFiles?: readonly ResourceFileSpec[] | undefined;
  },
  keepLogs: KeepLogs | undefined,
): number {
  const outputs = (task.outputFiles ?? []).filter((o) => !o.destination || 'results' in o.destination).length;
  const reads = (task.resourceFiles ?? []).filter((f) => 'fromResults' in f).length;
  return outputs + reads + ((keepLogs ?? 'taskCompletion') === 'none' ? 0 : 2);
}

export interface StorageChecks {
  /** http to loopback hosts is allowed (the local-only SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS switch). */
  readonly allowHttpLoopback: boolean;
}

export function checkStorageFields(
  request: JobRequest,
  stats: ReadonlyMap<string, ParameterStats> | undefined,
  options: StorageChecks,
  errors: FieldError[],
): void {
  const checkOutputs = (outputs: readonly OutputFileSpec[] | undefined, path: readonly PropertyKey[]) => {
    outputs?.forEach((o, k) => {
      const d = o.destination;
      if (d && 'containerUrl' in d) {
        const why = storageUrlProblem(d.containerUrl, options.allowHttpLoopback);
        if (why) errors.push(fieldError([...path, 'outputFiles', k, 'destination', 'containerUrl'], why));
      }
    });
  };
  request.tasks?.forEach((task, i) => {
    checkOutputs(task.outputFiles, ['tasks', i]);
  });
  if (request.sweep) {
    checkOutputs(request.sweep.outputFiles, ['sweep']);
    if (stats) checkSweepOutputs(request.sweep, stats, errors);
  }
  checkPreparation(request, errors);
}

/**
 * Values substituted into an output's pattern or path decide where files are read and written, so a
 * parameter used there takes only plain names: not empty, not only dots, no `/`, `\`, `$`, `%` or
 * control characters (a value `..` or `a/../..` would otherwise climb out of the folder the template
 * names). Ranges render digits and a sign, always plain. Lengths are checked on the widest values.
 */
function checkSweepOutputs(
  sweep: SweepSpec,
  stats: ReadonlyMap<string, ParameterStats>,
  errors: FieldError[],
): void {
  const names = new Set(stats.keys());
  sweep.outputFiles?.forEach((o, k) => {
    const at = ['sweep', 'outputFiles', k] as const;
    const fields: [string, readonly PropertyKey[], number][] = [
      [o.filePattern, [...at, 'filePattern'], MAX_BLOB_NAME_LENGTH],
    ];
    const caller = o.destination !== undefined && 'containerUrl' in o.destination;
    for (const path of outputPathTemplates(o)) {
      fields.push([
        path,
        [...at, ...(caller ? ['destination', 'path'] : ['destination', 'results', 'path'])],
        caller ? MAX_BLOB_NAME_LENGTH : MAX_RESULTS_PATH_LENGTH,
      ]);
    }
    for (const [template, path, limit] of fields) {
      for (const name of templateShape(template, names).occurrences.keys()) {
        const bad = unsafeValue(sweep.parameters[name]!);
        if (bad !== undefined) {
          errors.push(
            fieldError(
              path,
              `uses {${name}}, whose value '${bad.slice(0, 80)}' is not a plain name (no /, \\, $, %, control characters, not empty or only dots)`,
            ),
          );
        }
      }
      const { max } = renderedLengths(template, stats);
      if (max > limit)
        errors.push(
          fieldError(path, `renders up to ${max} characters after substitution (the limit is ${limit})`),
        );
    }
  });
}

function unsafeValue(p: SweepSpec['parameters'][string]): string | undefined {
  if (!Array.isArray(p)) return undefined;
  for (const raw of p) {
    const v = String(raw);
    if (v === '' || /^\.+$/.test(v) || /[/\\$%]/.test(v) || CONTROL.test(v)) return v;
  }
  return undefined;
}

function checkPreparation(request: JobRequest, errors: FieldError[]): void {
  const release = request.jobRelease;
  if (release?.maxWallClockTime !== undefined) {
    const seconds = durationSeconds(release.maxWallClockTime);
    if (!(seconds <= MAX_RELEASE_SECONDS))
      errors.push(
        fieldError(
          ['jobRelease', 'maxWallClockTime'],
          'must be at most PT15M: Batch runs a job release task for 15 minutes at most',
        ),
      );
  }
  if (!request.jobPreparation && !release) return;
  // Batch gives these ids to the preparation and release tasks; no task of the job may take them.
  const reserved = new Set(['jobpreparation', 'jobrelease']);
  request.tasks?.forEach((task, i) => {
    if (reserved.has(task.id.toLowerCase()))
      errors.push(
        fieldError(
          ['tasks', i, 'id'],
          `'${task.id}' is the id of the job's ${task.id.toLowerCase() === 'jobrelease' ? 'release' : 'preparation'} task in Batch`,
        ),
      );
  });
  const sweep = request.sweep;
  for (const id of sweep ? reserved : []) {
    if (sweepIndexOf(sweep!, id) !== undefined)
      errors.push(
        fieldError(
          ['sweep', 'idTemplate'],
          `renders the id '${id}', which Batch gives the job's ${id === 'jobrelease' ? 'release' : 'preparation'} task`,
        ),
      );
  }
}
