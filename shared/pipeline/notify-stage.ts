/**
 * Notify stage (queue `slotwise-notify`): delivers a job's pending events to its callback URL, in
 * order, one job at a time.
 *
 * - Order: the lowest pending `seq` is always delivered first; a later event waits until the earlier
 *   one is delivered or given up on. A short lease on the job document keeps two invocations from
 *   delivering the same job's events at once.
 * - At least once: the outcome is recorded after the send, so a crash in between means a resend with
 *   the same `webhook-id` (receivers deduplicate on it).
 * - Retries: a failed attempt schedules the next one by re-enqueueing with a visibility delay taken
 *   from the backoff schedule (about a day in all), then the event is dead-lettered (`failed`) and
 *   shown on the job. 410 Gone stops all deliveries for the job; a blocked address fails them.
 * - Fairness: each send is bounded (10 s), and at most a few sends per tenant are in flight per
 *   instance. A tenant at its cap gets its message back on the queue after a short delay instead of
 *   a worker waiting, so a receiver that never answers holds up only its own tenant's deliveries.
 */

import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { DeliveryOutcome } from '../adapters/webhooks/deliver.js';
import type { Clock, Ids } from '../core/clock.js';
import type { KeyedLimiter } from '../core/keyed-limiter.js';
import type { EventDelivery, JobDoc, JobEvent } from '../model/job.js';
import type { PipelineMessage } from '../model/pipeline-message.js';

export interface NotifyDeps {
  readonly jobs: JobStore;
  readonly tenants: TenantStore;
  readonly queues: QueueGateway;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly random: () => number;
  /** Signs and sends one event; never throws for receiver or network failures. */
  readonly deliver: (request: {
    url: string;
    id: string;
    body: string;
    secret: string;
    at: Date;
  }) => Promise<DeliveryOutcome>;
  /** ms to wait before attempt number `attempt` (1-based, counting the first failure); undefined = give up. */
  readonly nextAttemptDelay: (attempt: number, random: () => number) => number | undefined;
  readonly leaseMs?: number;
  /** Deliveries in flight per tenant in this instance; absent = no cap. */
  readonly deliverySlots?: KeyedLimiter;
  /** Delay before a message of a tenant at its cap comes back. Default 2 s. */
  readonly throttleDelaySeconds?: number;
}

export type NotifyResult = 'done' | 'deferred' | 'busy' | 'missing' | 'throttled';

/** Sends in flight per tenant per instance: enough for a healthy receiver, little for a dead one. */
export const DELIVERIES_PER_TENANT = 4;

const MAX_EVENTS_PER_INVOCATION = 50;

/** Appended by the pool controller while Batch cannot allocate the job's nodes. */
export const WAITING_EVENT_TYPE = 'slotwise.job.waiting';

export function toCloudEventPayload(job: JobDoc, event: JobEvent): object {
  return {
    specversion: '1.0',
    id: event.id,
    source: `/slotwise/tenants/${job.tenant}/jobs`,
    type: event.type,
    subject: job.jobId,
    time: event.at,
    datacontenttype: 'application/json',
    data: {
      jobId: job.jobId,
      state: event.state,
      sequence: event.seq,
      taskCounts: event.taskCounts,
      ...(job.batch ? { batch: { poolId: job.batch.poolId, jobId: job.batch.jobId } } : {}),
      ...(event.state === 'failed' && job.failure ? { failure: job.failure } : {}),
      ...(event.state === 'rejected' && job.errors ? { errors: job.errors } : {}),
      // The reason is read from the job at send time (events carry no copy): a pool that recovered
      // before the send has cleared it, and the event then says only that the job waited.
      ...(event.type === WAITING_EVENT_TYPE && job.waiting ? { waiting: job.waiting } : {}),
      // Node and task events carry what happened with the event itself (bad-nodes.ts, task-events.ts).
      ...(event.detail?.node ? { node: event.detail.node } : {}),
      ...(event.detail?.taskBatch
        ? {
            tasks: event.detail.taskBatch.tasks,
            more: event.detail.taskBatch.more,
            ...(event.detail.taskBatch.truncated ? { truncated: true } : {}),
          }
        : {}),
    },
  };
}

export async function runNotifyStage(
  message: PipelineMessage,
  owner: string,
  deps: NotifyDeps,
): Promise<NotifyResult> {
  const leaseMs = deps.leaseMs ?? 60_000;
  for (let i = 0; i < MAX_EVENTS_PER_INVOCATION; i++) {
    const release = deps.deliverySlots ? deps.deliverySlots.tryAcquire(message.tenant) : () => undefined;
    if (!release) {
      if (i > 0) await releaseNotifyLease(message, owner, deps);
      await deps.queues.send(queueNames.notify, message, { delaySeconds: deps.throttleDelaySeconds ?? 2 });
      return 'throttled';
    }
    try {
      const step = await deliverNext(message, owner, leaseMs, deps);
      if (step !== 'next') return step;
    } finally {
      release();
    }
  }
  // More events remain than one invocation handles: continue in a fresh message.
  await deps.queues.send(queueNames.notify, message);
  return 'deferred';
}

async function releaseNotifyLease(message: PipelineMessage, owner: string, deps: NotifyDeps): Promise<void> {
  await deps.jobs.update(message.tenant, message.jobId, (current) =>
    current.notifyLease?.owner === owner ? withoutLease(current) : undefined,
  );
}

/** Claims the job and delivers its next due event: 'next' when another may follow at once. */
async function deliverNext(
  message: PipelineMessage,
  owner: string,
  leaseMs: number,
  deps: NotifyDeps,
): Promise<NotifyResult | 'next'> {
  let now = deps.clock.now();
  let chosen: JobEvent | undefined;
  const claim = await deps.jobs.update(message.tenant, message.jobId, (job) => {
    // Read the clock with the document: an event written after an earlier reading is already due.
    now = deps.clock.now();
    chosen = nextPending(job);
    if (!chosen) return job.notifyLease?.owner === owner ? withoutLease(job) : undefined;
    if (dueAt(chosen) > now.getTime()) return undefined;
    const lease = job.notifyLease;
    if (lease && lease.owner !== owner && Date.parse(lease.until) > now.getTime()) return undefined;
    return { ...job, notifyLease: { owner, until: new Date(now.getTime() + leaseMs).toISOString() } };
  });
  if (!claim) return 'missing';
  const job = claim.job;
  const event = chosen;
  if (!event) return 'done';
  if (!claim.changed || job.notifyLease?.owner !== owner) {
    // Not due yet (its scheduled message will come), or another invocation holds the job and
    // delivers every pending event before it lets go.
    return dueAt(event) > now.getTime() ? 'deferred' : 'busy';
  }
  const url = job.request?.callback?.url;
  const tenant = await deps.tenants.get(job.tenant);
  const outcome: DeliveryOutcome =
    url && tenant
      ? await deps.deliver({
          url,
          id: event.id,
          body: JSON.stringify(toCloudEventPayload(job, event)),
          secret: tenant.webhookSecret,
          at: now,
        })
      : { kind: 'rejected', reason: url ? 'the tenant no longer exists' : 'the job has no callback URL' };

  const at = deps.clock.now();
  let delayMs: number | undefined;
  const recorded = await deps.jobs.update(job.tenant, job.jobId, (current) => {
    const events = current.events.map((e) => ({ ...e, delivery: { ...e.delivery } }));
    const target = events.find((e) => e.seq === event.seq);
    if (target?.delivery.status !== 'pending') return withoutLease(current);
    const attempts = target.delivery.attempts + 1;
    const base: EventDelivery = { ...target.delivery, attempts, lastAttemptAt: at.toISOString() };
    switch (outcome.kind) {
      case 'delivered':
        target.delivery = {
          ...base,
          status: 'delivered',
          lastStatus: outcome.status,
          deliveredAt: at.toISOString(),
        };
        delete target.delivery.lastError;
        delete target.delivery.nextAttemptAt;
        break;
      case 'gone':
        for (const e of events) {
          if (e.delivery.status === 'pending') {
            e.delivery = {
              ...e.delivery,
              status: 'gone',
              lastStatus: outcome.status,
              lastError: 'the receiver answered 410 Gone',
            };
            delete e.delivery.nextAttemptAt;
          }
        }
        target.delivery.attempts = attempts;
        break;
      case 'rejected':
        for (const e of events) {
          if (e.delivery.status === 'pending') {
            e.delivery = { ...e.delivery, status: 'failed', lastError: outcome.reason };
            delete e.delivery.nextAttemptAt;
          }
        }
        target.delivery.attempts = attempts;
        break;
      case 'retry': {
        const planned = deps.nextAttemptDelay(attempts, deps.random);
        delayMs = planned === undefined ? undefined : Math.max(planned, outcome.retryAfterMs ?? 0);
        target.delivery = {
          ...base,
          status: delayMs === undefined ? 'failed' : 'pending',
          ...(outcome.status !== undefined ? { lastStatus: outcome.status } : {}),
          lastError: outcome.reason.slice(0, 300),
        };
        if (delayMs === undefined) delete target.delivery.nextAttemptAt;
        else target.delivery.nextAttemptAt = new Date(at.getTime() + delayMs).toISOString();
        break;
      }
    }
    const next: JobDoc = {
      ...current,
      events,
      ...(outcome.kind === 'gone' ? { callbackGoneAt: at.toISOString() } : {}),
    };
    return outcome.kind === 'retry' && delayMs !== undefined ? withoutLease(next) : next;
  });
  if (!recorded) return 'missing';
  if (outcome.kind === 'retry' && delayMs !== undefined) {
    await deps.queues.send(queueNames.notify, message, { delaySeconds: Math.ceil(delayMs / 1000) });
    return 'deferred';
  }
  if (outcome.kind === 'gone' || outcome.kind === 'rejected') {
    await releaseNotifyLease(message, owner, deps);
    return 'done';
  }
  return 'next';
}

function dueAt(event: JobEvent): number {
  return Date.parse(event.delivery.nextAttemptAt ?? event.at);
}

function nextPending(job: JobDoc): JobEvent | undefined {
  let best: JobEvent | undefined;
  for (const e of job.events) if (e.delivery.status === 'pending' && (!best || e.seq < best.seq)) best = e;
  return best;
}

function withoutLease(job: JobDoc): JobDoc {
  const { notifyLease: _dropped, ...rest } = job;
  return rest;
}
