/**
 * Where tenant secrets (webhook secret, intake secret, callback-token key) live.
 *
 * Locally they stay on the tenant document, as before. In Azure (`KEY_VAULT_URI` set) they live in
 * Key Vault and the tenant document holds references (`keyvault:<secret name>`): the app resolves them
 * through its managed identity, so a Cosmos export or a data-plane reader never sees a secret.
 * Everything above the tenant store keeps seeing plain values.
 */
import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { SlotwiseError } from '../../core/errors.js';
import { generateWebhookSecretValue, type TenantDoc, type TenantStore } from '../cosmos/tenant-store.js';

export interface SecretStore {
  get(name: string): Promise<string | undefined>;
  /** Writes a new version; readers see it once their cache expires. */
  set(name: string, value: string): Promise<void>;
}

export const secretRefPrefix = 'keyvault:';

export type SecretKind = 'webhook' | 'intake' | 'callback-key';

/** Key Vault secret names allow letters, digits and hyphens; tenant ids already fit. */
export function secretNameFor(tenant: string, kind: SecretKind): string {
  return `tenant-${tenant}-${kind}`;
}

export function isSecretRef(value: string | undefined): value is string {
  return value?.startsWith(secretRefPrefix) ?? false;
}

/**
 * `clientOptions` (default none) go to `SecretClient`: tests pass a TLS agent trusting a local vault
 * and `disableChallengeResourceVerification`, since a vault on 127.0.0.1 is not under vault.azure.net.
 */
export function createKeyVaultSecretStore(
  vaultUri: string,
  credential: TokenCredential,
  clientOptions: SecretClientOptions = {},
): SecretStore {
  const client = new SecretClient(vaultUri, credential, clientOptions);
  return {
    async get(name) {
      try {
        return (await client.getSecret(name)).value;
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode === 404) return undefined;
        throw e;
      }
    },
    async set(name, value) {
      await client.setSecret(name, value, { contentType: 'text/plain' });
    },
  };
}

export class SecretStoreError extends SlotwiseError {}

const fields = [
  ['webhookSecret', 'webhook'],
  ['intakeSecret', 'intake'],
  ['callbackKey', 'callback-key'],
] as const;

/**
 * Puts a tenant store's secrets in a secret store: upsert writes new values to the vault and
 * references to Cosmos; get resolves references (cached for `ttlMs`, default 5 minutes, so a rotation
 * reaches every instance within that time).
 */
export function withSecretStore(
  inner: TenantStore,
  secrets: SecretStore,
  options: { now?: () => number; ttlMs?: number } = {},
): TenantStore {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const cache = new Map<string, { value: string; at: number }>();
  const resolve = async (ref: string): Promise<string> => {
    const name = ref.slice(secretRefPrefix.length);
    const hit = cache.get(name);
    if (hit && now() - hit.at < ttlMs) return hit.value;
    const value = await secrets.get(name);
    if (value === undefined)
      throw new SecretStoreError('SecretMissing', `Key Vault has no secret '${name}'`, { retryable: true });
    cache.set(name, { value, at: now() });
    return value;
  };
  const resolveDoc = async (doc: TenantDoc): Promise<TenantDoc> => {
    const out = { ...doc };
    for (const [field] of fields) {
      const value = out[field];
      if (isSecretRef(value)) out[field] = await resolve(value);
    }
    return out;
  };
  return {
    ...inner,
    async get(tenant) {
      const doc = await inner.get(tenant);
      return doc ? resolveDoc(doc) : undefined;
    },
    async upsert(tenant, options) {
      const existing = await inner.get(tenant);
      const given = {
        webhookSecret: options.webhookSecret,
        intakeSecret: options.intakeSecret,
        callbackKey: undefined,
      };
      const refs: Partial<Record<(typeof fields)[number][0], string>> = {};
      for (const [field, kind] of fields) {
        const name = secretNameFor(tenant, kind);
        const value = given[field];
        if (value === undefined && isSecretRef(existing?.[field])) {
          refs[field] = existing[field];
          continue;
        }
        // An inline value from before the vault moves into it; a missing one is generated.
        const inline = existing?.[field];
        const next =
          value ??
          (inline && !isSecretRef(inline)
            ? inline
            : field === 'callbackKey'
              ? randomBytes(32).toString('base64url')
              : generateWebhookSecretValue());
        await secrets.set(name, next);
        cache.set(name, { value: next, at: now() });
        refs[field] = `${secretRefPrefix}${name}`;
      }
      const doc = await inner.upsert(tenant, { ...options, ...refs });
      return resolveDoc(doc);
    },
    async updatePolicy(tenant, change) {
      const doc = await inner.updatePolicy(tenant, change);
      return doc ? resolveDoc(doc) : undefined;
    },
  };
}
