import type { AppDeps } from '../shared/app.js';
import { parsePipelineMessage } from '../shared/jobs/pipeline-message.js';
import { runNotifyStage } from '../shared/pipeline/notify-stage.js';
import { queueNames } from '../shared/queues/names.js';
import type { StorageQueueFunction } from './definition.js';

/** Delivers job events to callback URLs as signed CloudEvents, in order, with retries. */
export const notifier: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'notifier',
  queueName: queueNames.notify,
  handler: async (message, context, deps) => {
    const result = await runNotifyStage(parsePipelineMessage(message), context.invocationId, deps);
    context.info(`notify ${result}`);
  },
};
