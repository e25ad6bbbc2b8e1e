/**
 * The limits added for the shared Batch account (security review 3, findings 3 and 8): their
 * defaults leave room for other tenants, and the operator sets them with `tenant:add --limit`,
 * validated before anything is written.
 */
import { describe, expect, it } from 'vitest';
import { defaultTenantLimits, policyChangeFromArgs, tenantPolicy } from '../../shared/model/tenant-policy.js';

describe('limits for the shared account', () => {
  it('leave room in the smallest default Batch quotas, and allow 10 retries per job', () => {
    expect(defaultTenantLimits).toMatchObject({
      maxActiveJobs: 25,
      maxManagedPools: 10,
      maxRetriesPerJob: 10,
    });
    expect(tenantPolicy(undefined).limits.maxManagedPools).toBe(10);
  });

  it('are set with --limit name=value and refused when out of range', () => {
    expect(policyChangeFromArgs({ limits: ['maxManagedPools=3', 'maxRetriesPerJob=0'] })).toEqual({
      ok: true,
      change: { limits: { maxManagedPools: 3, maxRetriesPerJob: 0 } },
    });
    const none = policyChangeFromArgs({ limits: ['maxManagedPools=0'] });
    expect(none.ok).toBe(false);
    expect(!none.ok && none.message).toContain('limits.maxManagedPools');
    expect(policyChangeFromArgs({ limits: ['maxRetriesPerJob=-1'] }).ok).toBe(false);
    expect(policyChangeFromArgs({ limits: ['maxRetriesPerJob=two'] }).ok).toBe(false);
    expect(tenantPolicy({ limits: { maxRetriesPerJob: 2 } }).limits.maxRetriesPerJob).toBe(2);
  });
});
