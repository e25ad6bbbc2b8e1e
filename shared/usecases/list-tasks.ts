/**
 * GET /api/jobs/{id}/tasks: one page of a job's tasks, read from Batch (one task list call per page,
 * `$filter` and `$select` done by Batch; never a scan of the job). Why Batch and not a copy in
 * Cosmos DB: see docs/api.md, "Tasks and logs".
 *
 * The continuation handed to the caller holds only Batch's skip token, bound to the Batch job and the
 * filter it was made for: the Batch call is always built here, for the caller's own job, so a
 * continuation cannot name another URL, job or tenant.
 */

import { createHash } from 'node:crypto';
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import { BatchError } from '../adapters/batch/batch-error.js';
import type { BatchGateway, TaskFilter } from '../adapters/batch/batch-gateway.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { JobDoc } from '../model/job.js';
import { toCallerTaskId } from '../model/task-ids.js';
import { inAccount } from '../pipeline/job-account.js';
import { type TaskItem, toTaskItem } from './task-view.js';

export const taskStateFilters = ['active', 'running', 'completed'] as const;
export const taskResultFilters = ['success', 'failure'] as const;
export const MAX_TASK_PAGE = 1000;
export const DEFAULT_TASK_PAGE = 100;

export interface ListTasksQuery {
  readonly filter: TaskFilter;
  readonly limit: number;
  readonly continuation?: string;
}

export type ListTasksResult =
  | { readonly kind: 'notFound' }
  | { readonly kind: 'badContinuation'; readonly message: string }
  | { readonly kind: 'page'; readonly tasks: readonly TaskItem[]; readonly continuation?: string };

/** Longest Batch skip token carried (Batch's are far shorter; this bounds what a caller can send). */
const MAX_SKIP_TOKEN = 2048;

interface Continuation {
  /** Batch's `$skiptoken`. */
  readonly s: string;
  /** Hash of the Batch job id it belongs to: a resubmitted job (a new Batch job) starts again. */
  readonly b: string;
  /** The filter it was made for. */
  readonly f: string;
}

const filterKey = (f: TaskFilter) => `${f.state ?? ''}|${f.result ?? ''}`;
const batchJobKey = (batchJobId: string) =>
  createHash('sha256').update(batchJobId).digest('base64url').slice(0, 16);

export function encodeContinuation(skipToken: string, batchJobId: string, filter: TaskFilter): string {
  const c: Continuation = { s: skipToken, b: batchJobKey(batchJobId), f: filterKey(filter) };
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

/** The skip token, or why the continuation cannot go on this list. */
export function decodeContinuation(
  text: string,
  batchJobId: string,
  filter: TaskFilter,
): { skipToken: string } | { error: string } {
  let c: Partial<Continuation> | undefined;
  try {
    if (text.length > MAX_SKIP_TOKEN * 2 || !/^[A-Za-z0-9_-]+$/.test(text)) throw new Error('shape');
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Continuation>;
  } catch {
    c = undefined;
  }
  if (
    !c ||
    typeof c.s !== 'string' ||
    c.s.length === 0 ||
    c.s.length > MAX_SKIP_TOKEN ||
    typeof c.b !== 'string' ||
    typeof c.f !== 'string'
  )
    return { error: "is not a continuation of this list (use a page's nextLink as it is)" };
  if (c.f !== filterKey(filter)) return { error: 'was made for other state/result filters' };
  if (c.b !== batchJobKey(batchJobId))
    return { error: 'belongs to an earlier attempt of the job; start the list again' };
  return { skipToken: c.s };
}

/** The Batch job a job's tasks are in, once it may exist (none before submission starts). */
export function batchJobOf(job: JobDoc): string | undefined {
  if (!job.batch || job.state === 'accepted' || job.state === 'planned' || job.state === 'rejected')
    return undefined;
  return job.batch.jobId;
}

export async function listTasks(
  tenant: string,
  jobId: string,
  query: ListTasksQuery,
  deps: {
    readonly jobs: JobStore;
    readonly batch: BatchGateway;
    readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  },
): Promise<ListTasksResult> {
  const job = await deps.jobs.get(tenant, jobId);
  if (!job) return { kind: 'notFound' };
  const batchJobId = batchJobOf(job);
  // Not in Batch yet (or never: rejected): no task has a state to show, which is an empty list.
  if (!batchJobId || !job.request) {
    if (query.continuation) return { kind: 'badContinuation', message: 'this list has no further pages' };
    return { kind: 'page', tasks: [] };
  }
  let skipToken: string | undefined;
  if (query.continuation) {
    const decoded = decodeContinuation(query.continuation, batchJobId, query.filter);
    if ('error' in decoded) return { kind: 'badContinuation', message: decoded.error };
    skipToken = decoded.skipToken;
  }
  let page: Awaited<ReturnType<BatchGateway['listTaskPage']>>;
  try {
    page = await inAccount(deps, job.batch?.account).batch.listTaskPage(batchJobId, {
      filter: query.filter,
      maxResults: query.limit,
      ...(skipToken ? { skipToken } : {}),
    });
  } catch (e) {
    // A skip token Batch does not take (made up, or expired) is the caller's to fix.
    if (skipToken && e instanceof BatchError && e.status === 400)
      return { kind: 'badContinuation', message: 'is no longer valid; start the list again' };
    throw e;
  }
  // The Batch job is gone (deleted after the job ended, or a submission not yet that far).
  if (!page) return { kind: 'page', tasks: [] };
  const request = job.request;
  return {
    kind: 'page',
    tasks: page.tasks.map((t) => toTaskItem(job.jobId, toCallerTaskId(request, t.id), t)),
    ...(page.skipToken ? { continuation: encodeContinuation(page.skipToken, batchJobId, query.filter) } : {}),
  };
}
