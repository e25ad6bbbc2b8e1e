/**
 * After a job write that appended events, wake the notifier. A lost send is healed by the sweep,
 * which finds jobs whose `nextDeliveryAt` has passed. The message carries the job's trace context,
 * whoever announces (a timer, another trace), so deliveries join the job's one trace.
 */
import type { JobDoc } from '../jobs/job.js';
import { hasPendingEvents } from '../jobs/lifecycle.js';
import { queueNames } from '../queues/names.js';
import type { QueueGateway } from '../queues/queue-gateway.js';
import { jobTraceField } from '../telemetry/spans.js';

export async function announce(job: JobDoc, queues: QueueGateway): Promise<void> {
  if (hasPendingEvents(job))
    await queues.send(queueNames.notify, { tenant: job.tenant, jobId: job.jobId, ...jobTraceField(job) });
}
