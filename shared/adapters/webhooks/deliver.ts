/**
 * Sends one signed webhook with undici. The connection's DNS lookup is the guard: every address a
 * hostname resolves to is checked when connecting, and the socket goes to a checked address, so a
 * rebinding resolver cannot slip a forbidden one in between the check and the connect. Redirects
 * are not followed (a 3xx is a failed attempt). The outcome is a value, never an exception.
 * Every send is bounded by `DELIVERY_TIMEOUT_MS` end to end (connect, headers, body): a receiver that
 * accepts and never answers costs one attempt of that length, never a stuck worker.
 * Each attempt is a client span (host name only: callback URLs may hold tokens) and one latency
 * measurement, counted as a failure unless delivered; the request carries the W3C `traceparent`.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { SpanStatusCode } from '@opentelemetry/api';
import { Agent, type Dispatcher, request } from 'undici';
import { createWebhookMetrics, type WebhookMetrics } from '../telemetry/metrics.js';
import { inSpan, SpanKind } from '../telemetry/spans.js';
import { traceparentOf } from '../telemetry/trace-context.js';
import { type CallbackPolicy, forbiddenAddressReason, validateCallbackUrl } from './address-guard.js';

export type DeliveryOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  | { readonly kind: 'gone'; readonly status: number }
  | {
      readonly kind: 'retry';
      readonly status?: number;
      readonly reason: string;
      readonly retryAfterMs?: number;
    }
  | { readonly kind: 'rejected'; readonly reason: string };

export type LookupAll = (hostname: string) => Promise<readonly LookupAddress[]>;

const systemLookup: LookupAll = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (e, addresses) => (e ? reject(e) : resolve(addresses))),
  );

/** Structured-mode CloudEvents (the CloudEvents HTTP protocol binding, JSON event format). */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** Upper bound of one delivery attempt, from connect to the end of the answer. */
export const DELIVERY_TIMEOUT_MS = 10_000;

class BlockedAddressError extends Error {
  readonly code = 'SLOTWISE_BLOCKED_ADDRESS';
}

/** One keep-alive dispatcher whose every connection is vetted by the guard. */
export function createWebhookDispatcher(
  policy: CallbackPolicy,
  lookup: LookupAll = systemLookup,
): Dispatcher {
  return new Agent({
    keepAliveTimeout: 10_000,
    // Backstops to the per-request signal: no phase of a send may outlast the attempt's bound.
    headersTimeout: DELIVERY_TIMEOUT_MS,
    bodyTimeout: DELIVERY_TIMEOUT_MS,
    connect: {
      timeout: DELIVERY_TIMEOUT_MS,
      lookup: (hostname, _options, callback) => {
        lookup(hostname).then(
          (addresses) => {
            const allowed = addresses.filter((a) => forbiddenAddressReason(a.address, policy) === undefined);
            if (allowed.length === 0 || allowed.length < addresses.length) {
              const why =
                addresses.map((a) => forbiddenAddressReason(a.address, policy)).find(Boolean) ??
                'resolves to nothing';
              callback(new BlockedAddressError(`the callback host ${why}`), '', 4);
              return;
            }
            const first = allowed[0]!;
            callback(null, first.address, first.family);
          },
          (e: unknown) => callback(e as Error, '', 4),
        );
      },
    },
  });
}

export async function deliverWebhook(
  message: { url: string; body: string; headers: Readonly<Record<string, string>> },
  options: {
    policy: CallbackPolicy;
    dispatcher: Dispatcher;
    timeoutMs?: number;
    /** Default: instruments on the global meter. */
    metrics?: WebhookMetrics;
  },
): Promise<DeliveryOutcome> {
  const metrics = options.metrics ?? createWebhookMetrics();
  const host = URL.canParse(message.url) ? new URL(message.url).hostname : 'invalid';
  const started = performance.now();
  return inSpan(
    'webhook deliver',
    { kind: SpanKind.CLIENT, attributes: { 'server.address': host, 'http.request.method': 'POST' } },
    async (span) => {
      const outcome = await send(message, options);
      const status = 'status' in outcome ? outcome.status : undefined;
      span.setAttributes({
        'slotwise.delivery.outcome': outcome.kind,
        ...(status !== undefined ? { 'http.response.status_code': status } : {}),
      });
      if (outcome.kind !== 'delivered')
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: 'reason' in outcome ? outcome.reason : outcome.kind,
        });
      metrics.attempt((performance.now() - started) / 1000, outcome.kind, status);
      return outcome;
    },
  );
}

async function send(
  message: { url: string; body: string; headers: Readonly<Record<string, string>> },
  options: { policy: CallbackPolicy; dispatcher: Dispatcher; timeoutMs?: number },
): Promise<DeliveryOutcome> {
  const invalid = validateCallbackUrl(message.url, options.policy);
  if (invalid) return { kind: 'rejected', reason: `callback URL ${invalid}` };
  const signal = AbortSignal.timeout(Math.min(options.timeoutMs ?? DELIVERY_TIMEOUT_MS, DELIVERY_TIMEOUT_MS));
  try {
    const response = await request(message.url, {
      method: 'POST',
      body: message.body,
      headers: {
        // CloudEvents HTTP binding, structured mode: the whole event is the body, and this media type
        // is how receivers' SDKs (`HTTP.toEvent`) know to read it as one.
        'content-type': CLOUDEVENTS_CONTENT_TYPE,
        'user-agent': 'Slotwise-Webhooks/1.0',
        ...traceHeader(),
        ...message.headers,
      },
      dispatcher: options.dispatcher,
      maxRedirections: 0,
      signal,
    } as Parameters<typeof request>[1]);
    // Read at most a little of the body, then drop the rest: receivers' answers are not used.
    await response.body.dump({ limit: 64 * 1024, signal }).catch(() => undefined);
    const status = response.statusCode;
    if (status >= 200 && status < 300) return { kind: 'delivered', status };
    if (status === 410) return { kind: 'gone', status };
    const retryAfter = Number(response.headers['retry-after']);
    return {
      kind: 'retry',
      status,
      reason:
        status >= 300 && status < 400 ? `redirect (${status}) not followed` : `receiver answered ${status}`,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    };
  } catch (e) {
    const blocked = findCause(e, (c) => c instanceof BlockedAddressError);
    if (blocked) return { kind: 'rejected', reason: (blocked as Error).message };
    const name =
      (e as Error).name === 'TimeoutError'
        ? 'timed out'
        : ((e as { code?: string }).code ?? (e as Error).name);
    return { kind: 'retry', reason: `delivery failed: ${name}` };
  }
}

/** W3C trace context for the receiver, who may continue the trace (the signature covers the body only). */
function traceHeader(): Record<string, string> {
  const traceparent = traceparentOf();
  return traceparent ? { traceparent } : {};
}

function findCause(e: unknown, test: (c: unknown) => boolean): unknown {
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++)
    if (test(c)) return c;
  return undefined;
}
