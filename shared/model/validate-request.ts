/**
 * Full validation of a job request: the schema, then the rules that need more than one field (ids
 * unique ignoring case, dependencies that exist, slots that fit the VM size, one container mode, the
 * pool identity behind every `identity: true`, see pool-options.ts), the tenant's grants (container
 * run options, elevation) and the sizes a sweep reaches once substituted.
 * All problems are collected and returned together; nothing is thrown for bad input.
 */

import type { z } from 'zod';
import { checkRunOptions } from './container-run-options.js';
import { type FieldError, fieldError } from './field-error.js';
import { checkPoolOptions, secretRefCount } from './pool-options.js';
import {
  isExistingPool,
  type JobRequest,
  jobRequestSchema,
  MAX_COMMAND_LINE_LENGTH,
  MAX_ENVIRONMENT_VALUE_LENGTH,
  MAX_EXPANDED_JOB_BYTES,
  MAX_FILE_PATH_LENGTH,
  MAX_ID_LENGTH,
  MAX_REQUEST_JSON_BYTES,
  MAX_TASK_JSON_BYTES,
  MAX_TASKS,
  type ManagedPoolRequest,
  managedPoolSchema,
  type SweepSpec,
  type TaskSpec,
} from './request-schema.js';
import { MAX_SECRET_VALUE_LENGTH } from './secret-refs.js';
import {
  type ParameterStats,
  renderedLengths,
  renderTemplate,
  sweepParameterStats,
  sweepSize,
  sweepTaskBytes,
} from './sweep.js';
import type { TenantPolicy } from './tenant-policy.js';
import { checkDependencies } from './validate-dependencies.js';
import { checkStorageFields, RESULTS_REFERENCE_BYTES, resultsReferences } from './validate-outputs.js';
import { maxTaskSlotsPerNode, tryGetVmSize, type VmSize } from './vm-sizes.js';

/**
 * At most this many errors are returned (then one more saying how many were left out), each field
 * clipped: a rejected queue request stores its errors, and a job document must stay under Cosmos's
 * 2 MB item limit even when every one of 10,000 tasks is wrong.
 */
export const MAX_REPORTED_ERRORS = 100;
const MAX_ERROR_TEXT = 1024;

export { type FieldError, fieldError };

export type ValidationResult =
  | { readonly ok: true; readonly request: JobRequest }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

export interface ValidationPolicy {
  /** Checks a callback URL; returns why it is refused, or undefined when acceptable. */
  readonly checkCallbackUrl: (url: string) => string | undefined;
  /** The submitting tenant's grants and limits; absent → the defaults (see tenant-policy.ts). */
  readonly tenant?: TenantPolicy;
  /** The Batch account's pool allocation mode; absent → `BatchService`, Batch's default. */
  readonly poolAllocationMode?: PoolAllocationMode;
  /**
   * The caller's storage URLs (output containers) may be http to a loopback host: the local stack's
   * Azurite, under the same local-only switch as callbacks (SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS).
   * Absent → false: https only.
   */
  readonly allowHttpLoopbackStorage?: boolean;
}

/** How the Batch account allocates pool VMs: decides whether Spot (low-priority) nodes exist at all. */
export type PoolAllocationMode = 'BatchService' | 'UserSubscription';

export function validateJobRequest(input: unknown, policy: ValidationPolicy): ValidationResult {
  const parsed = jobRequestSchema.safeParse(input);
  if (!parsed.success) {
    const errors = parsed.error.issues.flatMap((issue) => issueErrors(issue, [], input));
    // The pool is checked against the VM size even when other fields are broken: all errors at once.
    const pool = managedPoolSchema.safeParse((input as { pool?: unknown } | null)?.pool);
    if (pool.success) {
      checkManagedPool(pool.data, [], undefined, errors);
      checkLowPriority(pool.data, policy.poolAllocationMode, errors);
    }
    return { ok: false, errors: capErrors(errors) };
  }
  const request = parsed.data;
  const errors: FieldError[] = [];
  const storedBytes = Buffer.byteLength(JSON.stringify(request));
  if (storedBytes > MAX_REQUEST_JSON_BYTES) {
    errors.push(
      fieldError(
        [],
        `the request takes ${fmt(storedBytes)} bytes once parsed (numbers written short, such as 1e20, grow); the limit is ${fmt(MAX_REQUEST_JSON_BYTES)}`,
      ),
    );
  }
  checkTasks(request, errors);
  checkDependencies(request, errors);
  checkTaskGrants(request, policy.tenant?.allowAdminTasks ?? false, errors);
  const stats = request.sweep ? sweepParameterStats(request.sweep) : undefined;
  if (request.sweep && stats) {
    checkSweep(request.sweep, stats, errors);
    checkSweepSizes(request, request.sweep, stats, errors);
  }
  checkStorageFields(request, stats, { allowHttpLoopback: policy.allowHttpLoopbackStorage ?? false }, errors);
  checkPool(request, errors);
  checkPoolOptions(request, errors);
  if (!isExistingPool(request.pool)) checkLowPriority(request.pool, policy.poolAllocationMode, errors);
  if (request.callback) {
    const why = policy.checkCallbackUrl(request.callback.url);
    if (why) errors.push(fieldError(['callback', 'url'], why));
  }
  return errors.length > 0 ? { ok: false, errors: capErrors(errors) } : { ok: true, request };
}

type Issue = z.core.$ZodIssue;

/**
 * A schema issue as field errors. Where a value matches none of a union's shapes, the shape it was
 * meant to have (no unknown or missing keys at its top, fewest problems) names the fields inside it
 * that are wrong; a value that fits no shape gets the union's own message.
 */
function issueErrors(issue: Issue, prefix: readonly PropertyKey[], input: unknown): FieldError[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    return [
      fieldError(path, `unknown propert${issue.keys.length > 1 ? 'ies' : 'y'} ${issue.keys.join(', ')}`),
    ];
  }
  if (issue.code === 'invalid_union') {
    const value = valueAt(input, path);
    const given = (key: PropertyKey) =>
      typeof value === 'object' && value !== null && Object.hasOwn(value, key as string);
    const fits = issue.errors.filter(
      (branch) =>
        branch.length > 0 &&
        branch.every((i) => i.path.length > 0 && (i.path.length > 1 || given(i.path[0]!))),
    );
    const best = fits.sort((a, b) => a.length - b.length)[0];
    if (best) return best.flatMap((i) => issueErrors(i, path, input));
    // A plain value (a string too long, say) meant the one shape that takes its type.
    if (typeof value !== 'object' || value === null) {
      const typed = issue.errors.filter(
        (branch) => branch.length > 0 && branch.every((i) => i.code !== 'invalid_type'),
      );
      if (typed.length === 1) return typed[0]!.flatMap((i) => issueErrors(i, path, input));
    }
  }
  return [fieldError(path, issue.message)];
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The first MAX_REPORTED_ERRORS errors, each clipped, plus one saying how many more there were. */
export function capErrors(errors: readonly FieldError[]): FieldError[] {
  const clip = (s: string) => (s.length > MAX_ERROR_TEXT ? `${s.slice(0, MAX_ERROR_TEXT)}…` : s);
  const kept = errors
    .slice(0, MAX_REPORTED_ERRORS)
    .map((e) => ({ field: clip(e.field), pointer: clip(e.pointer), message: clip(e.message) }));
  const left = errors.length - kept.length;
  if (left > 0) {
    kept.push(fieldError([], `${fmt(left)} more invalid field${left === 1 ? '' : 's'} not listed`));
  }
  return kept;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * Grants that depend on the tenant: elevation (admin needs the operator's grant) and container run
 * options (the safe subset; uid 0 only for admin tasks). Equal run option strings are checked once.
 */
function checkTaskGrants(request: JobRequest, allowAdmin: boolean, errors: FieldError[]): void {
  const checked = new Map<string, string[]>();
  const check = (
    task: Pick<TaskSpec, 'elevationLevel' | 'container'>,
    path: readonly PropertyKey[],
  ): void => {
    if (task.elevationLevel === 'admin' && !allowAdmin) {
      errors.push(
        fieldError([...path, 'elevationLevel'], 'the operator has not allowed admin tasks for this tenant'),
      );
    }
    const options = task.container?.runOptions;
    if (options === undefined) return;
    const admin = task.elevationLevel === 'admin' && allowAdmin;
    const key = `${admin}|${options}`;
    let problems = checked.get(key);
    if (!problems) {
      problems = checkRunOptions(options, { admin });
      checked.set(key, problems);
    }
    for (const problem of problems) errors.push(fieldError([...path, 'container', 'runOptions'], problem));
  };
  request.tasks?.forEach((task, i) => {
    check(task, ['tasks', i]);
  });
  if (request.sweep) check(request.sweep, ['sweep']);
}

function checkTasks(request: JobRequest, errors: FieldError[]): void {
  const tasks = request.tasks ?? [];
  const seen = new Map<string, number>();
  tasks.forEach((task, i) => {
    const key = task.id.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push(
        fieldError(['tasks', i, 'id'], `duplicates the id of tasks[${first}] (ids are unique ignoring case)`),
      );
    } else {
      seen.set(key, i);
    }
  });
  tasks.forEach((task, i) => {
    // Each reference to the results store grows by its URL and SAS once the submitter resolves it,
    // each secret reference by its value.
    const bytes =
      Buffer.byteLength(JSON.stringify(task)) +
      resultsReferences(task, request.keepLogs) * RESULTS_REFERENCE_BYTES +
      secretRefCount(task.environment) * MAX_SECRET_VALUE_LENGTH;
    if (bytes > MAX_TASK_JSON_BYTES) {
      errors.push(
        fieldError(
          ['tasks', i],
          `takes ${fmt(bytes)} bytes of JSON (the limit is ${fmt(MAX_TASK_JSON_BYTES)}, so that each task fits in one Batch request)`,
        ),
      );
    }
    task.dependsOn?.taskIds?.forEach((dep, d) => {
      const target = seen.get(dep.toLowerCase());
      if (target === undefined) {
        errors.push(fieldError(['tasks', i, 'dependsOn', 'taskIds', d], `unknown task '${dep}'`));
      } else if (target === i) {
        errors.push(fieldError(['tasks', i, 'dependsOn', 'taskIds', d], 'a task cannot depend on itself'));
      }
    });
  });
  const withContainer = tasks.filter((t) => t.container).length + (request.sweep?.container ? 1 : 0);
  const total = tasks.length + (request.sweep ? 1 : 0);
  if (withContainer > 0 && withContainer < total) {
    // Batch requires containerSettings on every task of a container pool, and on none otherwise.
    errors.push(fieldError(['tasks'], 'either every task runs in a container or none does'));
  }
  if (request.sweep) {
    const expanded = sweepSize(request.sweep);
    if (tasks.length + expanded > MAX_TASKS) {
      errors.push(fieldError(['sweep', 'parameters'], `the job would have more than ${MAX_TASKS} tasks`));
    }
  }
}

function checkSweep(
  sweep: SweepSpec,
  stats: ReadonlyMap<string, ParameterStats>,
  errors: FieldError[],
): void {
  for (const [name, values] of Object.entries(sweep.parameters)) {
    const count = Array.isArray(values)
      ? values.length
      : Math.floor((values.to - values.from) / values.step) + 1;
    if (count > 1 && !sweep.idTemplate.includes(`{${name}}`)) {
      errors.push(fieldError(['sweep', 'idTemplate'], `must contain {${name}} so that task ids are unique`));
    }
  }
  const unknown = [...sweep.idTemplate.matchAll(/\{([^}]*)\}/g)]
    .map((m) => m[1] ?? '')
    .filter((name) => !Object.hasOwn(sweep.parameters, name));
  for (const name of unknown) errors.push(fieldError(['sweep', 'idTemplate'], `unknown parameter {${name}}`));
  if (unknown.length > 0) return;
  const widest = Object.fromEntries([...stats].map(([name, s]) => [name, s.widest]));
  const idRule = "break Batch's id rule (letters, digits, - and _, 1 to 64 characters)";
  const used = [...stats].filter(([name]) => sweep.idTemplate.includes(`{${name}}`));
  // Every value must be id-safe, not only the widest: a short value with a space is as bad as a long one.
  const unsafe = used.find(([, s]) => s.notIdSafe !== undefined);
  const lengths = renderedLengths(sweep.idTemplate, stats);
  const example = unsafe
    ? renderTemplate(sweep.idTemplate, { ...widest, [unsafe[0]]: unsafe[1].notIdSafe! })
    : renderTemplate(sweep.idTemplate, widest);
  if (unsafe || lengths.max > MAX_ID_LENGTH || !/^[A-Za-z0-9_-]+$/.test(example)) {
    errors.push(
      fieldError(['sweep', 'idTemplate'], `renders ids such as '${example.slice(0, 80)}' that ${idRule}`),
    );
  } else if (lengths.min < 1) {
    errors.push(fieldError(['sweep', 'idTemplate'], `renders an empty id for some values; ids ${idRule}`));
  }
}

/**
 * Limits that hold for every expanded task, computed from the widest value of each parameter (see
 * sweep.ts) rather than by expanding, plus the size of the whole job.
 */
function checkSweepSizes(
  request: JobRequest,
  sweep: SweepSpec,
  stats: ReadonlyMap<string, ParameterStats>,
  errors: FieldError[],
): void {
  const field = (template: string, path: readonly PropertyKey[], limit: number, what: string, min = 0) => {
    const { min: shortest, max: longest } = renderedLengths(template, stats);
    if (longest > limit) {
      errors.push(
        fieldError(
          path,
          `renders ${what} of up to ${fmt(longest)} characters after substitution (the limit is ${fmt(limit)})${widestHint(template, stats)}`,
        ),
      );
    } else if (shortest < min) {
      errors.push(fieldError(path, `renders an empty ${what.replace(/s$/, '')} for some parameter values`));
    }
  };
  field(sweep.commandLine, ['sweep', 'commandLine'], MAX_COMMAND_LINE_LENGTH, 'command lines', 1);
  for (const [name, value] of Object.entries(sweep.environment ?? {})) {
    if (typeof value === 'string')
      field(value, ['sweep', 'environment', name], MAX_ENVIRONMENT_VALUE_LENGTH, 'values');
  }
  sweep.resourceFiles?.forEach((file, i) => {
    if (file.filePath === undefined) return;
    // A file downloaded from httpUrl needs a path; a container download may leave it empty.
    const min = 'httpUrl' in file ? 1 : 0;
    field(file.filePath, ['sweep', 'resourceFiles', i, 'filePath'], MAX_FILE_PATH_LENGTH, 'file paths', min);
  });

  const bytes = sweepTaskBytes(sweep, stats);
  const maxTask =
    bytes.maxTask +
    resultsReferences(sweep, request.keepLogs) * RESULTS_REFERENCE_BYTES +
    secretRefCount(sweep.environment) * MAX_SECRET_VALUE_LENGTH;
  if (maxTask > MAX_TASK_JSON_BYTES) {
    errors.push(
      fieldError(
        ['sweep'],
        `an expanded task takes up to ${fmt(maxTask)} bytes of JSON (the limit is ${fmt(MAX_TASK_JSON_BYTES)}, so that each task fits in one Batch request)`,
      ),
    );
  }
  const explicitBytes = (request.tasks ?? []).reduce((n, t) => n + Buffer.byteLength(JSON.stringify(t)), 0);
  const total = bytes.total + explicitBytes;
  if (total > MAX_EXPANDED_JOB_BYTES) {
    errors.push(
      fieldError(
        ['sweep', 'parameters'],
        `the expanded job would take ${fmt(total)} bytes of task JSON (the limit is ${fmt(MAX_EXPANDED_JOB_BYTES)}, 1 GiB)`,
      ),
    );
  }
}

/** Names the parameters that make a rendering long, with their widest values' lengths. */
function widestHint(template: string, stats: ReadonlyMap<string, ParameterStats>): string {
  const parts = [...stats]
    .filter(([name]) => template.includes(`{${name}}`))
    .sort(([, a], [, b]) => b.maxLength - a.maxLength)
    .slice(0, 3)
    .map(([name, s]) => `{${name}} up to ${fmt(s.maxLength)}`);
  return parts.length > 0 ? `; widest values: ${parts.join(', ')}` : '';
}

function checkPool(request: JobRequest, errors: FieldError[]): void {
  const pool = request.pool;
  if (isExistingPool(pool)) return; // Checked against Batch at plan time: its real slots are read there.
  checkManagedPool(pool, request.tasks ?? [], request.sweep, errors);
}

/**
 * Spot nodes only exist in user subscription mode: Batch retired low-priority nodes on Batch-service
 * accounts (30 September 2025) and no longer provisions them, so such a job would wait forever on a
 * pool that never gets a node. Refused here, where the caller can still change the request.
 */
function checkLowPriority(
  pool: ManagedPoolRequest,
  mode: PoolAllocationMode | undefined,
  errors: FieldError[],
): void {
  if (pool.lowPriority === true && (mode ?? 'BatchService') === 'BatchService')
    errors.push(
      fieldError(
        ['pool', 'lowPriority'],
        'Spot (low-priority) nodes are not available: this Batch account allocates pools in Batch service mode, where Azure Batch retired low-priority nodes; Spot needs an account in user subscription mode. Leave lowPriority out (or false) for dedicated nodes.',
      ),
    );
}

function checkManagedPool(
  pool: ManagedPoolRequest,
  tasks: readonly TaskSpec[],
  sweep: SweepSpec | undefined,
  errors: FieldError[],
): void {
  const size = tryGetVmSize(pool.vmSize);
  if (!size) {
    errors.push(fieldError(['pool', 'vmSize'], `unknown VM size '${pool.vmSize}'`));
    return;
  }
  const maxSlots = maxTaskSlotsPerNode(size);
  const slots = pool.taskSlotsPerNode ?? size.vCpus;
  if (slots > maxSlots) {
    errors.push(
      fieldError(
        ['pool', 'taskSlotsPerNode'],
        `${slots} exceeds the maximum for ${size.name}: min(4 × ${size.vCpus} vCPUs, 256) = ${maxSlots}`,
      ),
    );
    return;
  }
  tasks.forEach((task, i) => {
    checkTaskFits(task, ['tasks', i], size, slots, errors);
  });
  if (sweep) checkTaskFits(sweep, ['sweep'], size, slots, errors);
}

function checkTaskFits(
  task: {
    requiredSlots?: number | undefined;
    resources?: { cpus?: number | undefined; memoryGiB?: number | undefined } | undefined;
  },
  path: PropertyKey[],
  size: VmSize,
  slotsPerNode: number,
  errors: FieldError[],
): void {
  if (task.requiredSlots !== undefined && task.requiredSlots > slotsPerNode) {
    errors.push(
      fieldError(
        [...path, 'requiredSlots'],
        `needs ${task.requiredSlots} slots but a ${size.name} node has ${slotsPerNode}`,
      ),
    );
  }
  if (task.resources?.cpus !== undefined && task.resources.cpus > size.vCpus) {
    errors.push(
      fieldError([...path, 'resources', 'cpus'], `exceeds the ${size.vCpus} vCPUs of ${size.name}`),
    );
  }
  if (task.resources?.memoryGiB !== undefined && task.resources.memoryGiB > size.memoryGiB) {
    errors.push(
      fieldError([...path, 'resources', 'memoryGiB'], `exceeds the ${size.memoryGiB} GiB of ${size.name}`),
    );
  }
}
