/**
 * A job's results, as the caller sees them: what its tasks uploaded to the tenant's results store
 * under the job's folder (`<jobId>/`), listed page by page and read back, whole or by range.
 *
 * - Only the tenant's own container is ever read, and only under a job the tenant has: another
 *   tenant's job is not found, exactly as `GET /api/jobs/{id}` answers.
 * - Paths are relative to the job's folder (`t-001/result.txt`, `t-001/$TaskLog/stdout.txt`); a path
 *   or prefix that could leave it (`..`, `.`, an absolute path, a backslash, control characters, an
 *   empty segment) or that would make a blob name over Blob Storage's 1,024 characters is refused,
 *   naming the field, before anything is read.
 * - Nothing here returns or logs a URL of the store: answers carry the API's own paths only.
 */
import {
  type ByteRange,
  InvalidResultsContinuationError,
  RangeNotSatisfiableError,
  type ResultBlob,
  type ResultsStore,
} from '../adapters/blob/results-store.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import { type FieldError, fieldError } from '../model/validate-request.js';

/** Blob Storage's limit on a blob name (characters). */
export const MAX_BLOB_NAME = 1024;
export const DEFAULT_OUTPUTS_LIMIT = 100;
export const MAX_OUTPUTS_LIMIT = 1000;

export interface OutputItem {
  /** The task's folder: the first segment of `path`. */
  readonly task: string;
  /** Relative to the job's folder. */
  readonly path: string;
  readonly size: number;
  readonly lastModified: string;
  readonly links: { readonly download: string };
}

export interface OutputsDeps {
  readonly jobs: Pick<JobStore, 'get'>;
  readonly results: Pick<ResultsStore, 'list' | 'read'>;
}

/**
 * Why `value` cannot be a path (or, with `prefix`, a prefix) inside job `jobId`'s folder; undefined
 * when it can. A prefix may be empty and may end with `/`.
 */
export function checkOutputPath(
  value: string,
  field: 'path' | 'prefix',
  jobId: string,
): FieldError | undefined {
  const fail = (message: string) => fieldError([field], message);
  const room = MAX_BLOB_NAME - jobId.length - 1;
  if (value.length > room) return fail(`must be at most ${room} characters`);
  if (field === 'path' && value === '') return fail('must name a file');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return fail('must not contain control characters');
  if (value.includes('\\')) return fail('must use / between folders, not \\');
  if (value.startsWith('/')) return fail('must be relative to the job (no leading /)');
  const segments = value.split('/');
  // A prefix's trailing `/` leaves one empty last segment; it is the folder form and fine.
  const inner = field === 'prefix' && value.endsWith('/') ? segments.slice(0, -1) : segments;
  if (value !== '' && inner.some((s) => s === '')) return fail('must not have empty segments (//)');
  if (inner.some((s) => s === '.' || s === '..')) return fail('must not contain . or .. segments');
  return undefined;
}

/** Continuations are Blob Storage's markers, wrapped so they travel as one URL-safe token. */
function wrapContinuation(marker: string): string {
  return Buffer.from(marker, 'utf8').toString('base64url');
}

function unwrapContinuation(token: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(token)) return undefined;
  const marker = Buffer.from(token, 'base64url').toString('utf8');
  return marker.length > 0 && !marker.includes('\uFFFD') ? marker : undefined;
}

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/** The API path that downloads `path` of job `jobId`. */
export function outputDownloadPath(jobId: string, path: string): string {
  return `/api/jobs/${encodeURIComponent(jobId)}/outputs/${encodePath(path)}`;
}

export type ListOutputsResult =
  | { readonly kind: 'page'; readonly items: readonly OutputItem[]; readonly continuation?: string }
  | { readonly kind: 'notFound' }
  | { readonly kind: 'invalid'; readonly errors: readonly FieldError[] };

export async function listJobOutputs(
  tenant: string,
  jobId: string,
  query: { readonly prefix?: string; readonly limit: number; readonly continuation?: string },
  deps: OutputsDeps,
): Promise<ListOutputsResult> {
  const prefix = query.prefix ?? '';
  const errors = [checkOutputPath(prefix, 'prefix', jobId)].filter((e) => e !== undefined);
  const marker = query.continuation === undefined ? undefined : unwrapContinuation(query.continuation);
  if (query.continuation !== undefined && marker === undefined)
    errors.push(fieldError(['continuation'], 'is not a continuation token of this listing'));
  if (errors.length > 0) return { kind: 'invalid', errors };
  const job = await deps.jobs.get(tenant, jobId);
  if (!job) return { kind: 'notFound' };
  const folder = `${job.jobId}/`;
  try {
    const page = await deps.results.list(tenant, `${folder}${prefix}`, {
      limit: query.limit,
      ...(marker ? { continuation: marker } : {}),
    });
    const items = page.items
      .filter((item) => item.path.startsWith(folder))
      .map((item): OutputItem => {
        const path = item.path.slice(folder.length);
        return {
          task: path.split('/')[0]!,
          path,
          size: item.size,
          lastModified: item.lastModified.toISOString(),
          links: { download: outputDownloadPath(job.jobId, path) },
        };
      });
    return {
      kind: 'page',
      items,
      ...(page.continuation ? { continuation: wrapContinuation(page.continuation) } : {}),
    };
  } catch (e) {
    if (e instanceof InvalidResultsContinuationError)
      return { kind: 'invalid', errors: [fieldError(['continuation'], e.message)] };
    throw e;
  }
}

export type ReadOutputResult =
  | { readonly kind: 'blob'; readonly blob: ResultBlob; readonly name: string }
  | { readonly kind: 'jobNotFound' }
  | { readonly kind: 'notFound' }
  | { readonly kind: 'unsatisfiable'; readonly size: number }
  | { readonly kind: 'invalid'; readonly errors: readonly FieldError[] };

/** One output of the job (or the range of it asked for). */
export async function readJobOutput(
  tenant: string,
  jobId: string,
  path: string,
  range: ByteRange | undefined,
  deps: OutputsDeps,
): Promise<ReadOutputResult> {
  const invalid = checkOutputPath(path, 'path', jobId);
  if (invalid) return { kind: 'invalid', errors: [invalid] };
  const job = await deps.jobs.get(tenant, jobId);
  if (!job) return { kind: 'jobNotFound' };
  try {
    const blob = await deps.results.read(tenant, `${job.jobId}/${path}`, range);
    if (!blob) return { kind: 'notFound' };
    return { kind: 'blob', blob, name: path.split('/').at(-1)! };
  } catch (e) {
    if (e instanceof RangeNotSatisfiableError) return { kind: 'unsatisfiable', size: e.size };
    throw e;
  }
}
