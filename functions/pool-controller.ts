import { z } from 'zod';
import { tenantIdPattern } from '../shared/adapters/cosmos/tenant-store.js';
import { queueNames } from '../shared/adapters/queues/names.js';
import type { AppDeps } from '../shared/app/app.js';
import { poolControllerDeps, runPoolController } from '../shared/pipeline/pool-controller.js';
import type { StorageQueueFunction } from './definition.js';

const poolMessage = z.strictObject({
  tenant: z.string().regex(tenantIdPattern),
  poolId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
});

/** Controls one pool at once when a job is placed on it (the timer covers every pool anyway). */
export const poolController: StorageQueueFunction<AppDeps> = {
  kind: 'storageQueue',
  name: 'poolController',
  queueName: queueNames.pools,
  handler: async (message, context, deps) => {
    const { tenant, poolId } = poolMessage.parse(message);
    const report = await runPoolController(
      poolControllerDeps(deps, (m) => context.warn(m)),
      context.invocationId,
      { tenant, poolId },
    );
    // Another pass holds the tenant's pools and may have read the demand before this job's: look
    // again shortly rather than wait for the timer.
    if (report.busy > 0) await deps.queues.send(queueNames.pools, { tenant, poolId }, { delaySeconds: 2 });
    context.info(`pool ${poolId}: ${JSON.stringify(report)}`);
  },
};
