/**
 * Adds any number of tasks through add-task-collection: requests of ≤ 100 tasks under the body
 * limit, sent with bounded concurrency. Each task is serialised once; bodies are joined strings.
 * - 413 `RequestBodyTooLarge`: the chunk is split in half and both halves resent;
 * - per-task `servererror`: only those tasks are resent, with backoff;
 * - per-task `TaskExists`: counted as `exists` (ours: it comes from an earlier attempt with the same id)
 *   unless `isOurs` says otherwise;
 * - other `clienterror`: reported as failed with Batch's code.
 * Whole-request transient failures are retried inside the client with the same task ids.
 */

import { BatchError } from './batch-error.js';
import type { AddCollectionItem, BatchClient } from './client.js';

export const MAX_TASKS_PER_REQUEST = 100;
/** Batch rejects bodies of 1 MB or more; leave room for the envelope. */
export const MAX_BODY_BYTES = 1_000_000 - 1024;

export interface AddTaskResult {
  readonly taskId: string;
  readonly outcome: 'added' | 'exists' | 'failed';
  readonly error?: { readonly code: string; readonly message: string };
}

export interface AddTasksOptions {
  readonly concurrency?: number;
  readonly maxTasksPerRequest?: number;
  readonly maxBodyBytes?: number;
  readonly isOurs?: (taskId: string) => boolean | Promise<boolean>;
  /** Rounds of resending `servererror` tasks. Default 5. */
  readonly serverErrorRounds?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Serialised {
  readonly id: string;
  readonly json: string;
  readonly bytes: number;
}

/** Splits serialised tasks into request-sized groups (count and byte limits). */
export function chunkTasks<T extends { readonly bytes: number }>(
  tasks: readonly T[],
  limits: { maxTasks: number; maxBodyBytes: number },
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 12; // {"value":[]}
  for (const task of tasks) {
    if (
      current.length > 0 &&
      (current.length >= limits.maxTasks || bytes + task.bytes + 1 > limits.maxBodyBytes)
    ) {
      chunks.push(current);
      current = [];
      bytes = 12;
    }
    current.push(task);
    bytes += task.bytes + 1;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export async function addTasks<T extends { readonly id: string }>(
  client: BatchClient,
  jobId: string,
  tasks: readonly T[],
  options: AddTasksOptions = {},
): Promise<AddTaskResult[]> {
  const serialised: Serialised[] = tasks.map((t) => {
    const json = JSON.stringify(t);
    return { id: t.id, json, bytes: Buffer.byteLength(json) };
  });
  const limits = {
    maxTasks: options.maxTasksPerRequest ?? MAX_TASKS_PER_REQUEST,
    maxBodyBytes: options.maxBodyBytes ?? MAX_BODY_BYTES,
  };
  const queue = chunkTasks(serialised, limits);
  const results = new Map<string, AddTaskResult>();
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const rounds = options.serverErrorRounds ?? 5;

  const send = async (chunk: Serialised[], round: number): Promise<void> => {
    let items: AddCollectionItem[] | undefined;
    try {
      items = await client.tasks.addCollectionFast(
        jobId,
        `{"value":[${chunk.map((t) => t.json).join(',')}]}`,
      );
    } catch (e) {
      if (
        e instanceof BatchError &&
        (e.status === 413 || e.code === 'RequestBodyTooLarge') &&
        chunk.length > 1
      ) {
        const half = Math.ceil(chunk.length / 2);
        await send(chunk.slice(0, half), round);
        await send(chunk.slice(half), round);
        return;
      }
      throw e;
    }
    if (items === undefined) {
      for (const task of chunk) results.set(task.id, { taskId: task.id, outcome: 'added' });
      return;
    }
    const retry: Serialised[] = [];
    const byId = new Map(chunk.map((t) => [t.id, t]));
    for (const item of items) {
      const task = byId.get(item.taskId);
      if (!task) continue;
      if (item.status === 'success') {
        results.set(task.id, { taskId: task.id, outcome: 'added' });
      } else if (item.status === 'servererror') {
        retry.push(task);
      } else if (
        item.error?.code === 'TaskExists' &&
        (options.isOurs ? await options.isOurs(task.id) : true)
      ) {
        results.set(task.id, { taskId: task.id, outcome: 'exists' });
      } else {
        results.set(task.id, {
          taskId: task.id,
          outcome: 'failed',
          error: { code: item.error?.code ?? 'Unknown', message: item.error?.message?.value ?? '' },
        });
      }
    }
    if (retry.length > 0) {
      if (round >= rounds) {
        for (const t of retry) {
          results.set(t.id, {
            taskId: t.id,
            outcome: 'failed',
            error: { code: 'ServerError', message: 'Batch kept failing this task' },
          });
        }
        return;
      }
      await sleep(Math.min(30_000, 250 * 2 ** round));
      await send(retry, round + 1);
    }
  };

  let next = 0;
  const worker = async () => {
    while (next < queue.length) await send(queue[next++]!, 0);
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, queue.length) }, worker));
  return tasks.map(
    (t) =>
      results.get(t.id) ?? {
        taskId: t.id,
        outcome: 'failed',
        error: { code: 'NoResult', message: 'Batch returned no result for this task' },
      },
  );
}
