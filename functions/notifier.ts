import type { AppDeps } from '../shared/app.js';
import { parsePipelineMessage } from '../shared/jobs/pipeline-message.js';
import { createKeyedLimiter } from '../shared/pipeline/keyed-limiter.js';
import { DELIVERIES_PER_TENANT, runNotifyStage } from '../shared/pipeline/notify-stage.js';
import { queueNames } from '../shared/queues/names.js';
import type { StorageQueueFunction } from './definition.js';

/** Per instance: every invocation of this function in the process shares the per-tenant cap. */
const deliverySlots = createKeyedLimiter(DELIVERIES_PER_TENANT);

/** Delivers job events to callback URLs as signed CloudEvents, in order, with retries. */
export const notifier: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'notifier',
  queueName: queueNames.notify,
  handler: async (message, context, deps) => {
    const result = await runNotifyStage(parsePipelineMessage(message), context.invocationId, {
      ...deps,
      deliverySlots,
    });
    context.info(`notify ${result}`);
  },
};
