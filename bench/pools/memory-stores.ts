/**
 * In-memory stand-ins for the documents the pool controller reads and writes, so the bench runs the
 * real stage (`runPoolController`) against the emulator without Cosmos DB. The pool store keeps the
 * Cosmos store's semantics (register keeps the controller's state, update is read-modify-write,
 * removeIfUnused refuses when a job registered since). The job store and queues are never touched
 * while pools allocate normally (they carry allocation problems to jobs); any call fails the run
 * loudly rather than being silently ignored.
 */

import type { JobStore } from '../../shared/adapters/cosmos/job-store.js';
import type { ManagedPoolDoc, PoolStore } from '../../shared/adapters/cosmos/pool-store.js';
import type { QueueGateway } from '../../shared/adapters/queues/queue-gateway.js';
import { SlotwiseError } from '../../shared/core/errors.js';

export function createMemoryPoolStore(): PoolStore {
  const docs = new Map<string, ManagedPoolDoc>();
  const tenantLeases = new Map<string, { owner: string; until: number }>();
  return {
    async claimTenant(tenant, owner, now, leaseMs) {
      const held = tenantLeases.get(tenant);
      if (held && held.owner !== owner && held.until > now.getTime()) return false;
      tenantLeases.set(tenant, { owner, until: now.getTime() + leaseMs });
      return true;
    },
    async renewTenant(tenant, owner, now, leaseMs) {
      if (tenantLeases.get(tenant)?.owner !== owner) return false;
      tenantLeases.set(tenant, { owner, until: now.getTime() + leaseMs });
      return true;
    },
    async releaseTenant(tenant, owner) {
      if (tenantLeases.get(tenant)?.owner === owner) tenantLeases.delete(tenant);
    },
    async register(body, owner, at) {
      const current = docs.get(body.id);
      if (current) current.lastUsedAt = at.toISOString();
      else
        docs.set(body.id, {
          id: body.id,
          tenant: owner.tenant,
          spec: owner.spec,
          lastUsedAt: at.toISOString(),
          body,
        });
    },
    async get(poolId) {
      const doc = docs.get(poolId);
      return doc ? structuredClone(doc) : undefined;
    },
    async list(options = {}) {
      return [...docs.values()]
        .filter((d) => options.tenant === undefined || d.tenant === options.tenant)
        .sort((a, b) => (a.tenant === b.tenant ? (a.id < b.id ? -1 : 1) : a.tenant < b.tenant ? -1 : 1))
        .map((d) => structuredClone(d));
    },
    async update(poolId, mutate) {
      const current = docs.get(poolId);
      if (!current) return undefined;
      const next = mutate(structuredClone(current));
      if (!next) return { pool: structuredClone(current), changed: false };
      docs.set(poolId, structuredClone(next));
      return { pool: structuredClone(next), changed: true };
    },
    async remove(poolId) {
      docs.delete(poolId);
    },
    async removeIfUnused(poolId, lastUsedAt) {
      const current = docs.get(poolId);
      if (!current) return true;
      if (current.lastUsedAt !== lastUsedAt) return false;
      docs.delete(poolId);
      return true;
    },
  };
}

function unused(what: string): never {
  throw new SlotwiseError('BenchUnexpectedCall', `The pools bench does not expect ${what} to be called`);
}

/**
 * Job documents are only written when a pool cannot allocate, which the bench never provokes, or to
 * show a job's wait on the tenant node limit: the bench keeps no job documents, so that reason (all
 * such a write carries) is dropped as for a job that is gone.
 */
export const unusedJobStore: JobStore = {
  create: () => unused('jobs.create'),
  get: () => unused('jobs.get'),
  update: async () => undefined,
  requestReconcile: () => unused('jobs.requestReconcile'),
  list: () => unused('jobs.list'),
  listInStates: () => unused('jobs.listInStates'),
  listLanes: () => unused('jobs.listLanes'),
  listWithDueDeliveries: () => unused('jobs.listWithDueDeliveries'),
  nextTenantWithWork: () => unused('jobs.nextTenantWithWork'),
  listTenantWork: () => unused('jobs.listTenantWork'),
  getCursor: () => unused('jobs.getCursor'),
  saveCursor: () => unused('jobs.saveCursor'),
};

export const unusedQueues: QueueGateway = {
  send: () => unused('queues.send'),
  sendRaw: () => unused('queues.sendRaw'),
  ping: () => unused('queues.ping'),
};
