/** The small pieces every part of the OpenAPI document (openapi.ts and its openapi-*.ts parts) is built from. */

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const int = { type: 'integer' };
export const count = { type: 'integer', minimum: 0 };
export const text = { type: 'string' };
export const dateTime = { type: 'string', format: 'date-time' };
export const jobId = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' };

export const problem = (description: string, headers?: Record<string, object>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

export const json = (description: string, schema: object, headers?: Record<string, object>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema } },
});

export const unauthorized = problem('Missing or wrong API key', {
  'WWW-Authenticate': { required: true, schema: text },
});

/**
 * Routes whose path or query can carry a long blob name: a URL over 4,096 bytes is refused by the
 * Functions host itself (its URL limit), with a 414 of its own and no body, before the API sees it.
 */
export const uriTooLong = {
  description: "The URL is over the Functions host's 4,096 bytes: the host's 414, without a body",
};
