/**
 * The composition root: settings read once, clients created once, handed to every function.
 * Nothing here runs at import time; the Azure entry point and the dev host call `createAppDeps`.
 */
import { CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { type Clock, type Ids, randomIds, systemClock } from './clock.js';
import { readSettings, type Settings } from './config/config.js';
import type { HealthProbe } from './health.js';
import { createQueueGateway, type QueueGateway } from './queues/queue-gateway.js';

export interface AppDeps {
  readonly settings: Settings;
  readonly queues: QueueGateway;
  readonly cosmos: CosmosClient;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly probes: readonly HealthProbe[];
  close(): Promise<void>;
}

export async function createAppDeps(env: Record<string, string | undefined>): Promise<AppDeps> {
  const settings = readSettings(env);
  const queues = createQueueGateway(settings.AzureWebJobsStorage);
  const cosmos = new CosmosClient({
    endpoint: settings.COSMOS_ENDPOINT,
    ...(settings.COSMOS_KEY
      ? { key: settings.COSMOS_KEY }
      : { aadCredentials: new DefaultAzureCredential() }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
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
    cosmos,
    clock: systemClock,
    ids: randomIds,
    probes,
    async close() {
      cosmos.dispose();
    },
  };
}
