/**
 * `npm run services`: Azurite on 10000/10001/10002 and Cosmos on 8081, in the foreground. Runs in its
 * own process so storage keeps running while the dev host is killed and restarted, as in Azure.
 */
import { startServices } from './services.js';

const services = await startServices(
  {
    blob: Number(process.env.AZURITE_BLOB_PORT ?? 10000),
    queue: Number(process.env.AZURITE_QUEUE_PORT ?? 10001),
    table: Number(process.env.AZURITE_TABLE_PORT ?? 10002),
    cosmos: Number(process.env.COSMOS_PORT ?? 8081),
  },
  // A share of Cosmos requests answered 429, to see throttling locally (also PUT /_proxy/faults).
  { cosmosFaults: { rate429: Number(process.env.SLOTWISE_DEV_COSMOS_429_RATE ?? 0) } },
);
console.log(
  `services ready: queues ${services.queueEndpoint}, blobs ${services.blobEndpoint}, cosmos ${services.cosmosEndpoint}`,
);
const stop = () => {
  services.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
