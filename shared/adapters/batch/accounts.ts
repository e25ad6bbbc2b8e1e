/**
 * The Batch accounts of the deployment, each with its own client, gateway and guard: every call to
 * an account goes through its guard (budget, `Retry-After`, health), so one account's bad day is
 * felt only by the work placed there.
 */
import { SlotwiseError } from '../../core/errors.js';
import type { BatchAccountInfo } from '../../model/accounts.js';
import type { AccountGuard } from './account-guard.js';
import type { BatchGateway } from './batch-gateway.js';

export interface BatchAccounts {
  /** The name of the primary account (the `BATCH_*` settings): jobs and pools naming none are its. */
  readonly primary: string;
  /** Every account, the primary first, then in the order the settings list them. */
  readonly list: readonly BatchAccountInfo[];
  /** The named account (undefined → the primary). Throws `UnknownBatchAccountError` for a name not configured. */
  info(name?: string): BatchAccountInfo;
  /** The named account's gateway (undefined → the primary). */
  gateway(name?: string): BatchGateway;
  guard(name?: string): AccountGuard;
}

export class UnknownBatchAccountError extends SlotwiseError {
  constructor(name: string) {
    super('UnknownBatchAccount', `Batch account '${name}' is not one of this deployment's accounts`);
    this.name = 'UnknownBatchAccountError';
  }
}

export interface BatchAccountSetup {
  readonly info: BatchAccountInfo;
  readonly gateway: BatchGateway;
  readonly guard: AccountGuard;
}

/** The registry over accounts already built (the composition root builds each client and gateway). */
export function batchAccounts(setups: readonly BatchAccountSetup[]): BatchAccounts {
  const primary = setups.find((s) => s.info.primary) ?? setups[0];
  if (!primary) throw new UnknownBatchAccountError('(none)');
  const byName = new Map(setups.map((s) => [s.info.name, s]));
  const find = (name?: string): BatchAccountSetup => {
    const found = name === undefined ? primary : byName.get(name);
    if (!found) throw new UnknownBatchAccountError(name ?? '(primary)');
    return found;
  };
  return {
    primary: primary.info.name,
    list: [primary, ...setups.filter((s) => s !== primary)].map((s) => s.info),
    info: (name) => find(name).info,
    gateway: (name) => find(name).gateway,
    guard: (name) => find(name).guard,
  };
}
