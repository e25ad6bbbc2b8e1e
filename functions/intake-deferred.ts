import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { admitVerifiedRequest, admitWaitingRequest } from '../shared/usecases/admit-queued-job.js';
import { parseDeferredMessage } from '../shared/usecases/intake-message.js';
import type { StorageQueueFunction } from './definition.js';
import { messageIdOf } from './intake.js';

/**
 * Queue requests that met a per-tenant limit wait in Cosmos; a pointer to each waits on
 * `slotwise-intake-deferred` and the request is admitted again here. Its proof was verified on
 * `job-requests`; only the app writes internal queues (in Azure the senders' role is scoped to
 * `job-requests`), so no proof is needed again. A message in the older format, which carried the
 * request itself, is taken in as a verified request (so it waits once, like any other).
 */
export const intakeDeferred: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'intakeDeferred',
  queueName: queueNames.intakeDeferred,
  handler: async (message, context, deps) => {
    const parsed = parseDeferredMessage(message);
    const messageId = messageIdOf(context, deps);
    const log = { info: (m: string) => context.info(m), warn: (m: string) => context.warn(m) };
    if (parsed.kind === 'pointer') await admitWaitingRequest(parsed.pointer, messageId, log, deps);
    else await admitVerifiedRequest(parsed.request, messageId, log, deps);
  },
};
