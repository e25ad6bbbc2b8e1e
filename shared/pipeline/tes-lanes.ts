/**
 * TES lanes: the long-lived Batch jobs TES tasks are added to, one per tenant and pool spec (the
 * placement's lane key), so TES traffic holds a handful of Batch jobs whatever its task count and
 * never nears the account's active job quota.
 *
 * A lane is a job document with `lane` set that goes through the plan and submit stages like any job
 * (managed pool reserved under the tenant's `maxManagedPools`, pool created empty, Batch job created),
 * with no tasks of its own and a Batch job that stays open (`onAllTasksComplete: noaction`). The pool
 * controller sizes its pool from the lane's plan, which the TES stages keep equal to the lane's
 * unfinished tasks. Ids are `tes-<lane key>-<generation>`: a lane that ended (its pool could not
 * allocate, or the tenant cancelled it) is followed by the next generation, and racing openers
 * agree on the id, so one lane is opened, never two.
 *
 * A tenant's TES file systems (tenant policy `tesFileSystems`) are mounted on every lane's pool
 * (`pool.mounts`), and the lane key covers them (planner/tes-placement.ts `tesLaneKey`). A lane is
 * opened, and its tasks' bodies built, only with the file systems the key was made from: tasks
 * placed before the tenant's file systems changed are refused, never sent to a pool whose shares
 * differ from what their bodies expect.
 */
import { createHash } from 'node:crypto';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { SlotwiseError } from '../core/errors.js';
import type { JobDoc } from '../model/job.js';
import { newJobDoc } from '../model/lifecycle.js';
import type { JobRequest } from '../model/request-schema.js';
import { type TesFileSystem, tenantPolicy } from '../model/tenant-policy.js';
import type { TesPlacement } from '../model/tes-task.js';
import { tesLaneKey } from '../planner/tes-placement.js';

export interface LaneDeps {
  readonly jobs: JobStore;
  /** The tenant's TES file systems are read from its policy. */
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
}

/** Lanes of one key ever opened: far more than any tenant reaches (a new one only after one ended). */
const MAX_GENERATIONS = 1000;

export function laneJobId(laneKey: string, generation: number): string {
  return `tes-${laneKey}-${generation}`;
}

export type LaneState =
  /** Its Batch job exists: tasks can be added. */
  | {
      readonly kind: 'ready';
      readonly lane: JobDoc;
      readonly batchJobId: string;
      readonly poolId: string;
      /** What its pool mounts: the bodies of its tasks stage `file://` URLs through them. */
      readonly fileSystems: readonly TesFileSystem[];
    }
  /** Being planned or submitted (or waiting for room under a limit, `lane.waiting` says which). */
  | { readonly kind: 'opening'; readonly lane: JobDoc }
  /**
   * Its plan was refused, or the key's tasks were placed with other file systems than the tenant
   * has now (no lane then): every task of the key would be refused the same way.
   */
  | { readonly kind: 'rejected'; readonly lane?: JobDoc; readonly reason: string };

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/** The key's open lane, opened if there is none. */
export async function openLane(tenant: string, placement: TesPlacement, deps: LaneDeps): Promise<LaneState> {
  const fileSystems = tenantPolicy((await deps.tenants.get(tenant))?.policy).tesFileSystems;
  if (tesLaneKey(tenant, placement, fileSystems) !== placement.laneKey) {
    return {
      kind: 'rejected',
      reason:
        "the tenant's TES file systems changed after the task was created (its lane would mount other shares); create the task again",
    };
  }
  for (let generation = 1; generation <= MAX_GENERATIONS; generation++) {
    const jobId = laneJobId(placement.laneKey, generation);
    let lane = await deps.jobs.get(tenant, jobId);
    if (!lane) {
      const request = laneRequest(jobId, placement, fileSystems);
      const created = await deps.jobs.create(
        newJobDoc(tenant, jobId, request, requestHashOf(request), deps.clock.now(), deps.ids.uuid(), {
          lane: { kind: 'tes', key: placement.laneKey },
        }),
      );
      lane = created.job;
      if (created.created) await deps.queues.send(queueNames.plan, { tenant, jobId });
    }
    if (lane.state === 'rejected') {
      const why = (lane.errors ?? []).map((e) => `${e.field}: ${e.message}`).join('; ');
      return { kind: 'rejected', lane, reason: why || 'the lane was refused' };
    }
    if (ENDED.has(lane.state) || lane.lane?.closedAt) continue;
    if ((lane.state === 'submitted' || lane.state === 'running') && lane.batch)
      return { kind: 'ready', lane, batchJobId: lane.batch.jobId, poolId: lane.batch.poolId, fileSystems };
    return { kind: 'opening', lane };
  }
  throw new SlotwiseError(
    'LaneGenerationsExhausted',
    `Lane key '${placement.laneKey}' has had ${MAX_GENERATIONS} lanes`,
  );
}

/**
 * The key's current lane, read only (nothing is opened): its newest generation, or undefined when
 * none was opened yet. Reads serve a task not in Batch yet the reason its lane waits.
 */
export async function currentLane(
  tenant: string,
  laneKey: string,
  jobs: Pick<JobStore, 'get'>,
): Promise<JobDoc | undefined> {
  let newest: JobDoc | undefined;
  for (let generation = 1; generation <= MAX_GENERATIONS; generation++) {
    const lane = await jobs.get(tenant, laneJobId(laneKey, generation));
    if (!lane) return newest;
    newest = lane;
    if (!ENDED.has(lane.state) && !lane.lane?.closedAt) return lane;
  }
  return newest;
}

/**
 * The lane's job request: the pool spec only (with the tenant's TES file systems mounted); tasks
 * come later, through the TES submitter.
 */
export function laneRequest(
  jobId: string,
  placement: TesPlacement,
  fileSystems: readonly TesFileSystem[] = [],
): JobRequest {
  return {
    id: jobId,
    displayName: `TES tasks on ${placement.vmSize}${placement.lowPriority ? ' (Spot)' : ''}`,
    pool: {
      vmSize: placement.vmSize,
      taskSlotsPerNode: placement.taskSlotsPerNode,
      maxNodes: placement.maxNodes,
      ...(placement.lowPriority ? { lowPriority: true } : {}),
      ...(fileSystems.length > 0 ? { mounts: fileSystems.map((f) => f.mount) } : {}),
    },
    tasks: [],
    // TES tasks upload their own logs and report (planner/tes-task-body.ts).
    keepLogs: 'none',
  };
}

function requestHashOf(request: JobRequest): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}
