import { describe, expect, it } from 'vitest';
import {
  defaultTenantLimits,
  isPoolGranted,
  isVmSizeAllowed,
  mergePolicyOverrides,
  policyChangeFromArgs,
  tenantPolicy,
} from '../../shared/model/tenant-policy.js';

describe('tenant policy', () => {
  it('falls back to the documented defaults, and never to "everything allowed" on a broken record', () => {
    expect(tenantPolicy(undefined)).toEqual({
      limits: defaultTenantLimits,
      allowedPools: [],
      allowAdminTasks: false,
      allowedIdentities: [],
      allowedSubnets: [],
      allowStartTask: false,
      allowedSecrets: [],
      tesFileSystems: [],
    });
    const broken = tenantPolicy({ limits: { maxActiveJobs: -5 } } as never);
    expect(broken.limits.maxActiveJobs).toBe(defaultTenantLimits.maxActiveJobs);
    expect(broken.allowedPools).toEqual([]);
  });

  it('grants pools ignoring case and checks VM sizes', () => {
    const p = tenantPolicy({
      allowedPools: ['Render-Farm'],
      limits: { allowedVmSizes: ['standard_d4s_v3'] },
    });
    expect(isPoolGranted(p, 'render-farm')).toBe(true);
    expect(isPoolGranted(p, 'render-farm-2')).toBe(false);
    expect(isVmSizeAllowed(p, 'Standard_D4s_v3')).toBe(true);
    expect(isVmSizeAllowed(p, 'standard_d8s_v3')).toBe(false);
    expect(isVmSizeAllowed(tenantPolicy(undefined), 'standard_d8s_v3')).toBe(true);
  });

  it('merges limits key by key', () => {
    const merged = mergePolicyOverrides(
      { limits: { maxNodes: 5 }, allowedPools: ['a'] },
      { limits: { maxActiveJobs: 7 } },
    );
    expect(merged).toEqual({ limits: { maxNodes: 5, maxActiveJobs: 7 }, allowedPools: ['a'] });
  });

  it('reads an operator change from command-line words, refusing typos before anything is written', () => {
    expect(
      policyChangeFromArgs({
        limits: ['maxActiveJobs=20', 'allowedVmSizes=standard_d4s_v3,standard_d8s_v3'],
        allowPools: ['render-farm'],
        allowAdminTasks: 'true',
      }),
    ).toEqual({
      ok: true,
      change: {
        limits: { maxActiveJobs: 20, allowedVmSizes: ['standard_d4s_v3', 'standard_d8s_v3'] },
        allowedPools: ['render-farm'],
        allowAdminTasks: true,
      },
    });
    expect(policyChangeFromArgs({ limits: ['allowedVmSizes=all'] })).toEqual({
      ok: true,
      change: { limits: { allowedVmSizes: null } },
    });
    expect(policyChangeFromArgs({ limits: ['maxActivJobs=20'] }).ok).toBe(false);
    expect(policyChangeFromArgs({ limits: ['maxActiveJobs=many'] }).ok).toBe(false);
    expect(policyChangeFromArgs({ allowPools: ['bad pool'] }).ok).toBe(false);
    expect(policyChangeFromArgs({ allowAdminTasks: 'yes' }).ok).toBe(false);
  });
});
