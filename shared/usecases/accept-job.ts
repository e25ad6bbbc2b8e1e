/**
 * Intake: a request (HTTP or queue) becomes an `accepted` job document and a plan message.
 *
 * The job id is the idempotency key: the same id with the same body is a replay and returns the stored
 * job (and re-sends the plan message if the job is still waiting for it, which heals a crash between
 * the write and the send); the same id with a different body is a conflict.
 */

import { createHash } from 'node:crypto';
import type { Settings } from '../adapters/config/config.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import type { UsageStore } from '../adapters/cosmos/usage-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import { checkTaskLimit, checkTenantPolicy } from '../model/check-tenant-policy.js';
import { type JobDoc, jobDocId } from '../model/job.js';
import { makeEvent, newJobDoc } from '../model/lifecycle.js';
import type { PipelineMessage } from '../model/pipeline-message.js';
import type { JobRequest } from '../model/request-schema.js';
import { sweepSize } from '../model/sweep.js';
import { type TenantLimits, tenantPolicy } from '../model/tenant-policy.js';
import { type FieldError, type ValidationPolicy, validateJobRequest } from '../model/validate-request.js';

export interface AcceptDeps {
  readonly jobs: JobStore;
  readonly queues: QueueGateway;
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly usage: UsageStore;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly policy: ValidationPolicy;
  readonly settings?: Pick<Settings, 'SLOTWISE_QUOTA_RETRY_SECONDS'>;
  readonly log?: (message: string) => void;
}

export type AcceptResult =
  | { readonly kind: 'accepted'; readonly job: JobDoc; readonly created: boolean }
  | { readonly kind: 'conflict'; readonly job: JobDoc }
  | { readonly kind: 'invalid'; readonly errors: readonly FieldError[] }
  | { readonly kind: 'rejected'; readonly job: JobDoc; readonly created: boolean }
  /**
   * Over a limit that frees up with time: the submission rate (429) or a quota now full (409).
   * Nothing was stored. HTTP answers with `Retry-After`; queue intake waits that long and tries again.
   */
  | {
      readonly kind: 'limited';
      readonly limit: LimitName;
      readonly status: 429 | 409;
      readonly retryAfterSeconds: number;
      readonly detail: string;
    }
  /** The job could never fit the tenant's limits (HTTP 422; over the queue a `rejected` job is stored). */
  | { readonly kind: 'overLimit'; readonly limit: LimitName; readonly errors: readonly FieldError[] };

export type LimitName = keyof TenantLimits;

/**
 * `source: 'http'` answers invalid input with the errors and stores nothing; `source: 'queue'` stores
 * a `rejected` job carrying the errors, so a bad message is answered once, visibly, and never retried.
 *
 * Admission, in this order: the request and the tenant's grants; a replay of a stored job (answered
 * as stored, whatever the limits say now); a job that could never fit the tenant's limits; the
 * submission rate; the active-job and task quotas (a reservation keyed by the job, so a retried
 * submission reserves once). Only then is the job written: over a limit nothing is stored.
 */
export async function acceptJob(
  input: { tenant: string; body: unknown; source: 'http' | 'queue' },
  deps: AcceptDeps,
): Promise<AcceptResult> {
  const tenant = await deps.tenants.get(input.tenant);
  const policy = tenantPolicy(tenant?.policy);
  const validation = validateJobRequest(input.body, { ...deps.policy, tenant: policy });
  const errors = validation.ok ? checkTenantPolicy(validation.request, policy) : validation.errors;
  if (!validation.ok || errors.length > 0) {
    if (input.source === 'http') return { kind: 'invalid', errors };
    return storeRejected(input.tenant, input.body, errors, deps);
  }
  const jobId = validation.request.id ?? `job-${deps.ids.uuid()}`;
  const request: JobRequest = { ...validation.request, id: jobId };
  const hash = requestHash(request);
  const stored = await deps.jobs.get(input.tenant, jobId);
  if (stored) return stored.requestHash === hash ? replayed(stored, deps) : { kind: 'conflict', job: stored };

  const limits = policy.limits;
  const tasks = taskCount(request);
  const tooMany = checkTaskLimit(request, tasks, policy);
  if (tooMany.length > 0) {
    if (input.source === 'http') return { kind: 'overLimit', limit: 'maxTasksInFlight', errors: tooMany };
    return storeRejected(input.tenant, input.body, tooMany, deps);
  }
  const now = deps.clock.now();
  const limited = await takeSubmissionToken(input.tenant, limits, 'jobs', deps);
  if (limited) return limited;
  const reserved = await deps.usage.reserve(
    input.tenant,
    // Keyed by the job and marked with the request: a racing request with the same id and another
    // body reserves again (for the larger), never riding on this one's room.
    { key: jobDocId(jobId), tasks, for: hash },
    { maxActiveJobs: limits.maxActiveJobs, maxTasksInFlight: limits.maxTasksInFlight },
    now,
  );
  if (!reserved.ok) {
    const detail =
      reserved.limit === 'maxActiveJobs'
        ? `This tenant has ${reserved.usage.activeJobs} active jobs, its limit maxActiveJobs is ${limits.maxActiveJobs}.`
        : `This tenant has ${reserved.usage.tasksInFlight} tasks in flight; ${tasks} more would pass its limit maxTasksInFlight (${limits.maxTasksInFlight}).`;
    return {
      kind: 'limited',
      limit: reserved.limit,
      status: 409,
      retryAfterSeconds: deps.settings?.SLOTWISE_QUOTA_RETRY_SECONDS ?? DEFAULT_QUOTA_RETRY_SECONDS,
      detail,
    };
  }

  const doc = newJobDoc(input.tenant, jobId, request, hash, now, deps.ids.uuid());
  const { created, job } = await deps.jobs.create(doc);
  if (!created) return job.requestHash === hash ? replayed(job, deps) : { kind: 'conflict', job };
  await sendOrLog(deps, queueNames.plan, { tenant: job.tenant, jobId: job.jobId });
  if (job.events.some((e) => e.delivery.status === 'pending')) {
    await sendOrLog(deps, queueNames.notify, { tenant: job.tenant, jobId: job.jobId });
  }
  return { kind: 'accepted', job, created: true };
}

/** Quota waits are measured in job run times, not seconds: ask again after this long by default. */
const DEFAULT_QUOTA_RETRY_SECONDS = 30;

/**
 * The same id and body again: answered as stored. A job still waiting for its plan message gets it
 * again, which heals a crash between the write and the send.
 */
async function replayed(job: JobDoc, deps: AcceptDeps): Promise<AcceptResult> {
  if (job.state === 'accepted')
    await sendOrLog(deps, queueNames.plan, { tenant: job.tenant, jobId: job.jobId });
  if (job.state === 'rejected') return { kind: 'rejected', job, created: false };
  return { kind: 'accepted', job, created: false };
}

export function taskCount(request: JobRequest): number {
  return (request.tasks?.length ?? 0) + (request.sweep ? sweepSize(request.sweep) : 0);
}

/** A failed send is not fatal: the job is stored, and the sweep re-drives jobs left in `accepted`. */
async function sendOrLog(
  deps: AcceptDeps,
  queue: Parameters<QueueGateway['send']>[0],
  message: PipelineMessage,
) {
  try {
    await deps.queues.send(queue, message);
  } catch (e) {
    deps.log?.(
      `Could not enqueue ${queue} for ${message.jobId}; the sweep will re-drive it (${describeError(e)})`,
    );
  }
}

async function storeRejected(
  tenant: string,
  body: unknown,
  errors: readonly FieldError[],
  deps: AcceptDeps,
): Promise<AcceptResult> {
  const rawId = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
  const jobId =
    typeof rawId === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(rawId) ? rawId : `rejected-${deps.ids.uuid()}`;
  const now = deps.clock.now();
  const hash = requestHash(body);
  const doc: JobDoc = {
    ...newJobDoc(tenant, jobId, null, hash, now, deps.ids.uuid()),
    state: 'rejected',
    errors,
    endedAt: now.toISOString(),
  };
  doc.history = [{ state: 'rejected', at: now.toISOString() }];
  doc.events = [
    {
      ...makeEvent(doc, 'rejected', now.toISOString(), deps.ids.uuid()),
      delivery: { status: 'none', attempts: 0 },
    },
  ];
  const { created, job } = await deps.jobs.create(doc);
  if (!created && job.requestHash !== hash) return { kind: 'conflict', job };
  return { kind: 'rejected', job, created };
}

/** SHA-256 over canonical JSON (keys sorted), so key order in the body does not matter. */
export function requestHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Takes one of the tenant's submission-rate tokens (new jobs and retries share them); the 429 answer,
 * with when to try again, when there is none.
 */
export async function takeSubmissionToken(
  tenant: string,
  limits: Pick<TenantLimits, 'submissionsPerSecond' | 'submissionBurst'>,
  what: string,
  deps: Pick<AcceptDeps, 'usage' | 'clock'>,
): Promise<
  | {
      readonly kind: 'limited';
      readonly limit: 'submissionsPerSecond';
      readonly status: 429;
      readonly retryAfterSeconds: number;
      readonly detail: string;
    }
  | undefined
> {
  const rate = await deps.usage.takeSubmission(
    tenant,
    { perSecond: limits.submissionsPerSecond, burst: limits.submissionBurst },
    deps.clock,
  );
  if (rate.ok) return undefined;
  return {
    kind: 'limited',
    limit: 'submissionsPerSecond',
    status: 429,
    retryAfterSeconds: Math.max(1, Math.ceil(rate.retryAfterMs / 1000)),
    detail: `This tenant may submit ${limits.submissionsPerSecond} ${what} per second (bursts of ${limits.submissionBurst}).`,
  };
}
