/**
 * `npm run tenant:add` as the operator runs it (the built script, a child process) against the real
 * Cosmos DB server: create, grant and limit, rotate a key and a secret, refuse a typo; and the
 * attacks of security review 3, finding 10: a policy change must not mint a key or print old
 * secrets, another tenant's key must not move, a weak key must be refused, and the local `dev` seed
 * (`dev-key`) keeps working.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Container, CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../dev/services/services.js';
import { ensureContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { createTenantStore, type TenantStore } from '../../shared/adapters/cosmos/tenant-store.js';
import { createAppDeps } from '../../shared/app/app.js';
import { BATCH_ACCOUNT, BATCH_KEY, startTestServices } from '../support/stack.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../dist/dev/tenant-add.js', import.meta.url));
let services: Services;
let client: CosmosClient;
let store: TenantStore;
let apiKeys: Container;
let database: string;
let env: Record<string, string>;

beforeAll(async () => {
  services = await startTestServices();
  database = `t${randomUUID().slice(0, 8)}`;
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
  apiKeys = containers.apiKeys;
});

afterAll(async () => {
  client?.dispose();
  await services?.close();
});

interface AdminOutput {
  tenant: string;
  created: boolean;
  apiKey?: string;
  addedKey?: string;
  webhookSecret?: string;
  intakeSecret?: string;
  revokedKeys?: string[];
  policy: { limits: Record<string, unknown>; allowedPools: string[]; allowAdminTasks: boolean };
}

const args = (list: string[]) => [script, ...list, '--settings', '/nonexistent.json'];

const admin = async (...list: string[]): Promise<AdminOutput & { stdout: string }> => {
  const { stdout } = await run(process.execPath, args(list), { env });
  return { ...(JSON.parse(stdout) as AdminOutput), stdout };
};

/** A run that must fail: its exit code and both streams. */
const refused = async (...list: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
  try {
    const { stdout } = await run(process.execPath, args(list), { env });
    throw new Error(`tenant:add ${list.join(' ')} succeeded: ${stdout}`);
  } catch (e) {
    const failure = e as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failure.code !== 'number') throw e;
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
};

/** How many API keys the tenant has (their hashes are the only trace of them). */
const keyCount = async (tenant: string): Promise<number> => {
  const { resources } = await apiKeys.items
    .query<number>({
      query: 'SELECT VALUE COUNT(1) FROM c WHERE c.tenant = @tenant',
      parameters: [{ name: '@tenant', value: tenant }],
    })
    .fetchAll();
  return resources[0] ?? 0;
};

const strongKey = () => `sw_${randomBytes(32).toString('base64url')}`;

describe('tenant administration', () => {
  it('creates a tenant with grants and limits, rotates its key and secrets, and refuses a typo', async () => {
    const created = await admin('acme', '--limit', 'maxActiveJobs=20', '--allow-pool', 'render-farm');
    expect(created.created).toBe(true);
    expect(created.policy.limits.maxActiveJobs).toBe(20);
    expect(created.policy.allowedPools).toEqual(['render-farm']);
    expect(await store.authenticate(created.apiKey!)).toBe('acme');
    expect(created.webhookSecret).toMatch(/^whsec_/);
    expect(created.intakeSecret).toMatch(/^whsec_/);

    const rotated = await admin(
      'acme',
      '--new-key',
      '--revoke-key',
      created.apiKey!,
      '--rotate-webhook-secret',
      '--rotate-intake-secret',
      '--allow-admin-tasks',
      'true',
    );
    expect(rotated.created).toBe(false);
    expect(await store.authenticate(rotated.apiKey!)).toBe('acme');
    expect(await store.authenticate(created.apiKey!)).toBeUndefined();
    expect(rotated.revokedKeys).toHaveLength(1);
    expect(rotated.webhookSecret).toMatch(/^whsec_/);
    expect(rotated.webhookSecret).not.toBe(created.webhookSecret);
    expect(rotated.intakeSecret).not.toBe(created.intakeSecret);
    expect((await store.get('acme'))?.webhookSecret).toBe(rotated.webhookSecret);
    // Earlier changes stay: limits merge key by key.
    expect(rotated.policy).toMatchObject({ allowAdminTasks: true, limits: { maxActiveJobs: 20 } });

    await expect(admin('acme', '--limit', 'maxActivJobs=5')).rejects.toMatchObject({ code: 2 });
    expect((await store.get('acme'))?.policy?.limits?.maxActiveJobs).toBe(20);
  });

  it('generates keys of 32 random bytes', async () => {
    const { apiKey } = await admin('keygen');
    expect(apiKey).toMatch(/^sw_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(apiKey!.slice(3), 'base64url')).toHaveLength(32);
    const { apiKey: second } = await admin('keygen', '--new-key');
    expect(second).not.toBe(apiKey);
    expect(await keyCount('keygen')).toBe(2);
  });
});

describe('finding 10: tenant:add mints, prints and moves keys only when asked', () => {
  it('mints no key and prints no secret when only the policy changes', async () => {
    const created = await admin('quiet');
    expect(await keyCount('quiet')).toBe(1);

    const changed = await admin('quiet', '--limit', 'maxActiveJobs=3');
    expect(changed.policy.limits.maxActiveJobs).toBe(3);
    // No new key: none printed, none stored; the one key still works.
    expect(changed.apiKey).toBeUndefined();
    expect(await keyCount('quiet')).toBe(1);
    expect(await store.authenticate(created.apiKey!)).toBe('quiet');
    // Old secrets are not printed again, anywhere in the output.
    expect(changed.webhookSecret).toBeUndefined();
    expect(changed.intakeSecret).toBeUndefined();
    for (const secret of [created.apiKey!, created.webhookSecret!, created.intakeSecret!]) {
      expect(changed.stdout).not.toContain(secret);
    }
    // And a run with nothing to change shows nothing secret either.
    const again = await admin('quiet');
    expect(again.stdout).not.toContain('whsec_');
    expect(again.stdout).not.toContain(created.apiKey!);
    expect(await keyCount('quiet')).toBe(1);
  });

  it('prints only the secret it rotates', async () => {
    const created = await admin('rotor');
    const rotated = await admin('rotor', '--rotate-intake-secret');
    expect(rotated.intakeSecret).toMatch(/^whsec_/);
    expect(rotated.intakeSecret).not.toBe(created.intakeSecret);
    expect(rotated.webhookSecret).toBeUndefined();
    expect(rotated.apiKey).toBeUndefined();
    expect(rotated.stdout).not.toContain(created.webhookSecret!);
    expect((await store.get('rotor'))?.webhookSecret).toBe(created.webhookSecret);
  });

  it("refuses another tenant's key with --api-key and changes nothing", async () => {
    const victim = await admin('victimco');
    const before = await store.get('victimco');

    // A tenant that does not exist yet: not created.
    const attack = await refused('otherco', '--api-key', victim.apiKey!);
    expect(attack.code).toBe(2);
    expect(attack.stderr).toContain('--api-key belongs to another tenant; nothing was changed');
    expect(attack.stdout + attack.stderr).not.toContain(victim.apiKey!);
    expect(await store.authenticate(victim.apiKey!)).toBe('victimco');
    expect(await store.get('otherco')).toBeUndefined();

    // An existing tenant: its policy and secrets stay as they were.
    const other = await admin('otherco2');
    const otherBefore = await store.get('otherco2');
    const again = await refused(
      'otherco2',
      '--api-key',
      victim.apiKey!,
      '--limit',
      'maxActiveJobs=1',
      '--rotate-webhook-secret',
    );
    expect(again.code).toBe(2);
    expect(await store.authenticate(victim.apiKey!)).toBe('victimco');
    expect(await store.get('otherco2')).toEqual(otherBefore);
    expect(await store.authenticate(other.apiKey!)).toBe('otherco2');
    expect(await keyCount('otherco2')).toBe(1);
    expect(await store.get('victimco')).toEqual(before);
    expect(await keyCount('victimco')).toBe(1);
  });

  it("refuses another tenant's key at the store too, also when two claims race", async () => {
    const victim = await admin('victim2');
    // Past the script's check, straight at the store: the conditional create still refuses.
    await expect(store.upsert('intruder', { apiKey: victim.apiKey!, now: new Date() })).rejects.toMatchObject(
      { code: 'ApiKeyInUse' },
    );
    expect(await store.authenticate(victim.apiKey!)).toBe('victim2');
    expect(await store.get('intruder')).toBeUndefined();

    // Two tenants claim one fresh key at once: exactly one gets it, and it stays that one's.
    const contested = strongKey();
    const results = await Promise.allSettled(
      ['racer-a', 'racer-b', 'racer-c', 'racer-d'].map((tenant) =>
        store.upsert(tenant, { apiKey: contested, now: new Date() }),
      ),
    );
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`racer-${'abcd'[i]}`] : []));
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ApiKeyInUse' });
    }
    expect(await store.authenticate(contested)).toBe(won[0]);
    // The same key again for its owner is fine (idempotent).
    await store.upsert(won[0]!, { apiKey: contested, now: new Date() });
    expect(await store.authenticate(contested)).toBe(won[0]);
  });

  it('refuses weak keys, naming why, and accepts 32 random bytes', async () => {
    const weak = [
      ['123456', 'at least 43 base64url characters'],
      ['password-password-password', 'at least 43 base64url characters'],
      [`sw_${'Zq-'.repeat(20)}`, 'too few different characters'],
      [randomBytes(24).toString('hex').slice(0, 48), 'at least 64'],
      [`${'x'.repeat(40)} with spaces`, 'only base64url characters'],
    ] as const;
    for (const [key, why] of weak) {
      const result = await refused('weakling', '--api-key', key);
      expect(result.code, key).toBe(2);
      expect(result.stderr, key).toContain('--api-key');
      expect(result.stderr, key).toContain(why);
      expect(result.stderr, key).not.toContain(key);
      expect(await store.authenticate(key), key).toBeUndefined();
    }
    expect(await store.get('weakling')).toBeUndefined();

    for (const key of [strongKey(), randomBytes(32).toString('base64url'), randomBytes(32).toString('hex')]) {
      const added = await admin('strong', '--api-key', key);
      expect(added.apiKey).toBeUndefined(); // the operator's own key is not echoed
      expect(added.addedKey).toBe(`${key.slice(0, 6)}…`);
      expect(added.stdout).not.toContain(key);
      expect(await store.authenticate(key)).toBe('strong');
    }
    // Given a key, the tenant's creation mints none of its own.
    expect(await keyCount('strong')).toBe(3);
  });

  it("keeps the local stack's dev tenant working with dev-key", async () => {
    const seed = () =>
      createAppDeps({
        AzureWebJobsStorage: services.storageConnectionString,
        COSMOS_ENDPOINT: services.cosmosEndpoint,
        COSMOS_KEY: services.cosmosKey,
        COSMOS_DATABASE: database,
        BATCH_ENDPOINT: 'http://127.0.0.1:9',
        BATCH_ACCOUNT_NAME: BATCH_ACCOUNT,
        BATCH_ACCOUNT_KEY: BATCH_KEY,
        SLOTWISE_DEV_API_KEY: 'dev-key',
      });
    // Seeded at every start: the short local key is accepted (the seed is refused in Azure).
    for (let start = 0; start < 2; start++) {
      const deps = await seed();
      await deps.close();
    }
    expect(await store.authenticate('dev-key')).toBe('dev');
    // The operator may still change the dev tenant's policy; the key stays and none is added.
    const changed = await admin('dev', '--limit', 'maxActiveJobs=7');
    expect(changed.apiKey).toBeUndefined();
    expect(await keyCount('dev')).toBe(1);
    expect(await store.authenticate('dev-key')).toBe('dev');
  });
});
