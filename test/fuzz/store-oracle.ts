/**
 * What the store holds, for the fuzz's "a refused request stores nothing" check
 * (slotwise_checks.py): GET /snapshot on a loopback port answers every job document of every tenant
 * (its request hash, creation time and history) and every tenant's quota reservations, read straight
 * from Cosmos DB rather than through the API under test.
 */
import { createServer, type Server } from 'node:http';
import type { Container } from '@azure/cosmos';

export interface StoreSnapshot {
  /** `tenant/job document id` → what a request can set on a job and what only grows. */
  readonly jobs: Record<string, { requestHash?: string; createdAt?: string; history?: unknown[] }>;
  /** Tenant → the job keys its usage ledger holds reservations for. */
  readonly reservations: Record<string, string[]>;
}

interface Row {
  id: string;
  tenant: string;
  requestHash?: string;
  createdAt?: string;
  history?: unknown[];
  reservations?: Record<string, unknown>;
}

export async function snapshotStore(jobs: Container): Promise<StoreSnapshot> {
  const { resources } = await jobs.items
    .query<Row>(
      "SELECT c.id, c.tenant, c.requestHash, c.createdAt, c.history, c.reservations FROM c WHERE STARTSWITH(c.id, 'job:') OR c.id = 'usage'",
    )
    .fetchAll();
  const snapshot: { jobs: StoreSnapshot['jobs']; reservations: StoreSnapshot['reservations'] } = {
    jobs: {},
    reservations: {},
  };
  for (const row of resources) {
    if (row.id === 'usage') snapshot.reservations[row.tenant] = Object.keys(row.reservations ?? {}).sort();
    else
      snapshot.jobs[`${row.tenant}/${row.id}`] = {
        ...(row.requestHash !== undefined ? { requestHash: row.requestHash } : {}),
        ...(row.createdAt !== undefined ? { createdAt: row.createdAt } : {}),
        ...(row.history !== undefined ? { history: row.history } : {}),
      };
  }
  return snapshot;
}

export function startStoreOracle(jobs: Container): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/snapshot') {
      res.writeHead(404).end();
      return;
    }
    snapshotStore(jobs).then(
      (snapshot) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(snapshot));
      },
      (e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(e instanceof Error ? e.message : String(e));
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
