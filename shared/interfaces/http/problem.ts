/** RFC 9457 problem details. Every API error goes out as `application/problem+json`. */
import type { HttpResponseInit } from '@azure/functions';
import type { FieldError } from '../../model/validate-request.js';

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  /** One entry per invalid field. */
  readonly errors?: readonly FieldError[];
  readonly [extension: string]: unknown;
}

const problemBase = 'https://slotwise.dev/problems/';

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: JSON.stringify(problem),
  };
}

export const problems = {
  invalidRequest: (errors: readonly FieldError[], detail = 'The request has invalid fields.') =>
    problemResponse({
      type: `${problemBase}invalid-request`,
      title: 'Invalid request',
      status: 400,
      detail,
      errors,
    }),
  malformedJson: (detail: string) =>
    problemResponse({
      type: `${problemBase}malformed-json`,
      title: 'Malformed JSON',
      status: 400,
      detail,
      errors: [{ field: '', pointer: '', message: detail }],
    }),
  unsupportedMediaType: () =>
    problemResponse({
      type: `${problemBase}unsupported-media-type`,
      title: 'Unsupported media type',
      status: 415,
      detail: 'Send the job as application/json.',
    }),
  tooLarge: (limit: number) =>
    problemResponse({
      type: `${problemBase}too-large`,
      title: 'Request body too large',
      status: 413,
      detail: `The body exceeds ${limit} bytes; describe large jobs with a sweep.`,
    }),
  unauthorized: () =>
    problemResponse(
      {
        type: `${problemBase}unauthorized`,
        title: 'Unauthorized',
        status: 401,
        detail: 'Send a valid API key as "Authorization: Bearer <key>".',
      },
      { 'www-authenticate': 'Bearer realm="slotwise"' },
    ),
  notFound: (what: string) =>
    problemResponse({
      type: `${problemBase}not-found`,
      title: 'Not found',
      status: 404,
      detail: `${what} was not found.`,
    }),
  conflict: (detail: string, extra: Record<string, unknown> = {}) =>
    problemResponse({ type: `${problemBase}conflict`, title: 'Conflict', status: 409, detail, ...extra }),
  /** Over a limit that frees up with time: 429 (rate) or 409 (quota), naming the limit, with Retry-After. */
  limited: (status: 429 | 409, limit: string, detail: string, retryAfterSeconds: number) =>
    problemResponse(
      {
        type: `${problemBase}${status === 429 ? 'rate-limited' : 'quota-exceeded'}`,
        title: status === 429 ? 'Too many submissions' : 'Tenant quota reached',
        status,
        detail,
        limit,
      },
      { 'retry-after': String(retryAfterSeconds) },
    ),
  /** A request that can never fit the tenant's limits, whatever it waits for. */
  overLimit: (limit: string, errors: readonly FieldError[]) =>
    problemResponse({
      type: `${problemBase}over-limit`,
      title: 'Over the tenant limit',
      status: 422,
      detail: `The job can never fit this tenant's limit ${limit}.`,
      limit,
      errors,
    }),
  badQuery: (errors: readonly FieldError[]) =>
    problemResponse({
      type: `${problemBase}invalid-query`,
      title: 'Invalid query',
      status: 400,
      detail: 'The query string has invalid parameters.',
      errors,
    }),
};

/** A JSON response with a body; `jsonBody` is what the Functions host serialises. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponseInit {
  return { status, jsonBody: body, headers };
}
