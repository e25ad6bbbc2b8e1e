/**
 * The Batch account as the management plane shows it: `GET …/batchAccounts/{account}`
 * (BatchAccount_Get), shaped as the `BatchAccount` / `BatchAccountProperties` definitions of
 * Azure/azure-rest-api-specs `specification/batch/resource-manager/Microsoft.Batch/stable/2025-06-01/
 * BatchManagement.json` and its example BatchAccountGet.json. The quotas are the very numbers the
 * emulator enforces (core-quotas.ts, the pool and active-job quotas), which `/_emulator/quotas` changes.
 */
import type { Account } from './account.js';
import { type ArmNames, accountResourceId } from './arm-pools.js';
import type { PoolAllocationMode } from './validate.js';

export interface AccountResourceContext {
  readonly account: Account;
  readonly names: ArmNames;
  readonly location: string;
  readonly poolAllocationMode: PoolAllocationMode;
  /** The data-plane base URL, e.g. http://127.0.0.1:7070. */
  readonly base: string;
}

export function accountToArm(ctx: AccountResourceContext): Record<string, unknown> {
  const { account } = ctx;
  const cores = account.coreQuotas;
  // "For accounts with PoolAllocationMode set to UserSubscription, quota is managed on the
  // subscription so this value is not returned" (dedicatedCoreQuota, lowPriorityCoreQuota,
  // dedicatedCoreQuotaPerVMFamily); the family flag, pool and job quotas are returned in both modes.
  const coreQuotas =
    ctx.poolAllocationMode === 'BatchService'
      ? {
          dedicatedCoreQuota: cores.dedicatedCoreQuota,
          lowPriorityCoreQuota: cores.lowPriorityCoreQuota,
          dedicatedCoreQuotaPerVMFamily: cores.dedicatedCoreQuotaPerVMFamily.map((f) => ({
            name: f.name,
            coreQuota: f.coreQuota,
          })),
        }
      : {};
  return {
    id: accountResourceId(ctx.names),
    name: ctx.names.accountName,
    type: 'Microsoft.Batch/batchAccounts',
    location: ctx.location,
    identity: { type: 'None' },
    properties: {
      // ARM gives the host name without a scheme (`sampleacct.japaneast.batch.azure.com`).
      accountEndpoint: new URL(ctx.base).host,
      provisioningState: 'Succeeded',
      poolAllocationMode: ctx.poolAllocationMode,
      ...coreQuotas,
      dedicatedCoreQuotaPerVMFamilyEnforced: cores.dedicatedCoreQuotaPerVMFamilyEnforced,
      poolQuota: account.quotas.pools,
      activeJobAndJobScheduleQuota: account.quotas.activeJobs,
      publicNetworkAccess: 'Enabled',
      allowedAuthenticationModes: ['SharedKey', 'AAD'],
    },
  };
}
