/**
 * The OpenAPI description of the GA4GH TES 1.1 routes (`/api/ga4gh/tes/v1`, docs/tes.md), spread
 * into the document by openapi.ts. Field names and types are the spec's (ga4gh/task-execution-schemas
 * @ v1.1, `openapi/task_execution_service.openapi.yaml`, `components.schemas`); the limits are
 * Slotwise's (shared/model/tes-schema.ts).
 *
 * The answers are described per view (shared/model/tes-views.ts): MINIMAL, BASIC and FULL, each
 * closed with `additionalProperties: false`, since clients such as py-tes refuse any field the spec
 * does not name. The request admits JSON `null` wherever the API reads it as absent (generated
 * clients send unset fields as null) and ignores the read-only fields a client may echo back.
 */

import { TES_DEFAULT_PAGE_SIZE, TES_MAX_PAGE_SIZE } from '../../model/tes-list.js';
import { SUPPORTED_BACKEND_PARAMETERS, TES_LIMITS } from '../../model/tes-schema.js';
import { TES_STATES } from '../../model/tes-task.js';
import { TES_VIEWS } from '../../model/tes-views.js';
import { dateTime, json, problem, ref, text, unauthorized } from './openapi-parts.js';

/** The body limit of POST /tasks (functions/tes-tasks-create.ts). */
const TES_BODY_LIMIT = '2 MiB';

/** The security of every TES route but service-info: an API key as Bearer, or Basic (tenant, key). */
const tesSecurity = [{ apiKey: [] }, { basicAuth: [] }];

const stringMap = (values: object = text) => ({ type: 'object', additionalProperties: values });

/** `schema`, or JSON null (read as absent by the API: shared/model/tes-schema.ts `withoutNulls`). */
function orNull(schema: Record<string, unknown>): Record<string, unknown> {
  if (Array.isArray(schema.enum)) return { ...schema, enum: [...schema.enum, null] };
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  return { anyOf: [schema, { type: 'null' }] };
}

/** Every optional property may be null; closed as the API's strict schemas are. */
function nullableObject(
  properties: Record<string, Record<string, unknown>>,
  extra: { required?: string[] } & Record<string, unknown> = {},
): Record<string, unknown> {
  const required = new Set(extra.required ?? []);
  return {
    type: 'object',
    properties: Object.fromEntries(
      Object.entries(properties).map(([k, v]) => [k, required.has(k) ? v : orNull(v)]),
    ),
    additionalProperties: false,
    ...extra,
  };
}

/**
 * A container path as tes-schema.ts `containerPathProblem` takes it: absolute, no `..` segment, no
 * control characters; where a file or a mount goes, not `/` itself.
 */
const containerPath = (allowRoot: boolean) => ({
  type: 'string',
  minLength: 1,
  maxLength: TES_LIMITS.maxPathLength,
  pattern: `^(?!.*(?:^|/)\\.\\.(?:/|$))${allowRoot ? '' : '(?!/+$)'}/[^\\u0000-\\u001f\\u007f]*$`,
});

const url = {
  type: 'string',
  minLength: 1,
  maxLength: TES_LIMITS.maxUrlLength,
  pattern: '^[^\\u0000-\\u001f\\u007f]*$',
};

const fileType = { enum: ['FILE', 'DIRECTORY'], default: 'FILE' };

/** No POSIX wildcard (`*`, `?`, `[`): tes-schema.ts `hasTesWildcard`. */
const WITHOUT_WILDCARDS = '^[^*?\\[]*$';

const name = { type: 'string', maxLength: TES_LIMITS.maxNameLength };

/** `POST /tasks`: a `tesTask` as the API validates it (shared/model/tes-schema.ts). */
function taskRequest(): object {
  const input = nullableObject(
    {
      name,
      description: text,
      url,
      path: containerPath(false),
      type: fileType,
      content: { type: 'string', description: `At most ${TES_LIMITS.maxContentBytes} UTF-8 bytes.` },
      streamable: { type: 'boolean' },
    },
    {
      required: ['path'],
      description:
        '`url` is required unless `content` is set; with `content` (not empty) the file is made from it and `url` is ignored, and `type` must be FILE.',
      anyOf: [
        { required: ['url'], properties: { url: text } },
        { required: ['content'], properties: { content: text } },
      ],
      // `content` makes a file: DIRECTORY with content is refused (empty content beside a url is no content).
      not: {
        required: ['content', 'type'],
        properties: { content: text, type: { const: 'DIRECTORY' } },
        anyOf: [
          { properties: { content: { minLength: 1 } } },
          { not: { required: ['url'], properties: { url: text } } },
        ],
      },
    },
  );
  const output = nullableObject(
    {
      name,
      description: text,
      url,
      path: {
        ...containerPath(false),
        description:
          'May hold POSIX wildcards (`*`, `?`, `[`); then `path_prefix` is required and `url` is a folder.',
      },
      path_prefix: {
        type: 'string',
        maxLength: TES_LIMITS.maxPathLength,
        pattern: WITHOUT_WILDCARDS,
        description:
          'A literal prefix of `path` (no wildcards), removed from each match to name it under `url`.',
      },
      type: fileType,
    },
    {
      required: ['url', 'path'],
      // tes-schema.ts `checkOutputs`: a path with wildcards needs its prefix.
      anyOf: [
        { properties: { path: { pattern: WITHOUT_WILDCARDS } } },
        { required: ['path_prefix'], properties: { path_prefix: text } },
      ],
    },
  );
  const resources = nullableObject({
    cpu_cores: { type: 'integer', minimum: 1, maximum: TES_LIMITS.maxCpuCores },
    preemptible: { type: 'boolean', description: '`true` runs on Spot nodes.' },
    ram_gb: { type: 'number', exclusiveMinimum: 0 },
    disk_gb: { type: 'number', exclusiveMinimum: 0 },
    zones: { type: 'array', items: text, maxItems: TES_LIMITS.maxZones },
    backend_parameters: {
      ...stringMap(orNull(text)),
      maxProperties: TES_LIMITS.maxBackendParameters,
      description: `Keys are case-insensitive. Supported: ${SUPPORTED_BACKEND_PARAMETERS.join(', ')}; others are dropped with a system log line, or refused with \`backend_parameters_strict\`.`,
    },
    backend_parameters_strict: { type: 'boolean' },
  });
  const executor = nullableObject(
    {
      image: {
        type: 'string',
        minLength: 1,
        maxLength: TES_LIMITS.maxImageLength,
        description: 'One word for `docker run`: no whitespace, not starting with `-`.',
        pattern: '^(?!-)[^\\s\\u0000-\\u001f\\u007f]+$',
      },
      command: { type: 'array', items: text, minItems: 1, maxItems: TES_LIMITS.maxCommandArgs },
      workdir: containerPath(true),
      stdin: containerPath(false),
      stdout: containerPath(false),
      stderr: containerPath(false),
      env: {
        ...stringMap(orNull(text)),
        propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
        maxProperties: TES_LIMITS.maxEnvEntries,
      },
      ignore_error: { type: 'boolean' },
    },
    { required: ['image', 'command'] },
  );
  const task = nullableObject(
    {
      name,
      description: { type: 'string', description: `At most ${TES_LIMITS.maxDescriptionBytes} UTF-8 bytes.` },
      inputs: { type: 'array', items: input, maxItems: TES_LIMITS.maxInputs },
      outputs: { type: 'array', items: output, maxItems: TES_LIMITS.maxOutputs },
      resources,
      executors: {
        type: 'array',
        items: executor,
        minItems: 1,
        maxItems: TES_LIMITS.maxExecutors,
        description:
          'Run one after another on one node; the first that fails stops the rest unless `ignore_error`.',
      },
      volumes: {
        type: 'array',
        items: containerPath(false),
        maxItems: TES_LIMITS.maxVolumes,
        uniqueItems: true,
        description: 'Empty folders mounted in every executor; none may be the path of an input.',
      },
      tags: {
        ...stringMap(orNull({ type: 'string', maxLength: TES_LIMITS.maxTagValueLength })),
        propertyNames: { minLength: 1, maxLength: TES_LIMITS.maxTagKeyLength },
        maxProperties: TES_LIMITS.maxTags,
      },
    },
    { required: ['executors'] },
  );
  // The spec's read-only fields, which clients echo back from a task they read: any value is ignored.
  const readOnly = (what: string) => ({ readOnly: true, description: `${what}; ignored when sent.` });
  return {
    ...task,
    description: `A TES 1.1 \`tesTask\`. Any field TES 1.1 does not name is refused. Rules JSON Schema cannot say are answered with 400 naming the field: paths unique among inputs and volumes, \`path_prefix\` with wildcards, at most ${TES_LIMITS.maxTotalContentBytes} bytes of \`content\` in all, a VM size that fits the task.`,
    properties: {
      ...(task.properties as Record<string, object>),
      id: readOnly('Set by the server'),
      state: readOnly('Set by the server'),
      logs: readOnly('Set by the server'),
      creation_time: readOnly('Set by the server'),
    },
  };
}

/** A task in the view asked for: the view's fields only, each object closed (tes-views.ts). */
function viewSchemas(): Record<string, object> {
  const closed = (properties: Record<string, object>, required: string[], description?: string) => ({
    type: 'object',
    ...(description ? { description } : {}),
    properties,
    required,
    additionalProperties: false,
  });
  const executorLog = (full: boolean) =>
    closed(
      {
        start_time: dateTime,
        end_time: dateTime,
        ...(full && {
          stdout: { ...text, description: 'A tail of the executor’s stdout (FULL only).' },
          stderr: { ...text, description: 'A tail of the executor’s stderr (FULL only).' },
        }),
        exit_code: { type: 'integer' },
      },
      ['exit_code'],
    );
  const taskLog = (full: boolean) =>
    closed(
      {
        logs: { type: 'array', items: ref(full ? 'TesExecutorLogFull' : 'TesExecutorLogBasic') },
        metadata: {
          ...stringMap(),
          description: '`slotwise_wait_code` names why a task that has not started waits.',
        },
        start_time: dateTime,
        end_time: dateTime,
        outputs: { type: 'array', items: ref('TesOutputFileLog') },
        ...(full && {
          system_logs: {
            type: 'array',
            items: text,
            description: 'Lines about the task: warnings at creation, why it failed or waits (FULL only).',
          },
        }),
      },
      ['logs', 'outputs'],
      'One attempt of the task (one per retry); while none has started, one log may carry why it waits.',
    );
  const input = (full: boolean) =>
    closed(
      {
        name: text,
        description: text,
        url: { ...text, description: 'Any SAS query is redacted.' },
        path: text,
        type: fileType,
        ...(full && { content: { ...text, description: 'FULL only.' } }),
        streamable: { type: 'boolean' },
      },
      ['path', 'type'],
    );
  const task = (full: boolean) =>
    closed(
      {
        id: text,
        state: ref('TesState'),
        name: text,
        description: text,
        inputs: { type: 'array', items: ref(full ? 'TesInputFull' : 'TesInputBasic') },
        outputs: { type: 'array', items: ref('TesOutput') },
        resources: ref('TesResources'),
        executors: { type: 'array', items: ref('TesExecutor') },
        volumes: { type: 'array', items: text },
        tags: stringMap(),
        logs: { type: 'array', items: ref(full ? 'TesTaskLogFull' : 'TesTaskLogBasic') },
        creation_time: dateTime,
      },
      ['id', 'state', 'inputs', 'outputs', 'executors', 'volumes', 'tags', 'logs', 'creation_time'],
      full
        ? 'A TES task, view FULL: every field.'
        : 'A TES task, view BASIC: every field but `tesInput.content`, `tesExecutorLog.stdout`/`stderr` and `tesTaskLog.system_logs`.',
    );
  return {
    TesState: { type: 'string', enum: [...TES_STATES] },
    TesTaskMinimal: closed(
      { id: text, state: ref('TesState') },
      ['id', 'state'],
      'A TES task, view MINIMAL.',
    ),
    TesTaskBasic: task(false),
    TesTaskFull: task(true),
    TesInputBasic: input(false),
    TesInputFull: input(true),
    TesOutput: closed(
      {
        name: text,
        description: text,
        url: { ...text, description: 'Any SAS query is redacted.' },
        path: text,
        path_prefix: text,
        type: fileType,
      },
      ['url', 'path', 'type'],
    ),
    TesResources: closed(
      {
        cpu_cores: { type: 'integer', minimum: 1 },
        preemptible: { type: 'boolean' },
        ram_gb: { type: 'number' },
        disk_gb: { type: 'number' },
        zones: { type: 'array', items: text },
        backend_parameters: {
          type: 'object',
          description: 'The supported keys only, lower-cased.',
          propertyNames: { enum: [...SUPPORTED_BACKEND_PARAMETERS] },
          additionalProperties: text,
        },
        backend_parameters_strict: { type: 'boolean' },
      },
      [],
    ),
    TesExecutor: closed(
      {
        image: text,
        command: { type: 'array', items: text },
        workdir: text,
        stdin: text,
        stdout: text,
        stderr: text,
        env: stringMap(),
        ignore_error: { type: 'boolean' },
      },
      ['image', 'command'],
    ),
    TesExecutorLogBasic: executorLog(false),
    TesExecutorLogFull: executorLog(true),
    TesTaskLogBasic: taskLog(false),
    TesTaskLogFull: taskLog(true),
    TesOutputFileLog: closed(
      {
        url: text,
        path: text,
        size_bytes: {
          type: 'string',
          pattern: '^[0-9]+$',
          description: 'int64 as a string, as the spec codes it.',
        },
      },
      ['url', 'path', 'size_bytes'],
    ),
  };
}

export function tesSchemas(): Record<string, object> {
  const anyView = { anyOf: [ref('TesTaskMinimal'), ref('TesTaskBasic'), ref('TesTaskFull')] };
  return {
    TesTaskRequest: taskRequest(),
    ...viewSchemas(),
    TesTaskInView: { ...anyView, description: 'A TES task in the view asked for (MINIMAL by default).' },
    TesCreateTaskResponse: {
      type: 'object',
      properties: { id: text },
      required: ['id'],
      additionalProperties: false,
    },
    TesListTasksResponse: {
      type: 'object',
      properties: {
        tasks: { type: 'array', items: ref('TesTaskInView') },
        next_page_token: {
          ...text,
          description: 'Pass as `page_token` for the next page; absent on the last.',
        },
      },
      required: ['tasks'],
      additionalProperties: false,
    },
    TesCancelTaskResponse: { type: 'object', properties: {}, additionalProperties: false },
    TesServiceInfo: {
      type: 'object',
      description:
        'GA4GH service-info 1.0.0 `Service`, with TES’s `storage` and `tesResources_backend_parameters` (spec `tesServiceInfo`).',
      properties: {
        id: text,
        name: text,
        type: {
          type: 'object',
          properties: { group: { const: 'org.ga4gh' }, artifact: { const: 'tes' }, version: text },
          required: ['group', 'artifact', 'version'],
          additionalProperties: false,
        },
        description: text,
        organization: {
          type: 'object',
          properties: { name: text, url: text },
          required: ['name', 'url'],
          additionalProperties: false,
        },
        contactUrl: text,
        documentationUrl: text,
        createdAt: dateTime,
        updatedAt: dateTime,
        environment: text,
        version: text,
        storage: { type: 'array', items: text },
        tesResources_backend_parameters: { type: 'array', items: text },
      },
      required: [
        'id',
        'name',
        'type',
        'organization',
        'version',
        'storage',
        'tesResources_backend_parameters',
      ],
      additionalProperties: false,
    },
  };
}

/** A name in any case (the API reads `view` case-insensitively: tes-views.ts `parseTesView`). */
const anyCase = (word: string) => [...word].map((c) => `[${c.toUpperCase()}${c.toLowerCase()}]`).join('');

const viewParam = {
  name: 'view',
  in: 'query',
  description: 'MINIMAL (the default: `id` and `state`), BASIC or FULL, in any case; empty means MINIMAL.',
  schema: { type: 'string', pattern: `^(?:${TES_VIEWS.map(anyCase).join('|')})?$`, default: 'MINIMAL' },
};

const retryAfter = (required: boolean) => ({
  'Retry-After': {
    description: 'Seconds to wait before asking again.',
    required,
    schema: { type: 'integer', minimum: 1 },
  },
});

/** TES ids are uuids; anything unlike an id is simply not found (shared/usecases/tes-tasks.ts). */
const tesId = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' };

export function tesPaths(): Record<string, object> {
  const serviceInfo = (summary: string) => ({
    get: {
      summary,
      security: [],
      responses: {
        200: json('The service-info (cached for 5 minutes)', ref('TesServiceInfo')),
      },
    },
  });
  return {
    '/ga4gh/tes/v1/service-info': serviceInfo('TES GetServiceInfo (public)'),
    '/ga4gh/tes/service-info': serviceInfo(
      'TES GetServiceInfo without `v1`, where Nextflow’s TES plugin looks (public)',
    ),
    '/ga4gh/tes/v1/tasks': {
      post: {
        summary: 'TES CreateTask: validate and queue a task (it runs as one Batch task in its lane)',
        security: tesSecurity,
        requestBody: {
          required: true,
          description: `At most ${TES_BODY_LIMIT}.`,
          content: { 'application/json': { schema: ref('TesTaskRequest') } },
        },
        responses: {
          200: json(
            'Created; the task is QUEUED (or SYSTEM_ERROR at once for a URL Slotwise cannot serve)',
            ref('TesCreateTaskResponse'),
          ),
          400: problem('Invalid task (every invalid field named in `errors`) or malformed JSON'),
          401: unauthorized,
          409: problem(
            'The tenant has as many unfinished TES tasks as `maxTesTasksInFlight` allows (`limit`)',
            retryAfter(true),
          ),
          413: {
            description: `The body is over ${TES_BODY_LIMIT}: problem details (application/problem+json) from the API, or, over the host's FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, the Functions host's 413 without a body`,
          },
          415: problem('The body is not application/json'),
          429: problem('Over the TES submission rate (`limit`: tesTasksPerSecond)', retryAfter(true)),
        },
      },
      get: {
        summary: "TES ListTasks: the tenant's tasks, newest first",
        security: tesSecurity,
        parameters: [
          { name: 'name_prefix', in: 'query', schema: text },
          {
            name: 'state',
            in: 'query',
            description: 'Only tasks in this state; empty means any.',
            schema: { enum: [...TES_STATES, ''] },
          },
          {
            name: 'tag_key',
            in: 'query',
            description:
              'Tag names the task must have, paired by position with `tag_value` (also spelled `tag_key[]`).',
            style: 'form',
            explode: true,
            schema: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: TES_LIMITS.maxTags },
          },
          {
            name: 'tag_value',
            in: 'query',
            description:
              'The value each `tag_key` must have, by position; empty or missing matches any value (also spelled `tag_value[]`). No more values than keys.',
            style: 'form',
            explode: true,
            schema: { type: 'array', items: text },
          },
          {
            name: 'page_size',
            in: 'query',
            schema: {
              type: 'integer',
              minimum: 1,
              maximum: TES_MAX_PAGE_SIZE,
              default: TES_DEFAULT_PAGE_SIZE,
            },
          },
          {
            name: 'page_token',
            in: 'query',
            description: 'The opaque `next_page_token` of a page; any other value is refused with 400.',
            schema: text,
          },
          viewParam,
        ],
        responses: {
          200: json('A page of tasks in the view asked for', ref('TesListTasksResponse')),
          400: problem('Invalid query (each parameter named in `errors`)'),
          401: unauthorized,
        },
      },
    },
    '/ga4gh/tes/v1/tasks/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: tesId }],
      get: {
        summary: 'TES GetTask, in the view asked for',
        security: tesSecurity,
        parameters: [viewParam],
        responses: {
          200: json('The task', ref('TesTaskInView')),
          400: problem('Invalid `view`'),
          401: unauthorized,
          404: problem('No such task (another tenant’s task is not found either)'),
        },
      },
    },
    '/ga4gh/tes/v1/tasks/{idAction}': {
      parameters: [
        {
          name: 'idAction',
          in: 'path',
          required: true,
          description:
            'The task id followed by `:cancel` (the spec’s `/tasks/{id}:cancel`); any other action is not found.',
          schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}:cancel$' },
        },
      ],
      post: {
        summary:
          'TES CancelTask: CANCELING until Batch has stopped the task, then CANCELED (at once when not in Batch yet); an ended task is left as it is',
        security: tesSecurity,
        responses: {
          200: json('Cancel asked for', ref('TesCancelTaskResponse')),
          401: unauthorized,
          404: problem('No such task, or not a `:cancel` action'),
        },
      },
    },
  };
}

/** The security scheme beside the Bearer `apiKey`: HTTP Basic as TES clients send it. */
export const basicAuthScheme = {
  type: 'http',
  scheme: 'basic',
  description: 'The GA4GH TES routes: the tenant id as user, its API key as password.',
};
