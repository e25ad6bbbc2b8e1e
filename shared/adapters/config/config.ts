/**
 * Settings, read and checked once at the composition root. In Azure they are app settings; locally
 * the dev host copies `local.settings.json` `Values` into the environment, as Core Tools does.
 */
import { z } from 'zod';
import { SlotwiseError } from '../../core/errors.js';
import type { BatchAccountInfo } from '../../model/accounts.js';
import { priceOverridesSetting } from '../../planner/cost.js';

const booleanSetting = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** A Batch account name: 3 to 24 lowercase letters and digits (BatchManagement.json `accountName`). */
const accountName = z.string().regex(/^[a-z0-9]{3,24}$/, 'must be 3 to 24 lowercase letters and digits');

const extraAccount = z
  .object({
    name: accountName,
    endpoint: z.url(),
    region: z.string().default(''),
    allocationMode: z
      .enum(['BatchService', 'UserSubscription'], { message: "must be 'BatchService' or 'UserSubscription'" })
      .default('BatchService'),
    weight: z.number().positive().max(1000).default(1),
    /** Default: the primary account's. */
    subscriptionId: z.string().optional(),
    resourceGroup: z.string().optional(),
    /** Default: the primary account's `BATCH_MANAGEMENT_ENDPOINT`. */
    managementEndpoint: z.url().optional(),
    /** Base64 Shared Key (local stack); absent → Microsoft Entra, as `BATCH_ACCOUNT_KEY`. */
    key: z.string().optional(),
  })
  .strict();

export type ExtraAccountSetting = z.infer<typeof extraAccount>;

/**
 * `SLOTWISE_BATCH_ACCOUNTS`: a JSON array of the accounts beside the primary one. Errors name the
 * entry and field, never a value (an entry may hold a key).
 */
const batchAccountsSetting = z
  .string()
  .default('')
  .transform((text, ctx): ExtraAccountSetting[] => {
    if (text.trim() === '') return [];
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of accounts' });
      return z.NEVER;
    }
    const parsed = z.array(extraAccount).safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        ctx.addIssue({ code: 'custom', message: `[${issue.path.join('.')}] ${issue.message}` });
      return z.NEVER;
    }
    const names = parsed.data.map((a) => a.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) {
      ctx.addIssue({ code: 'custom', message: `names account '${twice}' twice` });
      return z.NEVER;
    }
    return parsed.data;
  });

const settingsSchema = z.object({
  /** Storage connection string (local: Azurite). Empty → the `AzureWebJobsStorage__*` identity settings. */
  AzureWebJobsStorage: z.string().default(''),
  /** Identity-based storage, as the Functions host reads it: the queue endpoint (or the account name). */
  AzureWebJobsStorage__queueServiceUri: z.union([z.url(), z.literal('')]).default(''),
  AzureWebJobsStorage__accountName: z.string().default(''),
  /** Identity-based storage: the blob endpoint (the results store; the host's timers use it too). */
  AzureWebJobsStorage__blobServiceUri: z.union([z.url(), z.literal('')]).default(''),
  /** `managedidentity` in Azure; the host and the app then use the identity named by `__clientId`. */
  AzureWebJobsStorage__credential: z.string().default(''),
  AzureWebJobsStorage__clientId: z.string().default(''),
  /** Client id of the user-assigned managed identity every Entra client uses (empty → DefaultAzureCredential's own choice). */
  AZURE_CLIENT_ID: z.string().default(''),
  /** Key Vault holding tenant secrets (`https://<name>.vault.azure.net/`). Empty → secrets stay on the tenant document (local). */
  KEY_VAULT_URI: z.union([z.url(), z.literal('')]).default(''),
  COSMOS_ENDPOINT: z.url(),
  /** Empty → Microsoft Entra via @azure/identity. */
  COSMOS_KEY: z.string().default(''),
  COSMOS_DATABASE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/)
    .default('slotwise'),
  BATCH_ENDPOINT: z.url(),
  BATCH_ACCOUNT_NAME: z.string().min(1, 'is required'),
  /** Empty → Microsoft Entra via @azure/identity. */
  BATCH_ACCOUNT_KEY: z.string().default(''),
  /**
   * The Batch account's pool allocation mode (set by the template from its parameter). `BatchService`:
   * low-priority (Spot) nodes are retired there, so jobs asking for them are refused at the door;
   * `UserSubscription`: Spot nodes are allowed.
   */
  BATCH_POOL_ALLOCATION_MODE: z
    .enum(['BatchService', 'UserSubscription'], { message: "must be 'BatchService' or 'UserSubscription'" })
    .default('BatchService'),
  /** The primary Batch account's Azure region (`location`): tenants may be restricted to regions. */
  BATCH_REGION: z.string().default(''),
  /**
   * More Batch accounts beside the primary one (JSON array; see `batchAccountsSetting`): jobs go to
   * the account with room for their VM family (docs/accounts.md).
   */
  SLOTWISE_BATCH_ACCOUNTS: batchAccountsSetting,
  /** How often each account's quotas are read again from its resource on the management plane. */
  SLOTWISE_ACCOUNT_QUOTA_SECONDS: positiveInt(600),
  /** Subscription and resource group of the Batch account: pool-level package references are full ARM ids. */
  BATCH_SUBSCRIPTION_ID: z.string().default('00000000-0000-0000-0000-000000000000'),
  BATCH_RESOURCE_GROUP: z.string().default('slotwise-local'),
  /**
   * Batch's management plane (Azure Resource Manager), where managed pools are created, resized and
   * deleted (with identity, network, start task, mounts). Locally the emulator's http loopback URL.
   */
  BATCH_MANAGEMENT_ENDPOINT: z.url().default('https://management.azure.com'),
  /** Local stack only: seeds tenant `dev` with this API key. */
  SLOTWISE_DEV_API_KEY: z.string().default(''),
  SLOTWISE_DEV_WEBHOOK_SECRET: z.string().default(''),
  /** Local stack only: the secret tenant `dev` signs `job-requests` messages with (`whsec_<base64>`). */
  SLOTWISE_DEV_INTAKE_SECRET: z.string().default(''),
  /** Local stack only: allows `http://127.0.0.1` / `localhost` callback URLs. */
  SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS: booleanSetting,
  /** Jobs in accepted/planned/submitting longer than this are re-driven by the sweep. */
  SLOTWISE_STUCK_AFTER_SECONDS: positiveInt(120),
  /** A managed pool with no demand and no nodes is deleted after this long. */
  SLOTWISE_POOL_IDLE_TTL_SECONDS: positiveInt(900),
  /** Nodes one managed pool may have at most (on top of each job's maxNodes and the tenant's limit). */
  SLOTWISE_POOL_MAX_NODES: positiveInt(500),
  /** Demand must stay below a pool's target this long before the controller shrinks it. */
  SLOTWISE_POOL_SHRINK_AFTER_SECONDS: positiveInt(300),
  /** Retry-After for a submission over a tenant's job or task quota; queued ones wait about this long. */
  SLOTWISE_QUOTA_RETRY_SECONDS: positiveInt(30),
  /** First delay before a submission is tried again after a transient Batch failure (doubling, ≤ 10 min). */
  SLOTWISE_SUBMIT_RETRY_BASE_SECONDS: positiveInt(10),
  /** Submissions meeting only Batch 401/403 (key rotation, role propagation) wait this long before failing. */
  SLOTWISE_BATCH_AUTH_GRACE_SECONDS: positiveInt(1800),
  /** Jobs waiting on a pool Batch cannot allocate (quota, capacity) fail after this long. */
  SLOTWISE_ALLOCATION_DEADLINE_SECONDS: positiveInt(1800),
  /** Default node image for managed pools. */
  SLOTWISE_POOL_IMAGE: z.string().default('canonical:0001-com-ubuntu-server-jammy:22_04-lts:latest'),
  SLOTWISE_POOL_NODE_AGENT_SKU: z.string().default('batch.node.ubuntu 22.04'),
  /** Prices per node-hour by VM size for dry-run estimates (JSON), over the table in shared/planner/cost.ts. */
  SLOTWISE_PRICES: priceOverridesSetting,
  /**
   * Hours a task's SAS for the results store lasts at least (longer for a job whose maxWallClockTime
   * is longer: that plus an hour). Batch cannot change a task's output URL once it is added, so it
   * must outlive the task; at most 167, as a user delegation key lives 7 days at most.
   */
  SLOTWISE_RESULTS_SAS_HOURS: z.coerce.number().int().min(1).max(167).default(48),
  /**
   * GA4GH TES: the VM size TES tasks run on when they fit it (one slot per vCPU, tasks packed by their
   * cores and memory); larger tasks get the smallest larger size, `backend_parameters.vm_size` pins one.
   */
  SLOTWISE_TES_VM_SIZE: z.string().default('Standard_D8s_v5'),
  /** GA4GH TES: the cap on nodes of each TES lane's pool. */
  SLOTWISE_TES_MAX_NODES: positiveInt(20),
  /** Public base URL of this app, for task callbacks (e.g. https://slotwise.example.com). */
  SLOTWISE_PUBLIC_URL: z.string().default(''),
  /** Set by App Service / Azure Functions on every instance: the app runs in Azure. */
  WEBSITE_INSTANCE_ID: z.string().default(''),
  WEBSITE_SITE_NAME: z.string().default(''),
});

export type Settings = z.infer<typeof settingsSchema>;

/** Every setting the app reads (the deployment template's contract). */
export const settingNames = Object.keys(settingsSchema.shape) as (keyof Settings)[];

/** Keys and connection strings: local only; in Azure the identity forms replace them. */
export const keyedSettings = ['AzureWebJobsStorage', 'COSMOS_KEY', 'BATCH_ACCOUNT_KEY'] as const;

/** Set by the platform on every instance, never by the template. */
export const platformSettings = ['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME'] as const;

export class ConfigError extends SlotwiseError {
  constructor(message: string) {
    super('InvalidConfiguration', message);
    this.name = 'ConfigError';
  }
}

/** Reads the settings, naming every missing or invalid one; values are never echoed (they may be secrets). */
export function readSettings(env: Record<string, string | undefined>): Settings {
  const parsed = settingsSchema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (
    !env.AzureWebJobsStorage &&
    !env.AzureWebJobsStorage__queueServiceUri &&
    !env.AzureWebJobsStorage__accountName
  ) {
    problems.push(
      'AzureWebJobsStorage: is required (a connection string, or AzureWebJobsStorage__queueServiceUri / __accountName with an identity)',
    );
  }
  if (
    parsed.success &&
    parsed.data.SLOTWISE_BATCH_ACCOUNTS.some((a) => a.name === parsed.data.BATCH_ACCOUNT_NAME)
  )
    problems.push(
      `SLOTWISE_BATCH_ACCOUNTS: names the primary account '${parsed.data.BATCH_ACCOUNT_NAME}' again`,
    );
  if (!parsed.success || problems.length > 0)
    throw new ConfigError(`Invalid settings: ${problems.join('; ')}`);
  return parsed.data;
}

export type StorageConnection =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | { readonly kind: 'identity'; readonly queueServiceUri: string };

/**
 * The queue service the app talks to, resolved the way the Functions host resolves a binding's
 * `connection`: a connection string wins; else `__queueServiceUri`, else `__accountName` (public cloud).
 */
export function storageConnection(
  settings: Pick<
    Settings,
    'AzureWebJobsStorage' | 'AzureWebJobsStorage__queueServiceUri' | 'AzureWebJobsStorage__accountName'
  >,
): StorageConnection | undefined {
  if (settings.AzureWebJobsStorage)
    return { kind: 'connectionString', connectionString: settings.AzureWebJobsStorage };
  if (settings.AzureWebJobsStorage__queueServiceUri)
    return { kind: 'identity', queueServiceUri: settings.AzureWebJobsStorage__queueServiceUri };
  if (settings.AzureWebJobsStorage__accountName)
    return {
      kind: 'identity',
      queueServiceUri: `https://${settings.AzureWebJobsStorage__accountName}.queue.core.windows.net`,
    };
  return undefined;
}

export type BlobServiceConnection =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | { readonly kind: 'identity'; readonly blobServiceUri: string; readonly accountName?: string };

/**
 * The blob service of Slotwise's own storage account (the results store), resolved as the queue
 * service is: a connection string wins; else `__blobServiceUri`, else `__accountName` (public cloud).
 * Undefined when only a queue endpoint is set.
 */
export function blobServiceConnection(
  settings: Pick<
    Settings,
    'AzureWebJobsStorage' | 'AzureWebJobsStorage__blobServiceUri' | 'AzureWebJobsStorage__accountName'
  >,
): BlobServiceConnection | undefined {
  if (settings.AzureWebJobsStorage)
    return { kind: 'connectionString', connectionString: settings.AzureWebJobsStorage };
  const accountName = settings.AzureWebJobsStorage__accountName;
  if (settings.AzureWebJobsStorage__blobServiceUri)
    return {
      kind: 'identity',
      blobServiceUri: settings.AzureWebJobsStorage__blobServiceUri,
      ...(accountName ? { accountName } : {}),
    };
  if (accountName)
    return { kind: 'identity', blobServiceUri: `https://${accountName}.blob.core.windows.net`, accountName };
  return undefined;
}

/** The managed identity client id for Entra clients: `AZURE_CLIENT_ID`, else the storage connection's. */
export function managedIdentityClientId(
  settings: Pick<Settings, 'AZURE_CLIENT_ID' | 'AzureWebJobsStorage__clientId'>,
): string | undefined {
  return settings.AZURE_CLIENT_ID || settings.AzureWebJobsStorage__clientId || undefined;
}

/** `WEBSITE_INSTANCE_ID` or `WEBSITE_SITE_NAME` is set: the app runs in Azure (App Service sets both). */
export function runsInAzure(settings: Pick<Settings, 'WEBSITE_INSTANCE_ID' | 'WEBSITE_SITE_NAME'>): boolean {
  return settings.WEBSITE_INSTANCE_ID !== '' || settings.WEBSITE_SITE_NAME !== '';
}

const storageSettingsSchema = settingsSchema.pick({
  AzureWebJobsStorage: true,
  AzureWebJobsStorage__queueServiceUri: true,
  AzureWebJobsStorage__accountName: true,
  AzureWebJobsStorage__clientId: true,
  AZURE_CLIENT_ID: true,
  WEBSITE_INSTANCE_ID: true,
  WEBSITE_SITE_NAME: true,
});

export type StorageSettings = z.infer<typeof storageSettingsSchema>;

/**
 * Only the settings of the storage connection the host's own queue triggers use, read on their own: when
 * another setting is wrong and the app cannot start, start-up still puts messages back on their queues
 * with these (functions/startup.ts). Undefined when they name no storage at all.
 */
export function readStorageSettings(env: Record<string, string | undefined>): StorageSettings | undefined {
  const parsed = storageSettingsSchema.safeParse(env);
  return parsed.success && storageConnection(parsed.data) ? parsed.data : undefined;
}

/** Settings that exist for the local stack only and must never take effect in Azure. */
export const localOnlySettings = [
  'SLOTWISE_DEV_API_KEY',
  'SLOTWISE_DEV_WEBHOOK_SECRET',
  'SLOTWISE_DEV_INTAKE_SECRET',
  'SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS',
] as const;

export type LocalOnlySetting = (typeof localOnlySettings)[number];

export interface LocalSwitches {
  /** `WEBSITE_INSTANCE_ID` or `WEBSITE_SITE_NAME` is set. */
  readonly runsInAzure: boolean;
  /** Seed tenant `dev` from the SLOTWISE_DEV_* settings. */
  readonly seedDevTenant: boolean;
  readonly allowHttpLoopbackCallbacks: boolean;
  /** Local-only settings that are set but refused (names only, never values). */
  readonly refused: readonly LocalOnlySetting[];
}

/**
 * Decides which local-only switches take effect. In Azure they are refused, so a settings file copied
 * into production can neither create a tenant with a known key nor open callbacks to loopback; the app
 * still starts (everything else is unaffected) and reports what it refused.
 */
export function localSwitches(settings: Settings): LocalSwitches {
  const inAzure = runsInAzure(settings);
  const set = localOnlySettings.filter((name) => {
    const value = settings[name];
    return typeof value === 'boolean' ? value : value !== '';
  });
  return {
    runsInAzure: inAzure,
    seedDevTenant: !inAzure && settings.SLOTWISE_DEV_API_KEY !== '',
    allowHttpLoopbackCallbacks: !inAzure && settings.SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS,
    refused: inAzure ? set : [],
  };
}

/**
 * The deployment's Batch accounts: the primary one (`BATCH_*`) first, then `SLOTWISE_BATCH_ACCOUNTS`
 * in order. An extra account takes the primary's subscription, resource group and management
 * endpoint unless it names its own.
 */
export function batchAccountInfos(
  settings: Pick<
    Settings,
    | 'BATCH_ENDPOINT'
    | 'BATCH_ACCOUNT_NAME'
    | 'BATCH_REGION'
    | 'BATCH_POOL_ALLOCATION_MODE'
    | 'BATCH_SUBSCRIPTION_ID'
    | 'BATCH_RESOURCE_GROUP'
    | 'BATCH_MANAGEMENT_ENDPOINT'
    | 'SLOTWISE_BATCH_ACCOUNTS'
  >,
): BatchAccountInfo[] {
  return [
    {
      name: settings.BATCH_ACCOUNT_NAME,
      endpoint: settings.BATCH_ENDPOINT,
      region: settings.BATCH_REGION,
      allocationMode: settings.BATCH_POOL_ALLOCATION_MODE,
      weight: 1,
      subscriptionId: settings.BATCH_SUBSCRIPTION_ID,
      resourceGroup: settings.BATCH_RESOURCE_GROUP,
      managementEndpoint: settings.BATCH_MANAGEMENT_ENDPOINT,
      primary: true,
    },
    ...settings.SLOTWISE_BATCH_ACCOUNTS.map(
      (a): BatchAccountInfo => ({
        name: a.name,
        endpoint: a.endpoint,
        region: a.region,
        allocationMode: a.allocationMode,
        weight: a.weight,
        subscriptionId: a.subscriptionId ?? settings.BATCH_SUBSCRIPTION_ID,
        resourceGroup: a.resourceGroup ?? settings.BATCH_RESOURCE_GROUP,
        managementEndpoint: a.managementEndpoint ?? settings.BATCH_MANAGEMENT_ENDPOINT,
        primary: false,
      }),
    ),
  ];
}
