import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { admitQueuedJob } from '../shared/usecases/admit-queued-job.js';
import { parseDeferredIntake } from '../shared/usecases/intake-message.js';
import type { StorageQueueFunction } from './definition.js';

/**
 * Queue requests that met a per-tenant limit wait on `slotwise-intake-deferred` and are admitted again
 * here. Their proof was verified on `job-requests`; only the app writes internal queues (in Azure the
 * senders' role is scoped to `job-requests`), so no proof is needed again.
 */
export const intakeDeferred: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'intakeDeferred',
  queueName: queueNames.intakeDeferred,
  handler: async (message, context, deps) => {
    await admitQueuedJob(
      parseDeferredIntake(message),
      { info: (m) => context.info(m), warn: (m) => context.warn(m) },
      deps,
    );
  },
};
