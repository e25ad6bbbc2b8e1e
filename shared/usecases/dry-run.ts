/**
 * Dry run (`POST /api/jobs?dryRun=true`): the admission checks of a real submission and the plan, with
 * nothing stored, queued or sent, and no rate token or quota taken.
 *
 * Checked as at the door (accept-job.ts): the request, the tenant's grants, and a job that could never
 * fit the tenant's limits (maxTasksInFlight). Not checked: the submission rate and the active-job and
 * task quotas (they describe the moment of a real submission, not the job), nor whether the id is
 * already taken (a dry run is no submission, so it is no replay or conflict either). An existing pool
 * is read from Batch as the plan stage reads it, with the same refusals. The answer shows the Batch
 * pool and job bodies with every SAS signature redacted (the caller's resource file URLs may carry
 * one) and secret references as placeholders (`slotwise-secret:<name>`): values are never read here.
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { Settings } from '../adapters/config/config.js';
import type { PoolStore } from '../adapters/cosmos/pool-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import { redactSas } from '../core/redact-sas.js';
import type { JobBody, PoolBody } from '../model/batch-bodies.js';
import { checkTaskLimit, checkTenantPolicy } from '../model/check-tenant-policy.js';
import { durationSeconds } from '../model/duration.js';
import type { PlanSummary } from '../model/job.js';
import type { JobRequest } from '../model/request-schema.js';
import { sweepSize } from '../model/sweep.js';
import { tenantPolicy } from '../model/tenant-policy.js';
import {
  type FieldError,
  fieldError,
  type ValidationPolicy,
  validateJobRequest,
} from '../model/validate-request.js';
import { tryGetVmSize } from '../model/vm-sizes.js';
import { type AccountDirectory, planAndRoute } from '../pipeline/account-routing.js';
import { type CostEstimate, estimateCost, type TaskDemand } from '../planner/cost.js';
import { slotsFor } from '../planner/plan-job.js';
import type { AccountConsidered } from '../planner/route-account.js';
import { taskCount } from './accept-job.js';

export interface DryRunDeps {
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly accounts: BatchAccounts;
  readonly accountDirectory: AccountDirectory;
  readonly pools: Pick<PoolStore, 'get'>;
  readonly policy: ValidationPolicy;
  readonly settings: Pick<
    Settings,
    | 'SLOTWISE_POOL_IMAGE'
    | 'SLOTWISE_POOL_NODE_AGENT_SKU'
    | 'BATCH_SUBSCRIPTION_ID'
    | 'BATCH_RESOURCE_GROUP'
    | 'BATCH_ACCOUNT_NAME'
    | 'SLOTWISE_PRICES'
  >;
}

/** The 200 answer. `plan` stays at the top level: the CLI's `slotwise plan` reads it there. */
export interface DryRunAnswer {
  readonly dryRun: true;
  readonly plan: PlanSummary & { readonly poolId: string };
  /** The pool body Slotwise would create (managed), or the existing pool as read from Batch. */
  readonly pool:
    | PoolBody
    | {
        readonly id: string;
        readonly existing: true;
        readonly vmSize: string;
        readonly taskSlotsPerNode: number;
        readonly currentNodes: number;
      };
  readonly batchJob: JobBody;
  /** The Batch account the job would go to, why, and how each account looked (docs/accounts.md). */
  readonly account: {
    readonly name: string;
    readonly region: string;
    readonly reason: string;
    readonly considered: readonly AccountConsidered[];
  };
  readonly estimate: CostEstimate;
}

export type DryRunResult =
  | { readonly kind: 'planned'; readonly answer: DryRunAnswer }
  | { readonly kind: 'invalid'; readonly errors: readonly FieldError[] }
  | {
      /** No Batch account open to the tenant takes new jobs now (all draining, or none allowed). */
      readonly kind: 'noAccount';
      readonly errors: readonly FieldError[];
      readonly considered: readonly AccountConsidered[];
    }
  | {
      readonly kind: 'overLimit';
      readonly limit: 'maxTasksInFlight';
      readonly errors: readonly FieldError[];
    };

/** Job id used for names in the plan when the request has none (nothing is created under it). */
const DRY_RUN_JOB_ID = 'dry-run';

export async function dryRunJob(
  input: { tenant: string; body: unknown },
  deps: DryRunDeps,
): Promise<DryRunResult> {
  const tenant = await deps.tenants.get(input.tenant);
  const policy = tenantPolicy(tenant?.policy);
  const validation = validateJobRequest(input.body, { ...deps.policy, tenant: policy });
  const errors = validation.ok ? checkTenantPolicy(validation.request, policy) : validation.errors;
  if (!validation.ok || errors.length > 0) return { kind: 'invalid', errors };
  const request = validation.request;

  const tooMany = checkTaskLimit(request, taskCount(request), policy);
  if (tooMany.length > 0) return { kind: 'overLimit', limit: 'maxTasksInFlight', errors: tooMany };

  const outcome = await planAndRoute(
    { tenant: input.tenant, jobId: request.id ?? DRY_RUN_JOB_ID, request },
    policy,
    {
      ...deps,
      directory: deps.accountDirectory,
    },
  );
  if (!outcome.ok && 'errors' in outcome) return { kind: 'invalid', errors: outcome.errors };
  const { plan, route } = outcome.ok ? outcome : { plan: undefined, route: outcome.noAccount };
  if (!plan) {
    return {
      kind: 'noAccount',
      errors: [fieldError(['pool'], route.reason)],
      considered: route.considered,
    };
  }
  // Counted as the plan stage counts them: in closed form when the widest task allows it.
  const chunks = plan.chunkCount();
  const summary = plan.summary;
  const estimate = estimateCost({
    vmSize: summary.vmSize,
    nodes: summary.poolNodes,
    taskSlotsPerNode: summary.taskSlotsPerNode,
    tasks: taskDemands(request, summary),
    prices: deps.settings.SLOTWISE_PRICES,
  });
  return {
    kind: 'planned',
    answer: {
      dryRun: true,
      plan: { ...summary, chunks, poolId: plan.poolId },
      // A start task's resource file URLs may carry the caller's SAS; secrets are only placeholders.
      pool: (plan.pool ? withoutSas(plan.pool) : undefined) ?? {
        id: plan.poolId,
        existing: true,
        vmSize: summary.vmSize,
        taskSlotsPerNode: summary.taskSlotsPerNode,
        // An existing pool's plan counts its current nodes.
        currentNodes: summary.poolNodes,
      },
      // The preparation's resource file URLs may carry the caller's SAS: never in an answer.
      batchJob: withoutSas(plan.batchJob),
      account: {
        name: route.account,
        region: route.region,
        reason: route.reason,
        considered: route.considered,
      },
      estimate,
    },
  };
}

/** A copy of a JSON value with every SAS signature in its strings redacted (see core/redact-sas.ts). */
function withoutSas<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) =>
    typeof v === 'string' ? redactSas(v) : v,
  ) as T;
}

/** Slots and expected seconds per task; a sweep's tasks all share the template's, so it is not expanded. */
function* taskDemands(request: JobRequest, summary: PlanSummary): Generator<TaskDemand> {
  const size = tryGetVmSize(summary.vmSize);
  const seconds = (own: string | undefined) => {
    const iso = own ?? request.expectedDuration;
    return iso === undefined ? undefined : durationSeconds(iso);
  };
  for (const task of request.tasks ?? []) {
    yield { slots: slotsFor(task, size, summary.taskSlotsPerNode), seconds: seconds(task.expectedDuration) };
  }
  if (request.sweep) {
    const demand = {
      slots: slotsFor(request.sweep, size, summary.taskSlotsPerNode),
      seconds: seconds(request.sweep.expectedDuration),
    };
    for (let i = sweepSize(request.sweep); i > 0; i--) yield demand;
  }
}
