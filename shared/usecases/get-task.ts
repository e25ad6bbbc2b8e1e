/**
 * GET /api/jobs/{id}/tasks/{taskId}: one task as Batch shows it, with the attempts Batch's record
 * tells apart (see `attemptsOf`). One Batch call.
 */
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { JobDoc } from '../model/job.js';
import { toBatchTaskId, toCallerTaskId } from '../model/task-ids.js';
import { inAccount } from '../pipeline/job-account.js';
import { batchJobOf } from './list-tasks.js';
import { attemptsOf, type TaskDetail, toTaskItem } from './task-view.js';

/** Caller task ids are Batch ids: letters, digits, `-` and `_`, at most 64. */
const taskIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export type TaskTarget =
  | { readonly kind: 'notFound'; readonly what: string; readonly why?: string }
  | {
      readonly kind: 'task';
      readonly job: JobDoc;
      readonly batchJobId: string;
      readonly batchTaskId: string;
    };

/** The Batch job and task a caller's task is, or why there is none to read. */
export async function findTask(
  tenant: string,
  jobId: string,
  taskId: string,
  deps: { readonly jobs: JobStore },
): Promise<TaskTarget> {
  const job = await deps.jobs.get(tenant, jobId);
  if (!job) return { kind: 'notFound', what: `Job '${jobId}'` };
  const what = `Task '${taskId.slice(0, 80)}' of job '${job.jobId}'`;
  if (!taskIdPattern.test(taskId) || !job.request) return { kind: 'notFound', what };
  const batchTaskId = toBatchTaskId(job.request, taskId);
  if (batchTaskId === undefined) return { kind: 'notFound', what };
  const batchJobId = batchJobOf(job);
  if (!batchJobId)
    return { kind: 'notFound', what, why: `the job is ${job.state}; its tasks are not in Batch yet` };
  return { kind: 'task', job, batchJobId, batchTaskId };
}

export type GetTaskResult =
  | { readonly kind: 'notFound'; readonly what: string; readonly why?: string }
  | { readonly kind: 'found'; readonly task: TaskDetail };

export async function getTask(
  tenant: string,
  jobId: string,
  taskId: string,
  deps: {
    readonly jobs: JobStore;
    readonly batch: BatchGateway;
    readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  },
): Promise<GetTaskResult> {
  const target = await findTask(tenant, jobId, taskId, deps);
  if (target.kind === 'notFound') return target;
  const info = await inAccount(deps, target.job.batch?.account).batch.getTask(
    target.batchJobId,
    target.batchTaskId,
  );
  if (!info) return { kind: 'notFound', what: `Task '${taskId}' of job '${target.job.jobId}'` };
  return {
    kind: 'found',
    // The id as the job spells it (Batch ids match ignoring case).
    task: {
      ...toTaskItem(target.job.jobId, toCallerTaskId(target.job.request!, info.id), info),
      attempts: attemptsOf(info),
    },
  };
}
