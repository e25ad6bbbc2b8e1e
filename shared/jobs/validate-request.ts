/**
 * Full validation of a job request: the schema, then the rules that need more than one field (ids
 * unique ignoring case, dependencies that exist, slots that fit the VM size, one container mode).
 * All problems are collected and returned together; nothing is thrown for bad input.
 */
import type { TenantPolicy } from '../tenants/tenant-policy.js';
import { maxTaskSlotsPerNode, tryGetVmSize, type VmSize } from '../vm-sizes.js';
import {
  isExistingPool,
  type JobRequest,
  jobRequestSchema,
  MAX_ID_LENGTH,
  MAX_TASKS,
  type ManagedPoolRequest,
  managedPoolSchema,
  type SweepSpec,
  type TaskSpec,
} from './request-schema.js';
import { renderTemplate, sweepSize, sweepWidestValues } from './sweep.js';

export interface FieldError {
  /** Dotted path such as `tasks[3].requiredSlots`; empty for the whole request. */
  readonly field: string;
  /** RFC 6901 JSON pointer to the same place, e.g. `/tasks/3/requiredSlots`. */
  readonly pointer: string;
  readonly message: string;
}

export type ValidationResult =
  | { readonly ok: true; readonly request: JobRequest }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

export interface ValidationPolicy {
  /** Checks a callback URL; returns why it is refused, or undefined when acceptable. */
  readonly checkCallbackUrl: (url: string) => string | undefined;
  /** The submitting tenant's grants and limits; absent → the defaults (see tenant-policy.ts). */
  readonly tenant?: TenantPolicy;
}

export function fieldError(path: readonly PropertyKey[], message: string): FieldError {
  const field = path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  const pointer = path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
  return { field, pointer, message };
}

export function validateJobRequest(input: unknown, policy: ValidationPolicy): ValidationResult {
  const parsed = jobRequestSchema.safeParse(input);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return fieldError(
          issue.path,
          `unknown propert${issue.keys.length > 1 ? 'ies' : 'y'} ${issue.keys.join(', ')}`,
        );
      }
      return fieldError(issue.path, issue.message);
    });
    // The pool is checked against the VM size even when other fields are broken: all errors at once.
    const pool = managedPoolSchema.safeParse((input as { pool?: unknown } | null)?.pool);
    if (pool.success) checkManagedPool(pool.data, [], undefined, errors);
    return { ok: false, errors };
  }
  const request = parsed.data;
  const errors: FieldError[] = [];
  checkTasks(request, errors);
  if (request.sweep) checkSweep(request.sweep, errors);
  checkPool(request, errors);
  if (request.callback) {
    const why = policy.checkCallbackUrl(request.callback.url);
    if (why) errors.push(fieldError(['callback', 'url'], why));
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, request };
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

function checkSweep(sweep: SweepSpec, errors: FieldError[]): void {
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
    .filter((name) => !(name in sweep.parameters));
  for (const name of unknown) errors.push(fieldError(['sweep', 'idTemplate'], `unknown parameter {${name}}`));
  if (unknown.length === 0) {
    const widest = renderTemplate(sweep.idTemplate, sweepWidestValues(sweep));
    if (widest.length > MAX_ID_LENGTH || !/^[A-Za-z0-9_-]+$/.test(widest)) {
      errors.push(
        fieldError(
          ['sweep', 'idTemplate'],
          `renders ids such as '${widest.slice(0, 80)}' that break Batch's id rule (letters, digits, - and _, at most 64)`,
        ),
      );
    }
  }
}

function checkPool(request: JobRequest, errors: FieldError[]): void {
  const pool = request.pool;
  if (isExistingPool(pool)) return; // Checked against Batch at plan time: its real slots are read there.
  checkManagedPool(pool, request.tasks ?? [], request.sweep, errors);
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
