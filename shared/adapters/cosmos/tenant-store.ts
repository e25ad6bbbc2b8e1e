/**
 * Tenants and their API keys. Keys are stored only as SHA-256 hashes (they are high-entropy random
 * strings, so a fast hash is the right tool; a password KDF would only slow every request). The key
 * hash is the document id, so authentication is one point read.
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
   * Creates the tenant, or adds a key to an existing one (keeping its secrets and policy unless
   * given). Idempotent for the same key. Returns the stored tenant.
   */
  upsert(
    tenant: string,
    options: {
      apiKey: string;
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

export function generateApiKey(): string {
  return `sw_${randomBytes(32).toString('base64url')}`;
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
      await tenants.items.upsert<TenantDoc>(doc);
      const hash = hashApiKey(apiKey);
      await apiKeys.items.upsert<ApiKeyDoc>({ id: hash, tenant, createdAt });
      return doc;
    },
    async revokeApiKey(tenant, apiKey) {
      const hash = hashApiKey(apiKey);
      try {
        const { resource } = await apiKeys.item(hash, hash).read<ApiKeyDoc>();
        if (resource?.tenant !== tenant) return false;
        await apiKeys.item(hash, hash).delete();
        return true;
      } catch (e) {
        if (cosmosStatus(e) === 404) return false;
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
