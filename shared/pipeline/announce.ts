/**
 * After a job write that appended events, wake the notifier. A lost send is healed by the sweep,
 * which finds jobs whose `nextDeliveryAt` has passed.
 */
import type { JobDoc } from '../jobs/job.js';
import { hasPendingEvents } from '../jobs/lifecycle.js';
import { queueNames } from '../queues/names.js';
import type { QueueGateway } from '../queues/queue-gateway.js';

export async function announce(job: JobDoc, queues: QueueGateway): Promise<void> {
  if (hasPendingEvents(job)) await queues.send(queueNames.notify, { tenant: job.tenant, jobId: job.jobId });
}
