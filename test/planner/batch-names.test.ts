import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  batchJobIdFor,
  isOwnJob,
  isOwnPool,
  jobOwnerMetadata,
  managedPoolId,
  poolOwnerMetadata,
  poolSpecHash,
} from '../../shared/model/batch-names.js';

const tenantId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/);
const jobId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const batchIdRule = /^[A-Za-z0-9_-]{1,64}$/;
const key = (tenant: string, job: string, attempt: number) => `${tenant}|${job.toLowerCase()}|${attempt}`;

describe('Batch names', () => {
  it('keeps the attack pair apart: acme/prod-nightly and acme-prod/nightly', () => {
    expect(batchJobIdFor('acme', 'prod-nightly')).toBe('acme_prod-nightly');
    expect(batchJobIdFor('acme-prod', 'nightly')).toBe('acme-prod_nightly');
    expect(batchJobIdFor('acme', 'prod-nightly').toLowerCase()).not.toBe(
      batchJobIdFor('acme-prod', 'nightly').toLowerCase(),
    );
  });

  it('maps distinct (tenant, job, attempt) to distinct Batch job ids, ignoring case as Batch does', () => {
    fc.assert(
      fc.property(
        fc.tuple(tenantId, jobId, fc.nat(3)),
        fc.tuple(tenantId, jobId, fc.nat(3)),
        ([t1, j1, a1], [t2, j2, a2]) => {
          const id1 = batchJobIdFor(t1, j1, a1);
          const id2 = batchJobIdFor(t2, j2, a2);
          expect(id1).toMatch(batchIdRule);
          expect(id2).toMatch(batchIdRule);
          expect(id1.toLowerCase() === id2.toLowerCase()).toBe(key(t1, j1, a1) === key(t2, j2, a2));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('never lets a plain id meet a hashed one, even when a job id looks like a hashed form', () => {
    const hashed = batchJobIdFor('acme', 'x'.repeat(64));
    expect(hashed).toHaveLength(64);
    // The plain form of the hashed id's own tail is at most 63 characters, so it cannot equal it.
    const tail = hashed.slice('acme_'.length);
    expect(batchJobIdFor('acme', tail)).not.toBe(hashed);
    expect(batchJobIdFor('acme', 'render', 1)).toHaveLength(64);
    expect(batchJobIdFor('acme', 'render', 1)).not.toBe(batchJobIdFor('acme', 'render', 2));
  });

  it('puts the tenant in the managed pool id and in its hash', () => {
    const spec = { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8 };
    const a = managedPoolId('acme', poolSpecHash('acme', spec));
    const b = managedPoolId('acme-prod', poolSpecHash('acme-prod', spec));
    expect(a).toMatch(batchIdRule);
    expect(a.startsWith('swp_acme_')).toBe(true);
    expect(a.slice('swp_acme_'.length)).not.toBe(b.slice('swp_acme-prod_'.length));
    expect(managedPoolId('acme', poolSpecHash('acme', spec))).toBe(a);
    expect(managedPoolId('acme', poolSpecHash('acme', { ...spec, taskSlotsPerNode: 4 }))).not.toBe(a);
  });

  it('recognises only its own metadata', () => {
    const meta = (entries: { name: string; value: string }[]) =>
      Object.fromEntries(entries.map((e) => [e.name, e.value]));
    const job = meta(jobOwnerMetadata({ tenant: 'acme', jobId: 'Nightly' }));
    expect(isOwnJob(job, { tenant: 'acme', jobId: 'nightly' })).toBe(true);
    expect(isOwnJob(job, { tenant: 'acme-prod', jobId: 'nightly' })).toBe(false);
    expect(isOwnJob(job, { tenant: 'acme', jobId: 'prod-nightly' })).toBe(false);
    expect(isOwnJob({}, { tenant: 'acme', jobId: 'nightly' })).toBe(false);
    const pool = meta(poolOwnerMetadata({ tenant: 'acme', spec: 'abc' }));
    expect(isOwnPool(pool, { tenant: 'acme', spec: 'abc' })).toBe(true);
    expect(isOwnPool(pool, { tenant: 'acme', spec: 'abd' })).toBe(false);
    expect(isOwnPool(pool, { tenant: 'acme-prod', spec: 'abc' })).toBe(false);
  });
});
