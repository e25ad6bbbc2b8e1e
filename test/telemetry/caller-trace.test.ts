/**
 * A caller's trace context is a hint, never the job's trace: every HTTP invocation, and every message
 * on the tenants' `job-requests` queue, starts a new root trace whose sampling Slotwise decides, and
 * the caller's context is kept only as a span link. So `traceparent` flags `00` cannot hide a job from
 * tracing, and a trace id a tenant knows cannot put its job into someone else's trace.
 */
import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueNames } from '../../shared/adapters/queues/names.js';
import { encodeQueueMessage } from '../../shared/adapters/queues/queue-gateway.js';
import { startTelemetry, type Telemetry } from '../../shared/adapters/telemetry/start.js';
import { signedIntake } from '../support/intake.js';
import { type SlotwiseStack, startSlotwise, waitFor, waitForJobState } from '../support/stack.js';

const spans = new InMemorySpanExporter();
let telemetry: Telemetry;
let stack: SlotwiseStack;

beforeAll(async () => {
  telemetry = await startTelemetry({}, { exporters: { spanProcessors: [new SimpleSpanProcessor(spans)] } });
  stack = await startSlotwise();
});

afterAll(async () => {
  await stack?.close();
  await telemetry?.shutdown();
});

const CALLER_TRACE = 'deadbeef'.repeat(4);
const CALLER_SPAN = '00f067aa0ba902b7';

const job = (id: string) => ({
  id,
  pool: { vmSize: 'standard_d2s_v3' },
  tasks: [{ id: 't', commandLine: 'sleep 2' }],
});

const inTrace = (traceId: string) =>
  spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

/** Waits until the job has ended and its trace holds a span of each stage named. */
async function jobTrace(jobId: string, root: string, stages: string[]): Promise<ReadableSpan[]> {
  await waitForJobState(stack, jobId, ['completed']);
  const doc = await stack.deps.jobs.get('dev', jobId);
  const traceId = doc!.traceparent!.split('-')[1]!;
  return waitFor(
    () => inTrace(traceId),
    (all) => [root, ...stages].every((n) => all.some((s) => s.name === n)),
    { what: `the stages of ${jobId} in its trace` },
  );
}

describe('a caller’s traceparent', () => {
  it('neither sets the job’s trace nor unsamples it: a new sampled root, the caller a link', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` },
      body: JSON.stringify(job('unsampled-1')),
    });
    expect(res.status).toBe(202);
    const trace = await jobTrace('unsampled-1', 'jobsCreate', ['planner', 'submitter', 'reconcile']);

    // The pipeline's spans were exported, in a trace that is not the caller's ...
    const traceId = trace[0]!.spanContext().traceId;
    expect(traceId).not.toBe(CALLER_TRACE);
    expect(inTrace(CALLER_TRACE)).toEqual([]);
    expect(trace.some((s) => s.name.startsWith('Batch '))).toBe(true);
    // ... sampled by Slotwise, whatever the caller's flags said.
    expect((await stack.deps.jobs.get('dev', 'unsampled-1'))?.traceparent).toMatch(
      new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
    );

    // The request's span is the root, and links to the caller's span context.
    const intake = trace.find((s) => s.name === 'jobsCreate')!;
    expect(intake.parentSpanContext).toBeUndefined();
    expect(
      intake.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
    ).toContainEqual({
      traceId: CALLER_TRACE,
      spanId: CALLER_SPAN,
    });
  });

  it('with a trace id already in use, still gives the job a trace of its own', async () => {
    const first = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(job('owner-1')) });
    expect(first.status).toBe(202);
    const owner = (await stack.deps.jobs.get('dev', 'owner-1'))!.traceparent!.split('-')[1]!;
    const joiner = await stack.request('/jobs', {
      method: 'POST',
      headers: { traceparent: `00-${owner}-${randomBytes(8).toString('hex')}-01` },
      body: JSON.stringify(job('joiner-1')),
    });
    expect(joiner.status).toBe(202);
    const joined = (await stack.deps.jobs.get('dev', 'joiner-1'))!.traceparent!.split('-')[1]!;
    expect(joined).not.toBe(owner);
    expect(inTrace(owner).filter((s) => s.attributes['slotwise.job.id'] === 'joiner-1')).toEqual([]);
  });

  it('on a job-requests message is only a link too', async () => {
    const envelope = {
      ...signedIntake(job('queued-unsampled')),
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00`,
    };
    await stack.queue(queueNames.jobRequests).sendMessage(encodeQueueMessage(envelope));
    const trace = await jobTrace('queued-unsampled', 'intake', ['planner', 'submitter']);
    const intake = trace.find((s) => s.name === 'intake')!;
    expect(intake.spanContext().traceId).not.toBe(CALLER_TRACE);
    expect(intake.parentSpanContext).toBeUndefined();
    expect(intake.links.map((l) => l.context.spanId)).toContain(CALLER_SPAN);
    expect(inTrace(CALLER_TRACE)).toEqual([]);
  });
});
