/**
 * The OpenAPI 3.1 description served at GET /api/openapi.json. The job request schema is generated
 * from the same zod schema that validates requests, so the document cannot drift from the code.
 */
import { z } from 'zod';
import { jobStates } from '../../model/job.js';
import { jobRequestSchema } from '../../model/request-schema.js';

let cached: object | undefined;

export function openApiDocument(): object {
  cached ??= build();
  return cached;
}

function build(): object {
  const jobRequest = z.toJSONSchema(jobRequestSchema, {
    target: 'draft-2020-12',
    unrepresentable: 'any',
    io: 'input',
  });
  delete (jobRequest as { $schema?: string }).$schema;
  const problem = {
    type: 'object',
    description: 'RFC 9457 problem details; `errors` names every invalid field.',
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          properties: { field: { type: 'string' }, pointer: { type: 'string' }, message: { type: 'string' } },
          required: ['field', 'pointer', 'message'],
        },
      },
    },
    required: ['type', 'title', 'status'],
  };
  const counts = {
    type: 'object',
    properties: Object.fromEntries(
      ['active', 'running', 'succeeded', 'failed'].map((k) => [k, { type: 'integer' }]),
    ),
  };
  const job = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      state: { type: 'string', enum: [...jobStates] },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      plan: {
        type: 'object',
        properties: {
          nodes: { type: 'integer' },
          lowerBound: { type: 'integer' },
          taskSlotsPerNode: { type: 'integer' },
          poolNodes: { type: 'integer' },
          waves: { type: 'integer' },
          applicationPackages: { type: 'object' },
          containerImages: { type: 'array', items: { type: 'string' } },
        },
      },
      batch: { type: 'object', properties: { poolId: { type: 'string' }, jobId: { type: 'string' } } },
      taskCounts: counts,
      errors: problem.properties.errors,
      failure: { type: 'object' },
      deliveries: { type: 'array', items: { type: 'object' } },
    },
    required: ['id', 'state', 'taskCounts'],
  };
  const problemResponse = (description: string) => ({
    description,
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  });
  const jobResponse = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Job' } } },
  });
  const idParam = {
    name: 'id',
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
  };
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
                'true: validate and plan only (nothing stored or sent); 200 with { dryRun, plan, pool, batchJob, estimate }',
              schema: { type: 'boolean', default: false },
            },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/JobRequest' } } },
          },
          responses: {
            202: jobResponse('Accepted; Location names the job'),
            200: {
              description:
                'Replay of an existing job with the same id and body; with dryRun=true, the plan and estimate',
              content: {
                'application/json': {
                  schema: {
                    oneOf: [
                      { $ref: '#/components/schemas/Job' },
                      {
                        type: 'object',
                        required: ['dryRun', 'plan', 'pool', 'batchJob', 'estimate'],
                        properties: {
                          dryRun: { const: true },
                          plan: {
                            type: 'object',
                            description: 'The plan summary (nodes, lowerBound, waves, ...)',
                          },
                          pool: {
                            type: 'object',
                            description: 'The pool body to create, or the existing pool',
                          },
                          batchJob: { type: 'object' },
                          estimate: {
                            type: 'object',
                            description:
                              'nodeHours and cost when every task has an expectedDuration; price per node-hour',
                          },
                        },
                      },
                    ],
                  },
                },
              },
            },
            422: problemResponse('The job can never fit the tenant limits'),
            400: problemResponse('Invalid request'),
            401: problemResponse('Missing or wrong API key'),
            409: problemResponse('The id is taken by a different request'),
            413: problemResponse('Body too large'),
          },
        },
        get: {
          summary: "List the tenant's jobs, newest first",
          parameters: [
            { name: 'state', in: 'query', schema: { type: 'string', enum: [...jobStates] } },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            },
            { name: 'continuation', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            200: {
              description: 'A page of jobs; follow nextLink for more',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      value: { type: 'array', items: { $ref: '#/components/schemas/Job' } },
                      nextLink: { type: 'string' },
                    },
                  },
                },
              },
            },
            400: problemResponse('Invalid query'),
            401: problemResponse('Missing or wrong API key'),
          },
        },
      },
      '/jobs/{id}': {
        parameters: [idParam],
        get: {
          summary: 'Get a job',
          responses: { 200: jobResponse('The job'), 404: problemResponse('No such job') },
        },
        delete: {
          summary: 'Cancel a job (idempotent)',
          responses: {
            200: jobResponse('Cancelled'),
            404: problemResponse('No such job'),
            409: problemResponse('Already ended'),
          },
        },
      },
      '/jobs/{id}/retry': {
        parameters: [idParam],
        post: {
          summary: 'Retry the failed tasks of a job',
          responses: { 202: jobResponse('Retrying'), 409: problemResponse('Nothing to retry') },
        },
      },
      '/jobs/{id}/callbacks': {
        parameters: [idParam],
        post: {
          summary: "A task reports back with its job's callback token; triggers an immediate reconcile",
          security: [{ taskToken: [] }],
          responses: { 202: { description: 'Reconcile queued' }, 401: problemResponse('Bad token') },
        },
      },
      '/health': {
        get: {
          summary: 'Health: only up/down without a key; each dependency with a tenant API key',
          security: [{}, { apiKey: [] }],
          responses: {
            200: { description: 'All up' },
            401: problemResponse('A key was given and is not valid'),
            503: { description: 'Something is down' },
          },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1' } } },
      },
      '/ui': {
        get: {
          summary:
            'The dashboard (HTML); it calls this API with the key given in the page or its URL fragment',
          security: [],
          responses: { 200: { description: 'The page', content: { 'text/html': {} } } },
        },
      },
      '/ui/{asset}': {
        parameters: [{ name: 'asset', in: 'path', required: true, schema: { enum: ['app.js', 'app.css'] } }],
        get: {
          summary: "The dashboard's script and style",
          security: [],
          responses: {
            200: { description: 'The asset' },
            304: { description: 'Unchanged' },
            404: { description: 'No such asset' },
          },
        },
      },
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "The tenant's API key" },
        taskToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'SLOTWISE_CALLBACK_TOKEN from the task environment',
        },
      },
      schemas: { JobRequest: jobRequest, Job: job, Problem: problem },
    },
  };
}
