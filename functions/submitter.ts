import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { parsePipelineMessage } from '../shared/model/pipeline-message.js';
import { runSubmitStage } from '../shared/pipeline/submit-stage.js';
import type { StorageQueueFunction } from './definition.js';

/** Puts planned jobs into Azure Batch: pool, job, task collections → `submitted`. */
export const submitter: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'submitter',
  queueName: queueNames.submit,
  handler: async (message, context, deps) => {
    const result = await runSubmitStage(parsePipelineMessage(message), context.invocationId, {
      ...deps,
      log: (m) => context.warn(m),
    });
    context.info(`submit ${result}`);
  },
};
