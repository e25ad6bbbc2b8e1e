/**
 * Tenants and their API keys. Keys are stored only as SHA-256 hashes (they are high-entropy random
 * strings, so a fast hash is the right tool; a password KDF would only slow every request). The key
 * hash is the document id, so authentication is one point read, and a key is claimed with a
 * conditional create, so one key can never belong to two tenants, however runs interleave.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';
import { mergePolicyOverrides, type TenantPolicyOverrides } from '../../model/tenant-policy.js';
import { cosmosStatus, stripSystem } from './cosmos-setup.js';

export interface TenantDoc {
  id: string;
  createdAt: string;
  /** Standard Webhooks secret (`whsec_<base64>`) used to sign this tenant's callbacks. */
  webhookSecret: string;
  /**
   * Secret (`whsec_<base64>`) the tenant signs `job-requests` queue messages with, so a message
   * claiming this tenant proves it. Generated when the tenant is created.
   */
  intakeSecret?: string;
  /** Key of its own for task callback tokens (never shown): rotating webhookSecret leaves them valid. */
  callbackKey?: string;
  /** The operator's grants and limit overrides; see tenant-policy.ts for the defaults. */
  policy?: TenantPolicyOverrides;
  _etag?: string;
}

interface ApiKeyDoc {
  id: string;
  tenant: string;
  createdAt: string;
}

export const tenantIdPattern = /^[a-z0-9][a-z0-9-]{0,15}$/;

export class TenantError extends SlotwiseError {}

export interface TenantStore {
  /** The tenant id for a presented key, or undefined. */
  authenticate(apiKey: string): Promise<string | undefined>;
  get(tenant: string): Promise<TenantDoc | undefined>;
  /**
   * Creates the tenant or updates it (keeping its secrets and policy unless given), and adds `apiKey`
   * when given. Idempotent for the same key. A key that already belongs to another tenant is refused
   * (`TenantError` `ApiKeyInUse`) before anything is written. Returns the stored tenant.
   */
  upsert(
    tenant: string,
    options: {
      apiKey?: string;
      webhookSecret?: string;
      intakeSecret?: string;
      /** Given by a secret store that keeps the key elsewhere (a reference then); else kept or generated. */
      callbackKey?: string;
      policy?: TenantPolicyOverrides;
      now: Date;
    },
  ): Promise<TenantDoc>;
  /** Merges an operator's policy change into the tenant's overrides; undefined when no such tenant. */
  updatePolicy(tenant: string, change: TenantPolicyOverrides): Promise<TenantDoc | undefined>;
  /** Revokes one of the tenant's API keys; false when the key is not the tenant's. */
  revokeApiKey(tenant: string, apiKey: string): Promise<boolean>;
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/** A new API key: `sw_` and 32 random bytes in base64url (43 characters). */
export function generateApiKey(): string {
  return `sw_${randomBytes(32).toString('base64url')}`;
}

/** The shortest key body accepted from an operator: 43 base64url characters carry 258 bits. */
const minApiKeyChars = 43;
const maxApiKeyChars = 512;

/**
 * Why an operator-chosen API key is too weak, or undefined when it is acceptable. A key must carry at
 * least 32 random bytes: 43 or more base64url characters after an optional `sw_`, or 64 hex digits
 * when it is all hex (4 bits a character), with at least 12 different characters (so `aaaa…` or a
 * short pattern repeated is refused). Randomness cannot be proven from the text; this refuses what is
 * certainly weak. The local `dev` seed does not come through here (it is refused in Azure anyway).
 */
export function apiKeyWeakness(apiKey: string): string | undefined {
  const body = apiKey.startsWith('sw_') ? apiKey.slice(3) : apiKey;
  if (apiKey.length > maxApiKeyChars) return `must be at most ${maxApiKeyChars} characters`;
  if (!/^[A-Za-z0-9_-]*$/.test(body)) {
    return 'must use only base64url characters (A-Z, a-z, 0-9, - and _), after an optional sw_';
  }
  if (body.length < minApiKeyChars) {
    return `must carry 32 random bytes: at least ${minApiKeyChars} base64url characters (got ${body.length})`;
  }
  if (/^[0-9a-fA-F]+$/.test(body) && body.length < 64) {
    return `is all hex digits, so must be at least 64 of them to carry 32 random bytes (got ${body.length})`;
  }
  if (new Set(body).size < 12) return 'repeats too few different characters to be random';
  return undefined;
}

export function generateWebhookSecretValue(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function createTenantStore(tenants: Container, apiKeys: Container): TenantStore {
  const get = async (tenant: string): Promise<TenantDoc | undefined> => {
    try {
      const { resource } = await tenants.item(tenant, tenant).read<TenantDoc>();
      return resource ? stripSystem(resource) : undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  };
  const readKey = async (hash: string): Promise<ApiKeyDoc | undefined> => {
    try {
      const { resource } = await apiKeys.item(hash, hash).read<ApiKeyDoc>();
      return resource;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  };
  /**
   * Gives the key hash to `tenant` with a conditional create (409 when the id exists), never an
   * upsert: the hash alone would otherwise move another tenant's key. Already this tenant's: fine.
   */
  const claimApiKey = async (
    hash: string,
    tenant: string,
    createdAt: string,
  ): Promise<{ hash: string; created: boolean }> => {
    // A second round only when the key was revoked between the conflict and the read.
    for (let round = 0; round < 3; round++) {
      try {
        await apiKeys.items.create<ApiKeyDoc>({ id: hash, tenant, createdAt });
        return { hash, created: true };
      } catch (e) {
        if (cosmosStatus(e) !== 409) throw e;
      }
      const owner = await readKey(hash);
      if (owner === undefined) continue;
      if (owner.tenant !== tenant) {
        throw new TenantError('ApiKeyInUse', 'This API key belongs to another tenant; nothing was changed');
      }
      return { hash, created: false };
    }
    throw new TenantError('ApiKeyContended', 'This API key was added and revoked concurrently; try again', {
      retryable: true,
    });
  };
  return {
    async authenticate(apiKey) {
      if (apiKey.length < 6 || apiKey.length > 512) return undefined;
      const hash = hashApiKey(apiKey);
      try {
        const { resource } = await apiKeys.item(hash, hash).read<ApiKeyDoc>();
        // The id lookup already matched; the compare keeps the check explicit and constant-time.
        if (!resource || !timingSafeEqual(Buffer.from(resource.id), Buffer.from(hash))) return undefined;
        return resource.tenant;
      } catch (e) {
        if (cosmosStatus(e) === 404) return undefined;
        throw e;
      }
    },
    get,
    async upsert(tenant, { apiKey, webhookSecret, intakeSecret, callbackKey, policy, now }) {
      if (!tenantIdPattern.test(tenant)) {
        throw new TenantError('InvalidTenantId', 'Tenant ids are 1-16 lowercase letters, digits or hyphens');
      }
      const createdAt = now.toISOString();
      // The key first: refused for another tenant's key, nothing of this tenant has changed yet.
      const claimed =
        apiKey === undefined ? undefined : await claimApiKey(hashApiKey(apiKey), tenant, createdAt);
      const existing = await get(tenant);
      const doc: TenantDoc = {
        ...existing,
        id: tenant,
        createdAt: existing?.createdAt ?? createdAt,
        webhookSecret: webhookSecret ?? existing?.webhookSecret ?? generateWebhookSecretValue(),
        intakeSecret: intakeSecret ?? existing?.intakeSecret ?? generateWebhookSecretValue(),
        callbackKey: callbackKey ?? existing?.callbackKey ?? randomBytes(32).toString('base64url'),
        ...(policy || existing?.policy
          ? { policy: mergePolicyOverrides(existing?.policy, policy ?? {}) }
          : {}),
      };
      delete doc._etag;
      try {
        await tenants.items.upsert<TenantDoc>(doc);
      } catch (e) {
        // A key claimed by this call must not outlive a tenant write that failed.
        if (claimed?.created)
          await apiKeys
            .item(claimed.hash, claimed.hash)
            .delete()
            .catch(() => undefined);
        throw e;
      }
      return doc;
    },
    async revokeApiKey(tenant, apiKey) {
      const hash = hashApiKey(apiKey);
      try {
        const { resource } = await apiKeys.item(hash, hash).read<ApiKeyDoc & { _etag?: string }>();
        if (resource?.tenant !== tenant) return false;
        // Only the document read: a key revoked and claimed by another tenant meanwhile stays theirs.
        await apiKeys
          .item(hash, hash)
          .delete(resource._etag ? { accessCondition: { type: 'IfMatch', condition: resource._etag } } : {});
        return true;
      } catch (e) {
        const status = cosmosStatus(e);
        if (status === 404 || status === 412) return false;
        throw e;
      }
    },
    async updatePolicy(tenant, change) {
      const existing = await get(tenant);
      if (!existing) return undefined;
      const doc: TenantDoc = { ...existing, policy: mergePolicyOverrides(existing.policy, change) };
      delete doc._etag;
      await tenants.items.upsert<TenantDoc>(doc);
      return doc;
    },
  };
}
