/**
 * Reading a task's files (`stdout.txt`, `stderr.txt`) through the API, which answers at most 4 MiB
 * at a time: the whole file in parts, its tail, or the file as it grows until the task completes.
 * Only `Range: bytes=a-` and `bytes=a-b` are sent (what Batch's task files and Blob storage both
 * serve behind the API), never suffix ranges.
 */
import { type ApiClient, CliError } from './api-client.js';
import type { CliTaskDetail, FileChunk } from './task-shapes.js';

export const isNotFound = (e: unknown): boolean => e instanceof CliError && e.code === 'Api404';

/** The bytes of `chunk` from file offset `offset` on (a server that ignores `Range` sends from 0). */
function bytesFrom(chunk: FileChunk, offset: number): Uint8Array {
  if (chunk.status === 416) return new Uint8Array();
  const skip = Math.max(0, offset - chunk.start);
  return chunk.bytes.subarray(Math.min(skip, chunk.bytes.length));
}

/** Whether the file has more after this chunk, as far as the answer says. */
function hasMore(chunk: FileChunk): boolean {
  if (chunk.status !== 206 || chunk.total === undefined) return false;
  return chunk.start + chunk.bytes.length < chunk.total;
}

/**
 * Writes the file from byte `offset` to its current end; returns the new offset. A file that is not
 * there throws the API's 404 (the task has not started, its logs were not kept, or no such job).
 */
export async function readFrom(
  api: ApiClient,
  ref: { job: string; task: string; file: string },
  offset: number,
  write: (bytes: Uint8Array) => void,
): Promise<number> {
  let at = offset;
  for (;;) {
    const chunk = await api.taskFile(ref.job, ref.task, ref.file, at > 0 ? { start: at } : undefined);
    const bytes = bytesFrom(chunk, at);
    if (bytes.length > 0) write(bytes);
    at += bytes.length;
    // A part with nothing new would loop for ever: stop, and the next poll asks again.
    if (!hasMore(chunk) || bytes.length === 0) return at;
  }
}

export interface Tail {
  readonly text: string;
  /** Whether earlier output was left out. */
  readonly cut: boolean;
}

/**
 * The last `maxBytes` (about) of a file as text, starting at a whole line; undefined when the file is
 * not there. Two reads at most: the head (which is everything for a small file), then the tail.
 */
export async function readTail(
  api: ApiClient,
  ref: { job: string; task: string; file: string },
  maxBytes = 16 * 1024,
): Promise<Tail | undefined> {
  let chunk: FileChunk;
  try {
    chunk = await api.taskFile(ref.job, ref.task, ref.file, { start: 0, end: maxBytes - 1 });
    if (hasMore(chunk) && chunk.total !== undefined) {
      chunk = await api.taskFile(ref.job, ref.task, ref.file, {
        start: chunk.total - maxBytes,
        end: chunk.total - 1,
      });
    }
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  let bytes = bytesFrom(chunk, 0);
  let cut = chunk.start > 0;
  if (bytes.length > maxBytes) {
    // A server that ignored Range sent the whole file.
    bytes = bytes.subarray(bytes.length - maxBytes);
    cut = true;
  }
  let text = new TextDecoder().decode(bytes);
  // The cut fell inside a line (perhaps inside a character): start at the next whole line.
  if (cut) text = text.slice(text.indexOf('\n') + 1);
  return { text, cut };
}

/** The last `count` lines of a text (a final newline ends the last line, it does not start another). */
export function lastLines(text: string, count: number): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-count).map((line) => line.replace(/\r$/, ''));
}

export interface FollowOptions {
  readonly intervalMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Polls to wait, once the task has completed, for a file not there yet. Default 3. */
  readonly graceAfterCompletion?: number;
}

/**
 * Writes a task's file as it grows, reading from the last byte written on each poll, until the task
 * has completed and the rest is written. Returns the completed task, and whether its file was ever
 * there. The task is read before the file on each poll, so a task seen completed has all its output
 * in the read that follows.
 */
export async function followFile(
  api: ApiClient,
  ref: { job: string; task: string; file: string },
  write: (bytes: Uint8Array) => void,
  {
    intervalMs,
    sleep = (ms) => new Promise((r) => setTimeout(r, ms)),
    graceAfterCompletion = 3,
  }: FollowOptions,
): Promise<{ task: CliTaskDetail; found: boolean }> {
  let offset = 0;
  let found = false;
  let grace = graceAfterCompletion;
  for (;;) {
    const task = await api.task(ref.job, ref.task);
    const next = await readFrom(api, ref, offset, write).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    if (next !== undefined) {
      found = true;
      offset = next;
    }
    if (task.state === 'completed' && (next !== undefined || grace-- <= 0)) return { task, found };
    await sleep(intervalMs);
  }
}
