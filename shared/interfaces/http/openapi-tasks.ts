/**
 * The OpenAPI description of a job's tasks (GET /api/jobs/{id}/tasks, …/tasks/{taskId} and
 * …/tasks/{taskId}/files/{path}), spread into the document by openapi.ts. Closed like the API's other
 * objects: a field added to an answer must be added here too.
 */
import {
  count,
  dateTime,
  int,
  jobId,
  json,
  problem,
  ref,
  text,
  unauthorized,
  uriTooLong,
} from './openapi-parts.js';

/** A task as Batch shows it (GET /api/jobs/{id}/tasks, …/tasks/{taskId}); see docs/api.md "Tasks and logs". */
export function taskSchemas(): Record<string, object> {
  const failure = {
    type: 'object',
    description:
      "Batch's failureInfo: `usererror` or `servererror`, a code such as `FailureExitCode`, and its message.",
    properties: { category: text, code: text, message: text },
    required: ['category', 'code', 'message'],
    additionalProperties: false,
  };
  const result = { enum: ['success', 'failure'] };
  const taskFields = {
    type: 'object',
    properties: {
      id: { ...text, description: "The caller's task id." },
      state: { enum: ['active', 'preparing', 'running', 'completed'] },
      result,
      exitCode: int,
      failure,
      retryCount: { ...count, description: 'Retries Batch made after a failed run.' },
      requeueCount: {
        ...count,
        description: 'Times Batch queued the task again (node lost, preempted): not retries.',
      },
      nodeId: text,
      startTime: dateTime,
      endTime: dateTime,
      requiredSlots: count,
      links: {
        type: 'object',
        description:
          'API paths: this task, its stdout.txt and stderr.txt, and its outputs in the results store.',
        properties: { self: text, stdout: text, stderr: text, outputs: text },
        required: ['self', 'stdout', 'stderr', 'outputs'],
        additionalProperties: false,
      },
    },
    required: ['id', 'state', 'retryCount', 'requeueCount', 'requiredSlots', 'links'],
  };
  return {
    TaskFields: taskFields,
    TaskItem: { $ref: '#/components/schemas/TaskFields', unevaluatedProperties: false },
    TaskDetail: {
      $ref: '#/components/schemas/TaskFields',
      properties: {
        attempts: {
          type: 'array',
          description:
            'The attempts Batch keeps apart: the latest with its times, exit code, failure and node; earlier ones (each a failed run Batch retried) by number only. At most the last 100.',
          items: {
            type: 'object',
            properties: {
              attempt: { type: 'integer', minimum: 1 },
              startTime: dateTime,
              endTime: dateTime,
              exitCode: int,
              result,
              failure,
              nodeId: text,
            },
            required: ['attempt'],
            additionalProperties: false,
          },
        },
      },
      required: ['attempts'],
      unevaluatedProperties: false,
    },
    TaskPage: {
      type: 'object',
      properties: {
        value: { type: 'array', items: ref('TaskItem') },
        nextLink: {
          ...text,
          description:
            'The next page, as a path (`/api/jobs/{id}/tasks?…`); absent on the last. A page may be empty and still have one.',
        },
      },
      required: ['value'],
      unevaluatedProperties: false,
    },
  };
}

/** The task routes: list, one task, and a task's files. */
export function taskPaths(idParam: object): Record<string, object> {
  const taskIdParam = { name: 'taskId', in: 'path', required: true, schema: jobId };
  const notFound = problem('No such job or task (another tenant’s job is not found either), or no such file');
  const textFile = (description: string, headers: Record<string, object>) => ({
    description,
    headers: {
      'X-Content-Type-Options': { required: true, schema: { const: 'nosniff' } },
      'X-Slotwise-Source': {
        description:
          "Where the bytes came from: `batch` (the task's node) or `results` (the results store's copy).",
        required: true,
        schema: { enum: ['batch', 'results'] },
      },
      ...headers,
    },
    content: { 'text/plain': { schema: text } },
  });
  return {
    '/jobs/{id}/tasks': {
      parameters: [idParam],
      get: {
        summary: "A page of the job's tasks, read from Batch (one Batch call per page)",
        parameters: [
          {
            name: 'state',
            in: 'query',
            description: '`running` includes `preparing`.',
            schema: { enum: ['active', 'running', 'completed'] },
          },
          { name: 'result', in: 'query', schema: { enum: ['success', 'failure'] } },
          {
            name: 'limit',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
          {
            name: 'continuation',
            in: 'query',
            description:
              "The opaque token of a page's `nextLink`, for the same filters; any other value is refused with 400.",
            schema: text,
          },
        ],
        responses: {
          200: json(
            'A page of tasks (empty while the job is not in Batch yet); follow nextLink for more',
            ref('TaskPage'),
          ),
          400: problem('Invalid query (each parameter named in `errors`)'),
          401: unauthorized,
          404: problem('No such job (another tenant’s job is not found either)'),
        },
      },
    },
    '/jobs/{id}/tasks/{taskId}': {
      parameters: [idParam, taskIdParam],
      get: {
        summary: 'One task as Batch shows it, with its attempts',
        responses: {
          200: json('The task', ref('TaskDetail')),
          401: unauthorized,
          404: problem('No such job or task, or the job is not in Batch yet'),
        },
      },
    },
    '/jobs/{id}/tasks/{taskId}/files/{path}': {
      parameters: [
        idParam,
        taskIdParam,
        {
          name: 'path',
          in: 'path',
          required: true,
          description:
            "A file of the task's directory: `stdout.txt`, `stderr.txt`, or a path below it such as `wd/out.txt` (`/` between folders; no `.` or `..`; at most 1024 characters). The route takes the rest of the URL (`{*path}`).",
          schema: { type: 'string', minLength: 1, maxLength: 1024 },
        },
      ],
      get: {
        summary:
          "A task's file as text (at most 4 MiB per answer), from Batch while the node keeps it, then from the results store",
        parameters: [
          {
            name: 'Range',
            in: 'header',
            required: false,
            description: 'One byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n`.',
            schema: { type: 'string', pattern: '^bytes=(?:[0-9]+-[0-9]*|-[0-9]+)$' },
          },
        ],
        responses: {
          200: textFile('The whole file (at most 4 MiB)', {}),
          206: textFile('The part asked for, or the first 4 MiB of a larger file', {
            'Content-Range': { required: true, schema: text },
          }),
          400: problem('Invalid `path` or `Range` (named in `errors`)'),
          401: unauthorized,
          404: notFound,
          414: uriTooLong,
          416: problem('The range starts at or past the end of the file', {
            'Content-Range': { description: '`bytes */<size>`', required: true, schema: text },
          }),
        },
      },
    },
  };
}
