/**
 * Local stand-ins for the Azure services: Azurite (queues, blobs, tables) as a child process, and the
 * Cosmos DB API server (`@vercel/cosmosdb-server`, in-memory) over plain HTTP, because its bundled
 * TLS certificate has expired. Ports 0 pick free ports; the real ones are read back. Cosmos is reached
 * through a proxy (`cosmos-proxy.ts`) that enforces the 2 MB item limit, can throttle a share of
 * requests with 429, and counts requests and estimated request units.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '@vercel/cosmosdb-server';
import { type CosmosProxy, type ProxyFaults, startCosmosProxy } from './cosmos-proxy.js';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** The Cosmos DB emulator's well-known key (the local server accepts any key). */
export const COSMOS_DEV_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU9DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface ServicePorts {
  readonly blob?: number;
  readonly queue?: number;
  readonly table?: number;
  readonly cosmos?: number;
}

export interface Services {
  readonly storageConnectionString: string;
  readonly queueEndpoint: string;
  readonly blobEndpoint: string;
  readonly cosmosEndpoint: string;
  readonly cosmosKey: string;
  /** The proxy in front of the Cosmos server: throttling, request counts, estimated RU. */
  readonly cosmosProxy: CosmosProxy;
  /** Stops Azurite and the Cosmos server (idempotent). */
  close(): Promise<void>;
  /** Stops only the Cosmos server (tests use it to see health turn 503). */
  stopCosmos(): Promise<void>;
}

export interface Azurite {
  readonly blobEndpoint: string;
  readonly queueEndpoint: string;
  readonly tableEndpoint: string;
  readonly process: ChildProcess;
}

export async function startAzurite(ports: ServicePorts = {}, host = '127.0.0.1'): Promise<Azurite> {
  const entry = createRequire(import.meta.url).resolve('azurite/dist/src/azurite.js');
  const child = spawn(
    process.execPath,
    [
      entry,
      '--inMemoryPersistence',
      '--skipApiVersionCheck',
      '--loose',
      '--disableTelemetry',
      '--blobHost',
      host,
      '--queueHost',
      host,
      '--tableHost',
      host,
      '--blobPort',
      String(ports.blob ?? 0),
      '--queuePort',
      String(ports.queue ?? 0),
      '--tablePort',
      String(ports.table ?? 0),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const found: Record<string, string> = {};
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${output.slice(-500)}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}: ${output.slice(-500)}`));
    });
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const m of output.matchAll(
        /Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/\S+)/g,
      )) {
        found[m[1]!.toLowerCase()] = m[2]!;
      }
      if (found.blob && found.queue && found.table) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.removeAllListeners('exit');
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
  });
  return {
    blobEndpoint: `${found.blob}/${AZURITE_ACCOUNT}`,
    queueEndpoint: `${found.queue}/${AZURITE_ACCOUNT}`,
    tableEndpoint: `${found.table}/${AZURITE_ACCOUNT}`,
    process: child,
  };
}

export function storageConnectionString(
  azurite: Pick<Azurite, 'blobEndpoint' | 'queueEndpoint' | 'tableEndpoint'>,
): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${AZURITE_ACCOUNT}`,
    `AccountKey=${AZURITE_KEY}`,
    `BlobEndpoint=${azurite.blobEndpoint}`,
    `QueueEndpoint=${azurite.queueEndpoint}`,
    `TableEndpoint=${azurite.tableEndpoint}`,
  ].join(';');
}

export async function startCosmos(port = 0, host = '127.0.0.1') {
  const server = createHttpServer();
  // Keep-alive on: the Cosmos SDK reuses connections, and reconnecting per request is slow.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startServices(
  ports: ServicePorts = {},
  options: { cosmosFaults?: Partial<ProxyFaults> } = {},
): Promise<Services> {
  // The server itself on a free port; the proxy takes the public one.
  const [azurite, cosmos] = await Promise.all([startAzurite(ports), startCosmos(0)]);
  const proxy = await startCosmosProxy(cosmos.endpoint, ports.cosmos ?? 0);
  if (options.cosmosFaults) proxy.setFaults(options.cosmosFaults);
  let cosmosOpen = true;
  let closed = false;
  const stopCosmos = async () => {
    if (cosmosOpen) {
      cosmosOpen = false;
      await proxy.close();
      await cosmos.close();
    }
  };
  return {
    storageConnectionString: storageConnectionString(azurite),
    queueEndpoint: azurite.queueEndpoint,
    blobEndpoint: azurite.blobEndpoint,
    cosmosEndpoint: proxy.endpoint,
    cosmosKey: COSMOS_DEV_KEY,
    cosmosProxy: proxy,
    stopCosmos,
    async close() {
      if (closed) return;
      closed = true;
      await stopCosmos();
      if (azurite.process.exitCode === null) {
        const exited = new Promise<void>((resolve) => azurite.process.once('exit', () => resolve()));
        azurite.process.kill('SIGTERM');
        await exited;
      }
    },
  };
}
