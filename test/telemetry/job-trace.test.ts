/**
 * One trace per job, through the real stack: a job posted over HTTP (with the caller's own
 * `traceparent`) is planned, submitted to the Batch emulator, reconciled by the timer and its events
 * delivered to a callback, and every step is a span of the job's trace: a new root Slotwise started
 * for the request, which links to the caller's span (test/telemetry/caller-trace.test.ts: why). The SDK
 * is started the way the app starts it (`startTelemetry`), with in-memory exporters in place of Azure
 * Monitor or OTLP.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  type DataPoint,
  type Histogram,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueName } from '../../shared/adapters/queues/names.js';
import { createQueueGateway } from '../../shared/adapters/queues/queue-gateway.js';
import { metricNames } from '../../shared/adapters/telemetry/metrics.js';
import { inSpan } from '../../shared/adapters/telemetry/spans.js';
import { startTelemetry, type Telemetry } from '../../shared/adapters/telemetry/start.js';
import {
  TRACEPARENT_METADATA,
  takeTraceparent,
  traceparentOf,
} from '../../shared/adapters/telemetry/trace-context.js';
import { parsePipelineMessage } from '../../shared/model/pipeline-message.js';
import {
  emulatorClient,
  getJob,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

/** A reader the test collects from when it wants (no export interval). */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const logRecords = new InMemoryLogRecordExporter();
const reader = new CollectingReader();
let telemetry: Telemetry;
let stack: SlotwiseStack;
let receiver: Server;
let receiverUrl: string;
const deliveries: { headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  // Before the stack: the app's clients take their meters when they are built.
  telemetry = await startTelemetry(
    {},
    {
      exporters: {
        spanProcessors: [new SimpleSpanProcessor(spans)],
        metricReaders: [reader],
        logRecordProcessors: [new SimpleLogRecordProcessor({ exporter: logRecords })],
      },
    },
  );
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  stack = await startSlotwise();
});

afterAll(async () => {
  await stack?.close();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  await telemetry?.shutdown();
});

const inTrace = (traceId: string) =>
  spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

/** The nearest ancestor named `name`, following parent ids within the finished spans. */
function ancestorNamed(
  span: ReadableSpan,
  name: string,
  all: readonly ReadableSpan[],
): ReadableSpan | undefined {
  const byId = new Map(all.map((s) => [s.spanContext().spanId, s]));
  for (
    let p = byId.get(span.parentSpanContext?.spanId ?? '');
    p;
    p = byId.get(p.parentSpanContext?.spanId ?? '')
  )
    if (p.name === name) return p;
  return undefined;
}

function metric(collected: ResourceMetrics, name: string) {
  return collected.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
}

describe('one trace per job', () => {
  const callerTrace = randomBytes(16).toString('hex');
  const callerSpan = randomBytes(8).toString('hex');
  /** The job's trace: the request's root span's, found through its link to the caller. */
  let traceId = '';

  it('spans intake, plan, submit with its Batch calls, reconcile and delivery in the job trace', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` },
      body: JSON.stringify({
        id: 'traced',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [
          { id: 'a', commandLine: 'sleep 2', requiredSlots: 2 },
          { id: 'b', commandLine: 'sleep 2' },
        ],
        callback: { url: receiverUrl },
      }),
    });
    expect(res.status).toBe(202);
    await waitForJobState(stack, 'traced', ['completed']);
    const request = spans
      .getFinishedSpans()
      .find((s) => s.name === 'jobsCreate' && s.links.some((l) => l.context.spanId === callerSpan));
    expect(request).toBeDefined();
    traceId = request!.spanContext().traceId;
    expect(traceId).not.toBe(callerTrace);
    const wanted = ['jobsCreate', 'planner', 'submitter', 'reconcile', 'notifier', 'webhook deliver'];
    await waitFor(
      () => {
        const names = new Set(inTrace(traceId).map((s) => s.name));
        const completed = deliveries.some((d) => d.body.includes('"slotwise.job.completed"'));
        // A delivery's span ends after the receiver has the body: wait for the six events' spans too.
        const delivered = inTrace(traceId).filter((s) => s.name === 'webhook deliver').length;
        return { missing: wanted.filter((n) => !names.has(n)), completed, delivered };
      },
      (v) => v.missing.length === 0 && v.completed && v.delivered >= 6,
      { what: 'every stage’s span in the job’s trace' },
    );
    const all = spans.getFinishedSpans();
    const trace = inTrace(traceId);

    // Intake is the trace's root; the caller's span is a link, not its parent.
    const intake = trace.find((s) => s.name === 'jobsCreate')!;
    expect(intake.parentSpanContext).toBeUndefined();
    expect(intake.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([
      [callerTrace, callerSpan],
    ]);
    expect(intake.attributes['http.response.status_code']).toBe(202);
    expect(inTrace(callerTrace)).toEqual([]);

    // The plan message carried the intake's context: the planner is its child, not a new trace.
    const planner = trace.find((s) => s.name === 'planner')!;
    expect(planner.parentSpanContext?.spanId).toBe(intake.spanContext().spanId);
    expect(planner.attributes['messaging.destination.name']).toBe('slotwise-plan');

    // Batch calls of the submit are children of the submitter's span, one trace id throughout.
    const batchCalls = trace.filter((s) => s.name.startsWith('Batch ') && ancestorNamed(s, 'submitter', all));
    expect(batchCalls.map((s) => s.name)).toEqual(
      expect.arrayContaining(['Batch POST /jobs', 'Batch POST /jobs/{id}/addtaskcollection']),
    );

    // Reconcile runs on a timer (its own trace) and adds a span to the job's trace, linked back.
    const reconcile = trace.find((s) => s.name === 'reconcile')!;
    expect(reconcile.attributes['slotwise.job.id']).toBe('traced');
    const link = reconcile.links[0]?.context;
    expect(link?.traceId).not.toBe(traceId);
    expect(all.find((s) => s.spanContext().spanId === link?.spanId)?.name).toBe('reconcileTimer');

    // Every delivery attempt is a span of the trace, and the receiver got its traceparent.
    const delivered = trace.filter((s) => s.name === 'webhook deliver');
    expect(delivered.length).toBeGreaterThanOrEqual(6);
    expect(delivered.every((s) => s.attributes['slotwise.delivery.outcome'] === 'delivered')).toBe(true);
    expect(deliveries.every((d) => String(d.headers.traceparent).split('-')[1] === traceId)).toBe(true);
  });

  it('puts the trace context on the job document and in the Batch job’s metadata', async () => {
    const doc = await stack.deps.jobs.get('dev', 'traced');
    expect(doc?.traceparent?.split('-')[1]).toBe(traceId);
    const view = await getJob(stack, 'traced');
    const batch = emulatorClient(stack);
    try {
      const batchJob = (await batch.jobs.get(view!.batch!.jobId!)) as {
        metadata?: { name: string; value: string }[];
      };
      const entry = batchJob.metadata?.find((m) => m.name === TRACEPARENT_METADATA);
      expect(entry?.value.split('-')[1]).toBe(traceId);
    } finally {
      await batch.close();
    }
  });

  it('correlates the invocations’ log lines with the trace', () => {
    const planned = logRecords
      .getFinishedLogRecords()
      .filter((r) => r.attributes['faas.name'] === 'planner' && r.spanContext?.traceId === traceId);
    expect(planned.length).toBeGreaterThan(0);
  });

  it('records transitions, tasks and slots, the plan and Batch calls as metrics', async () => {
    const { resourceMetrics } = await reader.collect();
    const transitions = metric(resourceMetrics, metricNames.jobTransitions)!;
    const byState = Object.fromEntries(
      transitions.dataPoints.map((p) => [String(p.attributes['slotwise.job.state']), p.value]),
    );
    expect(byState).toMatchObject({
      accepted: 1,
      planned: 1,
      submitting: 1,
      submitted: 1,
      running: 1,
      completed: 1,
    });
    expect(metric(resourceMetrics, metricNames.tasksSubmitted)?.dataPoints[0]?.value).toBe(2);
    expect(metric(resourceMetrics, metricNames.slotsSubmitted)?.dataPoints[0]?.value).toBe(3);
    const nodes = metric(resourceMetrics, metricNames.planNodes)!.dataPoints[0] as DataPoint<Histogram>;
    expect(nodes.value.count).toBe(1);

    const calls = metric(resourceMetrics, metricNames.batchCallDuration)!
      .dataPoints as DataPoint<Histogram>[];
    const createJob = calls.find(
      (p) => p.attributes['batch.operation'] === 'POST /jobs' && p.attributes.outcome === 'ok',
    );
    expect(createJob?.value.count).toBeGreaterThanOrEqual(1);
    const delivery = metric(resourceMetrics, metricNames.webhookDuration)!
      .dataPoints as DataPoint<Histogram>[];
    expect(delivery.find((p) => p.attributes.outcome === 'delivered')?.value.count).toBeGreaterThanOrEqual(6);
  });

  it('counts Batch errors by code', async () => {
    const batch = emulatorClient(stack);
    try {
      // The test's own client shares the global meter: a job that does not exist is a 404 JobNotFound.
      await expect(batch.jobs.get('no-such-job')).rejects.toMatchObject({ code: 'JobNotFound' });
    } finally {
      await batch.close();
    }
    const { resourceMetrics } = await reader.collect();
    const errors = metric(resourceMetrics, metricNames.batchCallErrors)!.dataPoints;
    expect(
      errors.find(
        (p) => p.attributes['error.type'] === 'JobNotFound' && p.attributes['batch.retried'] === false,
      )?.attributes['http.response.status_code'],
    ).toBe(404);
  });
});

describe('queue messages', () => {
  it('carry the sender’s traceparent, which the pipeline parser accepts and the function wrapper takes off', async () => {
    const gateway = createQueueGateway(stack.services.storageConnectionString);
    const probe = 'telemetry-probe' as QueueName;
    const sent = await inSpan('probe', {}, async () => {
      await gateway.send(probe, { tenant: 'dev', jobId: 'j1' });
      return traceparentOf();
    });
    const [message] = (await stack.queue(probe).receiveMessages()).receivedMessageItems;
    const body = JSON.parse(Buffer.from(message!.messageText, 'base64').toString('utf8')) as unknown;
    expect(body).toEqual({ tenant: 'dev', jobId: 'j1', traceparent: sent });
    expect(parsePipelineMessage(body)).toMatchObject({ tenant: 'dev', jobId: 'j1' });
    expect(takeTraceparent(body)).toEqual({ message: { tenant: 'dev', jobId: 'j1' }, traceparent: sent });
    expect(() =>
      parsePipelineMessage({ tenant: 'dev', jobId: 'j1', traceparent: 'not-a-traceparent' }),
    ).toThrow();
  });
});
