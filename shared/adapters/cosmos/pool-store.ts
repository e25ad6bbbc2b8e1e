/**
 * Pools Slotwise manages, one document each (container `pools`, partition = pool id): the pool's
 * owner and body (so the controller can recreate it), when it was last used, and the controller's
 * own state — its lease, the target it applied, and the timers of its hysteresis.
 */
import type { Container } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';
import type { PoolBody } from '../../model/batch-bodies.js';
import type { PoolOwner } from '../../model/batch-names.js';
import type { Lease } from '../../model/job.js';
import type { NodeBaseline, StartTaskProblem } from '../../model/node-health.js';
import { cosmosStatus, stripSystem } from './cosmos-setup.js';

export interface AllocationProblem {
  /** Batch's resize error code, e.g. `AccountCoreQuotaReached`, `AllocationTimedout`. */
  readonly code: string;
  readonly message: string;
  /** When the controller first saw it (the deadline for waiting jobs runs from here). */
  readonly since: string;
}

export interface ManagedPoolDoc {
  id: string;
  tenant: string;
  /** The Batch account the pool is in (absent: the primary account). */
  account?: string;
  /** The pool spec hash stamped in the pool's metadata: with the tenant, the pool's owner. */
  spec: string;
  lastUsedAt: string;
  /** The body the pool is created from (targets zero: the controller sizes it). */
  body: PoolBody;
  /** The target the controller last applied. */
  target?: number;
  /** Since when the wanted size has stayed below the target (hysteresis before a shrink). */
  belowSince?: string;
  /** Since when the pool has had no demand and no nodes (deleted after the idle TTL). */
  emptySince?: string;
  /** Set while Batch reports it cannot allocate the nodes asked for. */
  allocationProblem?: AllocationProblem;
  /** Set while no node of the pool is in service because its start task fails (`judgeStartTask`). */
  startTaskProblem?: StartTaskProblem;
  /** Per node, its counts at its last success as the controller saw them (the bad-node rule's memory). */
  nodeBaselines?: Record<string, NodeBaseline>;
  /** Per node now `preempted`, when it was preempted: each preemption is counted once. */
  preemptionsSeen?: Record<string, string>;
  _etag?: string;
}

/** The controller's claim on one tenant's pools: the tenant's node limit spans them all. */
interface TenantLeaseDoc {
  id: string;
  /** Never a tenant id, so tenant queries never see it. */
  tenant: '~';
  lease?: Lease;
  _etag?: string;
}

const tenantLeaseId = (tenant: string) => `~lease:${tenant}`;

export interface PoolStore {
  /** Records the pool (once) and that a job uses it now. */
  register(body: PoolBody, owner: PoolOwner, at: Date, account?: string): Promise<void>;
  get(poolId: string): Promise<ManagedPoolDoc | undefined>;
  /** Every managed pool (of one tenant when given), in a stable order: tenant, then pool id. */
  list(options?: { tenant?: string }): Promise<ManagedPoolDoc[]>;
  /** ETag-guarded read-modify-write; `mutate` returns undefined for no change. */
  update(
    poolId: string,
    mutate: (pool: ManagedPoolDoc) => ManagedPoolDoc | undefined,
  ): Promise<{ pool: ManagedPoolDoc; changed: boolean } | undefined>;
  remove(poolId: string): Promise<void>;
  /** Claims the tenant's pools for one controller pass; false while another live claim holds them. */
  claimTenant(tenant: string, owner: string, now: Date, leaseMs: number): Promise<boolean>;
  /** Extends this owner's claim; false when the claim is no longer this owner's (it lapsed and was taken). */
  renewTenant(tenant: string, owner: string, now: Date, leaseMs: number): Promise<boolean>;
  releaseTenant(tenant: string, owner: string): Promise<void>;
  /** Removes the record unless a job registered on the pool since `lastUsedAt` (then it is kept). */
  removeIfUnused(poolId: string, lastUsedAt: string): Promise<boolean>;
}

export class PoolConcurrencyError extends SlotwiseError {
  constructor(poolId: string) {
    super('ConcurrentUpdate', `Pool ${poolId} kept changing while being updated`, { retryable: true });
  }
}

export function createPoolStore(container: Container): PoolStore {
  const get = async (poolId: string): Promise<ManagedPoolDoc | undefined> => {
    try {
      const { resource } = await container.item(poolId, poolId).read<ManagedPoolDoc>();
      return resource ? stripSystem(resource) : undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  };
  const withoutEtag = (doc: ManagedPoolDoc) => {
    const { _etag: _dropped, ...rest } = doc;
    return rest;
  };
  const store: PoolStore = {
    async register(body, owner, at, account) {
      const doc: ManagedPoolDoc = {
        id: body.id,
        tenant: owner.tenant,
        ...(account !== undefined ? { account } : {}),
        spec: owner.spec,
        lastUsedAt: at.toISOString(),
        body,
      };
      try {
        await container.items.create(doc);
      } catch (e) {
        if (cosmosStatus(e) !== 409) throw e;
        // Only the use time changes: the controller's state on the document is kept.
        await container
          .item(body.id, body.id)
          .patch([{ op: 'set', path: '/lastUsedAt', value: doc.lastUsedAt }]);
      }
    },
    get,
    async list(options = {}) {
      const { resources } = await container.items
        .query<ManagedPoolDoc>(
          options.tenant
            ? {
                query: 'SELECT * FROM c WHERE c.tenant = @tenant',
                parameters: [{ name: '@tenant', value: options.tenant }],
              }
            : { query: 'SELECT * FROM c' },
        )
        .fetchAll();
      return resources
        .map(stripSystem)
        .filter((d) => !d.id.startsWith('~'))
        .sort((a, b) => (a.tenant === b.tenant ? (a.id < b.id ? -1 : 1) : a.tenant < b.tenant ? -1 : 1));
    },
    async update(poolId, mutate) {
      for (let attempt = 0; attempt < 20; attempt++) {
        const current = await get(poolId);
        if (!current) return undefined;
        const next = mutate(structuredClone(current));
        if (!next) return { pool: current, changed: false };
        try {
          const { resource } = await container.item(poolId, poolId).replace(withoutEtag(next), {
            accessCondition: { type: 'IfMatch', condition: current._etag ?? '' },
          });
          return { pool: stripSystem(resource as ManagedPoolDoc), changed: true };
        } catch (e) {
          if (cosmosStatus(e) === 412) continue;
          throw e;
        }
      }
      throw new PoolConcurrencyError(poolId);
    },
    async remove(poolId) {
      try {
        await container.item(poolId, poolId).delete();
      } catch (e) {
        if (cosmosStatus(e) !== 404) throw e;
      }
    },
    async claimTenant(tenant, owner, now, leaseMs) {
      const id = tenantLeaseId(tenant);
      const lease = { owner, until: new Date(now.getTime() + leaseMs).toISOString() };
      let current: TenantLeaseDoc | undefined;
      try {
        current = (await container.item(id, id).read<TenantLeaseDoc>()).resource ?? undefined;
      } catch (e) {
        if (cosmosStatus(e) !== 404) throw e;
      }
      const held = current?.lease;
      if (held && held.owner !== owner && Date.parse(held.until) > now.getTime()) return false;
      try {
        if (!current) await container.items.create<TenantLeaseDoc>({ id, tenant: '~', lease });
        else
          await container
            .item(id, id)
            .replace<TenantLeaseDoc>(
              { id, tenant: '~', lease },
              { accessCondition: { type: 'IfMatch', condition: current._etag ?? '' } },
            );
        return true;
      } catch (e) {
        const status = cosmosStatus(e);
        if (status === 409 || status === 412) return false;
        throw e;
      }
    },
    async renewTenant(tenant, owner, now, leaseMs) {
      const id = tenantLeaseId(tenant);
      try {
        const { resource } = await container.item(id, id).read<TenantLeaseDoc>();
        if (resource?.lease?.owner !== owner) return false;
        const lease = { owner, until: new Date(now.getTime() + leaseMs).toISOString() };
        await container
          .item(id, id)
          .replace<TenantLeaseDoc>(
            { id, tenant: '~', lease },
            { accessCondition: { type: 'IfMatch', condition: resource._etag ?? '' } },
          );
        return true;
      } catch (e) {
        const status = cosmosStatus(e);
        // Changed under us: only another owner writes it, so the claim is theirs now.
        if (status === 404 || status === 412) return false;
        throw e;
      }
    },
    async releaseTenant(tenant, owner) {
      const id = tenantLeaseId(tenant);
      try {
        const { resource } = await container.item(id, id).read<TenantLeaseDoc>();
        if (resource?.lease?.owner !== owner) return;
        await container
          .item(id, id)
          .replace<TenantLeaseDoc>(
            { id, tenant: '~' },
            { accessCondition: { type: 'IfMatch', condition: resource._etag ?? '' } },
          );
      } catch (e) {
        const status = cosmosStatus(e);
        if (status !== 404 && status !== 412) throw e;
      }
    },
    async removeIfUnused(poolId, lastUsedAt) {
      const current = await get(poolId);
      if (!current) return true;
      if (current.lastUsedAt !== lastUsedAt) return false;
      try {
        await container.item(poolId, poolId).delete({
          accessCondition: { type: 'IfMatch', condition: current._etag ?? '' },
        });
        return true;
      } catch (e) {
        const status = cosmosStatus(e);
        if (status === 404) return true;
        if (status === 412) return false;
        throw e;
      }
    },
  };
  return store;
}
