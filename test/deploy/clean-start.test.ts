/**
 * A clean start: with Microsoft Entra (no Cosmos key) the app never creates the database or its
 * containers; a missing one stops the start with its name, the worker then registers only HTTP
 * functions (no queue listener takes a message into poison), and `/api/health` names the problem.
 * Runs against the real Cosmos server (over TLS: the SDK sends bearer tokens only over https) and
 * Azurite; the token is a stand-in (the local server does not check it), so the Entra code path is
 * under test, not Entra itself.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { TokenCredential } from '@azure/core-auth';
import { CosmosClient } from '@azure/cosmos';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../dev/services/services.js';
import { startFunctions } from '../../functions/startup.js';
import { functionTable } from '../../functions/table.js';
import { ConfigError, readSettings } from '../../shared/adapters/config/config.js';
import { ensureContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { createAppDeps } from '../../shared/app/app.js';
import { BATCH_ACCOUNT, BATCH_KEY, startTestServices } from '../support/stack.js';

const credential: TokenCredential = {
  getToken: async () => ({ token: 'local-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

// The fixture certificate is self-signed for 127.0.0.1; this test process alone accepts it.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const tls = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));

let services: Services;
let cosmos: CosmosClient;
let cosmosTls: ReturnType<typeof createHttpsServer>;
let cosmosTlsEndpoint: string;
const env = (database: string): Record<string, string> => ({
  AzureWebJobsStorage: services.storageConnectionString,
  COSMOS_ENDPOINT: cosmosTlsEndpoint,
  COSMOS_KEY: '',
  COSMOS_DATABASE: database,
  BATCH_ENDPOINT: 'http://127.0.0.1:9',
  BATCH_ACCOUNT_NAME: BATCH_ACCOUNT,
  BATCH_ACCOUNT_KEY: BATCH_KEY,
});

beforeAll(async () => {
  services = await startTestServices();
  cosmosTls = createHttpsServer({ key: tls('localhost.key'), cert: tls('localhost.crt') });
  await new Promise<void>((resolve) => cosmosTls.listen(0, '127.0.0.1', resolve));
  cosmosTlsEndpoint = `https://127.0.0.1:${(cosmosTls.address() as AddressInfo).port}`;
  cosmos = new CosmosClient({
    endpoint: cosmosTlsEndpoint,
    key: services.cosmosKey,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
});
afterAll(async () => {
  cosmos?.dispose();
  cosmosTls?.closeAllConnections();
  await new Promise((resolve) => cosmosTls?.close(resolve));
  await services?.close();
});

const databaseExists = async (id: string) =>
  (await cosmos.databases.readAll().fetchAll()).resources.some((d) => d.id === id);

describe('clean start with Microsoft Entra', () => {
  it('never creates the database or containers, and names what is missing', async () => {
    const database = `m${randomUUID().slice(0, 8)}`;
    await expect(createAppDeps(env(database), { credential })).rejects.toMatchObject({
      code: 'CosmosContainersMissing',
    });
    expect(await databaseExists(database)).toBe(false);
  });

  it('registers only HTTP functions when the start fails, and health names the problem', async () => {
    const database = `m${randomUUID().slice(0, 8)}`;
    const started = await startFunctions(functionTable, () => createAppDeps(env(database), { credential }));
    expect(started.ok).toBe(false);
    if (started.ok) return;
    expect(started.table.map((f) => f.kind)).toEqual(
      functionTable.filter((f) => f.kind === 'http').map(() => 'http'),
    );
    const health = started.table.find((f) => f.name === 'health');
    if (health?.kind !== 'http') throw new Error('health is not registered');
    const response = await health.handler(
      new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/health' }),
      new InvocationContext(),
      null,
    );
    expect(response.status).toBe(503);
    expect(response.jsonBody).toMatchObject({
      status: 'down',
      startup: { code: 'CosmosContainersMissing' },
    });
    expect((response.jsonBody as { startup: { message: string } }).startup.message).toContain("'jobs'");
  });

  it('starts once the containers exist (declared by the template; here made with the key)', async () => {
    const database = `m${randomUUID().slice(0, 8)}`;
    await ensureContainers(cosmos, database);
    const started = await startFunctions(functionTable, () => createAppDeps(env(database), { credential }));
    expect(started.ok).toBe(true);
    if (!started.ok) return;
    expect(started.table).toBe(functionTable);
    await started.deps.close();
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
});
