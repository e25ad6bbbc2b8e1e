/**
 * Start-up as it runs in Azure (functions/startup.ts): the whole function table is served at once, while
 * the dependencies start in the background; with a dependency that fails or one that does not answer,
 * every function fails fast and visibly, `/api/health` names the cause, queue messages are held back in
 * their queue (not failed towards `-poison`), and the app starts by itself once the dependency is there.
 *
 * With Microsoft Entra (no Cosmos key) the app never creates the database or containers; a missing one
 * is the failing dependency here. Runs against the real Cosmos server (over TLS: the SDK sends bearer
 * tokens only over https), Azurite and the dev host; the token is a stand-in (the local server does not
 * check it), so the Entra code path is under test, not Entra itself. The slow dependency is the same
 * Cosmos server behind a gate that holds every connection until it is opened.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import type { TokenCredential } from '@azure/core-auth';
import { CosmosClient } from '@azure/cosmos';
import { InvocationContext } from '@azure/functions';
import { QueueServiceClient } from '@azure/storage-queue';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { parseHostJson } from '../../dev/host/config.js';
import { type DevHost, startHost } from '../../dev/host/host.js';
import { createDeployedQueues } from '../../dev/services/queues.js';
import type { Services } from '../../dev/services/services.js';
import { NotStartedError, releaseDelaySeconds, Starter, startupTable } from '../../functions/startup.js';
import { functionTable } from '../../functions/table.js';
import { ConfigError, readSettings } from '../../shared/adapters/config/config.js';
import { ensureContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import { type AppDeps, createAppDeps, createStartupReleaser } from '../../shared/app/app.js';
import {
  BATCH_ACCOUNT,
  BATCH_KEY,
  memoryLogger,
  startTestEmulator,
  startTestServices,
  waitFor,
} from '../support/stack.js';

const credential: TokenCredential = {
  getToken: async () => ({ token: 'local-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

// The fixture certificate is self-signed for 127.0.0.1; this test process alone accepts it.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const tls = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));

let services: Services;
let emulator: BatchEmulator;
let cosmos: CosmosClient;
let cosmosTls: ReturnType<typeof createHttpsServer>;
let cosmosTlsPort: number;
const env = (
  database: string,
  cosmosEndpoint = `https://127.0.0.1:${cosmosTlsPort}`,
): Record<string, string> => ({
  AzureWebJobsStorage: services.storageConnectionString,
  COSMOS_ENDPOINT: cosmosEndpoint,
  COSMOS_KEY: '',
  COSMOS_DATABASE: database,
  BATCH_ENDPOINT: emulator.url,
  BATCH_ACCOUNT_NAME: BATCH_ACCOUNT,
  BATCH_ACCOUNT_KEY: BATCH_KEY,
  SLOTWISE_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
  SLOTWISE_SWEEP_SCHEDULE: '0 0 0 1 1 *',
  SLOTWISE_POOL_CONTROL_SCHEDULE: '0 0 0 1 1 *',
});

beforeAll(async () => {
  [services, emulator] = await Promise.all([startTestServices(), startTestEmulator()]);
  await createDeployedQueues(services.storageConnectionString);
  cosmosTls = createHttpsServer({ key: tls('localhost.key'), cert: tls('localhost.crt') });
  await new Promise<void>((resolve) => cosmosTls.listen(0, '127.0.0.1', resolve));
  cosmosTlsPort = (cosmosTls.address() as AddressInfo).port;
  cosmos = new CosmosClient({
    endpoint: `https://127.0.0.1:${cosmosTlsPort}`,
    key: services.cosmosKey,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
});
afterAll(async () => {
  cosmos?.dispose();
  cosmosTls?.closeAllConnections();
  await new Promise((resolve) => cosmosTls?.close(resolve));
  await emulator?.close();
  await services?.close();
});

const databaseExists = async (id: string) =>
  (await cosmos.databases.readAll().fetchAll()).resources.some((d) => d.id === id);

/** A TCP gate in front of the Cosmos server: connections wait, unanswered, until `open()`. */
async function startGate(): Promise<{ port: number; open(): void; close(): Promise<void> }> {
  let opened = false;
  const held: Socket[] = [];
  const sockets = new Set<Socket>();
  const pipe = (client: Socket) => {
    const upstream = connect(cosmosTlsPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    sockets.add(upstream);
  };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    if (opened) pipe(client);
    else held.push(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    open() {
      opened = true;
      for (const client of held.splice(0)) pipe(client);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Running {
  readonly starter: Starter<AppDeps>;
  readonly host: DevHost;
  readonly lines: string[];
  readonly table: ReturnType<typeof startupTable<AppDeps>>;
  health(): Promise<{
    status: number;
    body: { status: string; startup?: { code: string; message: string } };
  }>;
  close(): Promise<void>;
}

/** The start-up table served by the dev host, as the Azure entry point registers it. */
async function serve(
  appEnv: Record<string, string>,
  starterOptions: { timeoutMs?: number } = {},
): Promise<Running> {
  const starter = new Starter<AppDeps>((onStep) => createAppDeps(appEnv, { credential, onStep }), {
    dispose: (d) => d.close(),
    retryAfterMs: 0,
    waitMs: 200,
    log: () => undefined,
    ...starterOptions,
  });
  const release = createStartupReleaser(appEnv)!;
  const table = startupTable(functionTable, starter, {
    release: (m, d) => release.release(m, d),
    env: appEnv,
    // Held back 2 s here (5 min in Azure), so the test sees the message come back.
    releaseDelay: () => 2,
  });
  const logger = memoryLogger();
  const host = await startHost({
    functions: table,
    deps: async () => null,
    host: parseHostJson(
      JSON.stringify({
        version: '2.0',
        extensions: {
          http: { routePrefix: 'api' },
          queues: { maxPollingInterval: '00:00:00.200', visibilityTimeout: '00:00:01', maxDequeueCount: 5 },
        },
      }),
    ),
    env: appEnv,
    port: 0,
    logger,
    queueLeaseSeconds: 30,
    shutdownTimeoutMs: 5000,
  });
  starter.start();
  return {
    starter,
    host,
    lines: logger.lines,
    table,
    async health() {
      const res = await fetch(`${host.url}/api/health`);
      return { status: res.status, body: (await res.json()) as never };
    },
    async close() {
      await host.close();
      await starter.close();
    },
  };
}

/** Sends a pipeline message and waits until start-up has held it back once. */
async function sendHeldBack(run: Running, queue: string): Promise<void> {
  const jobId = `j${randomUUID().slice(0, 8)}`;
  await queues()
    .getQueueClient(queue)
    .sendMessage(Buffer.from(JSON.stringify({ tenant: 'dev', jobId })).toString('base64'));
  await waitFor(
    () => run.lines.filter((l) => l.includes(`goes back on '${queue}'`)).length,
    (n) => n >= 1,
    { what: 'the message to be held back' },
  );
}

const queues = () => QueueServiceClient.fromConnectionString(services.storageConnectionString);
const count = async (queue: string) =>
  (await queues().getQueueClient(queue).getProperties()).approximateMessagesCount ?? 0;

describe('clean start with Microsoft Entra', () => {
  it('never creates the database or containers, and names what is missing', async () => {
    const database = `m${randomUUID().slice(0, 8)}`;
    await expect(createAppDeps(env(database), { credential })).rejects.toMatchObject({
      code: 'CosmosContainersMissing',
    });
    expect(await databaseExists(database)).toBe(false);
  });

  it('names missing settings without their values', () => {
    const bad = { ...env('x'), AzureWebJobsStorage: '', COSMOS_ENDPOINT: 'not a url with secret-value' };
    let thrown: unknown;
    try {
      readSettings(bad);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const message = (thrown as ConfigError).message;
    expect(message).toContain('COSMOS_ENDPOINT');
    expect(message).toContain('AzureWebJobsStorage');
    expect(message).not.toContain('secret-value');
  });

  it('holds a queue message back for hours of deliveries before the host would poison it', () => {
    // The host moves a message to -poison after 5 failed deliveries; held back, its deliveries spread out.
    const held = [1, 2, 3, 4, 5].map(releaseDelaySeconds);
    expect(held).toEqual([300, 1200, 4800, 19_200, 43_200]);
    expect(held.reduce((a, b) => a + b) / 3600).toBeGreaterThan(19);
  });
});

describe('start-up with a failing dependency (a missing Cosmos container)', () => {
  it('serves every function at once, fails each fast and visibly, holds messages back, and starts once fixed', async () => {
    const database = `m${randomUUID().slice(0, 8)}`;
    const run = await serve(env(database));
    try {
      // Health names the cause, with no values.
      const down = await waitFor(
        () => run.health(),
        (h) => h.body.startup?.code === 'CosmosContainersMissing',
        { what: 'health to name the missing container' },
      );
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'down', startup: { code: 'CosmosContainersMissing' } });
      expect(down.body.startup!.message).toContain("'jobs'");
      // Every HTTP function answers 503 with Retry-After, pointing at health.
      const create = await fetch(`${run.host.url}/api/jobs`, { method: 'POST', body: '{}' });
      expect(create.status).toBe(503);
      expect(create.headers.get('retry-after')).toBe('30');
      expect(await create.json()).toMatchObject({
        type: 'https://slotwise.dev/problems/not-started',
        detail: expect.stringContaining('CosmosContainersMissing'),
      });
      // A timer invocation fails naming the cause.
      const sweep = run.table.find((f) => f.kind === 'timer')!;
      if (sweep.kind !== 'timer') throw new Error('no timer');
      await expect(
        sweep.handler(
          { isPastDue: false, scheduleStatus: undefined } as never,
          new InvocationContext(),
          null,
        ),
      ).rejects.toBeInstanceOf(NotStartedError);
      // A queue message is held back in its queue, not failed towards -poison.
      await sendHeldBack(run, queueNames.plan);
      expect(await count(queueNames.plan)).toBe(1);
      expect(await count(`${queueNames.plan}-poison`)).toBe(0);
      // The container appears (the template declares them): the next invocation starts the app.
      await ensureContainers(cosmos, database);
      await waitFor(
        () => run.health(),
        (h) => h.status === 200,
        { what: 'health to be up' },
      );
      await waitFor(
        () => count(queueNames.plan),
        (n) => n === 0,
        { what: 'the held-back message to be processed' },
      );
      expect(await count(`${queueNames.plan}-poison`)).toBe(0);
    } finally {
      await run.close();
    }
  });
});

describe('start-up with a slow dependency (Cosmos not answering)', () => {
  it('serves every function at once, names what start-up waits on, holds messages back, and takes the late start', async () => {
    const database = `m${randomUUID().slice(0, 8)}`;
    await ensureContainers(cosmos, database);
    const gate = await startGate();
    const run = await serve(env(database, `https://127.0.0.1:${gate.port}`), { timeoutMs: 1000 });
    try {
      // Before the bound: health says what start-up is doing; after it, that it timed out, on what.
      const pending = await run.health();
      expect(pending.status).toBe(503);
      expect(['StartupPending', 'StartupTimedOut']).toContain(pending.body.startup?.code);
      const timedOut = await waitFor(
        () => run.health(),
        (h) => h.body.startup?.code === 'StartupTimedOut',
        { what: 'start-up to time out' },
      );
      expect(timedOut.status).toBe(503);
      expect(timedOut.body.startup!.message).toContain('Cosmos DB database and containers');
      // Requests fail fast meanwhile, and queue messages are held back.
      const list = await fetch(`${run.host.url}/api/jobs`);
      expect(list.status).toBe(503);
      await sendHeldBack(run, queueNames.submit);
      expect(await count(`${queueNames.submit}-poison`)).toBe(0);
      // Cosmos answers again: the start completes (the late attempt, or the next one) with no restart.
      gate.open();
      await waitFor(
        () => run.health(),
        (h) => h.status === 200,
        { what: 'health to be up', timeoutMs: 60_000 },
      );
      await waitFor(
        () => count(queueNames.submit),
        (n) => n === 0,
        { what: 'the held-back message to be processed' },
      );
      expect(await count(`${queueNames.submit}-poison`)).toBe(0);
    } finally {
      await run.close();
      await gate.close();
    }
  }, 120_000);
});
