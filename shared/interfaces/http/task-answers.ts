/**
 * HTTP answers of the task routes: not-found with its reason, and a task file as text that no
 * browser renders as a page (`text/plain`, `nosniff`, `inline`, a sandboxing CSP).
 */
import type { HttpResponseInit } from '@azure/functions';
import type { ReadTaskFileResult } from '../../usecases/read-task-file.js';
import { contentRange } from './byte-range.js';
import { problemResponse, problems } from './problem.js';

export function notFoundWhy(what: string, why?: string): HttpResponseInit {
  if (!why) return problems.notFound(what);
  return problemResponse({
    type: 'https://slotwise.dev/problems/not-found',
    title: 'Not found',
    status: 404,
    detail: `${what} was not found: ${why}.`,
  });
}

/** Headers every file answer carries: whatever a task wrote, it is shown as text, never run as a page. */
const textHeaders = {
  'content-type': 'text/plain; charset=utf-8',
  'x-content-type-options': 'nosniff',
  'content-disposition': 'inline',
  'content-security-policy': "default-src 'none'; sandbox",
  'cache-control': 'no-store',
  'accept-ranges': 'bytes',
};

export function taskFileResponse(
  result: Extract<ReadTaskFileResult, { kind: 'content' | 'unsatisfiable' }>,
): HttpResponseInit {
  if (result.kind === 'unsatisfiable')
    return problemResponse(
      {
        type: 'https://slotwise.dev/problems/range-not-satisfiable',
        title: 'Range not satisfiable',
        status: 416,
        detail: `The file has ${result.size} bytes; the range asked for starts at or past its end.`,
      },
      { 'content-range': contentRange(0, 0, result.size), 'accept-ranges': 'bytes' },
    );
  return {
    status: result.partial ? 206 : 200,
    headers: {
      ...textHeaders,
      'x-slotwise-source': result.source,
      ...(result.partial
        ? { 'content-range': contentRange(result.start, result.bytes.length, result.size) }
        : {}),
    },
    body: result.bytes,
  };
}
