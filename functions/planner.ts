import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { parsePipelineMessage } from '../shared/model/pipeline-message.js';
import { runPlanStage } from '../shared/pipeline/plan-stage.js';
import type { StorageQueueFunction } from './definition.js';

/** Plans accepted jobs: slots per task, packing, pool spec, task chunks → `planned`. */
export const planner: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'planner',
  queueName: queueNames.plan,
  handler: async (message, context, deps) => {
    const result = await runPlanStage(parsePipelineMessage(message), deps);
    context.info(`plan ${result}`);
  },
};
