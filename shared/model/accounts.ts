/**
 * Several Batch accounts behind one deployment: what each is (from the settings), what it may hold
 * (its quotas, read from the management plane's account resource), what it holds now (usage), and
 * how it answers (health). Pure shapes and rules; the stores and clients are adapters.
 */

/** Batch's pool allocation modes (BatchManagement.json `PoolAllocationMode`). */
export type PoolAllocationMode = 'BatchService' | 'UserSubscription';

/** One Batch account as the settings name it. */
export interface BatchAccountInfo {
  /** The Batch account name (unique in the deployment). */
  readonly name: string;
  /** Data-plane endpoint, e.g. https://<name>.<region>.batch.azure.com. */
  readonly endpoint: string;
  /** Azure region (`location`), e.g. `westeurope`; '' when not set. */
  readonly region: string;
  readonly allocationMode: PoolAllocationMode;
  /** Share of new work among accounts with room: headroom counts `weight` times. */
  readonly weight: number;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** Azure Resource Manager endpoint (locally the account's emulator). */
  readonly managementEndpoint: string;
  /** The account of the `BATCH_*` settings: jobs and pools that name no account are its. */
  readonly primary: boolean;
}

/**
 * An account's quotas as its ARM resource states them (BatchManagement.json `BatchAccountProperties`).
 * Core quotas are absent for a `UserSubscription` account: its cores are the subscription's, which
 * the account resource does not show, so they bound nothing here.
 */
export interface AccountQuotas {
  readonly dedicatedCores?: number;
  readonly lowPriorityCores?: number;
  /** Dedicated cores per VM family (`standardDSv3Family` → 24). */
  readonly perFamily?: Readonly<Record<string, number>>;
  /** When false only the total dedicated core quota binds (BatchManagement.json). */
  readonly perFamilyEnforced: boolean;
  readonly pools?: number;
  readonly activeJobs?: number;
}

/** Cores an account's Slotwise pools hold or are about to hold, by kind and VM family. */
export interface AccountUsage {
  readonly dedicatedCores: number;
  readonly lowPriorityCores: number;
  readonly perFamily: Readonly<Record<string, number>>;
  /** Managed pools Slotwise keeps in the account. */
  readonly pools: number;
}

export const emptyUsage: AccountUsage = { dedicatedCores: 0, lowPriorityCores: 0, perFamily: {}, pools: 0 };

/**
 * How an account answers, from the outcomes of recent calls, with hysteresis (adapters/batch
 * account-guard.ts): `healthy`; `degraded` (throttled or failing now and then: still routed to);
 * `unhealthy` (failing: new jobs go elsewhere; its own jobs go on as it allows).
 */
export type AccountHealthState = 'healthy' | 'degraded' | 'unhealthy';

/** healthy < degraded < unhealthy. */
export const healthRank: Readonly<Record<AccountHealthState, number>> = {
  healthy: 0,
  degraded: 1,
  unhealthy: 2,
};

/**
 * The worse of this instance's own verdict and the one shared through the account document (another
 * instance may have seen the trouble): what routing and the health report go by.
 */
export function worseHealth<H extends { readonly state: AccountHealthState }>(
  local: H,
  shared: H | undefined,
): H {
  return shared && healthRank[shared.state] > healthRank[local.state] ? shared : local;
}

export interface AccountHealth {
  readonly state: AccountHealthState;
  /** Since when it has been in this state. */
  readonly since: string;
  /** Why, in a line (never a secret): e.g. `5 of the last 6 calls failed (503 ServerBusy)`. */
  readonly reason?: string;
}

/** An operator's drain: no new jobs go to the account; its jobs and pools run to their end. */
export interface AccountDrain {
  readonly since: string;
  readonly reason?: string;
}
