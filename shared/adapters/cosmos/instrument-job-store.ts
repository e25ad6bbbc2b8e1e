/**
 * The job store, observed. Every state change is written through `create` or `update`, so this one
 * decorator sees each transition once it is stored (a write lost to an ETag conflict is re-applied by
 * the store and counted only when it lands), and stamps each new job with the trace it began in:
 * the `traceparent` that timers and sweeps use to add their work on the job to the job's trace. That
 * trace is always one Slotwise started (an HTTP or `job-requests` invocation is a new root; see
 * shared/adapters/telemetry/invocation.ts), never one a caller named.
 */
import { trace } from '@opentelemetry/api';
import type { JobDoc, JobState } from '../../model/job.js';
import { createJobMetrics, type JobMetrics } from '../telemetry/metrics.js';
import { traceparentOf } from '../telemetry/trace-context.js';
import type { JobStore } from './job-store.js';

export function instrumentJobStore(store: JobStore, metrics: JobMetrics = createJobMetrics()): JobStore {
  const entered = (job: JobDoc, from: JobState | undefined, historyFrom: number) => {
    let previous = from;
    for (const step of job.history.slice(historyFrom)) {
      // A note (a node removed, …) is a line in the history, not a transition.
      if (step.note) continue;
      metrics.transition(step.state, previous);
      previous = step.state;
      if (step.state === 'planned' && job.plan) metrics.planned(job.plan.nodes, job.plan.lowerBound);
      if (step.state === 'submitted' && job.plan) {
        const tasks = job.submission?.tasksAdded ?? job.plan.tasks;
        // A retry attempt resubmits a subset: its slots are taken at the plan's mean per task.
        const slots = job.plan.tasks > 0 ? Math.round((job.plan.totalSlots * tasks) / job.plan.tasks) : 0;
        metrics.submitted(tasks, slots);
      }
    }
  };
  // The span at work on a job names it, so a job's trace can be found from its id.
  const name = (tenant: string, jobId: string) =>
    trace.getActiveSpan()?.setAttributes({ 'slotwise.tenant': tenant, 'slotwise.job.id': jobId });
  return {
    ...store,
    async create(job) {
      name(job.tenant, job.jobId);
      // The creating invocation's own context wins over anything already on the document.
      const traceparent = traceparentOf() ?? job.traceparent;
      const result = await store.create(traceparent ? { ...job, traceparent } : job);
      if (result.created) entered(result.job, undefined, 0);
      return result;
    },
    async update(tenant, jobId, mutate) {
      name(tenant, jobId);
      let seen: { state: JobState; history: number } | undefined;
      const result = await store.update(tenant, jobId, (current) => {
        // Read before `mutate`, which may change the document it is given in place.
        seen = { state: current.state, history: current.history.length };
        return mutate(current);
      });
      if (result?.changed && seen) entered(result.job, seen.state, seen.history);
      return result;
    },
  };
}
