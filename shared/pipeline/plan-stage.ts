/**
 * Plan stage (queue `slotwise-plan`): accepted → planned (or rejected).
 *
 * Idempotent under redelivery: chunks are upserted with deterministic ids and contents, and the state
 * change is an ETag-guarded transition from `accepted` only. A message for a job already past
 * `accepted` re-sends the submit message when the job is still `planned` (healing a crash between the
 * write and the send) and otherwise does nothing.
 */
import type { Clock, Ids } from '../clock.js';
import type { Settings } from '../config/config.js';
import type { PipelineMessage } from '../jobs/accept-job.js';
import type { JobDoc } from '../jobs/job.js';
import { transition } from '../jobs/lifecycle.js';
import { isExistingPool } from '../jobs/request-schema.js';
import type { TaskBody } from '../planner/batch-bodies.js';
import { type ExistingPoolInfo, planJob } from '../planner/plan-job.js';
import { queueNames } from '../queues/names.js';
import type { QueueGateway } from '../queues/queue-gateway.js';
import type { ChunkStore } from '../store/chunk-store.js';
import type { JobStore } from '../store/job-store.js';
import { announce } from './announce.js';
import type { BatchGateway } from './batch-gateway.js';
import { mapWithConcurrency } from './concurrency.js';

export interface PlanStageDeps {
  readonly jobs: JobStore;
  readonly chunks: ChunkStore;
  readonly batch: BatchGateway;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly settings: Pick<Settings, 'SLOTWISE_POOL_IMAGE' | 'SLOTWISE_POOL_NODE_AGENT_SKU'>;
}

export type PlanStageResult = 'planned' | 'rejected' | 'skipped' | 'missing';

export async function runPlanStage(message: PipelineMessage, deps: PlanStageDeps): Promise<PlanStageResult> {
  const job = await deps.jobs.get(message.tenant, message.jobId);
  if (!job) return 'missing';
  if (job.state === 'planned') {
    await deps.queues.send(queueNames.submit, message);
    return 'skipped';
  }
  if (job.state !== 'accepted' || !job.request) return 'skipped';
  const request = job.request;

  let existingPool: ExistingPoolInfo | undefined;
  if (isExistingPool(request.pool)) {
    const pool = await deps.batch.getPool(request.pool.id);
    if (pool) {
      existingPool = {
        id: pool.id,
        vmSize: pool.vmSize,
        taskSlotsPerNode: pool.taskSlotsPerNode,
        containerImages: pool.containerImages,
        currentNodes: pool.currentNodes,
      };
    }
  }
  const [publisher = '', offer = '', sku = '', version = 'latest'] =
    deps.settings.SLOTWISE_POOL_IMAGE.split(':');
  const outcome = planJob({
    tenant: job.tenant,
    jobId: job.jobId,
    request,
    ...(existingPool ? { existingPool } : {}),
    defaults: {
      image: { publisher, offer, sku, version },
      nodeAgentSkuId: deps.settings.SLOTWISE_POOL_NODE_AGENT_SKU,
    },
  });

  if (!outcome.ok) {
    const result = await deps.jobs.update(job.tenant, job.jobId, (current) =>
      current.state === 'accepted'
        ? transition(current, 'rejected', deps.clock.now(), deps.ids.uuid(), { errors: outcome.errors })
        : undefined,
    );
    if (result?.changed) await announce(result.job, deps.queues);
    return 'rejected';
  }

  const { plan } = outcome;
  // Chunks are written before the state changes: a crash here leaves the job `accepted`, and the
  // redelivered message rewrites the same chunks.
  // Written in groups so a million-task sweep never holds all its chunks in memory.
  let count = 0;
  let group: { index: number; tasks: TaskBody[] }[] = [];
  for (const tasks of plan.chunks()) {
    group.push({ index: count++, tasks });
    if (group.length >= 64) {
      await writeChunks(group, job, deps.chunks);
      group = [];
    }
  }
  await writeChunks(group, job, deps.chunks);

  const result = await deps.jobs.update(job.tenant, job.jobId, (current) =>
    current.state === 'accepted'
      ? transition(current, 'planned', deps.clock.now(), deps.ids.uuid(), {
          plan: { ...plan.summary, chunks: count },
          batch: { poolId: plan.poolId, jobId: plan.batchJob.id, managedPool: plan.pool !== undefined },
          batchBodies: { ...(plan.pool ? { pool: plan.pool } : {}), job: plan.batchJob },
          submission: { chunksTotal: count, chunksAdded: 0, tasksAdded: 0, attempts: 0 },
        })
      : undefined,
  );
  if (!result?.changed) return 'skipped';
  await deps.queues.send(queueNames.submit, message);
  await announce(result.job, deps.queues);
  return 'planned';
}

async function writeChunks(chunks: { index: number; tasks: TaskBody[] }[], job: JobDoc, store: ChunkStore) {
  await mapWithConcurrency(chunks, 8, (c) => store.put(job.tenant, job.jobId, c.index, c.tasks));
}
