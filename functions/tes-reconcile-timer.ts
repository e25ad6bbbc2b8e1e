import type { AppDeps } from '../shared/app/app.js';
import { reconcileTesLanes } from '../shared/pipeline/tes-reconcile.js';
import type { TimerFunction } from './definition.js';

/** Every SLOTWISE_RECONCILE_SCHEDULE: TES lanes' Batch tasks → TES task documents, by listing. */
export const tesReconcileTimer: TimerFunction<AppDeps> = {
  kind: 'timer',
  name: 'tesReconcileTimer',
  schedule: '%SLOTWISE_RECONCILE_SCHEDULE%',
  handler: async (_timer, context, deps) => {
    const report = await reconcileTesLanes({ ...deps, log: (m) => context.warn(m) });
    if (report.changed > 0 || report.errors > 0) context.info(`tes reconcile ${JSON.stringify(report)}`);
  },
};
