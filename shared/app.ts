/**
 * The composition root: settings read once, clients created once, handed to every function.
 * Nothing here runs at import time; the Azure entry point and the dev host call `createAppDeps`.
 */
import { CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { type Clock, type Ids, randomIds, systemClock } from './clock.js';
import { readSettings, type Settings } from './config/config.js';
import type { HealthProbe } from './health.js';
import type { ValidationPolicy } from './jobs/validate-request.js';
import { createQueueGateway, type QueueGateway } from './queues/queue-gateway.js';
import { ensureContainers } from './store/cosmos-setup.js';
import { createJobStore, type JobStore } from './store/job-store.js';
import { createTenantStore, type TenantStore } from './tenants/tenant-store.js';

export interface AppDeps {
  readonly settings: Settings;
  readonly queues: QueueGateway;
  readonly jobs: JobStore;
  readonly tenants: TenantStore;
  readonly policy: ValidationPolicy;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly probes: readonly HealthProbe[];
  close(): Promise<void>;
}

export async function createAppDeps(
  env: Record<string, string | undefined>,
  overrides: { clock?: Clock; ids?: Ids } = {},
): Promise<AppDeps> {
  const settings = readSettings(env);
  const clock = overrides.clock ?? systemClock;
  const ids = overrides.ids ?? randomIds;
  const queues = createQueueGateway(settings.AzureWebJobsStorage);
  const cosmos = new CosmosClient({
    endpoint: settings.COSMOS_ENDPOINT,
    ...(settings.COSMOS_KEY
      ? { key: settings.COSMOS_KEY }
      : { aadCredentials: new DefaultAzureCredential() }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const containers = await ensureContainers(cosmos, settings.COSMOS_DATABASE);
  const tenants = createTenantStore(containers.tenants, containers.apiKeys);
  if (settings.SLOTWISE_DEV_API_KEY) {
    // Local stack only: tenant `dev` with the key and webhook secret from local.settings.json.
    await tenants.upsert('dev', {
      apiKey: settings.SLOTWISE_DEV_API_KEY,
      webhookSecret: settings.SLOTWISE_DEV_WEBHOOK_SECRET,
      now: clock.now(),
    });
  }
  const probes: HealthProbe[] = [
    { name: 'queues', check: (signal) => queues.ping(signal) },
    {
      name: 'cosmos',
      check: async (signal) => {
        await cosmos.getDatabaseAccount({ abortSignal: signal });
      },
    },
  ];
  return {
    settings,
    queues,
    jobs: createJobStore(containers.jobs),
    tenants,
    policy: {
      checkCallbackUrl: (url) => checkCallbackUrl(url, settings.SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS),
    },
    clock,
    ids,
    probes,
    async close() {
      cosmos.dispose();
    },
  };
}

function checkCallbackUrl(raw: string, allowHttpLoopback: boolean): string | undefined {
  const url = new URL(raw);
  if (url.protocol === 'https:') return undefined;
  if (allowHttpLoopback && url.protocol === 'http:' && ['127.0.0.1', 'localhost'].includes(url.hostname)) {
    return undefined;
  }
  return 'must be an https URL';
}
