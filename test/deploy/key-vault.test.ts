/**
 * Tenant secrets in Key Vault: the real tenant store on the Cosmos DB server, wrapped by
 * `withSecretStore` over the real `@azure/keyvault-secrets` client talking to the Key Vault stand-in
 * (HTTPS with the fixture certificate, challenge auth). The token comes from a fixed credential
 * (no Entra here), so the SDK's challenge flow is under test, not Entra itself.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { CosmosClient } from '@azure/cosmos';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyVault, startKeyVault } from '../../dev/key-vault/key-vault.js';
import type { Services } from '../../dev/services/services.js';
import { ensureContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import {
  createTenantStore,
  type TenantDoc,
  type TenantStore,
} from '../../shared/adapters/cosmos/tenant-store.js';
import {
  createKeyVaultSecretStore,
  SecretStoreError,
  secretNameFor,
  withSecretStore,
} from '../../shared/adapters/key-vault/secret-store.js';
import { startTestServices } from '../support/stack.js';

const TOKEN = 'kv-test-token';
const TENANT_ID = '72f988bf-0000-4000-8000-000000000001';
const tls = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));

/** Hands out a fixed token and records what the SDK asked for. */
const makeCredential = (token: string) => {
  const asked: { scopes: string[]; tenantId: string | undefined }[] = [];
  const credential: TokenCredential = {
    getToken: async (scopes: string | string[], options?: GetTokenOptions) => {
      asked.push({ scopes: [scopes].flat(), tenantId: options?.tenantId });
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  return { credential, asked };
};

let services: Services;
let cosmos: CosmosClient;
let vault: KeyVault;
let inner: TenantStore;
let readRaw: (tenant: string) => Promise<Record<string, unknown> | undefined>;
// Trusts the fixture certificate for these clients only (it is its own CA, named for 127.0.0.1).
const clientOptions: SecretClientOptions = {
  agent: new Agent({ ca: tls('localhost.crt') }),
  disableChallengeResourceVerification: true,
  retryOptions: { maxRetries: 0 },
};

beforeAll(async () => {
  services = await startTestServices();
  vault = await startKeyVault({
    tls: { key: tls('localhost.key'), cert: tls('localhost.crt') },
    token: TOKEN,
    tenantId: TENANT_ID,
  });
  cosmos = new CosmosClient({
    endpoint: services.cosmosEndpoint,
    key: services.cosmosKey,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const containers = await ensureContainers(cosmos, `k${randomUUID().slice(0, 8)}`);
  inner = createTenantStore(containers.tenants, containers.apiKeys);
  readRaw = async (tenant) =>
    (await containers.tenants.item(tenant, tenant).read<Record<string, unknown>>()).resource;
});

afterAll(async () => {
  cosmos?.dispose();
  await vault?.close();
  await services?.close();
});

const latest = (name: string) => vault.versions(name).at(-1)?.value;

describe('tenant secrets in Key Vault', () => {
  it('stores references in Cosmos and values in the vault, and reads plain values back', async () => {
    const { credential, asked } = makeCredential(TOKEN);
    const store = withSecretStore(inner, createKeyVaultSecretStore(vault.url, credential, clientOptions));
    const webhookSecret = `whsec_${Buffer.from('acme-webhook-secret-0123456789ab').toString('base64')}`;
    const upserted = await store.upsert('acme', {
      apiKey: 'acme-key-0123456789',
      webhookSecret,
      now: new Date(),
    });

    // The SDK drew the challenge (401, no token) and asked for the vault scope in the named tenant.
    expect(vault.requests()[0]).toMatchObject({ method: 'PUT', status: 401 });
    expect(asked[0]).toEqual({ scopes: ['https://vault.azure.net/.default'], tenantId: TENANT_ID });

    const raw = await readRaw('acme');
    const values: string[] = [];
    for (const [field, kind] of [
      ['webhookSecret', 'webhook'],
      ['intakeSecret', 'intake'],
      ['callbackKey', 'callback-key'],
    ] as const) {
      const name = secretNameFor('acme', kind);
      expect(raw?.[field]).toBe(`keyvault:${name}`);
      const value = latest(name);
      expect(value).toBeTruthy();
      expect(vault.versions(name)[0]?.contentType).toBe('text/plain');
      expect(upserted[field]).toBe(value);
      values.push(value!);
    }
    expect(latest(secretNameFor('acme', 'webhook'))).toBe(webhookSecret);
    const stored = JSON.stringify(raw);
    for (const value of values) expect(stored).not.toContain(value);

    // A fresh instance (empty cache) resolves the references through the vault.
    const fresh = withSecretStore(
      inner,
      createKeyVaultSecretStore(vault.url, makeCredential(TOKEN).credential, clientOptions),
    );
    const read = await fresh.get('acme');
    expect(read).toMatchObject({
      id: 'acme',
      webhookSecret,
      intakeSecret: values[1],
      callbackKey: values[2],
    });
  });

  it('reads a rotated secret once the cache expires', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const reader = withSecretStore(
      inner,
      createKeyVaultSecretStore(vault.url, makeCredential(TOKEN).credential, clientOptions),
      { now, ttlMs: 60_000 },
    );
    const writer = withSecretStore(
      inner,
      createKeyVaultSecretStore(vault.url, makeCredential(TOKEN).credential, clientOptions),
    );
    const first = await writer.upsert('rotor', { apiKey: 'rotor-key-0123456789', now: new Date() });
    const before = (await reader.get('rotor'))?.webhookSecret;
    expect(before).toBe(first.webhookSecret);

    const rotated = `whsec_${Buffer.from('rotor-rotated-secret-0123456789a').toString('base64')}`;
    await writer.upsert('rotor', { apiKey: 'rotor-key-0123456789', webhookSecret: rotated, now: new Date() });
    expect(vault.versions(secretNameFor('rotor', 'webhook')).map((v) => v.value)).toEqual([before, rotated]);
    // The reference in Cosmos is unchanged by a rotation: only the vault has a new version.
    expect((await readRaw('rotor'))?.webhookSecret).toBe(`keyvault:${secretNameFor('rotor', 'webhook')}`);

    clock += 59_999;
    expect((await reader.get('rotor'))?.webhookSecret).toBe(before);
    clock += 1;
    const after = await reader.get('rotor');
    expect(after?.webhookSecret).toBe(rotated);
    // Secrets that were not rotated stay as they were.
    expect(after?.intakeSecret).toBe(first.intakeSecret);
    expect(after?.callbackKey).toBe(first.callbackKey);
  });

  it('fails with SecretMissing when the vault lacks a referenced secret', async () => {
    // A document whose reference points at a secret the vault never had (purged, or never written).
    await inner.upsert('ghost', {
      apiKey: 'ghost-key-0123456789',
      webhookSecret: `keyvault:${secretNameFor('ghost', 'webhook')}`,
      now: new Date(),
    });
    const store = withSecretStore(
      inner,
      createKeyVaultSecretStore(vault.url, makeCredential(TOKEN).credential, clientOptions),
    );
    const thrown = await store.get('ghost').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(thrown).toBeInstanceOf(SecretStoreError);
    expect(thrown).toMatchObject({ code: 'SecretMissing', retryable: true });
    expect(vault.requests().at(-1)).toMatchObject({
      method: 'GET',
      path: `/secrets/${secretNameFor('ghost', 'webhook')}/`,
      status: 404,
    });
  });

  it('does not take a refused token for a missing secret', async () => {
    const store = withSecretStore(
      inner,
      createKeyVaultSecretStore(vault.url, makeCredential('some-other-token').credential, clientOptions),
    );
    const thrown = await store.get('acme').then(
      (doc: TenantDoc | undefined) => doc,
      (e: unknown) => e,
    );
    expect(thrown).not.toBeInstanceOf(SecretStoreError);
    expect(thrown).toMatchObject({ statusCode: 401 });
    expect(vault.requests().at(-1)).toMatchObject({ method: 'GET', status: 401 });
  });
});
