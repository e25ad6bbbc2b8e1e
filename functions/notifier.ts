import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { createKeyedLimiter } from '../shared/core/keyed-limiter.js';
import { parsePipelineMessage } from '../shared/model/pipeline-message.js';
import { DELIVERIES_PER_TENANT, runNotifyStage } from '../shared/pipeline/notify-stage.js';
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
