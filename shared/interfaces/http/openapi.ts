/**
 * The OpenAPI 3.1 description served at GET /api/openapi.json. The job request schema is generated
 * from the same zod schema that validates requests, so the document cannot drift from the code; every
 * answer of every operation is listed with its status, media type, headers and body, and the API fuzz
 * (test/fuzz/) fails on any answer the document does not describe.
 *
 * The API's own objects (a job, a list item, a page, the retry answer, the dry run) are closed with
 * `unevaluatedProperties: false`: a field added to an answer must be added here too. Nested details
 * (the plan, Batch bodies, the health report's parts) are described but left open.
 */
import { z } from 'zod';
import { jobStates } from '../../model/job.js';
import { jobRequestSchema, sweepSchema, taskSpecSchema } from '../../model/request-schema.js';
import { outputPaths, outputSchemas } from './openapi-outputs.js';
import { count, dateTime, int, jobId, json, problem, ref, text, unauthorized } from './openapi-parts.js';
import { taskPaths, taskSchemas } from './openapi-tasks.js';
import { basicAuthScheme, tesPaths, tesSchemas } from './openapi-tes.js';
import { MAX_JOB_BODY_BYTES } from './read-json.js';

let cached: object | undefined;

export function openApiDocument(): object {
  cached ??= build();
  return cached;
}

/**
 * The request's refinements that JSON Schema can say, added to what zod generates (a `.refine` is a
 * function, which zod cannot translate). Rules across fields that JSON Schema cannot say (start <=
 * end, from <= to, the task ids `dependsOn` names) stay in the 400 answer only.
 */
const refinements = new Map<unknown, Record<string, unknown>>([
  [
    jobRequestSchema,
    { anyOf: [{ required: ['tasks'], properties: { tasks: { minItems: 1 } } }, { required: ['sweep'] }] },
  ],
  [taskSpecSchema, { not: { required: ['requiredSlots', 'resources'] } }],
  [sweepSchema.shape.parameters, { minProperties: 1, maxProperties: 8 }],
  [taskSpecSchema.shape.environment.unwrap(), { maxProperties: 100 }],
  [jobRequestSchema.shape.metadata.unwrap(), { maxProperties: 20 }],
]);

function schemas(): Record<string, object> {
  const jobRequest = z.toJSONSchema(jobRequestSchema, {
    target: 'draft-2020-12',
    unrepresentable: 'any',
    io: 'input',
    override: ({ zodSchema, jsonSchema }) => {
      Object.assign(jsonSchema, refinements.get(zodSchema));
      // zod checks ISO 8601 durations with the pattern it emits too; the `duration` format (RFC 3339)
      // is stricter (no days straight after years: P1Y2D), so it would describe another rule.
      if (jsonSchema.format === 'duration' && jsonSchema.pattern) delete jsonSchema.format;
    },
  }) as Record<string, unknown>;
  delete jobRequest.$schema;
  const fieldError = {
    type: 'object',
    description: 'One invalid field: its dotted path, its RFC 6901 pointer, and why.',
    properties: { field: text, pointer: text, message: text },
    required: ['field', 'pointer', 'message'],
    additionalProperties: false,
  };
  const taskCounts = {
    type: 'object',
    properties: { active: count, running: count, succeeded: count, failed: count },
    required: ['active', 'running', 'succeeded', 'failed'],
    additionalProperties: false,
  };
  const plan = {
    type: 'object',
    description: 'How the tasks were packed onto nodes (see docs/how-it-works.md).',
    properties: {
      nodes: count,
      lowerBound: count,
      lpBound: count,
      provenOptimal: { type: 'boolean' },
      taskSlotsPerNode: count,
      vmSize: text,
      poolNodes: count,
      waves: count,
      tasks: count,
      totalSlots: count,
      chunks: count,
      applicationPackages: {
        type: 'object',
        properties: { placement: { enum: ['pool', 'task', 'none'] }, reason: text },
        required: ['placement', 'reason'],
      },
      containerImages: { type: 'array', items: text },
      nodeFillType: { const: 'pack' },
      slotHistogram: {
        type: 'array',
        description: '`[slots, tasks]` pairs, ascending by slots.',
        items: { type: 'array', prefixItems: [count, count], minItems: 2, maxItems: 2 },
      },
      maxNodes: count,
      sharedData: {
        type: 'object',
        description:
          "Present when the job preparation downloads resource files: their count, the copies the plan implies (one per node that runs the job's tasks, at most the pool's nodes) and the copies had every task listed them (one per task).",
        properties: { resourceFiles: count, preparationCopies: count, perTaskCopies: count },
        required: ['resourceFiles', 'preparationCopies', 'perTaskCopies'],
        additionalProperties: false,
      },
    },
    required: [
      'nodes',
      'lowerBound',
      'taskSlotsPerNode',
      'vmSize',
      'poolNodes',
      'waves',
      'tasks',
      'totalSlots',
      'chunks',
      'applicationPackages',
      'containerImages',
      'nodeFillType',
    ],
  };
  const batchRefs = {
    type: 'object',
    properties: {
      account: { ...text, description: 'The Batch account the job runs in (docs/accounts.md).' },
      accountReason: { ...text, description: 'Why the job went to that account.' },
      poolId: text,
      jobId: text,
      managedPool: { type: 'boolean' },
      jobPreparation: {
        type: 'object',
        description: 'Present when the Batch job has a job preparation task.',
        properties: { waitForSuccess: { type: 'boolean' } },
        required: ['waitForSuccess'],
        additionalProperties: false,
      },
    },
    required: ['poolId', 'jobId', 'managedPool'],
  };
  const preparation = {
    type: 'object',
    description:
      "The job preparation task per node that ran it (jobs with a jobPreparation): counts over every node, and at most 100 nodes, failed first. A failed preparation keeps the job's tasks off that node; see docs/api.md.",
    properties: {
      succeeded: count,
      failed: count,
      running: count,
      nodes: {
        type: 'array',
        maxItems: 100,
        items: {
          type: 'object',
          properties: {
            nodeId: text,
            state: { enum: ['running', 'completed'] },
            result: { enum: ['success', 'failure'] },
            exitCode: int,
            retryCount: count,
            failure: {
              type: 'object',
              properties: { category: text, code: text, message: text },
              required: ['category', 'code', 'message'],
              additionalProperties: false,
            },
          },
          required: ['nodeId', 'state'],
          additionalProperties: false,
        },
      },
    },
    required: ['succeeded', 'failed', 'running', 'nodes'],
    additionalProperties: false,
  };
  const poolChoice = {
    oneOf: [
      { type: 'object', properties: { id: text }, required: ['id'], additionalProperties: false },
      { type: 'object', properties: { vmSize: text }, required: ['vmSize'], additionalProperties: false },
    ],
  };
  const submission = {
    type: 'object',
    properties: { chunksTotal: count, chunksAdded: count, tasksAdded: count },
    required: ['chunksTotal', 'chunksAdded', 'tasksAdded'],
    additionalProperties: false,
  };
  const waiting = {
    type: 'object',
    description:
      'Why the job waits: its pool cannot allocate nodes (Batch resize error code; the account core quota codes wait without a deadline), the account or the tenant is full (ManagedPoolLimitReached, PoolQuotaReached, ActiveJobAndScheduleQuotaReached), or its pool waits for nodes under the tenant node limit (TenantNodeLimit, message "tenant node limit: ..." with the numbers), or the job preparation failed on the nodes that could run its tasks (JobPreparationFailed, node, exit code and message). failAt is present only when the job fails at that time unless the wait ends.',
    properties: { code: text, message: text, since: dateTime, failAt: dateTime },
    required: ['code', 'message', 'since'],
  };
  const failure = {
    type: 'object',
    properties: {
      code: text,
      message: text,
      failedTasks: {
        type: 'array',
        items: {
          type: 'object',
          properties: { taskId: text, exitCode: int, failureCode: text, failureMessage: text },
          required: ['taskId'],
        },
      },
    },
    required: ['code', 'message'],
  };
  const links = {
    type: 'object',
    properties: { self: text },
    required: ['self'],
    additionalProperties: false,
  };
  // What the full view and a list item both say of a job.
  const jobIdentity = {
    id: jobId,
    state: ref('JobState'),
    displayName: text,
    createdAt: dateTime,
    updatedAt: dateTime,
    endedAt: dateTime,
    pool: poolChoice,
  };
  // The fields of the full view (GET /api/jobs/{id}, POST and DELETE answers), open so the retry
  // answer can add `retry`; `Job` closes them.
  const jobFields = {
    type: 'object',
    properties: {
      ...jobIdentity,
      tasks: { ...count, description: 'Tasks in the job (a sweep counted expanded once planned).' },
      plan,
      batch: batchRefs,
      taskCounts: ref('TaskCounts'),
      submission,
      errors: { type: 'array', items: ref('FieldError'), description: 'Why a queued request was rejected.' },
      failure,
      waiting,
      preparation,
      preemptions: {
        ...count,
        description:
          'Times a task of the job was put back in the queue because its low-priority (Spot) node was preempted (managed pools; absent before the first). See docs/api.md.',
      },
      history: {
        type: 'array',
        description:
          "State changes, and notes (with `note`) of what was done to or seen on the job's pool, such as a bad node removed; a note's `state` is the state the job was in.",
        items: {
          type: 'object',
          properties: {
            state: ref('JobState'),
            at: dateTime,
            note: {
              type: 'object',
              properties: {
                code: { enum: ['NodeRemoved', 'NodeUnhealthy'] },
                message: text,
                poolId: text,
                nodeId: text,
              },
              required: ['code', 'message'],
              additionalProperties: false,
            },
          },
          required: ['state', 'at'],
          additionalProperties: false,
        },
      },
      efficiency: {
        type: 'object',
        description: 'Measured once Batch ended the job: node-seconds, slot-seconds and their ratio.',
        properties: {
          nodeSeconds: { type: 'number' },
          slotSeconds: { type: 'number' },
          taskSlotsPerNode: count,
          ratio: { type: ['number', 'null'] },
          tasksMeasured: count,
          nodes: count,
        },
        required: ['nodeSeconds', 'slotSeconds', 'taskSlotsPerNode', 'ratio'],
      },
      toleratedFailures: {
        type: 'object',
        description: 'Failed tasks whose exit conditions say `jobAction: none`.',
        properties: {
          count,
          tasks: {
            type: 'array',
            items: { type: 'object', properties: { taskId: text, exitCode: int }, required: ['taskId'] },
          },
        },
        required: ['count', 'tasks'],
      },
      callback: {
        type: 'object',
        properties: {
          url: text,
          taskEvents: {
            type: 'array',
            description: 'The task events the callback asked for (see docs/webhooks.md).',
            items: { enum: ['failed', 'completed'] },
          },
        },
        required: ['url'],
        additionalProperties: false,
      },
      deliveries: {
        type: 'array',
        description: "Webhook deliveries of the job's events.",
        items: {
          type: 'object',
          properties: {
            eventId: text,
            type: text,
            status: { enum: ['pending', 'delivered', 'failed', 'gone', 'none'] },
            attempts: count,
            lastStatus: int,
            lastError: text,
            nextAttemptAt: dateTime,
            deliveredAt: dateTime,
          },
          required: ['eventId', 'type', 'status', 'attempts'],
          additionalProperties: false,
        },
      },
      links,
    },
    required: ['id', 'state', 'createdAt', 'updatedAt', 'taskCounts', 'history', 'deliveries', 'links'],
  };
  const listItem = {
    type: 'object',
    description: 'A job in a list: state, progress, pool and times; the full view is at `links.self`.',
    properties: {
      ...jobIdentity,
      tasks: count,
      batch: batchRefs,
      taskCounts: ref('TaskCounts'),
      submission,
      failure: {
        type: 'object',
        properties: { code: text, message: text },
        required: ['code', 'message'],
        additionalProperties: false,
      },
      waiting,
      links,
    },
    required: ['id', 'state', 'createdAt', 'updatedAt', 'taskCounts', 'links'],
    unevaluatedProperties: false,
  };
  return {
    JobRequest: jobRequest,
    JobState: { type: 'string', enum: [...jobStates] },
    TaskCounts: taskCounts,
    FieldError: fieldError,
    JobFields: jobFields,
    Job: { $ref: '#/components/schemas/JobFields', unevaluatedProperties: false },
    RetryAnswer: {
      $ref: '#/components/schemas/JobFields',
      properties: {
        retry: {
          type: 'object',
          properties: {
            status: { enum: ['queued', 'working', 'done', 'nothing'] },
            requestId: text,
            attempt: count,
            requestedAt: dateTime,
          },
          required: ['status', 'requestId', 'attempt', 'requestedAt'],
          additionalProperties: false,
        },
      },
      required: ['retry'],
      unevaluatedProperties: false,
    },
    JobListItem: listItem,
    JobPage: {
      type: 'object',
      properties: {
        value: { type: 'array', items: ref('JobListItem') },
        nextLink: { ...text, description: 'The next page, as a path (`/api/jobs?…`); absent on the last.' },
      },
      required: ['value'],
      unevaluatedProperties: false,
    },
    ...taskSchemas(),
    ...outputSchemas(),
    ...tesSchemas(),
    DryRun: {
      type: 'object',
      description: 'What Slotwise would do: the plan, the pool, the Batch job and the estimate.',
      properties: {
        dryRun: { const: true },
        plan: {
          ...plan,
          properties: { ...plan.properties, poolId: text },
          required: [...plan.required, 'poolId'],
        },
        pool: { type: 'object', description: 'The pool body to create, or the existing pool as read.' },
        batchJob: { type: 'object', description: 'The Batch job body.' },
        account: {
          type: 'object',
          description: 'The Batch account the job would go to, why, and how each account looked.',
          properties: {
            name: text,
            region: { type: 'string' },
            reason: text,
            considered: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  account: text,
                  region: { type: 'string' },
                  headroomCores: { type: 'integer', minimum: 0 },
                  eligible: { type: 'boolean' },
                  note: text,
                },
                required: ['account', 'region', 'eligible', 'note'],
                additionalProperties: false,
              },
            },
          },
          required: ['name', 'region', 'reason', 'considered'],
          additionalProperties: false,
        },
        estimate: {
          type: 'object',
          description:
            'Node-hours and cost when every task has an expectedDuration; the price per node-hour.',
          properties: {
            vmSize: text,
            nodes: count,
            taskSlotsPerNode: count,
            slotHours: { type: 'number' },
            busyNodeHours: { type: 'number' },
            makespanHours: { type: 'number' },
            nodeHours: { type: 'number' },
            tasksWithoutDuration: count,
            price: { type: 'object' },
            cost: { type: 'number' },
            assumptions: text,
          },
          required: ['vmSize', 'nodes', 'taskSlotsPerNode', 'tasksWithoutDuration', 'assumptions'],
        },
      },
      required: ['dryRun', 'plan', 'pool', 'batchJob', 'account', 'estimate'],
      unevaluatedProperties: false,
    },
    CallbackReport: {
      type: 'object',
      description: 'What a task reports; a hint only (Batch stays the truth). An empty body is `{}`.',
      properties: {
        taskId: jobId,
        status: { enum: ['completed', 'failed', 'progress'] },
        exitCode: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
        message: { type: 'string', maxLength: 1000 },
      },
      additionalProperties: false,
    },
    Health: {
      type: 'object',
      description:
        'Without a key only `status`; with a tenant API key also each dependency, the local-only settings refused in Azure, and the pools Batch cannot allocate.',
      properties: {
        status: { enum: ['up', 'down'] },
        checkedAt: dateTime,
        dependencies: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: text,
              status: { enum: ['up', 'down'] },
              latencyMs: { type: 'number' },
              error: text,
            },
            required: ['name', 'status'],
          },
        },
        localSwitches: { type: 'object' },
        pools: { type: 'object' },
        accounts: {
          type: 'array',
          description:
            'Each Batch account: `state` healthy, degraded, unhealthy or draining, its quotas and the cores Slotwise holds there.',
          items: {
            type: 'object',
            properties: {
              name: text,
              region: { type: 'string' },
              primary: { type: 'boolean' },
              state: { enum: ['healthy', 'degraded', 'unhealthy', 'draining'] },
              health: { type: 'object' },
              drain: { type: 'object' },
              quotas: { type: 'object' },
              usage: { type: 'object' },
            },
            required: ['name', 'region', 'primary', 'state', 'health'],
          },
        },
      },
      required: ['status'],
    },
    Problem: {
      type: 'object',
      description:
        'RFC 9457 problem details (`application/problem+json`). `errors` names every invalid field; `limit` names the tenant limit met.',
      properties: {
        type: { type: 'string', format: 'uri' },
        title: text,
        status: { type: 'integer', minimum: 400, maximum: 599 },
        detail: text,
        instance: text,
        errors: { type: 'array', items: ref('FieldError') },
        limit: text,
        jobId: text,
        state: ref('JobState'),
      },
      required: ['type', 'title', 'status'],
    },
  };
}

const retryAfter = (required: boolean) => ({
  'Retry-After': {
    description: 'Seconds to wait before asking again.',
    required,
    schema: { type: 'integer', minimum: 1 },
  },
});

/** Valid requests (test/jobs/openapi.test.ts checks that the API accepts them as they are). */
export const jobRequestExamples = {
  tasks: {
    summary: 'Two tasks on a managed pool, the second after the first',
    value: {
      id: 'hello-1',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8, maxNodes: 4 },
      tasks: [
        { id: 'prep', commandLine: '/bin/sh -c "sleep 5"', requiredSlots: 2 },
        {
          id: 'render',
          commandLine: '/bin/sh -c "sleep 20"',
          requiredSlots: 4,
          dependsOn: { taskIds: ['prep'] },
        },
      ],
    },
  },
  sweep: {
    summary: 'A parametric sweep: 100 tasks from one template',
    value: {
      id: 'frames-1',
      displayName: 'Render frames 1-100',
      pool: { vmSize: 'standard_d2s_v3', maxNodes: 10 },
      sweep: {
        idTemplate: 'frame-{n}',
        commandLine: '/bin/sh -c "render --frame {n}"',
        parameters: { n: { from: 1, to: 100, pad: 3 } },
        expectedDuration: 'PT2M',
      },
    },
  },
};

const location = {
  Location: { description: "The job's URL (`/api/jobs/{id}`).", required: true, schema: text },
};

/**
 * No media type: over the API's own limit the answer is problem details, but over the host's
 * FUNCTIONS_REQUEST_BODY_SIZE_LIMIT the Functions host refuses the body before the API sees it, with
 * a 413 of its own and no body.
 */
const tooLarge = (limit: string) => ({
  description: `The body is over ${limit}: problem details (application/problem+json) from the API, or, over the host's FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, the Functions host's 413 without a body`,
});

function build(): object {
  const idParam = { name: 'id', in: 'path', required: true, schema: jobId };
  return {
    openapi: '3.1.0',
    info: { title: 'Slotwise', version: '0.1.0', description: 'A slot-aware front door for Azure Batch.' },
    servers: [{ url: '/api' }],
    security: [{ apiKey: [] }],
    paths: {
      '/jobs': {
        post: {
          summary: 'Submit a job (the id is the idempotency key), or plan it with dryRun=true',
          parameters: [
            {
              name: 'dryRun',
              in: 'query',
              description:
                'true: validate and plan only (nothing stored or sent); 200 with { dryRun, plan, pool, batchJob, estimate }. `1` and an empty value mean true, `0` false; anything else is a 400.',
              schema: { anyOf: [{ type: 'boolean' }, { enum: ['1', '0', ''] }], default: false },
            },
          ],
          requestBody: {
            required: true,
            description: `At most ${MAX_JOB_BODY_BYTES} bytes.`,
            content: { 'application/json': { schema: ref('JobRequest'), examples: jobRequestExamples } },
          },
          responses: {
            202: json('Accepted; Location names the job', ref('Job'), location),
            200: json(
              'A replay of the job with the same id and body, as stored; with dryRun=true, the plan',
              {
                oneOf: [ref('Job'), ref('DryRun')],
              },
            ),
            400: problem(
              'Invalid request: every invalid field (including rules across fields and the tenant’s grants), malformed JSON, or an invalid query',
            ),
            401: unauthorized,
            409: problem(
              'The id is taken by a different request (`jobId`), or a quota is full now (`limit`, with Retry-After)',
              retryAfter(false),
            ),
            413: tooLarge(`${MAX_JOB_BODY_BYTES} bytes`),
            415: problem('The body is not application/json'),
            422: problem('The job can never fit the tenant limit named in `limit`'),
            429: problem('Over the submission rate (`limit`)', retryAfter(true)),
          },
        },
        get: {
          summary: "List the tenant's jobs, newest first",
          parameters: [
            { name: 'state', in: 'query', schema: ref('JobState') },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            },
            {
              name: 'continuation',
              in: 'query',
              description: "The opaque token of a page's `nextLink`; any other value is refused with 400.",
              schema: text,
            },
          ],
          responses: {
            200: json('A page of jobs; follow nextLink for more', ref('JobPage')),
            400: problem('Invalid query (each parameter named in `errors`)'),
            401: unauthorized,
          },
        },
      },
      '/jobs/{id}': {
        parameters: [idParam],
        get: {
          summary: 'Get a job',
          responses: {
            200: json('The job', ref('Job')),
            401: unauthorized,
            404: problem('No such job (another tenant’s job is not found either)'),
          },
        },
        delete: {
          summary: 'Cancel a job (idempotent: cancelling it again answers the cancelled job)',
          responses: {
            200: json('Cancelled', ref('Job')),
            401: unauthorized,
            404: problem('No such job'),
            409: problem('The job already ended (`state`)'),
          },
        },
      },
      '/jobs/{id}/retry': {
        parameters: [idParam],
        post: {
          summary: 'Retry the failed tasks of a job, in the background',
          responses: {
            202: json('The retry is queued', ref('RetryAnswer')),
            401: unauthorized,
            404: problem('No such job'),
            409: problem(
              'Nothing to retry (`state`), the job’s retries are used up, or a quota is full now (`limit`, with Retry-After)',
              retryAfter(false),
            ),
            429: problem('Over the submission rate (`limit`)', retryAfter(true)),
          },
        },
      },
      '/jobs/{id}/callbacks': {
        parameters: [idParam],
        post: {
          summary:
            "A task reports back with its job's callback token; asks for a reconcile (at most one per job per 5 s)",
          security: [{ taskToken: [] }],
          requestBody: {
            required: false,
            description: 'At most 16 KiB; may be empty.',
            content: { 'application/json': { schema: ref('CallbackReport') } },
          },
          responses: {
            202: json(
              'Reconcile asked for: `queued` now, `scheduled` for the end of the 5 s window, `coalesced` ' +
                'into one already pending, or `notNeeded` (the job is not submitted or running)',
              {
                type: 'object',
                properties: { jobId, reconcile: { enum: ['queued', 'scheduled', 'coalesced', 'notNeeded'] } },
                required: ['jobId', 'reconcile'],
                additionalProperties: false,
              },
            ),
            400: problem('Invalid report (each field named in `errors`) or malformed JSON'),
            401: problem('Missing, malformed, forged or expired token, or one for another job', {
              'WWW-Authenticate': { required: true, schema: text },
            }),
            404: problem('The token is valid but the job no longer exists'),
            413: tooLarge('16 KiB'),
            415: problem('The body is not application/json'),
          },
        },
      },
      ...taskPaths(idParam),
      ...outputPaths(idParam),
      ...tesPaths(),
      '/health': {
        get: {
          summary: 'Health: only up/down without a key; each dependency with a tenant API key',
          security: [{}, { apiKey: [] }],
          responses: {
            200: json('All up', ref('Health')),
            401: unauthorized,
            503: json('Something is down', ref('Health')),
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          security: [],
          responses: {
            200: json('OpenAPI 3.1', {
              type: 'object',
              properties: { openapi: { const: '3.1.0' } },
              required: ['openapi', 'info', 'paths'],
            }),
          },
        },
      },
      '/ui': {
        get: {
          summary:
            'The dashboard (HTML); it calls this API with the key given in the page or its URL fragment',
          security: [],
          responses: { 200: { description: 'The page', content: { 'text/html': { schema: text } } } },
        },
      },
      '/ui/{asset}': {
        parameters: [{ name: 'asset', in: 'path', required: true, schema: { enum: ['app.js', 'app.css'] } }],
        get: {
          summary: "The dashboard's script and style",
          security: [],
          parameters: [{ name: 'If-None-Match', in: 'header', required: false, schema: text }],
          responses: {
            200: {
              description: 'The asset',
              headers: { ETag: { required: true, schema: text } },
              content: { 'text/javascript': { schema: text }, 'text/css': { schema: text } },
            },
            304: { description: 'Unchanged since the ETag given in If-None-Match' },
            404: { description: 'No such asset', content: { 'text/plain': { schema: text } } },
            503: {
              description: 'The dashboard is not built (`npm run build`)',
              content: { 'text/plain': { schema: text } },
            },
          },
        },
      },
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "The tenant's API key" },
        basicAuth: basicAuthScheme,
        taskToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'SLOTWISE_CALLBACK_TOKEN from the task environment',
        },
      },
      schemas: schemas(),
    },
  };
}
