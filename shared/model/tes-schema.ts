/**
 * The body of a GA4GH TES 1.1 `POST /tasks` (a `tesTask`), validated at the door into the stored
 * `TesTaskRequest` (tes-task.ts). Field names and types are the spec's (ga4gh/task-execution-schemas
 * @ v1.1, `openapi/task_execution_service.openapi.yaml`, `components.schemas`); the limits below are
 * Slotwise's (TES sets none but "at least 128 KiB" of content), chosen so that a task's document
 * fits one Cosmos item.
 *
 * - JSON `null` counts as absent wherever it stands as a property or map value: generated clients
 *   (Java, JavaScript) send every unset optional field as null. A null array element is an error.
 * - The read-only fields `id`, `state`, `logs` and `creation_time` are ignored (the spec marks them
 *   readOnly; clients echo whole task documents back). Any other unknown field is an error naming it,
 *   so that a typo never silently changes a task.
 * - `backend_parameters` keys are case-insensitive and stored lower-cased. Unsupported keys are never
 *   stored or returned (spec, tesResources.backend_parameters): they are dropped with a warning, or
 *   refused with `backend_parameters_strict: true`.
 * - URLs are only checked for shape here: a scheme Slotwise cannot fetch (s3://, gs://) is accepted
 *   and the task ends SYSTEM_ERROR with a system log line (tes-urls.ts classifies them).
 */
import { z } from 'zod';
import type { TesExecutor, TesInput, TesOutput, TesResources, TesTaskRequest } from './tes-task.js';
import { capErrors, type FieldError, fieldError } from './validate-request.js';

/** The `backend_parameters` keys Slotwise honours (advertised in service-info). */
export const SUPPORTED_BACKEND_PARAMETERS = ['vm_size'] as const;

export const TES_LIMITS = {
  maxExecutors: 50,
  maxImageLength: 1024,
  maxCommandArgs: 1000,
  maxEnvEntries: 200,
  /** Container paths: inputs, outputs, volumes, workdir, stdin, stdout, stderr, path_prefix. */
  maxPathLength: 1024,
  maxUrlLength: 8192,
  maxInputs: 1000,
  maxOutputs: 1000,
  maxVolumes: 100,
  /** UTF-8 bytes of one input's `content` (the spec asks servers to take at least 128 KiB). */
  maxContentBytes: 256 * 1024,
  /** UTF-8 bytes of all inputs' `content` together. */
  maxTotalContentBytes: 1024 * 1024,
  maxTags: 100,
  maxTagKeyLength: 256,
  maxTagValueLength: 1024,
  maxNameLength: 1024,
  /** UTF-8 bytes. */
  maxDescriptionBytes: 64 * 1024,
  maxCpuCores: 1024,
  maxZones: 100,
  maxBackendParameters: 100,
  /**
   * The request as stored, in JSON bytes: a Cosmos item is at most 2 MB, and the task's logs (one
   * per attempt) share the item with the request, so the request takes at most 1.25 MiB.
   */
  maxRequestJsonBytes: 1.25 * 1024 * 1024,
} as const;

/** Fields of a `tesTask` the server sets; sent by a client, they are ignored. */
const READ_ONLY_TASK_FIELDS = ['id', 'state', 'logs', 'creation_time'] as const;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/** POSIX wildcards (XCU 2.13, which tesOutput.path cites): `*`, `?` and bracket expressions. */
export function hasTesWildcard(path: string): boolean {
  return /[*?[]/.test(path);
}

/**
 * Why a container path is refused, or undefined. Absolute POSIX paths without `..` segments (the
 * wrapper binds them into `docker run`, where `..` could reach outside the intended folder) and
 * without control characters (NUL and newlines would break the wrapper's bookkeeping). `/` itself is
 * refused where a file or a mount goes (`allowRoot` false): Docker cannot mount over the root.
 */
export function containerPathProblem(path: string, options: { allowRoot: boolean }): string | undefined {
  if (path === '') return 'must not be empty';
  if (path.length > TES_LIMITS.maxPathLength) return `must be at most ${TES_LIMITS.maxPathLength} characters`;
  if (!path.startsWith('/')) return 'must be an absolute path (start with /)';
  if (CONTROL.test(path)) return 'must not contain control characters (NUL, newlines)';
  if (path.split('/').includes('..')) return 'must not contain .. segments';
  if (!options.allowRoot && /^\/+$/.test(path)) return 'must name a file or folder below /, not / itself';
  return undefined;
}

const rule =
  (problem: (value: string) => string | undefined) =>
  (value: string, ctx: z.RefinementCtx): void => {
    const why = problem(value);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  };

const pathField = (allowRoot: boolean) =>
  z.string().superRefine(rule((p) => containerPathProblem(p, { allowRoot })));

const urlField = z
  .string()
  .min(1)
  .max(TES_LIMITS.maxUrlLength)
  .superRefine(rule((u) => (CONTROL.test(u) ? 'must not contain control characters' : undefined)));

const fileType = z.enum(['FILE', 'DIRECTORY']).default('FILE');

const inputSchema = z.strictObject({
  name: z.string().max(TES_LIMITS.maxNameLength).optional(),
  description: z.string().optional(),
  url: urlField.optional(),
  path: pathField(false),
  type: fileType,
  content: z.string().optional(),
  streamable: z.boolean().optional(),
});

const outputSchema = z.strictObject({
  name: z.string().max(TES_LIMITS.maxNameLength).optional(),
  description: z.string().optional(),
  url: urlField,
  path: pathField(false),
  path_prefix: z.string().max(TES_LIMITS.maxPathLength).optional(),
  type: fileType,
});

/** Docker takes the image as one argument: no whitespace, and never a leading `-` (read as an option). */
const imageField = z
  .string()
  .min(1)
  .max(TES_LIMITS.maxImageLength)
  .superRefine(
    rule((image) =>
      /\s/.test(image) || CONTROL.test(image)
        ? 'must not contain whitespace or control characters'
        : image.startsWith('-')
          ? 'must not start with -'
          : undefined,
    ),
  );

const envName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'is not a valid name: letters, digits and underscores, not starting with a digit',
  );

const executorSchema = z.strictObject({
  image: imageField,
  command: z.array(z.string()).min(1).max(TES_LIMITS.maxCommandArgs),
  workdir: pathField(true).optional(),
  stdin: pathField(false).optional(),
  stdout: pathField(false).optional(),
  stderr: pathField(false).optional(),
  env: z
    .record(envName, z.string())
    .refine(
      (env) => Object.keys(env).length <= TES_LIMITS.maxEnvEntries,
      `must have at most ${TES_LIMITS.maxEnvEntries} entries`,
    )
    .optional(),
  ignore_error: z.boolean().optional(),
});

const resourcesSchema = z.strictObject({
  cpu_cores: z.int().min(1).max(TES_LIMITS.maxCpuCores).optional(),
  preemptible: z.boolean().optional(),
  ram_gb: z.number().positive().optional(),
  disk_gb: z.number().positive().optional(),
  zones: z.array(z.string()).max(TES_LIMITS.maxZones).optional(),
  backend_parameters: z
    .record(z.string(), z.string())
    .refine(
      (p) => Object.keys(p).length <= TES_LIMITS.maxBackendParameters,
      `must have at most ${TES_LIMITS.maxBackendParameters} entries`,
    )
    .optional(),
  backend_parameters_strict: z.boolean().optional(),
});

const tagKey = z
  .string()
  .min(1, 'a tag name must not be empty')
  .max(TES_LIMITS.maxTagKeyLength, `a tag name must be at most ${TES_LIMITS.maxTagKeyLength} characters`);

const taskSchema = z.strictObject({
  name: z.string().max(TES_LIMITS.maxNameLength).optional(),
  description: z.string().optional(),
  inputs: z.array(inputSchema).max(TES_LIMITS.maxInputs).optional(),
  outputs: z.array(outputSchema).max(TES_LIMITS.maxOutputs).optional(),
  resources: resourcesSchema.optional(),
  executors: z.array(executorSchema).min(1).max(TES_LIMITS.maxExecutors),
  volumes: z.array(pathField(false)).max(TES_LIMITS.maxVolumes).optional(),
  tags: z
    .record(tagKey, z.string().max(TES_LIMITS.maxTagValueLength))
    .refine(
      (t) => Object.keys(t).length <= TES_LIMITS.maxTags,
      `must have at most ${TES_LIMITS.maxTags} entries`,
    )
    .optional(),
});

type ParsedTask = z.output<typeof taskSchema>;

export type TesParseResult =
  | { readonly ok: true; readonly request: TesTaskRequest; readonly warnings: string[] }
  | { readonly ok: false; readonly errors: FieldError[] };

export function parseTesTaskRequest(body: unknown): TesParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, errors: [fieldError([], 'must be a JSON object (a tesTask)')] };
  }
  const errors: FieldError[] = [];
  const cleaned = withoutNulls(body, [], errors) as Record<string, unknown>;
  for (const key of READ_ONLY_TASK_FIELDS) delete cleaned[key];
  const parsed = taskSchema.safeParse(cleaned, { error: messageFor });
  if (!parsed.success) {
    errors.push(...parsed.error.issues.flatMap((issue) => issueErrors(issue)));
    return { ok: false, errors: capErrors(dedupe(errors)) };
  }
  const warnings: string[] = [];
  const task = parsed.data;
  const inputs = checkInputs(task, errors);
  const outputs = checkOutputs(task, errors);
  const volumes = checkVolumes(task, errors);
  const resources = task.resources ? checkResources(task.resources, errors, warnings) : undefined;
  const request: TesTaskRequest = {
    ...(task.name !== undefined && { name: task.name }),
    ...(task.description !== undefined && { description: task.description }),
    inputs,
    outputs,
    ...(resources && { resources }),
    executors: task.executors.map(executorOf),
    volumes,
    tags: task.tags ?? {},
  };
  if (task.description !== undefined && utf8Bytes(task.description) > TES_LIMITS.maxDescriptionBytes) {
    errors.push(fieldError(['description'], `must be at most ${fmt(TES_LIMITS.maxDescriptionBytes)} bytes`));
  }
  const bytes = utf8Bytes(JSON.stringify(request));
  if (errors.length === 0 && bytes > TES_LIMITS.maxRequestJsonBytes) {
    errors.push(
      fieldError(
        [],
        `the task takes ${fmt(bytes)} bytes of JSON; the limit is ${fmt(TES_LIMITS.maxRequestJsonBytes)}`,
      ),
    );
  }
  return errors.length > 0 ? { ok: false, errors: capErrors(errors) } : { ok: true, request, warnings };
}

/**
 * A copy of `value` with every null property and map value removed (a null array element stays and
 * fails the schema: dropping it would shift the positions of the rest, of argv for instance).
 * `__proto__` is refused as a name: a parsed map would silently lose it. Below MAX_TES_DEPTH nothing
 * is valid anyway (the schema refuses it there), so the walk stops: a deeply nested body cannot
 * exhaust the stack.
 */
function withoutNulls(value: unknown, path: readonly PropertyKey[], errors: FieldError[]): unknown {
  if (path.length > MAX_TES_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v, i) => withoutNulls(v, [...path, i], errors));
  if (typeof value !== 'object' || value === null) return value;
  const entries: [string, unknown][] = [];
  for (const [key, v] of Object.entries(value)) {
    if (v === null) continue;
    if (key === '__proto__') {
      errors.push(fieldError([...path, key], 'is not accepted as a name'));
      continue;
    }
    entries.push([key, withoutNulls(v, [...path, key], errors)]);
  }
  return Object.fromEntries(entries);
}

/** The deepest a valid tesTask goes: task → executors → [i] → env → value is 4 levels. */
const MAX_TES_DEPTH = 8;

type Issue = z.core.$ZodIssue;

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

/** Messages for the schema's plain checks, worded as the rest of the API words them (`must …`). */
function messageFor(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      const expected = issue.expected === 'int' ? 'integer' : issue.expected;
      return expected === 'boolean' ? 'must be true or false' : `must be ${article(String(expected))}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string')
        return min === 1 ? 'must not be empty' : `must be at least ${min} characters`;
      if (issue.origin === 'array') return `must have at least ${min} ${min === 1 ? 'item' : 'items'}`;
      return issue.inclusive ? `must be at least ${min}` : `must be greater than ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${fmt(max)} characters`;
      if (issue.origin === 'array') return `must have at most ${fmt(max)} items`;
      return issue.inclusive ? `must be at most ${fmt(max)}` : `must be less than ${fmt(max)}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return undefined;
  }
}

function issueErrors(issue: Issue): FieldError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => fieldError([...issue.path, key], 'is not a field of TES 1.1'));
  }
  if (issue.code === 'invalid_key') {
    // A map's key: named in the path; the key's own rule says why.
    return issue.issues.map((inner) => fieldError(issue.path, inner.message));
  }
  return [fieldError(issue.path, issue.message)];
}

function dedupe(errors: readonly FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.pointer}\n${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function checkInputs(task: ParsedTask, errors: FieldError[]): TesInput[] {
  const firstAt = new Map<string, number>();
  let total = 0;
  const inputs = (task.inputs ?? []).map((input, i): TesInput => {
    const at = ['inputs', i] as const;
    // The spec: "If content is not empty, url must be ignored". Empty content with a url: the url.
    // So once parsed, a present `content` always wins.
    const content = input.content === '' && input.url !== undefined ? undefined : input.content;
    if (content === undefined && input.url === undefined) {
      errors.push(fieldError([...at, 'url'], 'is required unless content is set'));
    }
    if (content !== undefined) {
      if (input.type === 'DIRECTORY') {
        errors.push(fieldError([...at, 'content'], 'makes a file: type must be FILE (or left out)'));
      }
      const bytes = utf8Bytes(content);
      total += bytes;
      if (bytes > TES_LIMITS.maxContentBytes) {
        errors.push(
          fieldError(
            [...at, 'content'],
            `takes ${fmt(bytes)} bytes; the limit is ${fmt(TES_LIMITS.maxContentBytes)} (put larger files in storage and give a url)`,
          ),
        );
      }
    }
    const first = firstAt.get(input.path);
    if (first !== undefined) {
      errors.push(fieldError([...at, 'path'], `is also the path of inputs[${first}]`));
    } else {
      firstAt.set(input.path, i);
    }
    return {
      ...(input.name !== undefined && { name: input.name }),
      ...(input.description !== undefined && { description: input.description }),
      ...(input.url !== undefined && { url: input.url }),
      path: input.path,
      type: input.type,
      ...(content !== undefined && { content }),
      ...(input.streamable !== undefined && { streamable: input.streamable }),
    };
  });
  if (total > TES_LIMITS.maxTotalContentBytes) {
    errors.push(
      fieldError(
        ['inputs'],
        `content takes ${fmt(total)} bytes in all; the limit is ${fmt(TES_LIMITS.maxTotalContentBytes)}`,
      ),
    );
  }
  return inputs;
}

/**
 * tesOutput.path may hold POSIX wildcards; then `path_prefix` is required and is removed from each
 * match to build its URL under `url` (a folder). The prefix is removed literally, so it must be a
 * literal prefix of the path, without wildcards.
 */
function checkOutputs(task: ParsedTask, errors: FieldError[]): TesOutput[] {
  return (task.outputs ?? []).map((output, i) => {
    const at = ['outputs', i] as const;
    const prefix = output.path_prefix;
    if (prefix === undefined) {
      if (hasTesWildcard(output.path)) {
        errors.push(
          fieldError(
            [...at, 'path_prefix'],
            'is required when path has wildcards (*, ?, [): it is removed from each match to name the file under url',
          ),
        );
      }
    } else if (hasTesWildcard(prefix)) {
      errors.push(fieldError([...at, 'path_prefix'], 'must not contain wildcards: it is removed literally'));
    } else if (!output.path.startsWith(prefix)) {
      errors.push(fieldError([...at, 'path_prefix'], `must be a prefix of path '${clip(output.path)}'`));
    }
    return {
      ...(output.name !== undefined && { name: output.name }),
      ...(output.description !== undefined && { description: output.description }),
      url: output.url,
      path: output.path,
      ...(prefix !== undefined && { path_prefix: prefix }),
      type: output.type,
    };
  });
}

/** Volumes and inputs are mounted into every executor: two mounts at one path make Docker fail. */
function checkVolumes(task: ParsedTask, errors: FieldError[]): string[] {
  const volumes = task.volumes ?? [];
  const inputAt = new Map((task.inputs ?? []).map((input, i) => [input.path, i] as const).reverse());
  const firstAt = new Map<string, number>();
  volumes.forEach((volume, i) => {
    const first = firstAt.get(volume);
    if (first !== undefined) errors.push(fieldError(['volumes', i], `duplicates volumes[${first}]`));
    else firstAt.set(volume, i);
    const input = inputAt.get(volume);
    if (input !== undefined) errors.push(fieldError(['volumes', i], `is also the path of inputs[${input}]`));
  });
  return volumes;
}

/**
 * Keys are case-insensitive (spec): stored lower-cased. Two spellings of one key must agree.
 * Unsupported keys are dropped with a warning, or are errors when `backend_parameters_strict`.
 */
function checkResources(
  resources: NonNullable<ParsedTask['resources']>,
  errors: FieldError[],
  warnings: string[],
): TesResources {
  const supported: ReadonlySet<string> = new Set(SUPPORTED_BACKEND_PARAMETERS);
  let backend: Record<string, string> | undefined;
  if (resources.backend_parameters) {
    backend = {};
    const spelledAs = new Map<string, string>();
    for (const [key, value] of Object.entries(resources.backend_parameters)) {
      const lower = key.toLowerCase();
      const at = ['resources', 'backend_parameters', key];
      if (!supported.has(lower)) {
        if (resources.backend_parameters_strict === true) {
          errors.push(
            fieldError(
              at,
              `is not supported by Slotwise (supported: ${SUPPORTED_BACKEND_PARAMETERS.join(', ')}), and backend_parameters_strict is true`,
            ),
          );
        } else {
          warnings.push(
            `backend_parameters: '${clip(key)}' is not supported by Slotwise and was ignored${nearMiss(lower)}`,
          );
        }
        continue;
      }
      const earlier = spelledAs.get(lower);
      if (earlier !== undefined && backend[lower] !== value) {
        errors.push(
          fieldError(
            at,
            `gives ${lower} again (as '${clip(earlier)}', with another value); keys are case-insensitive`,
          ),
        );
        continue;
      }
      spelledAs.set(lower, key);
      backend[lower] = value;
    }
  }
  return {
    ...(resources.cpu_cores !== undefined && { cpu_cores: resources.cpu_cores }),
    ...(resources.preemptible !== undefined && { preemptible: resources.preemptible }),
    ...(resources.ram_gb !== undefined && { ram_gb: resources.ram_gb }),
    ...(resources.disk_gb !== undefined && { disk_gb: resources.disk_gb }),
    ...(resources.zones !== undefined && { zones: resources.zones }),
    ...(backend !== undefined && { backend_parameters: backend }),
    ...(resources.backend_parameters_strict !== undefined && {
      backend_parameters_strict: resources.backend_parameters_strict,
    }),
  };
}

/** A hint for a spelling of a supported key (the spec's own example writes `VmSize`). */
function nearMiss(lower: string): string {
  const bare = (key: string) => key.replace(/[_-]/g, '');
  const match = SUPPORTED_BACKEND_PARAMETERS.find((key) => bare(key) === bare(lower));
  return match ? ` (did you mean ${match}?)` : '';
}

function executorOf(e: ParsedTask['executors'][number]): TesExecutor {
  return {
    image: e.image,
    command: e.command,
    ...(e.workdir !== undefined && { workdir: e.workdir }),
    ...(e.stdin !== undefined && { stdin: e.stdin }),
    ...(e.stdout !== undefined && { stdout: e.stdout }),
    ...(e.stderr !== undefined && { stderr: e.stderr }),
    ...(e.env !== undefined && { env: e.env }),
    ...(e.ignore_error !== undefined && { ignore_error: e.ignore_error }),
  };
}

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');
const fmt = (n: number) => n.toLocaleString('en-US');
const clip = (text: string) => (text.length > 100 ? `${text.slice(0, 100)}…` : text);
