/**
 * Adds any number of tasks through add-task-collection: requests of ≤ 100 tasks under the body
 * limit, sent with bounded concurrency.
 * - Each request body is one `JSON.stringify` of its tasks; a body over the limit, or one Batch
 *   answers with 413 `RequestBodyTooLarge`, is split in half and both halves are sent;
 * - per-task `servererror`: only those tasks are resent, with backoff;
 * - per-task `TaskExists`: counted as `exists` (ours: it comes from an earlier attempt with the same
 *   id) unless `isOurs` says otherwise;
 * - other `clienterror`: reported as failed with Batch's code.
 * Whole-request transient failures are retried inside the client with the same task ids.
 */
import { BatchError } from './batch-error.js';
import type { AddCollectionItem, BatchClient } from './client.js';

export const MAX_TASKS_PER_REQUEST = 100;
/** Batch rejects bodies of 1 MB or more; leave room for headers and rounding. */
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

export async function addTasks<T extends { readonly id: string }>(
  client: BatchClient,
  jobId: string,
  tasks: readonly T[],
  options: AddTasksOptions = {},
): Promise<AddTaskResult[]> {
  const perRequest = options.maxTasksPerRequest ?? MAX_TASKS_PER_REQUEST;
  const maxBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const rounds = options.serverErrorRounds ?? 5;
  /** Outcome per task index; undefined = added (the common case costs no allocation). */
  const outcomes = new Array<AddTaskResult | undefined>(tasks.length);

  const send = async (indices: readonly number[], round: number): Promise<void> => {
    const body = JSON.stringify({ value: indices.map((i) => tasks[i]) });
    if (indices.length > 1 && Buffer.byteLength(body) > maxBytes) {
      await splitAndSend(indices, round);
      return;
    }
    let items: AddCollectionItem[] | undefined;
    try {
      items = await client.tasks.addCollectionFast(jobId, body);
    } catch (e) {
      if (
        e instanceof BatchError &&
        (e.status === 413 || e.code === 'RequestBodyTooLarge') &&
        indices.length > 1
      ) {
        await splitAndSend(indices, round);
        return;
      }
      throw e;
    }
    if (items === undefined) return; // every task of the request was added
    const byId = new Map(indices.map((i) => [tasks[i]!.id, i]));
    const retry: number[] = [];
    for (const item of items) {
      const index = byId.get(item.taskId);
      if (index === undefined || item.status === 'success') continue;
      if (item.status === 'servererror') retry.push(index);
      else if (
        item.error?.code === 'TaskExists' &&
        (options.isOurs ? await options.isOurs(item.taskId) : true)
      ) {
        outcomes[index] = { taskId: item.taskId, outcome: 'exists' };
      } else {
        outcomes[index] = {
          taskId: item.taskId,
          outcome: 'failed',
          error: { code: item.error?.code ?? 'Unknown', message: item.error?.message?.value ?? '' },
        };
      }
    }
    if (retry.length === 0) return;
    if (round >= rounds) {
      for (const i of retry) {
        outcomes[i] = {
          taskId: tasks[i]!.id,
          outcome: 'failed',
          error: { code: 'ServerError', message: 'Batch kept failing this task' },
        };
      }
      return;
    }
    await sleep(Math.min(30_000, 250 * 2 ** round));
    await send(retry, round + 1);
  };

  const splitAndSend = async (indices: readonly number[], round: number) => {
    const half = Math.ceil(indices.length / 2);
    await send(indices.slice(0, half), round);
    await send(indices.slice(half), round);
  };

  const requests: number[][] = [];
  for (let start = 0; start < tasks.length; start += perRequest) {
    requests.push(Array.from({ length: Math.min(perRequest, tasks.length - start) }, (_, k) => start + k));
  }
  let next = 0;
  const worker = async () => {
    while (next < requests.length) await send(requests[next++]!, 0);
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, requests.length) }, worker));
  return tasks.map((t, i) => outcomes[i] ?? { taskId: t.id, outcome: 'added' });
}
