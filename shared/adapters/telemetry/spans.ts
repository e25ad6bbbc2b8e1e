/**
 * Spans through the OpenTelemetry API only: without an SDK every call here is a cheap no-op, so the
 * domain and its tests need nothing. The tracer is looked up per use (the API keeps the provider),
 * so a provider registered after import is still the one used.
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { redactSas } from '../../core/redact-sas.js';
import { contextFromTraceparent, isInTrace, traceparentOf } from './trace-context.js';

export const TRACER_NAME = 'slotwise';

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  readonly links?: Link[];
  /** Parent context. Default: the active one. */
  readonly parent?: Context;
}

/**
 * Runs `run` in a new active span, ended when it settles; a throw is recorded on the span (as an
 * exception event, status error) and rethrown.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  run: (span: Span) => Promise<T>,
): Promise<T> {
  const { parent, ...rest } = options;
  return tracer().startActiveSpan(name, rest, parent ?? context.active(), async (span) => {
    try {
      return await run(span);
    } catch (e) {
      recordError(span, e);
      throw e;
    } finally {
      span.end();
    }
  });
}

export function recordError(span: Span, e: unknown): void {
  const error = e instanceof Error ? e : new Error(String(e));
  // Exported as is: a message or stack that quotes a storage URL must not carry its SAS there.
  span.recordException({
    name: error.name,
    message: redactSas(error.message),
    ...(error.stack ? { stack: redactSas(error.stack) } : {}),
  });
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') span.setAttribute('error.type', code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : error.name });
}

/** What a span needs to join a job's trace: the fields the job document carries. */
export interface TracedJob {
  readonly tenant: string;
  readonly jobId: string;
  readonly traceparent?: string;
}

/**
 * Runs work on one job in a span of the job's own trace, so timers and other traces (a task callback,
 * a sweep) add to the job's one trace. Work already inside the job's trace is simply a child; work in
 * another trace (the timer's invocation) starts the span under the job's trace context and links back.
 */
export function inJobSpan<T>(job: TracedJob, name: string, run: (span: Span) => Promise<T>): Promise<T> {
  const attributes = { 'slotwise.tenant': job.tenant, 'slotwise.job.id': job.jobId };
  if (!job.traceparent || isInTrace(job.traceparent)) return inSpan(name, { attributes }, run);
  const current = trace.getSpanContext(context.active());
  return inSpan(
    name,
    {
      attributes,
      parent: contextFromTraceparent(job.traceparent),
      ...(current && trace.isSpanContextValid(current) ? { links: [{ context: current }] } : {}),
    },
    run,
  );
}

/**
 * The traceparent a message about `job` should carry: the current span's when it is in the job's
 * trace (the most precise parent), else the job's own; undefined when neither is known.
 */
export function jobTraceparent(job: Pick<TracedJob, 'traceparent'>): string | undefined {
  if (!job.traceparent || isInTrace(job.traceparent)) return traceparentOf() ?? job.traceparent;
  return job.traceparent;
}

/** `{ traceparent }` for a message about `job` (see `jobTraceparent`), or nothing. */
export function jobTraceField(job: Pick<TracedJob, 'traceparent'>): { traceparent?: string } {
  const traceparent = jobTraceparent(job);
  return traceparent ? { traceparent } : {};
}

export { SpanKind };
