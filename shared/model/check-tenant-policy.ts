/**
 * The tenant's grants, checked at the door (after the request itself is valid). Every refusal is a
 * field error, and an existing pool, identity, subnet or secret that is not granted gets the same
 * answer whether or not it exists: the door never asks Batch, ARM or Key Vault, so it cannot be used
 * to probe for other tenants' resources.
 */

import { secretRefsOf } from './pool-options.js';
import { isExistingPool, type JobRequest } from './request-schema.js';
import {
  isIdentityGranted,
  isPoolGranted,
  isSecretGranted,
  isSubnetGranted,
  isVmSizeAllowed,
  type TenantPolicy,
} from './tenant-policy.js';
import { capErrors, type FieldError, fieldError } from './validate-request.js';

const ADMIN_NOT_ALLOWED = 'the operator has not allowed admin tasks for this tenant';

export function checkTenantPolicy(request: JobRequest, policy: TenantPolicy): FieldError[] {
  const errors: FieldError[] = [];
  const pool = request.pool;
  if (isExistingPool(pool)) {
    if (!isPoolGranted(policy, pool.id)) {
      errors.push(
        fieldError(
          ['pool', 'id'],
          `pool '${pool.id}' is not available to this tenant (the operator grants existing pools)`,
        ),
      );
    }
  } else {
    if (!isVmSizeAllowed(policy, pool.vmSize)) {
      errors.push(
        fieldError(
          ['pool', 'vmSize'],
          `VM size '${pool.vmSize}' is not allowed for this tenant (limit allowedVmSizes)`,
        ),
      );
    }
    if (pool.identity !== undefined && !isIdentityGranted(policy, pool.identity)) {
      errors.push(
        fieldError(
          ['pool', 'identity'],
          `identity '${pool.identity}' is not available to this tenant (the operator grants identities)`,
        ),
      );
    }
    if (pool.network && !isSubnetGranted(policy, pool.network.subnetId)) {
      errors.push(
        fieldError(
          ['pool', 'network', 'subnetId'],
          `subnet '${pool.network.subnetId}' is not available to this tenant (the operator grants subnets)`,
        ),
      );
    }
    if (pool.startTask && !policy.allowStartTask) {
      errors.push(
        fieldError(
          ['pool', 'startTask'],
          'the operator has not allowed start tasks for this tenant (allowStartTask)',
        ),
      );
    } else if (pool.startTask?.elevated === true && !policy.allowAdminTasks) {
      errors.push(fieldError(['pool', 'startTask', 'elevated'], ADMIN_NOT_ALLOWED));
    }
  }
  for (const ref of secretRefsOf(request)) {
    if (!isSecretGranted(policy, ref.name))
      errors.push(
        fieldError(
          ref.path,
          `secret '${ref.name}' is not available to this tenant (the operator grants secrets)`,
        ),
      );
  }
  for (const name of Object.keys(request.metadata ?? {})) {
    if (name.toLowerCase().startsWith('slotwise.')) {
      errors.push(fieldError(['metadata', name], 'names starting with "slotwise." are reserved'));
    }
  }
  // A sweep of 10,000 tasks naming an ungranted secret is one answer, not 10,000 errors.
  return capErrors(errors);
}

/**
 * A job with more tasks than the tenant may have in flight at all can never be admitted, whatever it
 * waits for: 422 over HTTP, a rejected job over the queue.
 */
export function checkTaskLimit(request: JobRequest, tasks: number, policy: TenantPolicy): FieldError[] {
  const limit = policy.limits.maxTasksInFlight;
  if (tasks <= limit) return [];
  return [
    fieldError(
      request.sweep ? ['sweep', 'parameters'] : ['tasks'],
      `the job has ${tasks} tasks, more than this tenant's limit maxTasksInFlight (${limit})`,
    ),
  ];
}
