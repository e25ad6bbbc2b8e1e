import type { AppDeps } from '../shared/app/app.js';
import { runSweep } from '../shared/pipeline/sweep.js';
import type { TimerFunction } from './definition.js';

/** Every SLOTWISE_SWEEP_SCHEDULE: re-drive stuck jobs, re-announce lost deliveries (pools are the pool controller's). */
export const sweepTimer: TimerFunction<AppDeps> = {
  kind: 'timer',
  name: 'sweepTimer',
  schedule: '%SLOTWISE_SWEEP_SCHEDULE%',
  handler: async (_timer, context, deps) => {
    const report = await runSweep({
      ...deps,
      stuckAfterMs: deps.settings.SLOTWISE_STUCK_AFTER_SECONDS * 1000,
      log: (m) => context.warn(m),
    });
    const { redrivenJobs: _r, reannouncedJobs: _a, ...counts } = report;
    if (Object.values(counts).some((n) => n > 0)) context.info(`sweep ${JSON.stringify(counts)}`);
  },
};
