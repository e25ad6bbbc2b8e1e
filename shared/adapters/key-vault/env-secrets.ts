/**
 * Task environment secrets: values an operator keeps for a tenant (`{ "secretRef": "<name>" }` in a
 * job's environment), read only when task bodies go to Batch.
 *
 * Where they live: in Azure (`KEY_VAULT_URI` set) in Key Vault, secret `tenant-<tenant>-env-<name>`,
 * read with the app's managed identity; locally in the tenants container, one document per secret
 * (`secret:tenant-<tenant>-env-<name>`), apart from the tenant document and never in the jobs or
 * chunks containers. Either way jobs and stored chunks hold only a placeholder.
 *
 * Reads are cached per tenant and name (a TTL, one read in flight per secret, a bounded number of
 * entries), so a sweep of 100,000 tasks naming 3 secrets costs 3 vault reads per TTL. Key Vault
 * allows 4,000 GET transactions per 10 seconds per vault (Microsoft Learn, "Azure Key Vault service
 * limits"); one read per secret per 5 minutes per instance stays far below it.
 *
 * Errors never carry a value: a missing secret fails the job (`SecretNotFound`, naming how to set it),
 * a throttled or unreachable vault is transient (`SecretStoreUnavailable`, retried like Batch outages).
 */
import type { Container } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';
import { MAX_SECRET_VALUE_LENGTH, SECRET_NAME_PATTERN, secretValueFits } from '../../model/secret-refs.js';
import { cosmosStatus } from '../cosmos/cosmos-setup.js';
import type { SecretStore } from './secret-store.js';

/**
 * Why a value cannot go in a task's environment: bodies are sized with each placeholder counted at
 * MAX_SECRET_VALUE_LENGTH, so a longer value could push a task collection past Batch's request limit.
 */
export const TOO_LONG = `longer than ${MAX_SECRET_VALUE_LENGTH} bytes (UTF-8, as written in JSON), the most a secret value may be`;

/** Where a tenant's secret `name` is kept (Key Vault secret name; locally the same, in a document id). */
export function envSecretName(tenant: string, name: string): string {
  return `tenant-${tenant}-env-${name}`;
}

export type EnvSecretErrorCode =
  | 'SecretNotFound'
  | 'SecretTooLong'
  | 'SecretNameInvalid'
  | 'SecretAccessDenied'
  | 'SecretStoreUnavailable'
  | 'SecretReadRefused';

export class EnvSecretError extends SlotwiseError {
  declare readonly code: EnvSecretErrorCode;
  constructor(code: EnvSecretErrorCode, message: string, options: { retryable: boolean }) {
    super(code, message, options);
    this.name = 'EnvSecretError';
  }
}

/** Where operators set values: named in a missing secret's failure, so the message says how to fix it. */
export type EnvSecretBackend = 'key-vault' | 'local';

export interface EnvSecrets {
  /** The value, or undefined when the tenant has no such secret. Throws what the store throws. */
  get(tenant: string, name: string): Promise<string | undefined>;
  /** Writes a new value (a new version in Key Vault); readers see it once their cache expires. */
  set(tenant: string, name: string, value: string): Promise<void>;
}

export function createEnvSecrets(store: SecretStore): EnvSecrets {
  const check = (name: string) => {
    if (!SECRET_NAME_PATTERN.test(name))
      throw new EnvSecretError(
        'SecretNameInvalid',
        `Secret names are 1-64 letters, digits and hyphens (got '${name.slice(0, 64)}')`,
        { retryable: false },
      );
  };
  return {
    async get(tenant, name) {
      check(name);
      return store.get(envSecretName(tenant, name));
    },
    async set(tenant, name, value) {
      check(name);
      if (!secretValueFits(value))
        throw new EnvSecretError('SecretTooLong', `The value is ${TOO_LONG}`, { retryable: false });
      await store.set(envSecretName(tenant, name), value);
    },
  };
}

interface StoredSecretDoc {
  id: string;
  value: string;
  updatedAt: string;
}

/**
 * The local stack's secret store: one document per secret in the tenants container (partition `/id`).
 * Ids start with `secret:`, which no tenant id can (tenant ids are lowercase letters, digits and
 * hyphens), and are lowercased because Key Vault's names are case-insensitive: both stores agree on
 * which names are the same secret.
 */
export function createCosmosSecretStore(container: Container): SecretStore {
  const idFor = (name: string) => `secret:${name.toLowerCase()}`;
  return {
    async get(name) {
      const id = idFor(name);
      try {
        const { resource } = await container.item(id, id).read<StoredSecretDoc>();
        return resource?.value;
      } catch (e) {
        if (cosmosStatus(e) === 404) return undefined;
        throw e;
      }
    },
    async set(name, value) {
      await container.items.upsert<StoredSecretDoc>({
        id: idFor(name),
        value,
        updatedAt: new Date().toISOString(),
      });
    },
  };
}

export interface EnvSecretResolver {
  /**
   * The value of `tenant`'s secret `name`, from the cache or the store. Throws `EnvSecretError`:
   * permanent for a missing, too long or badly named secret, retryable for a store that is throttled,
   * down or refuses the app's identity.
   */
  resolveSecret(tenant: string, name: string): Promise<string>;
}

export interface EnvSecretResolverOptions {
  readonly backend: EnvSecretBackend;
  readonly now?: () => number;
  /** How long a value read is used before it is read again. Default 5 minutes (as tenant secrets). */
  readonly ttlMs?: number;
  /** Secrets kept in memory at most; the oldest goes first. Default 1,000. */
  readonly maxEntries?: number;
}

const DEFAULT_TTL_MS = 5 * 60_000;
const DEFAULT_MAX_ENTRIES = 1000;

function howToSet(backend: EnvSecretBackend, tenant: string, name: string): string {
  const script = `npm run tenant:secret -- ${tenant} ${name}, the value on stdin`;
  return backend === 'key-vault'
    ? `${script}, or az keyvault secret set --vault-name <vault> --name ${envSecretName(tenant, name)}`
    : script;
}

/** Maps what the store threw to a value-free typed error; the cause is left out (it may quote requests). */
function storeFailure(e: unknown, vaultName: string): EnvSecretError {
  if (e instanceof EnvSecretError) return e;
  const status = cosmosStatus(e);
  if (status === 401 || status === 403)
    return new EnvSecretError(
      'SecretAccessDenied',
      `The secret store refused the app's identity (${status}) reading '${vaultName}': assign it the Key Vault Secrets User role`,
      // A role assignment still propagating, or one being fixed: the submission waits and tries again.
      { retryable: true },
    );
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429)
    return new EnvSecretError(
      'SecretReadRefused',
      `The secret store refused reading '${vaultName}' (${status})`,
      { retryable: false },
    );
  return new EnvSecretError(
    'SecretStoreUnavailable',
    `The secret store did not answer reading '${vaultName}'${status !== undefined ? ` (${status})` : ''}`,
    { retryable: true },
  );
}

export function createEnvSecretResolver(
  secrets: EnvSecrets,
  options: EnvSecretResolverOptions,
): EnvSecretResolver {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  // One entry per tenant and name: the read in flight (expiresAt Infinity) or its value until expiry.
  const cache = new Map<string, { value: Promise<string>; expiresAt: number }>();

  const read = async (tenant: string, name: string): Promise<string> => {
    const vaultName = envSecretName(tenant, name);
    let value: string | undefined;
    try {
      value = await secrets.get(tenant, name);
    } catch (e) {
      throw storeFailure(e, vaultName);
    }
    if (value === undefined)
      throw new EnvSecretError(
        'SecretNotFound',
        `The job's environment references secret '${name}', which tenant '${tenant}' does not have ` +
          `(${options.backend === 'key-vault' ? `Key Vault secret '${vaultName}'` : 'not set locally'}). ` +
          `Set it (${howToSet(options.backend, tenant, name)}) and submit the job again.`,
        { retryable: false },
      );
    if (!secretValueFits(value))
      throw new EnvSecretError(
        'SecretTooLong',
        `Secret '${name}' of tenant '${tenant}' is ${TOO_LONG}. Set a shorter value and submit the job again.`,
        { retryable: false },
      );
    return value;
  };

  return {
    async resolveSecret(tenant, name) {
      if (!SECRET_NAME_PATTERN.test(name))
        throw new EnvSecretError('SecretNameInvalid', 'Secret names are 1-64 letters, digits and hyphens', {
          retryable: false,
        });
      // Key Vault names are case-insensitive: `DB-Password` and `db-password` are one secret.
      const key = `${tenant}/${name.toLowerCase()}`;
      const hit = cache.get(key);
      if (hit && hit.expiresAt > now()) return hit.value;
      const entry = { value: read(tenant, name), expiresAt: Number.POSITIVE_INFINITY };
      cache.delete(key);
      cache.set(key, entry);
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
      entry.value.then(
        () => {
          entry.expiresAt = now() + ttlMs;
        },
        // A failure is not kept: the next round reads again (a secret set meanwhile is found).
        () => {
          if (cache.get(key) === entry) cache.delete(key);
        },
      );
      return entry.value;
    },
  };
}
