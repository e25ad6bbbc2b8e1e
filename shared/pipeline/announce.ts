/**
 * After a job write that appended events, wake the notifier. A lost send is healed by the sweep,
 * which finds jobs whose `nextDeliveryAt` has passed. The message carries the job's trace context,
 * whoever announces (a timer, another trace), so deliveries join the job's one trace.
 */

import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import { jobTraceField } from '../adapters/telemetry/spans.js';
import type { JobDoc } from '../model/job.js';
import { hasPendingEvents } from '../model/lifecycle.js';

export async function announce(job: JobDoc, queues: QueueGateway): Promise<void> {
  if (hasPendingEvents(job))
    await queues.send(queueNames.notify, { tenant: job.tenant, jobId: job.jobId, ...jobTraceField(job) });
}
