/** Reads a JSON request body with a size limit, returning a typed outcome instead of throwing. */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { problems } from './problem.js';

export const MAX_JOB_BODY_BYTES = 1024 * 1024;

export type JsonBody =
  | { readonly kind: 'ok'; readonly value: unknown; readonly bytes: number }
  | { readonly kind: 'tooLarge' }
  | { readonly kind: 'malformed'; readonly detail: string }
  | { readonly kind: 'unsupportedMediaType' };

export async function readJsonBody(request: HttpRequest, limit = MAX_JOB_BODY_BYTES): Promise<JsonBody> {
  const type = request.headers.get('content-type');
  if (type && !/^application\/([a-z0-9.+-]+\+)?json\b/i.test(type)) return { kind: 'unsupportedMediaType' };
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) return { kind: 'tooLarge' };
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > limit) return { kind: 'tooLarge' };
  if (bytes.length === 0) return { kind: 'malformed', detail: 'The request body is empty.' };
  try {
    return { kind: 'ok', value: JSON.parse(bytes.toString('utf8')), bytes: bytes.length };
  } catch (e) {
    return { kind: 'malformed', detail: `The body is not valid JSON: ${(e as Error).message}` };
  }
}

/**
 * The JSON body, or the problem to answer instead (413, 400 malformed, 415): what a route that needs
 * a body does first.
 */
export async function readJsonOrProblem(
  request: HttpRequest,
  limit = MAX_JOB_BODY_BYTES,
): Promise<
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly response: HttpResponseInit }
> {
  const body = await readJsonBody(request, limit);
  switch (body.kind) {
    case 'ok':
      return { ok: true, value: body.value };
    case 'tooLarge':
      return { ok: false, response: problems.tooLarge(limit) };
    case 'malformed':
      return { ok: false, response: problems.malformedJson(body.detail) };
    case 'unsupportedMediaType':
      return { ok: false, response: problems.unsupportedMediaType() };
  }
}
