/**
 * The operator's grants for the managed pool options: identities, subnets, start tasks and secrets.
 * Their defaults (none), how they are matched (ARM ids and secret names ignoring case), how an
 * operator's command-line words become a stored change, and `npm run tenant:add` writing them.
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
import {
  isIdentityGranted,
  isSecretGranted,
  isSubnetGranted,
  mergePolicyOverrides,
  policyChangeFromArgs,
  tenantPolicy,
} from '../../shared/model/tenant-policy.js';
import { startTestServices } from '../support/stack.js';

const SUB = '00000000-0000-0000-0000-00000000c003';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/rg-ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-render`;
const SUBNET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-batch/subnets/nodes`;

describe('pool grants in the tenant policy', () => {
  it('grants nothing by default, and a broken record falls back to nothing', () => {
    const none = tenantPolicy(undefined);
    expect(none).toMatchObject({
      allowedIdentities: [],
      allowedSubnets: [],
      allowStartTask: false,
      allowedSecrets: [],
    });
    expect(isIdentityGranted(none, IDENTITY)).toBe(false);
    expect(isSubnetGranted(none, SUBNET)).toBe(false);
    expect(isSecretGranted(none, 'license')).toBe(false);
    const broken = tenantPolicy({ identities: ['not-an-arm-id'], allowStartTask: true } as never);
    expect(broken.allowStartTask).toBe(false);
    expect(broken.allowedIdentities).toEqual([]);
  });

  it('matches identities, subnets and secret names ignoring case, and nothing else', () => {
    const p = tenantPolicy({
      identities: [IDENTITY],
      subnets: [SUBNET],
      allowStartTask: true,
      secrets: ['License'],
    });
    expect(isIdentityGranted(p, IDENTITY.toLowerCase())).toBe(true);
    expect(isIdentityGranted(p, IDENTITY.replace('id-render', 'id-render2'))).toBe(false);
    expect(isSubnetGranted(p, SUBNET.toUpperCase())).toBe(true);
    expect(isSubnetGranted(p, SUBNET.replace('/nodes', '/other'))).toBe(false);
    expect(isSecretGranted(p, 'license')).toBe(true);
    expect(isSecretGranted(p, 'licence')).toBe(false);
    expect(p.allowStartTask).toBe(true);
  });

  it('reads the grants from command-line words, refusing malformed ones before anything is written', () => {
    expect(
      policyChangeFromArgs({
        allowIdentities: [IDENTITY],
        allowSubnets: [SUBNET],
        allowStartTask: 'true',
        allowSecrets: ['license', 'files-key'],
      }),
    ).toEqual({
      ok: true,
      change: {
        identities: [IDENTITY],
        subnets: [SUBNET],
        allowStartTask: true,
        secrets: ['license', 'files-key'],
      },
    });
    expect(policyChangeFromArgs({ allowStartTask: 'false' })).toEqual({
      ok: true,
      change: { allowStartTask: false },
    });
    expect(policyChangeFromArgs({ allowStartTask: 'yes' })).toEqual({
      ok: false,
      message: '--allow-start-task takes true or false',
    });
    const badIdentity = policyChangeFromArgs({ allowIdentities: [SUBNET] });
    expect(badIdentity.ok).toBe(false);
    expect(!badIdentity.ok && badIdentity.message).toMatch(
      /^identities\.0: must be the ARM id of a user-assigned identity/,
    );
    const badSubnet = policyChangeFromArgs({ allowSubnets: ['/subscriptions/x/subnets/y'] });
    expect(!badSubnet.ok && badSubnet.message).toMatch(/^subnets\.0: must be the ARM id of a subnet/);
    const badSecret = policyChangeFromArgs({ allowSecrets: ['tenant_secret'] });
    expect(!badSecret.ok && badSecret.message).toMatch(
      /^secrets\.0: must be 1 to 64 letters, digits and hyphens/,
    );
  });

  it('a list given replaces the stored one; other grants stay', () => {
    const merged = mergePolicyOverrides(
      { identities: [IDENTITY], secrets: ['a', 'b'], allowStartTask: true },
      { secrets: ['c'] },
    );
    expect(merged).toEqual({ identities: [IDENTITY], secrets: ['c'], allowStartTask: true });
  });
});

describe('tenant:add', () => {
  const script = fileURLToPath(new URL('../../dist/dev/tenant-add.js', import.meta.url));
  const run = promisify(execFile);
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

  const admin = (...args: string[]) =>
    run(process.execPath, [script, ...args, '--settings', '/nonexistent.json'], { env });

  it('writes the grants it is given, and writes nothing for a malformed one', async () => {
    const { stdout } = await admin(
      'render',
      '--allow-identity',
      IDENTITY,
      '--allow-subnet',
      SUBNET,
      '--allow-start-task',
      'true',
      '--allow-secret',
      'license',
      '--allow-secret',
      'files-key',
    );
    const shown = JSON.parse(stdout) as { policy: Record<string, unknown> };
    expect(shown.policy).toMatchObject({
      allowedIdentities: [IDENTITY],
      allowedSubnets: [SUBNET],
      allowStartTask: true,
      allowedSecrets: ['license', 'files-key'],
    });
    expect((await store.get('render'))?.policy).toMatchObject({
      identities: [IDENTITY],
      subnets: [SUBNET],
      allowStartTask: true,
      secrets: ['license', 'files-key'],
    });
    await expect(admin('render', '--allow-secret', 'no_underscores')).rejects.toMatchObject({ code: 2 });
    await expect(admin('render', '--allow-start-task', 'maybe')).rejects.toMatchObject({ code: 2 });
    expect((await store.get('render'))?.policy?.secrets).toEqual(['license', 'files-key']);
    expect((await store.get('render'))?.policy?.allowStartTask).toBe(true);
  });
});
