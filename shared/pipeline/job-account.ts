/**
 * A job's or pool's Batch calls go to its own account: stages and use cases take `deps.batch` and
 * rebind it here once they know which account the work is in.
 */
import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';

export interface AccountAware {
  readonly batch: BatchGateway;
  /** Absent in deps built for one account only: `batch` is then the account. */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
}

/**
 * `deps` with `batch` the gateway of `account`. No account named (a job or pool from before several
 * accounts): `deps.batch` as given, which the composition root makes the primary account's.
 */
export function inAccount<D extends AccountAware>(deps: D, account: string | undefined): D {
  return deps.accounts && account !== undefined ? { ...deps, batch: deps.accounts.gateway(account) } : deps;
}
