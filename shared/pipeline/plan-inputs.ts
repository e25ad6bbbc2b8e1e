/**
 * What planning reads besides the request, shared by the plan stage and the dry run so both refuse
 * and plan exactly alike: the existing pool a request names (granted, never a Slotwise-managed pool,
 * its real slots and images from Batch), and the plan defaults from the settings.
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { Settings } from '../adapters/config/config.js';
import type { BatchAccountInfo } from '../model/accounts.js';
import { isManagedPool } from '../model/batch-names.js';
import { isExistingPool, type JobRequest } from '../model/request-schema.js';
import { isPoolGranted, type TenantPolicy } from '../model/tenant-policy.js';
import { type FieldError, fieldError } from '../model/validate-request.js';
import { batchAccountResourceId, type ExistingPoolInfo, type PlanDefaults } from '../planner/plan-job.js';

export type ExistingPoolRead =
  | { readonly ok: true; readonly pool?: ExistingPoolInfo }
  | { readonly ok: false; readonly errors: FieldError[] };

/**
 * The grant is checked here again after the door (it may have been withdrawn), and a managed pool
 * (any tenant's) is refused whatever the grant says. A granted pool that does not exist is left to
 * the planner, which names it.
 */
export async function readExistingPool(
  request: JobRequest,
  policy: TenantPolicy,
  batch: Pick<BatchGateway, 'getPool'>,
): Promise<ExistingPoolRead> {
  if (!isExistingPool(request.pool)) return { ok: true };
  const id = request.pool.id;
  const refuse = (message: string): ExistingPoolRead => ({
    ok: false,
    errors: [fieldError(['pool', 'id'], message)],
  });
  if (!isPoolGranted(policy, id)) {
    return refuse(`pool '${id}' is not available to this tenant (the operator grants existing pools)`);
  }
  const pool = await batch.getPool(id);
  if (!pool) return { ok: true };
  if (isManagedPool(pool.metadata)) {
    return refuse(`pool '${id}' is managed by Slotwise and cannot be named as an existing pool`);
  }
  return {
    ok: true,
    pool: {
      id: pool.id,
      vmSize: pool.vmSize,
      taskSlotsPerNode: pool.taskSlotsPerNode,
      containerImages: pool.containerImages,
      currentNodes: pool.currentNodes,
    },
  };
}

/**
 * `readExistingPool` over the accounts the tenant may use, in the settings' order (the primary
 * first): the first account holding a pool of that id is the job's. Batch pool ids are per account,
 * so a pool id in two accounts is two pools; the operator grants the id, not the account.
 */
export async function readExistingPoolIn(
  request: JobRequest,
  policy: TenantPolicy,
  allowed: readonly BatchAccountInfo[],
  accounts: Pick<BatchAccounts, 'gateway'>,
): Promise<ExistingPoolRead & { readonly account?: BatchAccountInfo }> {
  if (!isExistingPool(request.pool)) return { ok: true };
  for (const account of allowed) {
    const read = await readExistingPool(request, policy, accounts.gateway(account.name));
    if (!read.ok || read.pool) return { ...read, ...(read.ok ? { account } : {}) };
  }
  return { ok: true };
}

export type PlanDefaultSettings = Pick<
  Settings,
  | 'SLOTWISE_POOL_IMAGE'
  | 'SLOTWISE_POOL_NODE_AGENT_SKU'
  | 'BATCH_SUBSCRIPTION_ID'
  | 'BATCH_RESOURCE_GROUP'
  | 'BATCH_ACCOUNT_NAME'
>;

/** Defaults for a plan in this account (absent: the primary one, from the `BATCH_*` settings). */
export function planDefaults(settings: PlanDefaultSettings, account?: BatchAccountInfo): PlanDefaults {
  const [publisher = '', offer = '', sku = '', version = 'latest'] = settings.SLOTWISE_POOL_IMAGE.split(':');
  return {
    image: { publisher, offer, sku, version },
    nodeAgentSkuId: settings.SLOTWISE_POOL_NODE_AGENT_SKU,
    batchAccountResourceId:
      account && !account.primary
        ? batchAccountResourceId(account.subscriptionId, account.resourceGroup, account.name)
        : batchAccountResourceId(
            settings.BATCH_SUBSCRIPTION_ID,
            settings.BATCH_RESOURCE_GROUP,
            settings.BATCH_ACCOUNT_NAME,
          ),
  };
}
