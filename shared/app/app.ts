/**
 * The composition root: settings read once, clients created once, handed to every function.
 * Nothing here runs at import time; the Azure entry point and the dev host call `createAppDeps`.
 */
import type { TokenCredential } from '@azure/core-auth';
import { CosmosClient } from '@azure/cosmos';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { type AccountGuardOptions, createAccountGuard } from '../adapters/batch/account-guard.js';
import { type BatchAccounts, batchAccounts } from '../adapters/batch/accounts.js';
import type { BatchGateway } from '../adapters/batch/batch-gateway.js';
import { createRestBatchGateway } from '../adapters/batch/batch-gateway-rest.js';
import { type BatchClient, createBatchClient } from '../adapters/batch/client.js';
import { readAccountQuotas } from '../adapters/batch-management/account-resource.js';
import { createArmPoolOperations } from '../adapters/batch-management/arm-pools.js';
import { isLoopbackHttp } from '../adapters/batch-management/local-auth.js';
import {
  createResultsStore,
  type ResultsStore,
  unavailableResultsStore,
} from '../adapters/blob/results-store.js';
import {
  batchAccountInfos,
  blobServiceConnection,
  type LocalSwitches,
  localSwitches,
  readSettings,
  readStorageSettings,
  type Settings,
  storageConnection,
} from '../adapters/config/config.js';
import { createAzureCredential, needsCredential } from '../adapters/config/credential.js';
import { type AccountStore, createAccountStore } from '../adapters/cosmos/account-store.js';
import { type ChunkStore, createChunkStore } from '../adapters/cosmos/chunk-store.js';
import { openContainers } from '../adapters/cosmos/cosmos-setup.js';
import { instrumentJobStore } from '../adapters/cosmos/instrument-job-store.js';
import { createIntakeWaitStore, type IntakeWaitStore } from '../adapters/cosmos/intake-wait-store.js';
import { createJobStore, type JobStore } from '../adapters/cosmos/job-store.js';
import { createPoolDemandReader, type PoolDemandReader } from '../adapters/cosmos/pool-demand.js';
import { createPoolStore, type PoolStore } from '../adapters/cosmos/pool-store.js';
import { createTenantStore, type TenantStore } from '../adapters/cosmos/tenant-store.js';
import { createTesTaskStore, type TesTaskStore } from '../adapters/cosmos/tes-store.js';
import { createUsageStore, type UsageStore } from '../adapters/cosmos/usage-store.js';
import {
  createCosmosSecretStore,
  createEnvSecretResolver,
  createEnvSecrets,
  type EnvSecretResolver,
} from '../adapters/key-vault/env-secrets.js';
import { createKeyVaultSecretStore, withSecretStore } from '../adapters/key-vault/secret-store.js';
import {
  createMessageReleaser,
  createQueueGateway,
  type MessageReleaser,
  type QueueGateway,
} from '../adapters/queues/queue-gateway.js';
import { validateCallbackUrl } from '../adapters/webhooks/address-guard.js';
import { nextAttemptDelay } from '../adapters/webhooks/backoff.js';
import { createWebhookDispatcher, deliverWebhook } from '../adapters/webhooks/deliver.js';
import { signWebhook } from '../adapters/webhooks/signature.js';
import { type Clock, type Ids, randomIds, systemClock } from '../core/clock.js';
import type { AccountQuotas } from '../model/accounts.js';
import type { ValidationPolicy } from '../model/validate-request.js';
import { type AccountDirectory, createAccountDirectory } from '../pipeline/account-routing.js';
import type { NotifyDeps } from '../pipeline/notify-stage.js';
import { createResultsSas, type ResultsSas } from '../pipeline/results-sas.js';
import type { HealthProbe } from './health.js';

export interface AppDeps {
  readonly settings: Settings;
  readonly queues: QueueGateway;
  readonly jobs: JobStore;
  readonly chunks: ChunkStore;
  readonly pools: PoolStore;
  readonly demand: PoolDemandReader;
  readonly tenants: TenantStore;
  readonly usage: UsageStore;
  /** Queued requests waiting for a limit to free up (one per tenant and job id). */
  readonly intakeWaits: IntakeWaitStore;
  /** GA4GH TES tasks (in the tenants' partitions of the jobs container). */
  readonly tesTasks: TesTaskStore;
  /** The primary Batch account's gateway (jobs and pools of another account use `accounts.gateway`). */
  readonly batch: BatchGateway;
  /** Every Batch account of the deployment, each with its gateway and guard. */
  readonly accounts: BatchAccounts;
  /** One document per account: drain, quotas, usage, shared health, reconcile watermark. */
  readonly accountStore: AccountStore;
  /** Each account's picture for routing, cached briefly per instance. */
  readonly accountDirectory: AccountDirectory;
  /** An account's quotas from its resource on the management plane. */
  readonly readQuotas: (account: string, signal?: AbortSignal) => Promise<AccountQuotas>;
  /** Each tenant's results container in Slotwise's storage account (outputs, logs, shared inputs). */
  readonly results: ResultsStore;
  /** The results store's SAS for tasks, minted as bodies go to Batch and reused while they last. */
  readonly resultsSas: ResultsSas;
  /**
   * Tenants' task environment secrets (Key Vault in Azure, the tenants container locally), read as
   * bodies go to Batch, cached. `secrets.resolveSecret(tenant, name)` is what every sender uses.
   */
  readonly secrets: EnvSecretResolver;
  readonly policy: ValidationPolicy;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly random: () => number;
  readonly deliver: NotifyDeps['deliver'];
  readonly nextAttemptDelay: NotifyDeps['nextAttemptDelay'];
  readonly probes: readonly HealthProbe[];
  /** Which local-only switches took effect, and which were refused because the app runs in Azure. */
  readonly localSwitches: LocalSwitches;
  close(): Promise<void>;
}

export async function createAppDeps(
  env: Record<string, string | undefined>,
  overrides: {
    clock?: Clock;
    ids?: Ids;
    random?: () => number;
    nextAttemptDelay?: AppDeps['nextAttemptDelay'];
    /** Where start-up warnings go. Default console.warn (the Functions host collects it). */
    log?: (message: string) => void;
    /** Entra credential for clients without a key. Default: the app's managed identity in Azure, else DefaultAzureCredential. */
    credential?: TokenCredential;
    /** Told what the start is doing before each step that waits on a dependency (for `/api/health`). */
    onStep?: (step: string) => void;
    /** Options for the Key Vault client (tests: a TLS agent trusting a local vault). Default none. */
    keyVaultClientOptions?: SecretClientOptions;
    /**
     * Options of every Batch account's guard over its defaults (tests: a shorter recovery time, which
     * is real time). Default none.
     */
    accountGuard?: Omit<Partial<AccountGuardOptions>, 'now'>;
  } = {},
): Promise<AppDeps> {
  const step = overrides.onStep ?? (() => undefined);
  step('reading the settings');
  const settings = readSettings(env);
  const clock = overrides.clock ?? systemClock;
  const ids = overrides.ids ?? randomIds;
  // One credential for every keyless client; created only when one is keyless.
  const credential =
    overrides.credential ??
    // The management plane signs in with Entra everywhere but on the local stack's loopback emulator.
    (needsCredential(settings) ||
    settings.SLOTWISE_BATCH_ACCOUNTS.some((a) => !a.key) ||
    batchAccountInfos(settings).some((a) => !isLoopbackHttp(a.managementEndpoint))
      ? createAzureCredential(settings)
      : undefined);
  const storage = storageConnection(settings)!;
  const queues = createQueueGateway(
    storage.kind === 'connectionString'
      ? storage.connectionString
      : { queueServiceUri: storage.queueServiceUri, credential: credential! },
  );
  const cosmos = new CosmosClient({
    endpoint: settings.COSMOS_ENDPOINT,
    ...(settings.COSMOS_KEY ? { key: settings.COSMOS_KEY } : { aadCredentials: credential! }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  // Key auth (local) may create the database and containers; Entra data roles cannot, so there they
  // are only checked, and a missing one stops the start with its name.
  step(
    settings.COSMOS_KEY
      ? 'opening the Cosmos DB database and containers'
      : 'checking the Cosmos DB database and containers (signing in with the managed identity first)',
  );
  const containers = await openContainers(cosmos, settings.COSMOS_DATABASE, {
    create: settings.COSMOS_KEY !== '',
  }).catch((e: unknown) => {
    cosmos.dispose();
    throw e;
  });
  const tenantStore = createTenantStore(containers.tenants, containers.apiKeys);
  const vault = settings.KEY_VAULT_URI
    ? createKeyVaultSecretStore(settings.KEY_VAULT_URI, credential!, overrides.keyVaultClientOptions)
    : undefined;
  const tenants = vault
    ? withSecretStore(tenantStore, vault, { now: () => clock.now().getTime() })
    : tenantStore;
  // Locally the values are documents of their own in the tenants container, never in jobs or chunks.
  const secrets = createEnvSecretResolver(
    createEnvSecrets(vault ?? createCosmosSecretStore(containers.tenants)),
    { backend: vault ? 'key-vault' : 'local', now: () => clock.now().getTime() },
  );
  const switches = localSwitches(settings);
  if (switches.refused.length > 0) {
    (overrides.log ?? ((m: string) => console.warn(m)))(
      `Running in Azure (WEBSITE_INSTANCE_ID or WEBSITE_SITE_NAME is set): refusing the local-only ` +
        `setting(s) ${switches.refused.join(', ')}; tenant 'dev' is not seeded and loopback callbacks ` +
        `stay blocked. Remove them from the app settings.`,
    );
  }
  if (switches.seedDevTenant) {
    step('seeding tenant dev in Cosmos DB');
    // Local stack only: tenant `dev` with the key and webhook secret from local.settings.json.
    await tenants.upsert('dev', {
      apiKey: settings.SLOTWISE_DEV_API_KEY,
      ...(settings.SLOTWISE_DEV_WEBHOOK_SECRET
        ? { webhookSecret: settings.SLOTWISE_DEV_WEBHOOK_SECRET }
        : {}),
      ...(settings.SLOTWISE_DEV_INTAKE_SECRET ? { intakeSecret: settings.SLOTWISE_DEV_INTAKE_SECRET } : {}),
      now: clock.now(),
    });
  }
  // Every account gets its own client, gateway and guard: one account's throttling or outage is felt
  // only by the calls made to it.
  const accountInfos = batchAccountInfos(settings);
  const clients: BatchClient[] = [];
  const accounts = batchAccounts(
    accountInfos.map((info) => {
      const key = info.primary
        ? settings.BATCH_ACCOUNT_KEY
        : (settings.SLOTWISE_BATCH_ACCOUNTS.find((a) => a.name === info.name)?.key ?? '');
      const guard = createAccountGuard({ ...overrides.accountGuard, now: () => Date.now() });
      const client = createBatchClient({
        endpoint: info.endpoint,
        accountName: info.name,
        ...(key ? { accountKey: key } : { credential: credential! }),
        guard,
        // One account's outage must not hold the passes that serve every account (client.ts).
        retryWhileUnhealthy: false,
      });
      clients.push(client);
      // Managed pools are created, resized and deleted through the management plane (only there can a
      // pool get an identity); jobs, tasks, reads and node removal stay on the data plane.
      const dataPlane = createRestBatchGateway(client);
      const armPools = createArmPoolOperations({
        endpoint: info.managementEndpoint,
        subscriptionId: info.subscriptionId,
        resourceGroup: info.resourceGroup,
        accountName: info.name,
        ...(credential ? { credential } : {}),
        resolveSecret: (tenant, name) => secrets.resolveSecret(tenant, name),
        // Asking again for nodes a failed allocation left missing, the target unchanged: a data-plane resize.
        resizeAgain: (poolId, target, owner) => dataPlane.resizePool(poolId, target, owner),
      });
      return { info, gateway: { ...dataPlane, ...armPools }, guard };
    }),
  );
  const batch: BatchGateway = accounts.gateway();
  const accountStore = createAccountStore(containers.pools);
  const poolStore = createPoolStore(containers.pools);
  const blob = blobServiceConnection(settings);
  const now = () => clock.now().getTime();
  const results = !blob
    ? unavailableResultsStore()
    : createResultsStore(
        blob.kind === 'connectionString'
          ? blob
          : {
              kind: 'identity',
              blobServiceUri: blob.blobServiceUri,
              credential: credential!,
              ...(blob.accountName ? { accountName: blob.accountName } : {}),
            },
        { now },
      );
  const callbackPolicy = { allowHttpLoopback: switches.allowHttpLoopbackCallbacks };
  const dispatcher = createWebhookDispatcher(callbackPolicy);
  const probes: HealthProbe[] = [
    { name: 'queues', check: (signal) => queues.ping(signal) },
    {
      name: 'cosmos',
      check: async (signal) => {
        await cosmos.getDatabaseAccount({ abortSignal: signal });
      },
    },
    // Every account is probed; one that is down shows here, and new jobs route around it.
    ...accounts.list.map(
      (a): HealthProbe => ({
        name: a.primary ? 'batch' : `batch:${a.name}`,
        group: 'batch',
        check: (signal) => accounts.gateway(a.name).ping(signal),
      }),
    ),
  ];
  return {
    settings,
    queues,
    jobs: instrumentJobStore(createJobStore(containers.jobs)),
    chunks: createChunkStore(containers.chunks, { getJob: createJobStore(containers.jobs).get }),
    pools: poolStore,
    demand: createPoolDemandReader(containers.jobs),
    tenants,
    usage: createUsageStore(containers.jobs, { random: overrides.random ?? Math.random }),
    intakeWaits: createIntakeWaitStore(containers.jobs),
    tesTasks: createTesTaskStore(containers.jobs),
    batch,
    accounts,
    accountStore,
    accountDirectory: createAccountDirectory({
      accounts,
      store: accountStore,
      now: () => clock.now().getTime(),
    }),
    readQuotas: (name, signal) => {
      const info = accounts.info(name);
      return readAccountQuotas({
        endpoint: info.managementEndpoint,
        subscriptionId: info.subscriptionId,
        resourceGroup: info.resourceGroup,
        accountName: info.name,
        ...(credential ? { credential } : {}),
        ...(signal ? { signal } : {}),
      });
    },
    results,
    resultsSas: createResultsSas(results, { now }),
    secrets,
    policy: {
      checkCallbackUrl: (url) => validateCallbackUrl(url, callbackPolicy),
      poolAllocationMode: settings.BATCH_POOL_ALLOCATION_MODE,
      // Output containers on the local stack's Azurite are http://127.0.0.1: the same local-only switch.
      allowHttpLoopbackStorage: switches.allowHttpLoopbackCallbacks,
    },
    clock,
    ids,
    random: overrides.random ?? Math.random,
    deliver: ({ url, id, body, secret, at }) =>
      deliverWebhook(
        { url, body, headers: { ...signWebhook({ secret, id, timestamp: at.getTime() / 1000, body }) } },
        { policy: callbackPolicy, dispatcher },
      ),
    nextAttemptDelay: overrides.nextAttemptDelay ?? nextAttemptDelay,
    probes,
    localSwitches: switches,
    async close() {
      cosmos.dispose();
      await Promise.all(clients.map((c) => c.close()));
      await dispatcher.close();
    },
  };
}

/**
 * What start-up needs from Storage before the rest can start: releasing a received queue message for
 * later (functions/startup.ts), from the storage settings alone (the connection the host's own queue
 * triggers use), so it works while any other setting or dependency is wrong. Undefined when the settings
 * name no storage. No I/O here.
 */
export function createStartupReleaser(
  env: Record<string, string | undefined>,
  overrides: { credential?: TokenCredential } = {},
): MessageReleaser | undefined {
  const settings = readStorageSettings(env);
  if (!settings) return undefined;
  const storage = storageConnection(settings)!;
  return createMessageReleaser(
    storage.kind === 'connectionString'
      ? storage.connectionString
      : {
          queueServiceUri: storage.queueServiceUri,
          credential: overrides.credential ?? createAzureCredential(settings),
        },
  );
}
