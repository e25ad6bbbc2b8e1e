/**
 * The task environment secret resolver over the real `@azure/keyvault-secrets` client and the Key
 * Vault stand-in (HTTPS with the fixture certificate, challenge auth): one vault read per secret per
 * TTL however many callers ask at once, a bounded cache, value-free typed errors (missing, too long,
 * throttled, refused); the local store in the tenants container on the Cosmos DB server; placing and
 * redacting values in bodies; and `npm run tenant:secret` reading the value from stdin.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TokenCredential } from '@azure/core-auth';
import { type Container, CosmosClient } from '@azure/cosmos';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyVault, startKeyVault } from '../../dev/key-vault/key-vault.js';
import type { Services } from '../../dev/services/services.js';
import { ensureContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { createTenantStore } from '../../shared/adapters/cosmos/tenant-store.js';
import {
  createCosmosSecretStore,
  createEnvSecretResolver,
  createEnvSecrets,
  EnvSecretError,
  type EnvSecrets,
  envSecretName,
} from '../../shared/adapters/key-vault/env-secrets.js';
import { createKeyVaultSecretStore } from '../../shared/adapters/key-vault/secret-store.js';
import type { TaskBody } from '../../shared/model/batch-bodies.js';
import { secretRefsIn, secretSender, withSecretValues } from '../../shared/pipeline/secret-values.js';
import { startTestServices } from '../support/stack.js';

const TOKEN = 'env-secret-test-token';
const tls = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));
const credential: TokenCredential = {
  getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const clientOptions: SecretClientOptions = {
  agent: new Agent({ ca: tls('localhost.crt') }),
  disableChallengeResourceVerification: true,
  retryOptions: { maxRetries: 0 },
};

let vault: KeyVault;
let secrets: EnvSecrets;
let services: Services;
let cosmos: CosmosClient;
let tenantsContainer: Container;
let database: string;

beforeAll(async () => {
  [vault, services] = await Promise.all([
    startKeyVault({ tls: { key: tls('localhost.key'), cert: tls('localhost.crt') }, token: TOKEN }),
    startTestServices(),
  ]);
  secrets = createEnvSecrets(createKeyVaultSecretStore(vault.url, credential, clientOptions));
  cosmos = new CosmosClient({
    endpoint: services.cosmosEndpoint,
    key: services.cosmosKey,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  database = `s${randomUUID().slice(0, 8)}`;
  tenantsContainer = (await ensureContainers(cosmos, database)).tenants;
});

afterAll(async () => {
  cosmos?.dispose();
  await vault?.close();
  await services?.close();
});

/** Successful vault reads of one secret so far. */
const reads = (tenant: string, name: string) =>
  vault
    .requests()
    .filter(
      (r) => r.method === 'GET' && r.status !== 401 && r.path === `/secrets/${envSecretName(tenant, name)}/`,
    ).length;

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );

describe('the env secret resolver', () => {
  it('reads a secret once per TTL, however many callers ask at once', async () => {
    await secrets.set('acme', 'db-password', 'hunter2-value-one');
    let clock = 1_000_000;
    const resolver = createEnvSecretResolver(secrets, {
      backend: 'key-vault',
      now: () => clock,
      ttlMs: 60_000,
    });
    const before = reads('acme', 'db-password');
    const values = await Promise.all(
      Array.from({ length: 200 }, () => resolver.resolveSecret('acme', 'db-password')),
    );
    expect(new Set(values)).toEqual(new Set(['hunter2-value-one']));
    // Key Vault names are case-insensitive: another spelling is the same secret, from the cache.
    expect(await resolver.resolveSecret('acme', 'DB-Password')).toBe('hunter2-value-one');
    expect(reads('acme', 'db-password') - before).toBe(1);

    // A rotation reaches the resolver once its TTL has run, not before.
    await secrets.set('acme', 'db-password', 'hunter2-value-two');
    clock += 59_999;
    expect(await resolver.resolveSecret('acme', 'db-password')).toBe('hunter2-value-one');
    clock += 1;
    expect(await resolver.resolveSecret('acme', 'db-password')).toBe('hunter2-value-two');
    expect(reads('acme', 'db-password') - before).toBe(2);
  });

  it('keeps tenants apart and at most maxEntries secrets', async () => {
    await secrets.set('t1', 'key', 'tenant-one-value');
    await secrets.set('t2', 'key', 'tenant-two-value');
    await secrets.set('t3', 'key', 'tenant-three-value');
    const resolver = createEnvSecretResolver(secrets, { backend: 'key-vault', maxEntries: 2 });
    expect(await resolver.resolveSecret('t1', 'key')).toBe('tenant-one-value');
    expect(await resolver.resolveSecret('t2', 'key')).toBe('tenant-two-value');
    expect(await resolver.resolveSecret('t2', 'key')).toBe('tenant-two-value');
    expect(reads('t2', 'key')).toBe(1);
    // A third secret pushes out the oldest, which is read again when asked for.
    expect(await resolver.resolveSecret('t3', 'key')).toBe('tenant-three-value');
    expect(await resolver.resolveSecret('t1', 'key')).toBe('tenant-one-value');
    expect(reads('t1', 'key')).toBe(2);
    expect(reads('t3', 'key')).toBe(1);
  });

  it('fails a missing secret with SecretNotFound, saying how to set it, and does not keep the failure', async () => {
    const resolver = createEnvSecretResolver(secrets, { backend: 'key-vault' });
    const thrown = await failureOf(resolver.resolveSecret('acme', 'never-set'));
    expect(thrown).toBeInstanceOf(EnvSecretError);
    expect(thrown).toMatchObject({ code: 'SecretNotFound', retryable: false });
    const message = (thrown as Error).message;
    expect(message).toContain("'never-set'");
    expect(message).toContain('tenant-acme-env-never-set');
    expect(message).toContain('npm run tenant:secret -- acme never-set');
    // Set meanwhile: the next send finds it.
    await secrets.set('acme', 'never-set', 'now-it-is-set');
    expect(await resolver.resolveSecret('acme', 'never-set')).toBe('now-it-is-set');
  });

  it('refuses a value longer than 4096 characters and a bad name, naming neither value', async () => {
    const long = `L${'x'.repeat(4096)}`;
    // Written past the setter (which refuses it), as an operator could with az.
    await createKeyVaultSecretStore(vault.url, credential, clientOptions).set(
      envSecretName('acme', 'long'),
      long,
    );
    const resolver = createEnvSecretResolver(secrets, { backend: 'key-vault' });
    const tooLong = await failureOf(resolver.resolveSecret('acme', 'long'));
    expect(tooLong).toMatchObject({ code: 'SecretTooLong', retryable: false });
    expect((tooLong as Error).message).not.toContain('xxxx');
    expect(await failureOf(secrets.set('acme', 'long', long))).toMatchObject({ code: 'SecretTooLong' });
    expect(await failureOf(resolver.resolveSecret('acme', '../webhook'))).toMatchObject({
      code: 'SecretNameInvalid',
      retryable: false,
    });
  });

  it('takes a throttled or failing vault for a transient failure and a refused identity for a wait', async () => {
    // A vault that draws the challenge and then answers every read with the status asked for.
    let status = 503;
    const server = createHttpsServer(
      { key: tls('localhost.key'), cert: tls('localhost.crt') },
      (req, res) => {
        req.resume();
        const authorized = Boolean(req.headers.authorization);
        res.statusCode = authorized ? status : 401;
        res.setHeader('content-type', 'application/json');
        if (!authorized)
          res.setHeader(
            'www-authenticate',
            'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
          );
        res.end(JSON.stringify({ error: { code: status === 429 ? 'Throttled' : 'Failure', message: 'no' } }));
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const resolver = createEnvSecretResolver(
        createEnvSecrets(createKeyVaultSecretStore(url, credential, clientOptions)),
        { backend: 'key-vault' },
      );
      for (const [answer, code, retryable] of [
        [503, 'SecretStoreUnavailable', true],
        [429, 'SecretStoreUnavailable', true],
        [403, 'SecretAccessDenied', true],
        [400, 'SecretReadRefused', false],
      ] as const) {
        status = answer;
        const thrown = await failureOf(resolver.resolveSecret('acme', 'db-password'));
        expect(thrown).toBeInstanceOf(EnvSecretError);
        expect(thrown).toMatchObject({ code, retryable });
        expect((thrown as Error).message).toContain('tenant-acme-env-db-password');
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('the local secret store', () => {
  it('keeps each secret in a document of its own in the tenants container, apart from the tenant', async () => {
    const local = createEnvSecrets(createCosmosSecretStore(tenantsContainer));
    await local.set('acme', 'Db-Password', 'local-value-123');
    expect(await local.get('acme', 'db-password')).toBe('local-value-123');
    expect(await local.get('other', 'db-password')).toBeUndefined();
    const { resources } = await tenantsContainer.items.readAll<{ id: string; value?: string }>().fetchAll();
    expect(resources.map((r) => r.id)).toContain('secret:tenant-acme-env-db-password');
    const resolver = createEnvSecretResolver(local, { backend: 'local' });
    const missing = await failureOf(resolver.resolveSecret('acme', 'other'));
    expect(missing).toMatchObject({ code: 'SecretNotFound' });
    expect((missing as Error).message).toContain('npm run tenant:secret -- acme other');
    expect((missing as Error).message).not.toContain('az keyvault');
  });
});

describe('placing values in bodies', () => {
  const task = (id: string, env: Record<string, string>): TaskBody => ({
    id,
    commandLine: 'run',
    requiredSlots: 1,
    environmentSettings: Object.entries(env).map(([name, value]) => ({ name, value })),
  });

  it('replaces exactly the placeholders in environmentSettings and shares what has none', async () => {
    const plain = task('plain', { A: 'slotwise-secret-not-a-ref', B: 'x' });
    const withRef = task('ref', { PASSWORD: 'slotwise-secret:db-password', PLAIN: 'keep' });
    const commandLine = { ...task('cmd', {}), commandLine: 'echo slotwise-secret:db-password' };
    const bodies = [plain, withRef, commandLine];
    expect([...secretRefsIn(bodies)]).toEqual(['db-password']);
    const out = withSecretValues(bodies, new Map([['db-password', 's3cr3t']]));
    expect(out[0]).toBe(plain);
    expect(out[2]).toBe(commandLine);
    expect(out[1]?.environmentSettings).toEqual([
      { name: 'PASSWORD', value: 's3cr3t' },
      { name: 'PLAIN', value: 'keep' },
    ]);
    // The planned body is left as it was.
    expect(withRef.environmentSettings?.[0]?.value).toBe('slotwise-secret:db-password');
  });

  it('resolves each name once a round, for the job tenant, and redacts what it sent', async () => {
    await secrets.set('acme', 'quote', 'va"lue-with-quote');
    const asked: string[] = [];
    const resolver = createEnvSecretResolver(secrets, { backend: 'key-vault' });
    const sender = secretSender('acme', {
      resolveSecret: (tenant, name) => {
        asked.push(`${tenant}/${name}`);
        return resolver.resolveSecret(tenant, name);
      },
    });
    const job = {
      id: 'j',
      jobPreparationTask: { environmentSettings: [{ name: 'Q', value: 'slotwise-secret:quote' }] },
      jobReleaseTask: { environmentSettings: [{ name: 'Q', value: 'slotwise-secret:quote' }] },
    };
    const sent = await sender.resolve(job);
    expect(sent.jobPreparationTask.environmentSettings[0]?.value).toBe('va"lue-with-quote');
    expect(sent.jobReleaseTask.environmentSettings[0]?.value).toBe('va"lue-with-quote');
    expect(asked).toEqual(['acme/quote']);
    expect(sender.redact('Batch said: value va"lue-with-quote in {"v":"va\\"lue-with-quote"}')).toBe(
      'Batch said: value REDACTED in {"v":"REDACTED"}',
    );
    // Bodies without a reference never ask.
    const none = [task('n', { A: 'b' })];
    expect(await sender.resolve(none)).toBe(none);
    expect(asked).toHaveLength(1);
  });
});

describe('npm run tenant:secret', () => {
  const script = fileURLToPath(new URL('../../dist/dev/tenant-secret.js', import.meta.url));
  const run = (args: string[], stdin: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [script, ...args, '--settings', '/nonexistent.json'],
        {
          env: {
            ...(process.env as Record<string, string>),
            COSMOS_ENDPOINT: services.cosmosEndpoint,
            COSMOS_KEY: services.cosmosKey,
            COSMOS_DATABASE: database,
            KEY_VAULT_URI: '',
          },
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(stdin);
    });

  it('stores the value read from stdin, never echoing it, for an existing tenant only', async () => {
    const containers = await ensureContainers(cosmos, database);
    await createTenantStore(containers.tenants, containers.apiKeys).upsert('acme', {
      apiKey: `sw_${'k'.repeat(20)}${randomUUID()}`,
      now: new Date(),
    });
    const value = 'from-stdin-Zq81-value';
    const ok = await run(['acme', 'api-token'], `${value}\n`);
    expect(ok.code).toBe(0);
    expect(`${ok.stdout}${ok.stderr}`).not.toContain(value);
    expect(JSON.parse(ok.stdout)).toMatchObject({ tenant: 'acme', secret: 'api-token' });
    expect(await createEnvSecrets(createCosmosSecretStore(tenantsContainer)).get('acme', 'api-token')).toBe(
      value,
    );

    const noTenant = await run(['nobody', 'api-token'], value);
    expect(noTenant.code).toBe(2);
    expect(noTenant.stderr).toContain("no tenant 'nobody'");
    const onCommandLine = await run(['acme', 'api-token', value], '');
    expect(onCommandLine.code).toBe(2);
    expect(`${onCommandLine.stdout}${onCommandLine.stderr}`).not.toContain(value);
    expect((await run(['acme', 'api-token'], '')).code).toBe(2);
  });
});
