/**
 * Slotwise's metrics, as small recorders over the OpenTelemetry metrics API. The API has no proxy for
 * meters: a meter taken before the SDK starts stays a no-op. So recorders are built by the factory
 * that needs them (the Batch client, the job store, a delivery), after start-up, with the meter as a
 * parameter that defaults to the global one.
 */
import { type Meter, metrics } from '@opentelemetry/api';
import type { JobState } from '../../model/job.js';

export const METER_NAME = 'slotwise';

/** Instrument names (units in the instruments' descriptions). */
export const metricNames = {
  /** Counter, attributes `slotwise.job.state` (the state entered) and `slotwise.job.from`. */
  jobTransitions: 'slotwise.job.transitions',
  /** Counter of tasks put into Batch when a job reaches `submitted`. */
  tasksSubmitted: 'slotwise.tasks.submitted',
  /** Counter of the task slots those tasks take. */
  slotsSubmitted: 'slotwise.slots.submitted',
  /** Histogram of nodes per plan. */
  planNodes: 'slotwise.plan.nodes',
  /** Histogram of the proven lower bound per plan. */
  planLowerBound: 'slotwise.plan.lower_bound',
  /** Histogram of nodes above the lower bound per plan (0 = proven optimal packing). */
  planExcessNodes: 'slotwise.plan.excess_nodes',
  /** Histogram (s) of one Batch call, retries included; `batch.operation`, `outcome`, `error.type`. */
  batchCallDuration: 'slotwise.batch.call.duration',
  /** Counter of failed Batch attempts; `batch.operation`, `error.type`, `http.response.status_code`, `batch.retried`. */
  batchCallErrors: 'slotwise.batch.call.errors',
  /** Histogram (s) of one webhook delivery attempt; `outcome`, `http.response.status_code`. */
  webhookDuration: 'slotwise.webhook.delivery.duration',
  /** Counter of delivery attempts that did not deliver; `outcome` (retry, rejected, gone). */
  webhookFailures: 'slotwise.webhook.delivery.failures',
} as const;

export function slotwiseMeter(): Meter {
  return metrics.getMeter(METER_NAME);
}

export interface JobMetrics {
  transition(to: JobState, from: JobState | undefined): void;
  submitted(tasks: number, slots: number): void;
  planned(nodes: number, lowerBound: number): void;
}

export function createJobMetrics(meter: Meter = slotwiseMeter()): JobMetrics {
  const transitions = meter.createCounter(metricNames.jobTransitions, {
    description: 'Job state changes, by the state entered',
  });
  const tasks = meter.createCounter(metricNames.tasksSubmitted, { description: 'Tasks submitted to Batch' });
  const slots = meter.createCounter(metricNames.slotsSubmitted, {
    description: 'Task slots of the tasks submitted to Batch',
  });
  const nodes = meter.createHistogram(metricNames.planNodes, { description: 'Nodes per plan' });
  const bound = meter.createHistogram(metricNames.planLowerBound, {
    description: 'Lower bound on nodes per plan',
  });
  const excess = meter.createHistogram(metricNames.planExcessNodes, {
    description: 'Nodes planned above the lower bound',
  });
  return {
    transition(to, from) {
      transitions.add(1, { 'slotwise.job.state': to, ...(from ? { 'slotwise.job.from': from } : {}) });
    },
    submitted(taskCount, slotCount) {
      tasks.add(taskCount);
      slots.add(slotCount);
    },
    planned(nodeCount, lowerBound) {
      nodes.record(nodeCount);
      bound.record(lowerBound);
      excess.record(Math.max(0, nodeCount - lowerBound));
    },
  };
}

export interface BatchCallMetrics {
  call(operation: string, seconds: number, error?: { code: string }): void;
  attemptFailed(operation: string, error: { code: string; status?: number }, retried: boolean): void;
}

export function createBatchCallMetrics(meter: Meter = slotwiseMeter()): BatchCallMetrics {
  const duration = meter.createHistogram(metricNames.batchCallDuration, {
    description: 'Batch REST call latency, retries included',
    unit: 's',
  });
  const errors = meter.createCounter(metricNames.batchCallErrors, {
    description: 'Failed Batch REST attempts',
  });
  return {
    call(operation, seconds, error) {
      duration.record(seconds, {
        'batch.operation': operation,
        outcome: error ? 'error' : 'ok',
        ...(error ? { 'error.type': error.code } : {}),
      });
    },
    attemptFailed(operation, error, retried) {
      errors.add(1, {
        'batch.operation': operation,
        'error.type': error.code,
        ...(error.status !== undefined ? { 'http.response.status_code': error.status } : {}),
        'batch.retried': retried,
      });
    },
  };
}

export interface WebhookMetrics {
  attempt(seconds: number, outcome: string, status?: number): void;
}

export function createWebhookMetrics(meter: Meter = slotwiseMeter()): WebhookMetrics {
  const duration = meter.createHistogram(metricNames.webhookDuration, {
    description: 'Webhook delivery attempt latency',
    unit: 's',
  });
  const failures = meter.createCounter(metricNames.webhookFailures, {
    description: 'Webhook delivery attempts that did not deliver',
  });
  return {
    attempt(seconds, outcome, status) {
      const attributes = {
        outcome,
        ...(status !== undefined ? { 'http.response.status_code': status } : {}),
      };
      duration.record(seconds, attributes);
      if (outcome !== 'delivered') failures.add(1, attributes);
    },
  };
}
