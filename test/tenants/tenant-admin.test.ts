/**
 * `npm run tenant:add` as the operator runs it (the built script, a child process) against the real
 * Cosmos DB server: create, grant and limit, rotate a key and a secret, refuse a typo.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../dev/services/services.js';
import { ensureContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { createTenantStore, type TenantStore } from '../../shared/adapters/cosmos/tenant-store.js';
import { startTestServices } from '../support/stack.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../dist/dev/tenant-add.js', import.meta.url));
let services: Services;
let client: CosmosClient;
let store: TenantStore;
let env: Record<string, string>;

beforeAll(async () => {
  services = await startTestServices();
  const database = `t${randomUUID().slice(0, 8)}`;
  env = {
    ...(process.env as Record<string, string>),
    COSMOS_ENDPOINT: services.cosmosEndpoint,
    COSMOS_KEY: services.cosmosKey,
    COSMOS_DATABASE: database,
  };
  client = new CosmosClient({
    endpoint: services.cosmosEndpoint,
    key: services.cosmosKey,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const containers = await ensureContainers(client, database);
  store = createTenantStore(containers.tenants, containers.apiKeys);
});

afterAll(async () => {
  client?.dispose();
  await services?.close();
});

const admin = async (...args: string[]) => {
  const { stdout } = await run(process.execPath, [script, ...args, '--settings', '/nonexistent.json'], {
    env,
  });
  return JSON.parse(stdout) as {
    apiKey: string;
    webhookSecret: string;
    intakeSecret: string;
    policy: { limits: Record<string, unknown>; allowedPools: string[]; allowAdminTasks: boolean };
  };
};

describe('tenant administration', () => {
  it('creates a tenant with grants and limits, rotates its key and secrets, and refuses a typo', async () => {
    const created = await admin('acme', '--limit', 'maxActiveJobs=20', '--allow-pool', 'render-farm');
    expect(created.policy.limits.maxActiveJobs).toBe(20);
    expect(created.policy.allowedPools).toEqual(['render-farm']);
    expect(await store.authenticate(created.apiKey)).toBe('acme');

    const rotated = await admin(
      'acme',
      '--revoke-key',
      created.apiKey,
      '--rotate-webhook-secret',
      '--rotate-intake-secret',
      '--allow-admin-tasks',
      'true',
    );
    expect(await store.authenticate(rotated.apiKey)).toBe('acme');
    expect(await store.authenticate(created.apiKey)).toBeUndefined();
    expect(rotated.webhookSecret).not.toBe(created.webhookSecret);
    expect(rotated.intakeSecret).not.toBe(created.intakeSecret);
    // Earlier changes stay: limits merge key by key.
    expect(rotated.policy).toMatchObject({ allowAdminTasks: true, limits: { maxActiveJobs: 20 } });

    await expect(admin('acme', '--limit', 'maxActivJobs=5')).rejects.toMatchObject({ code: 2 });
    expect((await store.get('acme'))?.policy?.limits?.maxActiveJobs).toBe(20);
  });
});
