import type { AppDeps } from '../shared/app/app.js';
import { reconcileAccounts } from '../shared/pipeline/reconcile-listing.js';
import type { TimerFunction } from './definition.js';

/**
 * Every SLOTWISE_RECONCILE_SCHEDULE (app setting; e.g. every 30 s): Batch state → job documents, by
 * listing what moved in each Batch account (reconcile-listing.ts); the per-job reconcile stays for
 * the reconcile-now function.
 */
export const reconcileTimer: TimerFunction<AppDeps> = {
  kind: 'timer',
  name: 'reconcileTimer',
  schedule: '%SLOTWISE_RECONCILE_SCHEDULE%',
  handler: async (_timer, context, deps) => {
    const pass = Math.floor(deps.clock.now().getTime() / 1000);
    const report = await reconcileAccounts({ ...deps, log: (m) => context.warn(m) }, pass);
    // One line per pass that did something: per account, calls, jobs read, changed, deferred.
    const busy = report.accounts.filter((a) => a.changed > 0 || a.deferred > 0 || a.errors > 0 || a.stopped);
    if (busy.length > 0 || report.unknownAccount > 0) {
      const accounts = report.accounts.map(
        ({ account, calls, read, changed, deferred, errors, stopped }) =>
          `${account}: ${calls} calls, ${read} read, ${changed} changed, ${deferred} deferred` +
          `${errors > 0 ? `, ${errors} errors` : ''}${stopped ? `, stopped (${stopped})` : ''}`,
      );
      context.info(
        `reconcile over ${report.jobs} active jobs${report.unknownAccount > 0 ? ` (${report.unknownAccount} in an unknown account)` : ''}: ${accounts.join('; ')}`,
      );
    }
  },
};
