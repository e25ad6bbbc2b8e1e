import { z } from 'zod';
import { tenantIdPattern } from '../shared/adapters/cosmos/tenant-store.js';
import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { runTesSubmit } from '../shared/pipeline/tes-submit.js';
import type { StorageQueueFunction } from './definition.js';

const tesMessage = z.strictObject({
  tenant: z.string().regex(tenantIdPattern),
  laneKey: z.string().regex(/^[A-Za-z0-9-]{1,40}$/),
});

/** Adds one lane key's waiting TES tasks to its lane in bulk (shared/pipeline/tes-submit.ts). */
export const tesSubmitter: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'tesSubmitter',
  queueName: queueNames.tes,
  handler: async (message, context, deps) => {
    const report = await runTesSubmit(tesMessage.parse(message), {
      ...deps,
      allowLoopbackHttp: deps.policy.allowHttpLoopbackStorage === true,
      log: (m) => context.warn(m),
    });
    if (report.added + report.failed > 0) context.info(`tes submit ${JSON.stringify(report)}`);
  },
};
