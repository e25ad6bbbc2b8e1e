import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { parseRetryMessage, runRetryStage } from '../shared/usecases/retry-job.js';
import type { StorageQueueFunction } from './definition.js';

/** Does the retries asked for over HTTP: reactivates failed tasks or writes a new attempt, page by page. */
export const retrier: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'retrier',
  queueName: queueNames.retry,
  handler: async (message, context, deps) => {
    const result = await runRetryStage(parseRetryMessage(message), context.invocationId, deps);
    context.info(`retry ${result}`);
  },
};
