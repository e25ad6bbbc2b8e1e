/**
 * Batch names that cannot collide, and whose Batch resource is this?
 *
 * Names. Batch job and pool ids are account-wide, case-insensitive, `[A-Za-z0-9_-]{1,64}`. Tenant ids
 * are `[a-z0-9-]` (no underscore), so `<tenant>_<job id>` is injective: the first `_` ends the
 * tenant. When that plain form would pass 63 characters (or for a retry attempt), the id is a hashed
 * form of exactly 64 characters: `<tenant>_<job id prefix>_<SHA-256 hex of tenant, job id and
 * attempt>`. Plain forms are at most 63 characters and hashed forms exactly 64, so the two can never
 * meet; two hashed forms meet only on a SHA-256 collision of ≥ 80 bits.
 *
 * Ownership. Batch ids are account-wide and every tenant shares the account, so
 * Slotwise stamps each job and pool it creates with metadata naming the tenant and the job (or the
 * pool spec), and acts on a Batch job or pool only when that metadata is its own for that tenant.
 * A resource with the right id but someone else's metadata is never terminated, resized or deleted.
 */
import { createHash } from 'node:crypto';

export const ownerKeys = {
  tenant: 'slotwise.tenant',
  job: 'slotwise.job',
  managed: 'slotwise.managed',
  spec: 'slotwise.spec',
} as const;

/** The Batch job Slotwise created for this tenant's job (any attempt). */
export interface JobOwner {
  readonly tenant: string;
  readonly jobId: string;
}

/** The managed pool Slotwise created for this tenant and pool spec. */
export interface PoolOwner {
  readonly tenant: string;
  readonly spec: string;
}

export function jobOwnerMetadata(owner: JobOwner): { name: string; value: string }[] {
  return [
    { name: ownerKeys.tenant, value: owner.tenant },
    { name: ownerKeys.job, value: owner.jobId },
  ];
}

export function poolOwnerMetadata(owner: PoolOwner): { name: string; value: string }[] {
  return [
    { name: ownerKeys.tenant, value: owner.tenant },
    { name: ownerKeys.managed, value: 'true' },
    { name: ownerKeys.spec, value: owner.spec },
  ];
}

/** The owner a managed pool body was stamped with (undefined when it carries no Slotwise stamp). */
export function poolOwnerOf(
  metadata: readonly { name: string; value: string }[] | undefined,
): PoolOwner | undefined {
  const get = (name: string) => metadata?.find((m) => m.name === name)?.value;
  const tenant = get(ownerKeys.tenant);
  const spec = get(ownerKeys.spec);
  return tenant && spec && get(ownerKeys.managed) === 'true' ? { tenant, spec } : undefined;
}

/** Job ids are unique ignoring case, so the job part compares ignoring case. */
export function isOwnJob(metadata: Readonly<Record<string, string>>, owner: JobOwner): boolean {
  return (
    metadata[ownerKeys.tenant] === owner.tenant &&
    metadata[ownerKeys.job]?.toLowerCase() === owner.jobId.toLowerCase()
  );
}

export function isOwnPool(metadata: Readonly<Record<string, string>>, owner: PoolOwner): boolean {
  return (
    metadata[ownerKeys.tenant] === owner.tenant &&
    metadata[ownerKeys.managed] === 'true' &&
    metadata[ownerKeys.spec] === owner.spec
  );
}

/** Any pool Slotwise manages (for any tenant): never usable as an operator-granted existing pool. */
export function isManagedPool(metadata: Readonly<Record<string, string>>): boolean {
  return metadata[ownerKeys.managed] === 'true';
}

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The Batch job id of a tenant's job; `attempt` > 0 for the retry attempts of a finished job. */
export function batchJobIdFor(tenant: string, jobId: string, attempt = 0): string {
  const plain = `${tenant}_${jobId}`;
  if (attempt === 0 && plain.length <= 63) return plain;
  const prefix = jobId.slice(0, 42 - tenant.length);
  const digest = sha256Hex(`${tenant}\n${jobId.toLowerCase()}\n${attempt}`);
  return `${tenant}_${prefix}_${digest.slice(0, 64 - tenant.length - 2 - prefix.length)}`;
}

/** A managed pool of low-priority (Spot) nodes: the plan stamps the kind in its metadata (its targets are zero). */
export function isLowPriorityPool(body: {
  readonly metadata?: readonly { name: string; value: string }[];
}): boolean {
  return body.metadata?.some((m) => m.name === 'slotwise.lowPriority' && m.value === 'true') ?? false;
}

/** Hash of a managed pool's spec (tenant included), stored in the pool's metadata. */
export function poolSpecHash(tenant: string, spec: object): string {
  return sha256Hex(`${tenant}\n${JSON.stringify(spec)}`);
}

/**
 * Managed pools are shared by one tenant's jobs with the same spec: `swp_<tenant>_<hash>`, where the
 * hash covers the tenant and the spec. The `swp_` prefix keeps them apart from operator pool names.
 */
export function managedPoolId(tenant: string, specHash: string): string {
  return `swp_${tenant}_${specHash.slice(0, 40)}`;
}
