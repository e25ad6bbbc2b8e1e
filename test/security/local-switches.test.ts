/**
 * Local-only switches cannot reach production: with `WEBSITE_INSTANCE_ID` or `WEBSITE_SITE_NAME` set
 * (the app runs in Azure), a settings file that still seeds tenant `dev` and allows loopback callbacks
 * must neither create the tenant nor open callbacks to this machine.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import azureFunctions from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../dev/services/services.js';
import { health } from '../../functions/health.js';
import { type AppDeps, createAppDeps } from '../../shared/app/app.js';
import {
  BATCH_ACCOUNT,
  BATCH_KEY,
  startTestServices,
  TEST_API_KEY,
  TEST_INTAKE_SECRET,
  TEST_WEBHOOK_SECRET,
} from '../support/stack.js';

let services: Services;
let receiver: Server;
let receiverPort: number;
let received = 0;
const opened: AppDeps[] = [];

beforeAll(async () => {
  services = await startTestServices();
  receiver = createServer((req, res) => {
    received++;
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverPort = (receiver.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const deps of opened) await deps.close();
  await new Promise((r) => receiver?.close(r));
  await services?.close();
});

/** The local stack's settings (dev tenant, loopback callbacks), plus `extra`, in a fresh database. */
async function depsWith(extra: Record<string, string>): Promise<AppDeps> {
  const deps = await createAppDeps(
    {
      AzureWebJobsStorage: services.storageConnectionString,
      COSMOS_ENDPOINT: services.cosmosEndpoint,
      COSMOS_KEY: services.cosmosKey,
      COSMOS_DATABASE: `s${randomUUID().slice(0, 8)}`,
      BATCH_ENDPOINT: 'http://127.0.0.1:9',
      BATCH_ACCOUNT_NAME: BATCH_ACCOUNT,
      BATCH_ACCOUNT_KEY: BATCH_KEY,
      SLOTWISE_DEV_API_KEY: TEST_API_KEY,
      SLOTWISE_DEV_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      SLOTWISE_DEV_INTAKE_SECRET: TEST_INTAKE_SECRET,
      SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS: 'true',
      ...extra,
    },
    { log: () => undefined },
  );
  opened.push(deps);
  return deps;
}

async function sendToLoopback(deps: AppDeps) {
  return deps.deliver({
    url: `http://127.0.0.1:${receiverPort}/hook`,
    id: randomUUID(),
    body: '{}',
    secret: TEST_WEBHOOK_SECRET,
    at: new Date(),
  });
}

describe('local-only switches', () => {
  it('work on the local stack (the control)', async () => {
    const deps = await depsWith({});
    expect(await deps.tenants.authenticate(TEST_API_KEY)).toBe('dev');
    expect(deps.policy.checkCallbackUrl(`http://127.0.0.1:${receiverPort}/hook`)).toBeUndefined();
    const before = received;
    expect(await sendToLoopback(deps)).toMatchObject({ kind: 'delivered' });
    expect(received).toBe(before + 1);
    expect(deps.localSwitches).toMatchObject({ runsInAzure: false, refused: [] });
  });

  it.each([
    ['WEBSITE_INSTANCE_ID', { WEBSITE_INSTANCE_ID: 'a1b2c3d4e5f6' }],
    ['WEBSITE_SITE_NAME', { WEBSITE_SITE_NAME: 'slotwise-prod' }],
  ])('are refused in Azure (%s set): no dev tenant, no loopback callbacks', async (_name, env) => {
    const deps = await depsWith(env);
    expect(await deps.tenants.get('dev')).toBeUndefined();
    expect(await deps.tenants.authenticate(TEST_API_KEY)).toBeUndefined();
    expect(deps.policy.checkCallbackUrl(`http://127.0.0.1:${receiverPort}/hook`)).toBe(
      'must be an https URL',
    );
    expect(deps.policy.checkCallbackUrl(`https://localhost:${receiverPort}/hook`)).toBeDefined();
    const before = received;
    expect(await sendToLoopback(deps)).toMatchObject({ kind: 'rejected' });
    expect(received).toBe(before);
    expect(deps.localSwitches).toEqual({
      runsInAzure: true,
      seedDevTenant: false,
      allowHttpLoopbackCallbacks: false,
      refused: [
        'SLOTWISE_DEV_API_KEY',
        'SLOTWISE_DEV_WEBHOOK_SECRET',
        'SLOTWISE_DEV_INTAKE_SECRET',
        'SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS',
      ],
    });
  });

  it('are shown as refused in the health details of a tenant key', async () => {
    const deps = await depsWith({ WEBSITE_INSTANCE_ID: 'a1b2c3d4e5f6' });
    await deps.tenants.upsert('acme', { apiKey: 'acme-api-key-0123456789', now: new Date() });
    const response = await health.handler(
      new azureFunctions.HttpRequest({
        url: 'http://127.0.0.1/api/health',
        method: 'GET',
        headers: { authorization: 'Bearer acme-api-key-0123456789' },
      }),
      new azureFunctions.InvocationContext({ logHandler: () => undefined }),
      deps,
    );
    const body = response.jsonBody as { localSwitches?: { runsInAzure: boolean; refused: string[] } };
    expect(body.localSwitches?.runsInAzure).toBe(true);
    expect(body.localSwitches?.refused).toContain('SLOTWISE_DEV_API_KEY');
    expect(body.localSwitches?.refused).toContain('SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS');
  });
});
