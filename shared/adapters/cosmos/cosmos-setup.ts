/**
 * Database and containers. Every tenant-owned document is partitioned by tenant so one tenant's
 * reads never touch another's partition; lookups by key hash and by pool id are point reads. Per-job
 * data that grows with the job's size (stored task chunks) gets a partition per job instead, so no
 * logical partition (20 GB, 10,000 RU/s in Cosmos) grows with a tenant's history.
 */
import type { Container, CosmosClient, Database } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';

export interface Containers {
  readonly database: Database;
  /** Job documents, admission and cursor documents. Partition `/tenant`. */
  readonly jobs: Container;
  /** Stored task chunks (retry resubmissions), one partition per job: `/job` = `tenant/jobid`. */
  readonly chunks: Container;
  /** Tenants (`/id`). */
  readonly tenants: Container;
  /** API key hash → tenant (`/id` = the hash). */
  readonly apiKeys: Container;
  /** Pools Slotwise manages (`/id` = Batch pool id). */
  readonly pools: Container;
}

/** One container as the code uses it: the deployment template declares exactly these. */
export interface ContainerDefinition {
  readonly id: string;
  readonly partitionKeyPath: string;
  /** Paths left out of the index (besides `/"_etag"/?`); empty → Cosmos's default policy. */
  readonly excludedPaths: readonly string[];
  /** `-1`: items expire by their own `ttl` (none by default). Absent: no expiry. */
  readonly defaultTtl?: number;
}

export const containerDefinitions = {
  // Queries filter on top-level fields only; the big nested parts (requests, task bodies, events)
  // are never queried, so indexing them would only cost request units on every write.
  jobs: {
    id: 'jobs',
    partitionKeyPath: '/tenant',
    excludedPaths: [
      '/request/*',
      '/tasks/*',
      '/events/*',
      '/history/*',
      '/batchBodies/*',
      '/plan/*',
      '/errors/*',
    ],
  },
  // Read by id only (point reads in index order): nothing to index. Items carry their own `ttl`.
  chunks: { id: 'chunks', partitionKeyPath: '/job', excludedPaths: ['/tasks/*'], defaultTtl: -1 },
  tenants: { id: 'tenants', partitionKeyPath: '/id', excludedPaths: [] },
  apiKeys: { id: 'apikeys', partitionKeyPath: '/id', excludedPaths: [] },
  pools: { id: 'pools', partitionKeyPath: '/id', excludedPaths: [] },
} as const satisfies Record<Exclude<keyof Containers, 'database'>, ContainerDefinition>;

/** The indexing policy for a definition, as Cosmos (and the template) spell it. */
export function indexingPolicyFor(def: ContainerDefinition) {
  return def.excludedPaths.length > 0
    ? {
        indexingMode: 'consistent' as const,
        includedPaths: [{ path: '/*' }],
        excludedPaths: [...def.excludedPaths.map((p) => ({ path: p })), { path: '/"_etag"/?' }],
      }
    : undefined;
}

export class CosmosSetupError extends SlotwiseError {}

/**
 * Opens the database and containers. `create` (key auth, local) creates what is missing; without it
 * (Microsoft Entra: data-plane roles cannot create databases or containers, the template does) each
 * one is read once, so a missing container or a refused identity stops the start with its name
 * instead of failing every request later.
 */
export async function openContainers(
  client: CosmosClient,
  databaseId: string,
  options: { create: boolean },
): Promise<Containers> {
  const entries = Object.entries(containerDefinitions) as [
    keyof typeof containerDefinitions,
    ContainerDefinition,
  ][];
  if (options.create) {
    const { database } = await client.databases.createIfNotExists({ id: databaseId });
    const made = await Promise.all(
      entries.map(async ([, def]) => {
        const indexingPolicy = indexingPolicyFor(def);
        return (
          await database.containers.createIfNotExists({
            id: def.id,
            partitionKey: { paths: [def.partitionKeyPath] },
            ...(indexingPolicy ? { indexingPolicy } : {}),
            ...(def.defaultTtl !== undefined ? { defaultTtl: def.defaultTtl } : {}),
          })
        ).container;
      }),
    );
    return toContainers(database, entries, made);
  }
  const database = client.database(databaseId);
  const containers = entries.map(([, def]) => database.container(def.id));
  const results = await Promise.allSettled(containers.map((c) => c.read()));
  const missing: string[] = [];
  for (const [i, r] of results.entries()) {
    if (r.status === 'fulfilled') continue;
    const status = cosmosStatus(r.reason);
    if (status === 404) missing.push(entries[i]![1].id);
    else if (status === 401 || status === 403)
      throw new CosmosSetupError(
        'CosmosAccessDenied',
        `Cosmos DB refused the app's identity (${status}) reading container '${entries[i]![1].id}' of database '${databaseId}': assign it the Cosmos DB Built-in Data Contributor role`,
        { cause: r.reason, retryable: true },
      );
    else
      throw new CosmosSetupError(
        'CosmosUnreachable',
        `Cosmos DB did not answer reading container '${entries[i]![1].id}' of database '${databaseId}'`,
        { cause: r.reason, retryable: true },
      );
  }
  if (missing.length > 0)
    throw new CosmosSetupError(
      'CosmosContainersMissing',
      `Cosmos DB database '${databaseId}' lacks container(s) ${missing.map((m) => `'${m}'`).join(', ')}; with Microsoft Entra the app never creates them (the deployment template declares them)`,
    );
  return toContainers(database, entries, containers);
}

function toContainers(
  database: Database,
  entries: [keyof typeof containerDefinitions, ContainerDefinition][],
  made: Container[],
): Containers {
  const byKey = Object.fromEntries(entries.map(([key], i) => [key, made[i]!])) as Record<
    keyof typeof containerDefinitions,
    Container
  >;
  return { database, ...byKey };
}

/** Local key mode: creates what is missing. */
export function ensureContainers(client: CosmosClient, databaseId: string): Promise<Containers> {
  return openContainers(client, databaseId, { create: true });
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
