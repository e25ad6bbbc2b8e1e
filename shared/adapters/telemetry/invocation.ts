/**
 * One span per function invocation, and the invocation's log lines correlated to it.
 *
 * Parent of the span, by where the trigger comes from:
 * - from outside Slotwise (HTTP; a tenant's `job-requests` message): none. The span starts a new root
 *   trace whose sampling the SDK's sampler decides here, and the caller's trace context (the
 *   `traceparent` header or message field) is only a span link, as is the host's (in Azure it continues
 *   the caller's header). A caller can thus neither put its work into a trace it names (another
 *   tenant's) nor unsample it (flags `00`) and hide it from operators; `tracestate` is ignored;
 * - a queue message Slotwise sent: the `traceparent` it carries, so the job's one trace goes on across
 *   queues; the host's context, when there is one, becomes a link. A message without one starts from
 *   the host's;
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
  type Context,
  context,
  type Link,
  ROOT_CONTEXT,
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
  /**
   * The trigger comes from outside Slotwise, so its context (carried or the host's) is a link, never the
   * parent. Always so for HTTP; set it for queues others write to (the tenants' `job-requests`).
   */
  readonly fromOutside?: boolean;
  readonly attributes?: Attributes;
}

/** A link to the span `traceparent` names, marked with where it came from; none when it names none. */
function linkTo(traceparent: string | undefined, source: 'caller' | 'host'): Link[] {
  const span = trace.getSpanContext(contextFromTraceparent(traceparent, ROOT_CONTEXT));
  return span && trace.isSpanContextValid(span)
    ? [{ context: span, attributes: { 'slotwise.link.source': source } }]
    : [];
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
  let parent: Context;
  let links: Link[];
  if (info.trigger === 'http' || info.fromOutside) {
    // A new root: the SDK's sampler decides for it, not the caller's flags.
    parent = ROOT_CONTEXT;
    links = [...linkTo(carried, 'caller'), ...(host !== carried ? linkTo(host, 'host') : [])];
  } else if (info.trigger === 'queue') {
    parent = contextFromTraceparent(carried ?? host, context.active());
    links = carried && host ? linkTo(host, 'host') : [];
  } else {
    parent = contextFromTraceparent(host, context.active());
    links = [];
  }
  return inSpan(
    info.functionName,
    {
      kind: kinds[info.trigger],
      parent,
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
