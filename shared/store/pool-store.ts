/** Pools Slotwise created: when each was last used, so the sweep can shrink or delete idle ones. */
import type { Container } from '@azure/cosmos';
import type { PoolOwner } from '../planner/batch-names.js';
import { cosmosStatus, stripSystem } from './cosmos-setup.js';

export interface ManagedPoolDoc {
  id: string;
  tenant: string;
  /** The pool spec hash stamped in the pool's metadata: with the tenant, the pool's owner. */
  spec: string;
  lastUsedAt: string;
  /** Set when the sweep resized the pool to zero nodes. */
  shrunkAt?: string;
}

export interface PoolStore {
  touch(poolId: string, owner: PoolOwner, at: Date): Promise<void>;
  listIdleSince(before: string, limit: number): Promise<ManagedPoolDoc[]>;
  markShrunk(poolId: string, at: Date): Promise<void>;
  remove(poolId: string): Promise<void>;
}

export function createPoolStore(container: Container): PoolStore {
  return {
    async touch(poolId, owner, at) {
      await container.items.upsert<ManagedPoolDoc>({
        id: poolId,
        tenant: owner.tenant,
        spec: owner.spec,
        lastUsedAt: at.toISOString(),
      });
    },
    async listIdleSince(before, limit) {
      const { resources } = await container.items
        .query<ManagedPoolDoc>({
          query: `SELECT TOP ${limit} * FROM c WHERE c.lastUsedAt < @before`,
          parameters: [{ name: '@before', value: before }],
        })
        .fetchAll();
      return resources.map(stripSystem);
    },
    async markShrunk(poolId, at) {
      await container.item(poolId, poolId).patch([{ op: 'set', path: '/shrunkAt', value: at.toISOString() }]);
    },
    async remove(poolId) {
      try {
        await container.item(poolId, poolId).delete();
      } catch (e) {
        if (cosmosStatus(e) !== 404) throw e;
      }
    },
  };
}
