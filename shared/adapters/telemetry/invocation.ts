/**
 * One span per function invocation, and the invocation's log lines correlated to it.
 *
 * Parent of the span, by trigger:
 * - HTTP: the host's trace context for the invocation (Azure continues the caller's `traceparent`
 *   header there), else the request's own `traceparent` header (the dev host);
 * - queue: the `traceparent` the message carries, so the job's one trace goes on across queues; the
 *   host's context, when there is one, becomes a link. A message without one starts from the host's;
 * - timer: the host's context, or a new trace. Timers add to job traces per job (`inJobSpan`).
 *
 * Logs: the handler gets the same context with its log methods also emitting an OpenTelemetry log
 * record in the invocation's span, so each line carries the trace and span ids wherever logs are
 * exported (Application Insights `traces`, OTLP, the console exporter). The host's own line is kept.
 */
import { format } from 'node:util';
import type { InvocationContext } from '@azure/functions';
import {
  type Attributes,
  context,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { inSpan, TRACER_NAME } from './spans.js';
import { contextFromTraceparent } from './trace-context.js';

export type InvocationTrigger = 'http' | 'queue' | 'timer';

export interface InvocationInfo {
  readonly trigger: InvocationTrigger;
  readonly functionName: string;
  /** The host's trace context for this invocation (`context.traceContext.traceParent` in Azure). */
  readonly hostTraceparent?: string | null;
  /** A trace context the trigger itself carried: an HTTP `traceparent` header, a queue message field. */
  readonly carriedTraceparent?: string | null;
  readonly attributes?: Attributes;
}

const kinds: Record<InvocationTrigger, SpanKind> = {
  http: SpanKind.SERVER,
  queue: SpanKind.CONSUMER,
  timer: SpanKind.INTERNAL,
};

/** OpenTelemetry's `faas.trigger` values. */
const faasTriggers: Record<InvocationTrigger, string> = { http: 'http', queue: 'pubsub', timer: 'timer' };

export function traceInvocation<T>(
  info: InvocationInfo,
  invocation: InvocationContext,
  run: (correlated: InvocationContext, span: Span) => Promise<T>,
): Promise<T> {
  const host = info.hostTraceparent ?? undefined;
  const carried = info.carriedTraceparent ?? undefined;
  // HTTP prefers the host's context (it already continues the header); queues prefer the message's.
  const parentTraceparent = info.trigger === 'queue' ? (carried ?? host) : (host ?? carried);
  const links: Link[] = [];
  if (info.trigger === 'queue' && carried && host) {
    const hostSpan = trace.getSpanContext(contextFromTraceparent(host));
    if (hostSpan) links.push({ context: hostSpan });
  }
  return inSpan(
    info.functionName,
    {
      kind: kinds[info.trigger],
      parent: contextFromTraceparent(parentTraceparent, context.active()),
      links,
      attributes: {
        'faas.name': info.functionName,
        'faas.trigger': faasTriggers[info.trigger],
        'faas.invocation_id': invocation.invocationId,
        ...info.attributes,
      },
    },
    (span) => run(correlatedContext(invocation), span),
  );
}

const severities = {
  trace: SeverityNumber.TRACE,
  debug: SeverityNumber.DEBUG,
  information: SeverityNumber.INFO,
  warning: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
} as const;

type LogMethod = 'log' | 'trace' | 'debug' | 'info' | 'warn' | 'error';
const levels: Record<LogMethod, keyof typeof severities> = {
  log: 'information',
  trace: 'trace',
  debug: 'debug',
  info: 'information',
  warn: 'warning',
  error: 'error',
};

/**
 * The invocation context with every log method also emitting a log record in the active span.
 * Everything else (ids, trigger metadata, extra outputs) is the original's, read through the prototype.
 */
export function correlatedContext(invocation: InvocationContext): InvocationContext {
  const methods: PropertyDescriptorMap = {};
  for (const method of Object.keys(levels) as LogMethod[]) {
    const level = levels[method];
    methods[method] = {
      value: (...args: unknown[]) => {
        invocation[method](...args);
        logs.getLogger(TRACER_NAME).emit({
          severityNumber: severities[level],
          severityText: level,
          body: format(...args),
          attributes: { 'faas.name': invocation.functionName, 'faas.invocation_id': invocation.invocationId },
        });
      },
    };
  }
  return Object.create(invocation, methods) as InvocationContext;
}

/** Marks an HTTP span with its answer; 5xx is an error of ours, 4xx the caller's (left unset). */
export function setHttpStatus(span: Span, status: number): void {
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
}
