/**
 * GET /api/jobs/{id}/tasks/{taskId}/files/{path}: a file of a task's directory, at most 4 MiB per
 * answer. While the task's node keeps it, from Batch (Tasks_GetTaskFileProperties for the size, then
 * Tasks_GetTaskFile with `ocp-range`); once Batch cannot serve it (the node was removed, the pool or
 * Batch job deleted), `stdout.txt` and `stderr.txt` from the copies the task uploaded to the tenant's
 * results store (`<job>/<task>/$TaskLog/`). Other files exist only on the node.
 */
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import {
  RangeNotSatisfiableError,
  type ResultsStore,
  type ByteRange as StoreRange,
} from '../adapters/blob/results-store.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import { taskLogPath } from '../model/results-paths.js';
import { toCallerTaskId } from '../model/task-ids.js';
import { inAccount } from '../pipeline/job-account.js';
import { findTask } from './get-task.js';

/** Most bytes one answer carries; a larger file or range answers its first 4 MiB (206). */
export const MAX_FILE_READ_BYTES = 4 * 1024 * 1024;
/** Longest file path taken (Batch's own limit for task file paths). */
export const MAX_FILE_PATH = 1024;

/** What a `Range` header asked for: from a byte (to another, or the end), or the last N bytes. */
export type RangeSpec =
  | { readonly kind: 'from'; readonly start: number; readonly end?: number }
  | { readonly kind: 'suffix'; readonly length: number };

export type ReadTaskFileResult =
  | { readonly kind: 'notFound'; readonly what: string; readonly why?: string }
  | { readonly kind: 'invalid'; readonly field: 'path'; readonly message: string }
  | { readonly kind: 'unsatisfiable'; readonly size: number }
  | {
      readonly kind: 'content';
      readonly bytes: Uint8Array;
      /** Offset of the first byte in the file. */
      readonly start: number;
      readonly size: number;
      /** Answer 206 with Content-Range (a Range was asked for, or the file is over the cap). */
      readonly partial: boolean;
      readonly source: 'batch' | 'results';
    };

/** Why `path` cannot name a file in a task's directory, or undefined when it can. */
export function checkTaskFilePath(path: string): string | undefined {
  if (path.length === 0) return 'is required (for example stdout.txt)';
  if (path.length > MAX_FILE_PATH) return `must be at most ${MAX_FILE_PATH} characters`;
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'must be relative to the task directory';
  if (path.includes('\\')) return 'must use / between folders';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'must not contain control characters';
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    return "must not contain empty, '.' or '..' segments";
  return undefined;
}

/** The bytes to send for `spec` of a file of `size` bytes, or 'unsatisfiable' (RFC 9110 §14.1.2). */
export function resolveRange(
  spec: RangeSpec | undefined,
  size: number,
  cap = MAX_FILE_READ_BYTES,
): { start: number; end: number; partial: boolean } | 'unsatisfiable' {
  if (!spec) return { start: 0, end: Math.min(size, cap) - 1, partial: size > cap };
  if (spec.kind === 'suffix') {
    if (spec.length === 0 || size === 0) return 'unsatisfiable';
    const start = Math.max(0, size - spec.length);
    return { start, end: Math.min(size - 1, start + cap - 1), partial: true };
  }
  if (spec.start >= size) return 'unsatisfiable';
  const end = Math.min(spec.end ?? size - 1, size - 1, spec.start + cap - 1);
  return { start: spec.start, end, partial: true };
}

export async function readTaskFile(
  tenant: string,
  jobId: string,
  taskId: string,
  path: string,
  range: RangeSpec | undefined,
  deps: {
    readonly jobs: JobStore;
    readonly batch: BatchGateway;
    readonly accounts?: Pick<BatchAccounts, 'gateway'>;
    readonly results?: Pick<ResultsStore, 'read'>;
  },
): Promise<ReadTaskFileResult> {
  const target = await findTask(tenant, jobId, taskId, deps);
  if (target.kind === 'notFound') return target;
  const bad = checkTaskFilePath(path);
  if (bad) return { kind: 'invalid', field: 'path', message: bad };
  const { job, batchJobId, batchTaskId } = target;
  const fromBatch = await readFromBatch(
    inAccount(deps, job.batch?.account).batch,
    batchJobId,
    batchTaskId,
    path,
    range,
  );
  if (fromBatch !== 'gone') return fromBatch;
  const what = `File '${path}' of task '${taskId}'`;
  if (path !== 'stdout.txt' && path !== 'stderr.txt')
    return { kind: 'notFound', what, why: 'Batch no longer has it (or the task has not written it)' };
  if (!deps.results) return { kind: 'notFound', what, why: 'Batch no longer has it' };
  const stored = taskLogPath(job.jobId, toCallerTaskId(job.request!, batchTaskId), path);
  const fromStore = await readFromStore(deps.results, tenant, stored, range);
  return (
    fromStore ?? {
      kind: 'notFound',
      what,
      why: 'Batch no longer has it and no copy was kept (the task has not completed, or the job keeps no logs)',
    }
  );
}

async function readFromBatch(
  batch: BatchGateway,
  jobId: string,
  taskId: string,
  path: string,
  spec: RangeSpec | undefined,
): Promise<ReadTaskFileResult | 'gone'> {
  const props = await batch.getTaskFileProperties(jobId, taskId, path);
  if (props === 'gone') return 'gone';
  if (props.isDirectory) return { kind: 'invalid', field: 'path', message: 'names a folder, not a file' };
  const wanted = resolveRange(spec, props.size);
  if (wanted === 'unsatisfiable') return { kind: 'unsatisfiable', size: props.size };
  const content = (bytes: Uint8Array) =>
    ({
      kind: 'content',
      bytes,
      start: wanted.start,
      size: props.size,
      partial: wanted.partial,
      source: 'batch',
    }) as const;
  if (wanted.end < wanted.start) return content(new Uint8Array());
  const bytes = await batch.readTaskFile(jobId, taskId, path, wanted);
  if (bytes === 'gone') return 'gone';
  const length = wanted.end - wanted.start + 1;
  // A server that ignored the range sent the whole file: keep the part asked for.
  if (bytes.length > length)
    return content(
      bytes.length >= wanted.end + 1
        ? bytes.subarray(wanted.start, wanted.end + 1)
        : bytes.subarray(0, length),
    );
  return content(bytes);
}

async function readFromStore(
  results: Pick<ResultsStore, 'read'>,
  tenant: string,
  path: string,
  spec: RangeSpec | undefined,
): Promise<ReadTaskFileResult | undefined> {
  // At most the cap is asked for, except for a suffix (its start needs the size): only the cap is read.
  const asked: StoreRange =
    spec === undefined
      ? { start: 0, end: MAX_FILE_READ_BYTES - 1 }
      : spec.kind === 'suffix'
        ? { suffix: spec.length }
        : {
            start: spec.start,
            end: Math.min(spec.end ?? Number.MAX_SAFE_INTEGER, spec.start + MAX_FILE_READ_BYTES - 1),
          };
  let blob: Awaited<ReturnType<ResultsStore['read']>>;
  try {
    blob = await results.read(tenant, path, asked);
  } catch (e) {
    if (e instanceof RangeNotSatisfiableError) return { kind: 'unsatisfiable', size: e.size };
    throw e;
  }
  if (!blob) return undefined;
  const wanted = resolveRange(spec, blob.size);
  if (wanted === 'unsatisfiable') {
    await blob.stream.cancel();
    return { kind: 'unsatisfiable', size: blob.size };
  }
  const bytes = await readAtMost(blob.stream, Math.max(0, wanted.end - wanted.start + 1));
  return {
    kind: 'content',
    bytes,
    start: wanted.start,
    size: blob.size,
    partial: wanted.partial,
    source: 'results',
  };
}

/** The first `limit` bytes of a stream; the rest is not downloaded. */
async function readAtMost(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const out = new Uint8Array(limit);
  let filled = 0;
  const reader = stream.getReader();
  try {
    while (filled < limit) {
      const { value, done } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, limit - filled);
      out.set(value.subarray(0, take), filled);
      filled += take;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return out.subarray(0, filled);
}
