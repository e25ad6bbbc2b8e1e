/**
 * The queues the deployment template creates (`infra/app/storage.bicep`: every queue of
 * `queueNames` and its `-poison` queue), created the same way in local storage. The Functions host
 * never creates a trigger's queue (its listener waits for it to exist), and a sender scoped to
 * `job-requests` may not create it either, so locally as in Azure the queues exist before anyone
 * sends.
 */
import { QueueServiceClient } from '@azure/storage-queue';
import { queueNames } from '../../shared/adapters/queues/names.js';

export const deployedQueues: readonly string[] = Object.values(queueNames).flatMap((q) => [q, `${q}-poison`]);

export async function createDeployedQueues(storageConnectionString: string): Promise<void> {
  const service = QueueServiceClient.fromConnectionString(storageConnectionString);
  await Promise.all(deployedQueues.map((name) => service.getQueueClient(name).createIfNotExists()));
}
