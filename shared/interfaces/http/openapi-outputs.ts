/**
 * The OpenAPI description of a job's outputs (GET /api/jobs/{id}/outputs and …/outputs/{path}),
 * spread into the document by openapi.ts. Closed like the API's other objects: a field added to an
 * answer must be added here too.
 */
import { DEFAULT_OUTPUTS_LIMIT, MAX_BLOB_NAME, MAX_OUTPUTS_LIMIT } from '../../usecases/job-outputs.js';
import { problem, ref, text, unauthorized, uriTooLong } from './openapi-parts.js';

const notFound = problem('No such job (another tenant’s job is not found either)');

export function outputSchemas(): Record<string, object> {
  return {
    OutputItem: {
      type: 'object',
      description: "A file in the job's folder of the tenant's results store.",
      properties: {
        task: { ...text, description: 'The first segment of `path`: the task that uploaded it, by default.' },
        path: { ...text, description: "Relative to the job's folder, e.g. `t-001/result.txt`." },
        size: { type: 'integer', minimum: 0, description: 'Bytes.' },
        lastModified: { type: 'string', format: 'date-time' },
        links: {
          type: 'object',
          properties: { download: { ...text, description: 'API path that downloads it.' } },
          required: ['download'],
          additionalProperties: false,
        },
      },
      required: ['task', 'path', 'size', 'lastModified', 'links'],
      unevaluatedProperties: false,
    },
    OutputPage: {
      type: 'object',
      properties: {
        value: { type: 'array', items: ref('OutputItem') },
        nextLink: {
          ...text,
          description:
            'The next page, as a path (`/api/jobs/{id}/outputs?…`); absent on the last. A page may be short, even empty, and still have one.',
        },
      },
      required: ['value'],
      unevaluatedProperties: false,
    },
  };
}

export function outputPaths(idParam: object): Record<string, object> {
  const pathRule = '`/` between folders; no `.` or `..` segment, no leading `/`, no `\\`';
  const file = (description: string, headers: Record<string, object> = {}) => ({
    description,
    headers: {
      'Content-Disposition': { required: true, schema: text, description: '`attachment; filename="…"`' },
      'X-Content-Type-Options': { required: true, schema: { const: 'nosniff' } },
      'Content-Length': { required: true, schema: { type: 'integer', minimum: 0 } },
      'Accept-Ranges': { required: true, schema: { const: 'bytes' } },
      'Last-Modified': { required: true, schema: text },
      ETag: { required: false, schema: text },
      ...headers,
    },
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  });
  return {
    '/jobs/{id}/outputs': {
      parameters: [idParam],
      get: {
        summary:
          "The job's outputs in the tenant's results store, by name, paged (logs under `$TaskLog` too)",
        parameters: [
          {
            name: 'prefix',
            in: 'query',
            description: `Only paths starting with this, e.g. \`t-001/\` (${pathRule}).`,
            schema: { type: 'string', maxLength: MAX_BLOB_NAME },
          },
          {
            name: 'limit',
            in: 'query',
            schema: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_OUTPUTS_LIMIT,
              default: DEFAULT_OUTPUTS_LIMIT,
            },
          },
          {
            name: 'continuation',
            in: 'query',
            description:
              "The opaque token of a page's `nextLink`; a value that is not one is refused with 400.",
            schema: text,
          },
        ],
        responses: {
          200: {
            description: 'A page of outputs; follow nextLink for more',
            content: { 'application/json': { schema: ref('OutputPage') } },
          },
          400: problem('Invalid query (each parameter named in `errors`)'),
          401: unauthorized,
          404: notFound,
          414: uriTooLong,
        },
      },
    },
    '/jobs/{id}/outputs/{path}': {
      parameters: [
        idParam,
        {
          name: 'path',
          in: 'path',
          required: true,
          description: `An output's \`path\` as listed (${pathRule}). The route takes the rest of the URL (\`{*path}\`).`,
          schema: { type: 'string', minLength: 1, maxLength: MAX_BLOB_NAME },
        },
      ],
      get: {
        summary: 'Download one output, streamed (whole, or one byte range)',
        parameters: [
          {
            name: 'Range',
            in: 'header',
            required: false,
            description: 'One byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n`.',
            schema: { type: 'string', pattern: '^bytes=(?:[0-9]+-[0-9]*|-[0-9]+)$' },
          },
          {
            name: 'If-Range',
            in: 'header',
            required: false,
            description:
              'An ETag or date the client has: if the file changed since, the whole file comes back (200).',
            schema: text,
          },
        ],
        responses: {
          200: file('The whole file'),
          206: file('The range asked for', { 'Content-Range': { required: true, schema: text } }),
          400: problem('Invalid `path` or `Range` (named in `errors`)'),
          401: unauthorized,
          404: problem('No such job (another tenant’s job is not found either), or no such output'),
          414: uriTooLong,
          416: problem('The range starts past the end of the file', {
            'Content-Range': { description: '`bytes */<size>`', required: true, schema: text },
          }),
        },
      },
    },
  };
}
