import type { AppDeps } from '../shared/app/app.js';
import { upkeepAccounts } from '../shared/pipeline/account-upkeep.js';
import { poolControllerDeps, runPoolController } from '../shared/pipeline/pool-controller.js';
import type { TimerFunction } from './definition.js';

/** Every SLOTWISE_POOL_CONTROL_SCHEDULE: size, shrink and delete managed pools by the slots their jobs need. */
export const poolControllerTimer: TimerFunction<AppDeps> = {
  kind: 'timer',
  name: 'poolControllerTimer',
  schedule: '%SLOTWISE_POOL_CONTROL_SCHEDULE%',
  handler: async (_timer, context, deps) => {
    const started = deps.clock.now();
    const report = await runPoolController(
      poolControllerDeps(deps, (m) => context.warn(m)),
      context.invocationId,
    );
    const { pools: _pools, ...counts } = report;
    if (Object.values(counts).some((n) => n > 0)) context.info(`pools ${JSON.stringify(report)}`);
    // After the pass: the usage it summed is what routing reads next.
    const accounts = await upkeepAccounts(
      { ...deps, log: (m) => context.warn(m) },
      // Cores routed after the pass began may not be in the pools it summed: they stay reserved.
      { quotaEveryMs: deps.settings.SLOTWISE_ACCOUNT_QUOTA_SECONDS * 1000, countedSince: started },
    );
    const troubled = accounts.accounts.filter((a) => a.health !== 'healthy' || a.error);
    if (troubled.length > 0) context.warn(`accounts ${JSON.stringify(troubled)}`);
  },
};
