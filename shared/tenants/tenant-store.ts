/**
 * Tenants and their API keys. Keys are stored only as SHA-256 hashes (they are high-entropy random
 * strings, so a fast hash is the right tool; a password KDF would only slow every request). The key
 * hash is the document id, so authentication is one point read.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { SlotwiseError } from '../errors.js';
import { cosmosStatus, stripSystem } from '../store/cosmos-setup.js';

export interface TenantDoc {
  id: string;
  createdAt: string;
  /** Standard Webhooks secret (`whsec_<base64>`) used to sign this tenant's callbacks. */
  webhookSecret: string;
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
  /** Creates the tenant (or adds a key to an existing one). Idempotent for the same key. */
  upsert(tenant: string, options: { apiKey: string; webhookSecret: string; now: Date }): Promise<void>;
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
    async get(tenant) {
      try {
        const { resource } = await tenants.item(tenant, tenant).read<TenantDoc>();
        return resource ? stripSystem(resource) : undefined;
      } catch (e) {
        if (cosmosStatus(e) === 404) return undefined;
        throw e;
      }
    },
    async upsert(tenant, { apiKey, webhookSecret, now }) {
      if (!tenantIdPattern.test(tenant)) {
        throw new TenantError('InvalidTenantId', 'Tenant ids are 1-16 lowercase letters, digits or hyphens');
      }
      const createdAt = now.toISOString();
      await tenants.items.upsert<TenantDoc>({ id: tenant, createdAt, webhookSecret });
      const hash = hashApiKey(apiKey);
      await apiKeys.items.upsert<ApiKeyDoc>({ id: hash, tenant, createdAt });
    },
  };
}
