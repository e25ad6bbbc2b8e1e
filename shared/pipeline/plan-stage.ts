/**
 * Plan stage (queue `slotwise-plan`): accepted → planned (or rejected).
 *
 * Idempotent under redelivery: the plan is a pure function of the stored request (nothing per chunk is
 * written; the submitter rebuilds the task bodies), and the state change is an ETag-guarded transition
 * from `accepted` only. A message for a job already past
 * `accepted` re-sends the submit message when the job is still `planned` (healing a crash between the
 * write and the send) and otherwise does nothing.
 *
 * One invocation at a time plans a job: it claims a lease on the document (ETag-guarded, like the
 * submitter); another that sees a live lease returns `busy`. Every claim counts an attempt on the
 * document. A failed attempt releases the lease and re-queues the job with a growing delay; after
 * `maxAttempts` (crashed holders included, since the claim counts) the job fails with `PlanFailed`
 * and the last error, instead of being re-driven by the sweep for ever.
 *
 * A plan that needs a managed pool the tenant does not hold yet reserves it under the tenant's
 * `maxManagedPools` (the usage ledger, ETag-guarded, so racing plans never pass the limit). Over it,
 * the job waits in `accepted` with the reason `ManagedPoolLimitReached` (and a `slotwise.job.waiting`
 * event), planned again after a growing delay until one of the tenant's pools has been deleted; a wait
 * is not an attempt, so it never fails the job.
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { Settings } from '../adapters/config/config.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { PoolStore } from '../adapters/cosmos/pool-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import type { UsageStore } from '../adapters/cosmos/usage-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { describeError, SlotwiseError } from '../core/errors.js';
import type { JobDoc } from '../model/job.js';
import { makeEvent, transition } from '../model/lifecycle.js';
import type { PipelineMessage } from '../model/pipeline-message.js';
import { tenantPolicy } from '../model/tenant-policy.js';
import type { FieldError } from '../model/validate-request.js';
import { batchRefsOf } from '../planner/plan-job.js';
import { type AccountDirectory, planAndRoute, reserveRoute } from './account-routing.js';
import { announce } from './announce.js';
import { DEFAULT_LEASE_MS, heartbeatEveryMs, keepLeaseAlive, renewStageLease } from './lease-heartbeat.js';
import { WAITING_EVENT_TYPE } from './notify-stage.js';
import { accountQuotaDelaySeconds } from './submit-stage.js';

export interface PlanStageDeps {
  readonly jobs: JobStore;
  readonly queues: QueueGateway;
  readonly tenants: Pick<TenantStore, 'get'>;
  /** The ledger `maxManagedPools` is held in, and the pool records it counts. */
  readonly usage: Pick<UsageStore, 'reservePool'>;
  readonly pools: Pick<PoolStore, 'list' | 'get'>;
  readonly accounts: BatchAccounts;
  readonly accountDirectory: AccountDirectory;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly settings: Pick<
    Settings,
    | 'SLOTWISE_POOL_IMAGE'
    | 'SLOTWISE_POOL_NODE_AGENT_SKU'
    | 'BATCH_SUBSCRIPTION_ID'
    | 'BATCH_RESOURCE_GROUP'
    | 'BATCH_ACCOUNT_NAME'
  > &
    Partial<Pick<Settings, 'SLOTWISE_QUOTA_RETRY_SECONDS' | 'SLOTWISE_POOL_IDLE_TTL_SECONDS'>>;
  /** How long a claim on a job lasts without renewal (a heartbeat renews it). Default 30 s. */
  readonly leaseMs?: number;
  /** Attempts before the job fails with `PlanFailed`. Default 5. */
  readonly maxAttempts?: number;
}

export type PlanStageResult =
  | 'planned'
  | 'rejected'
  | 'skipped'
  | 'missing'
  | 'busy'
  | 'retrying'
  | 'waiting'
  | 'failed';

/** Why a job waits in `accepted`: its tenant holds every managed pool it may. */
export const MANAGED_POOL_LIMIT_CODE = 'ManagedPoolLimitReached';

/** Why a job waits in `accepted`: no Batch account it may use takes new jobs now (all draining). */
export const NO_BATCH_ACCOUNT_CODE = 'NoBatchAccountOpen';

export const DEFAULT_PLAN_ATTEMPTS = 5;

/** Delay before the next attempt after a failed one (1-based): 5 s doubling, at most 5 minutes. */
export function planRetryDelaySeconds(attempt: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, attempt - 1));
}

export async function runPlanStage(
  message: PipelineMessage,
  deps: PlanStageDeps,
  owner: string = deps.ids.uuid(),
): Promise<PlanStageResult> {
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const maxAttempts = deps.maxAttempts ?? DEFAULT_PLAN_ATTEMPTS;
  let exhausted = false;
  const claim = await deps.jobs.update(message.tenant, message.jobId, (current) => {
    exhausted = false;
    if (current.state !== 'accepted' || !current.request) return undefined;
    const now = deps.clock.now();
    const planning = current.planning ?? { attempts: 0 };
    if (planning.lease && planning.lease.owner !== owner && Date.parse(planning.lease.until) > now.getTime())
      return undefined;
    if (planning.attempts >= maxAttempts) {
      exhausted = true;
      return transition(current, 'failed', now, deps.ids.uuid(), {
        failure: {
          code: 'PlanFailed',
          message: `Planning did not succeed in ${planning.attempts} attempts; last error: ${
            planning.lastError ?? 'the planner stopped before finishing'
          }`.slice(0, 1000),
        },
      });
    }
    const { retryAt: _due, ...rest } = planning;
    return {
      ...current,
      planning: {
        ...rest,
        attempts: planning.attempts + 1,
        lease: { owner, until: new Date(now.getTime() + leaseMs).toISOString() },
      },
    };
  });
  if (!claim) return 'missing';
  if (claim.changed && exhausted) {
    await announce(claim.job, deps.queues);
    return 'failed';
  }
  if (!claim.changed) {
    if (claim.job.state === 'planned') {
      // Heals a crash between the `planned` write and the submit message.
      await deps.queues.send(queueNames.submit, message);
      return 'skipped';
    }
    return claim.job.state === 'accepted' && claim.job.request ? 'busy' : 'skipped';
  }
  const job = claim.job;
  // Short lease, renewed while planning goes on: a dead planner's job is taken over in seconds.
  const heartbeat = keepLeaseAlive(
    () =>
      renewStageLease(deps.jobs, job, 'planning', owner, () =>
        new Date(deps.clock.now().getTime() + leaseMs).toISOString(),
      ),
    heartbeatEveryMs(leaseMs),
  );
  try {
    return await planClaimed(job, message, owner, deps);
  } catch (e) {
    const attempts = job.planning?.attempts ?? 1;
    const reason = (e instanceof SlotwiseError ? `${e.code}: ${e.message}` : describeError(e)).slice(0, 500);
    const delaySeconds = planRetryDelaySeconds(attempts);
    const released = await deps.jobs.update(job.tenant, job.jobId, (current) => {
      if (current.state !== 'accepted' || current.planning?.lease?.owner !== owner) return undefined;
      const { lease: _released, ...planning } = current.planning;
      return {
        ...current,
        planning: {
          ...planning,
          lastError: reason,
          retryAt: new Date(deps.clock.now().getTime() + delaySeconds * 1000).toISOString(),
        },
      };
    });
    if (!released?.changed) return 'skipped';
    // The next claim fails the job when this was the last attempt; re-queued rather than thrown so
    // the host's own retries (and the poison queue) do not decide the outcome.
    await deps.queues.send(queueNames.plan, message, {
      delaySeconds: attempts >= (deps.maxAttempts ?? DEFAULT_PLAN_ATTEMPTS) ? 0 : delaySeconds,
    });
    return 'retrying';
  } finally {
    await heartbeat.stop();
  }
}

async function rejectPlan(job: JobDoc, errors: FieldError[], deps: PlanStageDeps): Promise<PlanStageResult> {
  const result = await deps.jobs.update(job.tenant, job.jobId, (current) =>
    current.state === 'accepted'
      ? transition(withoutPlanLease(current), 'rejected', deps.clock.now(), deps.ids.uuid(), { errors })
      : undefined,
  );
  if (result?.changed) await announce(result.job, deps.queues);
  return 'rejected';
}

async function planClaimed(
  job: JobDoc,
  message: PipelineMessage,
  owner: string,
  deps: PlanStageDeps,
): Promise<PlanStageResult> {
  const request = job.request!;

  const policy = tenantPolicy((await deps.tenants.get(job.tenant))?.policy);
  const outcome = await planAndRoute(
    { tenant: job.tenant, jobId: job.jobId, request, ...(job.lane ? { lane: true } : {}) },
    policy,
    { ...deps, directory: deps.accountDirectory },
  );
  if (!outcome.ok && 'errors' in outcome) return rejectPlan(job, outcome.errors, deps);
  if (!outcome.ok) {
    // No account is open to the job now: every one it may use is draining (or the tenant's accounts
    // and regions name none of the deployment's). It waits, as for a managed pool, and is planned
    // again: an operator's drain ends, settings change.
    return waitForRoom(job, message, owner, NO_BATCH_ACCOUNT_CODE, outcome.noAccount.reason, deps);
  }

  const { plan, route } = outcome;
  if (plan.pool) {
    const limit = policy.limits.maxManagedPools;
    const room = await deps.usage.reservePool(
      job.tenant,
      { poolId: plan.poolId, job: job.id },
      limit,
      deps.clock.now(),
      async () => (await deps.pools.list({ tenant: job.tenant })).map((p) => p.id),
    );
    if (!room.ok) {
      const idle = deps.settings.SLOTWISE_POOL_IDLE_TTL_SECONDS;
      return waitForRoom(
        job,
        message,
        owner,
        MANAGED_POOL_LIMIT_CODE,
        `This tenant holds ${room.held.length} managed pools and its limit maxManagedPools is ${limit}; the job needs ` +
          `another and waits until one of them is deleted (a pool is deleted once idle${idle ? ` for ${idle} s` : ''}).`,
        deps,
      );
    }
  }
  // Nothing per chunk is stored: the submitter rebuilds chunk N from the request and this summary
  // (`rebuildChunks`), so a million-task plan writes one document, not ten thousand. The count is in
  // closed form when no body comes near the byte limit (a sweep's widest task, computed); otherwise
  // one pass over the task bodies, with no I/O, so no throttling can stretch it.
  const count = plan.chunkCount();

  const result = await deps.jobs.update(job.tenant, job.jobId, (current) =>
    current.state === 'accepted' && current.planning?.lease?.owner === owner
      ? transition(withoutPoolWait(withoutPlanLease(current)), 'planned', deps.clock.now(), deps.ids.uuid(), {
          plan: { ...plan.summary, chunks: count },
          batch: batchRefsOf(plan, route),
          batchBodies: { ...(plan.pool ? { pool: plan.pool } : {}), job: plan.batchJob },
          submission: { chunksTotal: count, chunksAdded: 0, tasksAdded: 0, attempts: 0 },
        })
      : undefined,
  );
  if (!result?.changed) return 'skipped';
  reserveRoute(deps.accountDirectory, outcome);
  await deps.queues.send(queueNames.submit, message);
  await announce(result.job, deps.queues);
  return 'planned';
}

/**
 * The job cannot be placed now (the tenant holds every managed pool it may, or no Batch account is
 * open to it): it keeps its place in `accepted`, shows why (once, with an event) and is planned again
 * after a growing delay (`retryAt` keeps the sweep away meanwhile). The claim's attempt is given
 * back: waiting is not failing.
 */
async function waitForRoom(
  job: JobDoc,
  message: PipelineMessage,
  owner: string,
  code: string,
  reason: string,
  deps: PlanStageDeps,
): Promise<PlanStageResult> {
  const now = deps.clock.now();
  let delaySeconds = 0;
  let announced = false;
  const result = await deps.jobs.update(job.tenant, job.jobId, (current) => {
    announced = false;
    if (current.state !== 'accepted' || current.planning?.lease?.owner !== owner) return undefined;
    const { lease: _released, ...planning } = current.planning;
    const waits = (planning.waits ?? 0) + 1;
    delaySeconds = accountQuotaDelaySeconds(waits, deps.settings.SLOTWISE_QUOTA_RETRY_SECONDS);
    const next: JobDoc = {
      ...current,
      planning: {
        ...planning,
        attempts: Math.max(0, planning.attempts - 1),
        waits,
        retryAt: new Date(now.getTime() + delaySeconds * 1000).toISOString(),
      },
    };
    if (current.waiting?.code === code) return next;
    const iso = now.toISOString();
    next.waiting = { code, message: reason, since: iso };
    next.updatedAt = iso;
    next.events = [
      ...current.events,
      { ...makeEvent(next, current.state, iso, deps.ids.uuid()), type: WAITING_EVENT_TYPE },
    ];
    announced = true;
    return next;
  });
  if (!result?.changed) return 'skipped';
  if (announced) await announce(result.job, deps.queues);
  await deps.queues.send(queueNames.plan, message, { delaySeconds });
  return 'waiting';
}

function withoutPoolWait(job: JobDoc): JobDoc {
  if (job.waiting?.code !== MANAGED_POOL_LIMIT_CODE && job.waiting?.code !== NO_BATCH_ACCOUNT_CODE)
    return job;
  const { waiting: _over, ...rest } = job;
  return rest;
}

/** Planning done (or given up): the attempt count stays, the lease goes. */
function withoutPlanLease(job: JobDoc): JobDoc {
  if (!job.planning) return job;
  const { lease: _released, retryAt: _due, ...planning } = job.planning;
  return { ...job, planning };
}
