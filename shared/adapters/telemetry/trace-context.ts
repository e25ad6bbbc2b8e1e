/**
 * W3C trace context (`traceparent`) carried where HTTP headers cannot go: in queue messages, on the
 * job document and in the Batch job's metadata. Written and read with OpenTelemetry's own W3C
 * propagator, so version and all-zero rules are the specification's, not ours. Without an SDK no
 * span is ever valid, so nothing is written and every reader gets the context it started with.
 */
import { type Context, context, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { TRACEPARENT_PATTERN } from '../../model/pipeline-message.js';

/** Name of the Batch job metadata entry; `slotwise.` names are reserved for Slotwise. */
export const TRACEPARENT_METADATA = 'slotwise.traceparent';

// Stateless: the propagator only reads and writes the carrier it is given.
const w3c = new W3CTraceContextPropagator();
const getter = {
  get: (c: Record<string, string>, k: string) => c[k],
  keys: (c: Record<string, string>) => Object.keys(c),
};
const setter = {
  set: (c: Record<string, string>, k: string, v: string) => {
    c[k] = v;
  },
};

/** The traceparent of the span current in `ctx`, or undefined when there is none (no SDK). */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, setter);
  return carrier.traceparent;
}

/** `base` with the remote span named by `traceparent` as its parent; `base` itself when it names none. */
export function contextFromTraceparent(
  traceparent: string | undefined,
  base: Context = context.active(),
): Context {
  if (!traceparent) return base;
  return w3c.extract(base, { traceparent }, getter);
}

/** The trace id in a traceparent, for comparing traces. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent && TRACEPARENT_PATTERN.test(traceparent) ? traceparent.split('-')[1] : undefined;
}

/**
 * A queue message with the current trace context added, when it is a JSON object that carries none.
 * Other messages (strings, arrays) go as they are.
 */
export function withTraceparent<T>(message: T, ctx: Context = context.active()): T {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return message;
  if ('traceparent' in message) return message;
  const traceparent = traceparentOf(ctx);
  return traceparent ? { ...message, traceparent } : message;
}

/**
 * Takes the `traceparent` field off a received message: the trace context is transport, not payload,
 * so every handler's strict parser sees the message as it was before tracing. Invalid values are
 * dropped rather than trusted (a queue message may come from outside the app).
 */
export function takeTraceparent(message: unknown): { message: unknown; traceparent?: string } {
  if (
    typeof message !== 'object' ||
    message === null ||
    Array.isArray(message) ||
    !('traceparent' in message)
  )
    return { message };
  const { traceparent, ...rest } = message as { traceparent?: unknown };
  return typeof traceparent === 'string' && TRACEPARENT_PATTERN.test(traceparent)
    ? { message: rest, traceparent }
    : { message: rest };
}

/** The Batch job metadata with `slotwise.traceparent`, unless it is unknown or already there. */
export function withTraceMetadata<
  B extends { readonly metadata: readonly { name: string; value: string }[] },
>(body: B, traceparent: string | undefined): B {
  if (!traceparent || body.metadata.some((m) => m.name === TRACEPARENT_METADATA)) return body;
  return { ...body, metadata: [...body.metadata, { name: TRACEPARENT_METADATA, value: traceparent }] };
}

/** True when the current span belongs to the trace `traceparent` names. */
export function isInTrace(traceparent: string | undefined, ctx: Context = context.active()): boolean {
  const current = trace.getSpanContext(ctx)?.traceId;
  return current !== undefined && current === traceIdOf(traceparent);
}
