import { queueNames } from '../shared/adapters/queues/names.js';
import { inJobSpan } from '../shared/adapters/telemetry/spans.js';
import type { AppDeps } from '../shared/app/app.js';
import { parsePipelineMessage } from '../shared/model/pipeline-message.js';
import { reconcileJob } from '../shared/pipeline/reconcile.js';
import type { StorageQueueFunction } from './definition.js';

/** Reconciles one job at once (after a task callback); the timer remains the source of truth. */
export const reconcileNow: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'reconcileNow',
  queueName: queueNames.reconcile,
  handler: async (message, context, deps) => {
    const { tenant, jobId } = parsePipelineMessage(message);
    const job = await deps.jobs.get(tenant, jobId);
    if (!job) return;
    const result = await inJobSpan(job, 'reconcile', () => reconcileJob(job, { ...deps, jobStateEvery: 1 }));
    context.info(`reconcile ${jobId}: ${result}`);
  },
};
