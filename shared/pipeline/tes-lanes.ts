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
 */
import { createHash } from 'node:crypto';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { SlotwiseError } from '../core/errors.js';
import type { JobDoc } from '../model/job.js';
import { newJobDoc } from '../model/lifecycle.js';
import type { JobRequest } from '../model/request-schema.js';
import type { TesPlacement } from '../model/tes-task.js';

export interface LaneDeps {
  readonly jobs: JobStore;
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
  | { readonly kind: 'ready'; readonly lane: JobDoc; readonly batchJobId: string; readonly poolId: string }
  /** Being planned or submitted (or waiting for room under a limit, `lane.waiting` says which). */
  | { readonly kind: 'opening'; readonly lane: JobDoc }
  /** Its plan was refused: every task of the key would be refused the same way. */
  | { readonly kind: 'rejected'; readonly lane: JobDoc; readonly reason: string };

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/** The key's open lane, opened if there is none. */
export async function openLane(tenant: string, placement: TesPlacement, deps: LaneDeps): Promise<LaneState> {
  for (let generation = 1; generation <= MAX_GENERATIONS; generation++) {
    const jobId = laneJobId(placement.laneKey, generation);
    let lane = await deps.jobs.get(tenant, jobId);
    if (!lane) {
      const request = laneRequest(jobId, placement);
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
      return { kind: 'ready', lane, batchJobId: lane.batch.jobId, poolId: lane.batch.poolId };
    return { kind: 'opening', lane };
  }
  throw new SlotwiseError(
    'LaneGenerationsExhausted',
    `Lane key '${placement.laneKey}' has had ${MAX_GENERATIONS} lanes`,
  );
}

/** The lane's job request: the pool spec only; tasks come later, through the TES submitter. */
export function laneRequest(jobId: string, placement: TesPlacement): JobRequest {
  return {
    id: jobId,
    displayName: `TES tasks on ${placement.vmSize}${placement.lowPriority ? ' (Spot)' : ''}`,
    pool: {
      vmSize: placement.vmSize,
      taskSlotsPerNode: placement.taskSlotsPerNode,
      maxNodes: placement.maxNodes,
      ...(placement.lowPriority ? { lowPriority: true } : {}),
    },
    tasks: [],
    // TES tasks upload their own logs and report (planner/tes-task-body.ts).
    keepLogs: 'none',
  };
}

function requestHashOf(request: JobRequest): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}
