/**
 * Database and containers. Every tenant-owned document is partitioned by tenant so one tenant's
 * reads never touch another's partition; lookups by key hash and by pool id are point reads.
 */
import type { Container, CosmosClient, Database } from '@azure/cosmos';

export interface Containers {
  readonly database: Database;
  /** Job documents and their task chunks. Partition `/tenant`. */
  readonly jobs: Container;
  /** Tenants (`/id`). */
  readonly tenants: Container;
  /** API key hash → tenant (`/id` = the hash). */
  readonly apiKeys: Container;
  /** Pools Slotwise manages (`/id` = Batch pool id). */
  readonly pools: Container;
}

export async function ensureContainers(client: CosmosClient, databaseId: string): Promise<Containers> {
  const { database } = await client.databases.createIfNotExists({ id: databaseId });
  const make = async (id: string, path: string, excludedPaths: string[] = []) =>
    (
      await database.containers.createIfNotExists({
        id,
        partitionKey: { paths: [path] },
        ...(excludedPaths.length > 0
          ? {
              indexingPolicy: {
                indexingMode: 'consistent',
                includedPaths: [{ path: '/*' }],
                excludedPaths: [...excludedPaths.map((p) => ({ path: p })), { path: '/"_etag"/?' }],
              },
            }
          : {}),
      })
    ).container;
  const [jobs, tenants, apiKeys, pools] = await Promise.all([
    // Queries filter on top-level fields only; the big nested parts (requests, task bodies, events)
    // are never queried, so indexing them would only cost request units on every write.
    make('jobs', '/tenant', [
      '/request/*',
      '/tasks/*',
      '/events/*',
      '/history/*',
      '/batchBodies/*',
      '/plan/*',
      '/errors/*',
    ]),
    make('tenants', '/id'),
    make('apikeys', '/id'),
    make('pools', '/id'),
  ]);
  return { database, jobs, tenants, apiKeys, pools };
}

/** Cosmos errors carry the HTTP status in `code`. */
export function cosmosStatus(e: unknown): number | undefined {
  if (typeof e === 'object' && e !== null) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    const status = (e as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number') return status;
  }
  return undefined;
}

/** Drops Cosmos system properties (`_rid`, `_self`, `_ts`, `_attachments`) but keeps `_etag`. */
export function stripSystem<T extends object>(resource: T): T {
  const copy = { ...resource } as Record<string, unknown>;
  delete copy._rid;
  delete copy._self;
  delete copy._ts;
  delete copy._attachments;
  return copy as T;
}
