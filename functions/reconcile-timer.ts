import type { AppDeps } from '../shared/app/app.js';
import { reconcileActiveJobs } from '../shared/pipeline/reconcile.js';
import type { TimerFunction } from './definition.js';

/** Every SLOTWISE_RECONCILE_SCHEDULE (app setting; e.g. every 30 s): Batch state → job documents. */
export const reconcileTimer: TimerFunction<AppDeps> = {
  kind: 'timer',
  name: 'reconcileTimer',
  schedule: '%SLOTWISE_RECONCILE_SCHEDULE%',
  handler: async (_timer, context, deps) => {
    const pass = Math.floor(deps.clock.now().getTime() / 1000);
    const { reconciled: _jobs, ...report } = await reconcileActiveJobs(
      { ...deps, log: (m) => context.warn(m) },
      pass,
    );
    if (report.changed > 0 || report.errors > 0) context.info(`reconcile ${JSON.stringify(report)}`);
  },
};
