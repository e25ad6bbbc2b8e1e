import type { InvocationContext } from '@azure/functions';
import type { AppDeps } from '../shared/app/app.js';
import type { TesDeps } from '../shared/usecases/tes-tasks.js';

/** What the TES use cases take from the app's dependencies. */
export function tesDeps(deps: AppDeps, context: InvocationContext): TesDeps {
  return {
    ...deps,
    allowLoopbackHttp: deps.policy.allowHttpLoopbackStorage === true,
    log: (m) => context.warn(m),
  };
}
