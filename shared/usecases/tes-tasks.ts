/**
 * What a GA4GH TES client asks (`/api/ga4gh/tes/v1`): create, get, list and cancel tasks.
 *
 * Create validates at the door (400 naming the field: the request, `backend_parameters` when strict,
 * a task no VM size fits), takes the tenant's TES rate and in-flight budget, stages `content` inputs
 * in the tenant's results store, writes the task document (QUEUED) and wakes the TES submitter for
 * the task's lane key. A URL Slotwise cannot serve (s3://, gs://, an output Blob URL without a SAS) is
 * accepted, as the spec's clients expect, and the task ends SYSTEM_ERROR at once with the reason in
 * its system logs. `file://` URLs under one of the tenant's TES file systems (tenant policy
 * `tesFileSystems`) are staged through that share, which the tenant's lanes mount. Reads are served
 * from the task documents only: no read calls Batch.
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { ResultsStore } from '../adapters/blob/results-store.js';
import type { Settings } from '../adapters/config/config.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import type { TesTaskStore } from '../adapters/cosmos/tes-store.js';
import type { UsageStore } from '../adapters/cosmos/usage-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { FieldError } from '../model/field-error.js';
import type { JobDoc } from '../model/job.js';
import { tenantPolicy } from '../model/tenant-policy.js';
import { encodeTesPageToken, parseTesListQuery, type TesListQuery } from '../model/tes-list.js';
import { parseTesTaskRequest } from '../model/tes-schema.js';
import { isFinalTesState, type TesTaskDoc } from '../model/tes-task.js';
import { type TesView, tesTaskView } from '../model/tes-views.js';
import { currentLane } from '../pipeline/tes-lanes.js';
import { placeTesTask } from '../planner/tes-placement.js';
import { tesContentBlobPath, tesTaskBody } from '../planner/tes-task-body.js';
import { takeRateToken } from './submission-tokens.js';

export interface TesDeps {
  readonly tesTasks: TesTaskStore;
  readonly jobs: Pick<JobStore, 'get'>;
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly usage: Pick<UsageStore, 'takeSubmissions'>;
  readonly results: Pick<ResultsStore, 'upload'>;
  readonly batch: Pick<BatchGateway, 'terminateTask'>;
  /** Every account: a task's lane may be in any. */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly settings: Pick<
    Settings,
    | 'SLOTWISE_TES_VM_SIZE'
    | 'SLOTWISE_TES_MAX_NODES'
    | 'SLOTWISE_QUOTA_RETRY_SECONDS'
    | 'BATCH_POOL_ALLOCATION_MODE'
  >;
  /** The local stack's Azurite URLs (http://127.0.0.1) are served. */
  readonly allowLoopbackHttp: boolean;
  readonly log?: (message: string) => void;
}

export type TesCreateResult =
  | { readonly kind: 'created'; readonly id: string }
  | { readonly kind: 'invalid'; readonly errors: readonly FieldError[] }
  | {
      readonly kind: 'limited';
      readonly status: 429 | 409;
      readonly limit: string;
      readonly retryAfterSeconds: number;
      readonly detail: string;
    };

/** Wake-ups per lane key are coalesced over this window: the submitter reads every waiting task anyway. */
const WAKE_WINDOW_MS = 1000;
const lastWake = new Map<string, number>();

export async function createTesTask(tenant: string, body: unknown, deps: TesDeps): Promise<TesCreateResult> {
  const parsed = parseTesTaskRequest(body);
  if (!parsed.ok) return { kind: 'invalid', errors: parsed.errors };
  const policy = tenantPolicy((await deps.tenants.get(tenant))?.policy);
  const placed = placeTesTask(tenant, parsed.request, {
    defaultVmSize: deps.settings.SLOTWISE_TES_VM_SIZE,
    maxNodes: deps.settings.SLOTWISE_TES_MAX_NODES,
    // Spot nodes are retired in Batch-managed accounts: a preemptible task runs dedicated there.
    lowPriorityAvailable: deps.settings.BATCH_POOL_ALLOCATION_MODE === 'UserSubscription',
    // Every lane of a tenant with TES file systems mounts them: its lane keys cover them.
    fileSystems: policy.tesFileSystems,
  });
  if (!placed.ok) return { kind: 'invalid', errors: placed.errors };
  const allowed = policy.limits.allowedVmSizes;
  if (allowed && !allowed.some((s) => s.toLowerCase() === placed.placement.vmSize.toLowerCase())) {
    return {
      kind: 'invalid',
      errors: [
        {
          field: 'resources',
          pointer: '/resources',
          message: `the task would run on ${placed.placement.vmSize}, which this tenant may not use; pin an allowed size with backend_parameters.vm_size (allowed: ${allowed.join(', ')})`,
        },
      ],
    };
  }
  const limits = policy.limits;
  const rate = await takeRateToken(
    tenant,
    'tes',
    { perSecond: limits.tesTasksPerSecond, burst: limits.tesTaskBurst },
    deps,
  );
  if (!rate.ok) {
    return {
      kind: 'limited',
      status: 429,
      limit: 'tesTasksPerSecond',
      retryAfterSeconds: Math.max(1, Math.ceil(rate.retryAfterMs / 1000)),
      detail: `This tenant may submit ${limits.tesTasksPerSecond} TES tasks per second (bursts of ${limits.tesTaskBurst}).`,
    };
  }
  // Counted, not reserved (at most once a second per instance): racing creates, or creates in other
  // instances within that second, may pass the limit by that many.
  const unfinished = await unfinishedCount(tenant, deps);
  if (unfinished + 1 > limits.maxTesTasksInFlight) {
    return {
      kind: 'limited',
      status: 409,
      limit: 'maxTesTasksInFlight',
      retryAfterSeconds: deps.settings.SLOTWISE_QUOTA_RETRY_SECONDS,
      detail: `This tenant has ${unfinished} TES tasks not yet ended, its limit maxTesTasksInFlight is ${limits.maxTesTasksInFlight}.`,
    };
  }

  const id = deps.ids.uuid();
  const now = deps.clock.now().toISOString();
  const request = parsed.request;
  const tags = request.tags;
  let doc: TesTaskDoc = {
    id,
    tenant,
    type: 'tes-task',
    state: 'QUEUED',
    creationTime: now,
    updatedAt: now,
    sortKey: `${now}|${id}`,
    ...(request.name !== undefined ? { name: request.name } : {}),
    request,
    tagKeys: Object.keys(tags),
    tagPairs: Object.entries(tags).map(([k, v]) => JSON.stringify([k, v])),
    placement: placed.placement,
    logs: [],
    systemLogs: [...parsed.warnings, ...placed.warnings],
  };
  // file:// URLs under the tenant's TES file systems' roots are staged through them.
  const built = tesTaskBody(doc, {
    allowLoopbackHttp: deps.allowLoopbackHttp,
    fileSystems: policy.tesFileSystems,
  });
  if (!built.ok) {
    doc = { ...doc, state: 'SYSTEM_ERROR', systemLogs: [...doc.systemLogs, built.reason], endedAt: now };
  } else {
    // Content inputs go to the tenant's results store first: the task stages them from there.
    await Promise.all(
      request.inputs.map((input, index) =>
        input.content !== undefined
          ? deps.results.upload(
              tenant,
              tesContentBlobPath(id, index),
              new TextEncoder().encode(input.content),
            )
          : undefined,
      ),
    );
  }
  await deps.tesTasks.create(doc);
  if (!doc.endedAt) countCreated(tenant);
  if (!doc.endedAt) await wake(tenant, doc.placement.laneKey, deps);
  return { kind: 'created', id };
}

/** How long a tenant's count of unfinished TES tasks is reused in this instance. */
const COUNT_TTL_MS = 1000;
const unfinishedCounts = new Map<string, { at: number; count: Promise<number> }>();

/**
 * The tenant's unfinished TES tasks: one count query per second per instance, plus the tasks this
 * instance created since (an engine posting thousands of tasks must not pay a count per task).
 */
function unfinishedCount(tenant: string, deps: TesDeps): Promise<number> {
  const now = deps.clock.monotonicMs();
  const cached = unfinishedCounts.get(tenant);
  if (cached && now - cached.at < COUNT_TTL_MS) return cached.count;
  const count = deps.tesTasks.countUnfinished(tenant);
  unfinishedCounts.set(tenant, { at: now, count });
  count.catch(() => unfinishedCounts.delete(tenant));
  if (unfinishedCounts.size > 10_000) unfinishedCounts.delete(unfinishedCounts.keys().next().value!);
  return count;
}

function countCreated(tenant: string): void {
  const cached = unfinishedCounts.get(tenant);
  if (cached) cached.count = cached.count.then((n) => n + 1);
}

async function wake(tenant: string, laneKey: string, deps: TesDeps): Promise<void> {
  const key = `${tenant}\n${laneKey}`;
  const now = deps.clock.monotonicMs();
  if (now - (lastWake.get(key) ?? Number.NEGATIVE_INFINITY) < WAKE_WINDOW_MS) return;
  lastWake.set(key, now);
  if (lastWake.size > 10_000) lastWake.delete(lastWake.keys().next().value!);
  // Seen a moment later, so the tasks created meanwhile go in the same bulk add. A lost message is
  // found by the TES reconcile pass (stranded tasks).
  await deps.queues
    .send(queueNames.tes, { tenant, laneKey }, { delaySeconds: 1 })
    .catch((e: unknown) => deps.log?.(`Could not wake the TES submitter: ${describeError(e)}`));
}

export type TesGetResult =
  | { readonly kind: 'found'; readonly task: Record<string, unknown> }
  | { readonly kind: 'notFound' };

/** TES ids Slotwise gives out are uuids; anything unlike an id is simply not found. */
const TES_ID = /^[A-Za-z0-9_-]{1,64}$/;

export async function getTesTask(
  tenant: string,
  id: string,
  view: TesView,
  deps: TesDeps,
): Promise<TesGetResult> {
  if (!TES_ID.test(id)) return { kind: 'notFound' };
  const doc = await deps.tesTasks.get(tenant, id);
  if (!doc) return { kind: 'notFound' };
  const waiting = view === 'FULL' ? await waitingOf(doc, new Map(), deps) : undefined;
  return { kind: 'found', task: tesTaskView(doc, view, waiting ? { waiting } : undefined) };
}

export type TesListResult =
  | {
      readonly kind: 'page';
      readonly tasks: readonly Record<string, unknown>[];
      readonly nextPageToken?: string;
    }
  | { readonly kind: 'invalid'; readonly errors: readonly FieldError[] };

export async function listTesTasks(
  tenant: string,
  query: URLSearchParams,
  deps: TesDeps,
): Promise<TesListResult> {
  const parsed = parseTesListQuery(query);
  if (!parsed.ok) return { kind: 'invalid', errors: parsed.errors };
  const q: TesListQuery = parsed.query;
  const page = await deps.tesTasks.list(tenant, {
    ...(q.namePrefix ? { namePrefix: q.namePrefix } : {}),
    ...(q.state ? { state: q.state } : {}),
    tags: q.tags,
    limit: q.pageSize,
    ...(q.after ? { after: `${q.after.creationTime}|${q.after.id}` } : {}),
  });
  const lanes = new Map<string, Promise<JobDoc | undefined>>();
  const tasks = await Promise.all(
    page.tasks.map(async (doc) => {
      const waiting = q.view === 'FULL' ? await waitingOf(doc, lanes, deps) : undefined;
      return tesTaskView(doc, q.view, waiting ? { waiting } : undefined);
    }),
  );
  const last = page.tasks[page.tasks.length - 1];
  return {
    kind: 'page',
    tasks,
    ...(page.next && last
      ? { nextPageToken: encodeTesPageToken({ creationTime: last.creationTime, id: last.id }) }
      : {}),
  };
}

export type TesCancelResult = { readonly kind: 'cancelled' } | { readonly kind: 'notFound' };

/**
 * CANCELING until Batch has stopped the task (then CANCELED, set by the reconcile pass); a task not in
 * Batch yet is CANCELED at once. Cancelling an ended task changes nothing (the spec answers `{}`).
 */
export async function cancelTesTask(tenant: string, id: string, deps: TesDeps): Promise<TesCancelResult> {
  if (!TES_ID.test(id)) return { kind: 'notFound' };
  const now = deps.clock.now().toISOString();
  const result = await deps.tesTasks.update(tenant, id, (doc) => {
    if (isFinalTesState(doc.state) || doc.cancelRequestedAt) return undefined;
    return doc.lane
      ? { ...doc, state: 'CANCELING', cancelRequestedAt: now, updatedAt: now }
      : { ...doc, state: 'CANCELED', cancelRequestedAt: now, endedAt: now, updatedAt: now };
  });
  if (!result) return { kind: 'notFound' };
  const lane = result.doc.lane;
  // Also when nothing changed: a cancel asked again re-sends a terminate that may have been lost.
  if (lane && result.doc.state === 'CANCELING') {
    const batch =
      deps.accounts && lane.account !== undefined ? deps.accounts.gateway(lane.account) : deps.batch;
    await batch.terminateTask(lane.batchJobId, id);
  }
  return { kind: 'cancelled' };
}

/**
 * Why a task that has not started waits, from its lane (one read per lane per answer): what the
 * pool controller or the stages set on the lane (tenant node limit, Batch quota, allocation
 * failure, the tenant's pool limit), or its pool at its maximum with more queued than fits.
 */
async function waitingOf(
  doc: TesTaskDoc,
  lanes: Map<string, Promise<JobDoc | undefined>>,
  deps: TesDeps,
): Promise<{ code: string; message: string; since: string } | undefined> {
  if (doc.state !== 'QUEUED' && doc.state !== 'INITIALIZING') return undefined;
  // Not in Batch yet: its lane may be waiting to be planned (the tenant's pool limit, Batch's quotas).
  const key = doc.lane?.jobId ?? `key:${doc.placement.laneKey}`;
  let read = lanes.get(key);
  if (!read) {
    read = doc.lane
      ? deps.jobs.get(doc.tenant, doc.lane.jobId)
      : currentLane(doc.tenant, doc.placement.laneKey, deps.jobs);
    lanes.set(key, read);
  }
  const lane = await read;
  if (!lane) return undefined;
  if (lane.waiting) return lane.waiting;
  // A lower bound on the nodes the lane's unfinished tasks need (no packing on a read path).
  const slots = (lane.plan?.slotHistogram ?? []).reduce((a, [s, n]) => a + s * n, 0);
  const maxNodes = doc.placement.maxNodes;
  if (Math.ceil(slots / doc.placement.taskSlotsPerNode) > maxNodes) {
    return {
      code: 'PoolAtMaximum',
      message: `The pool of this task's lane is at its maximum of ${maxNodes} ${doc.placement.vmSize} nodes; the task runs as slots free up (${lane.plan?.tasks ?? 0} tasks not yet ended on it)`,
      since: lane.updatedAt,
    };
  }
  return undefined;
}
