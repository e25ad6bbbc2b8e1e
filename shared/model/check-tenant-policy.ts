/**
 * The tenant's grants, checked at the door (after the request itself is valid). Every refusal is a
 * field error, and an existing pool that is not granted gets the same answer whether or not it exists:
 * the door never asks Batch, so it cannot be used to probe for other tenants' pool ids.
 */

import { isExistingPool, type JobRequest } from './request-schema.js';
import { isPoolGranted, isVmSizeAllowed, type TenantPolicy } from './tenant-policy.js';
import { type FieldError, fieldError } from './validate-request.js';

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
  } else if (!isVmSizeAllowed(policy, pool.vmSize)) {
    errors.push(
      fieldError(
        ['pool', 'vmSize'],
        `VM size '${pool.vmSize}' is not allowed for this tenant (limit allowedVmSizes)`,
      ),
    );
  }
  for (const name of Object.keys(request.metadata ?? {})) {
    if (name.toLowerCase().startsWith('slotwise.')) {
      errors.push(fieldError(['metadata', name], 'names starting with "slotwise." are reserved'));
    }
  }
  return errors;
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
