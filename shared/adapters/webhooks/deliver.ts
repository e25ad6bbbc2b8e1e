/**
 * Sends one signed webhook with undici. The connection's DNS lookup is the guard (`guardedLookup`):
 * every address a hostname resolves to is checked when connecting, and the socket goes to a checked
 * address, so a rebinding resolver cannot slip a forbidden one in between the check and the connect.
 * IP-literal hosts never reach a lookup; they are checked with the URL before every send. Redirects
 * are not followed (a 3xx is a failed attempt). The outcome is a value, never an exception.
 * Every send is bounded by `DELIVERY_TIMEOUT_MS` end to end (connect, headers, body): a receiver that
 * accepts and never answers costs one attempt of that length, never a stuck worker.
 * Each attempt is a client span (host name only: callback URLs may hold tokens) and one latency
 * measurement, counted as a failure unless delivered; the request carries the W3C `traceparent`.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { SpanStatusCode } from '@opentelemetry/api';
import { Agent, type Dispatcher, request } from 'undici';
import { SlotwiseError } from '../../core/errors.js';
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

/**
 * Resolves a host name to every address it has. `hints` are the getaddrinfo flags Node's connect asks
 * for (`ADDRCONFIG` by default); a test resolver may ignore them.
 */
export type LookupAll = (hostname: string, options?: { hints?: number }) => Promise<readonly LookupAddress[]>;

const systemLookup: LookupAll = (hostname, options = {}) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, ...(options.hints ? { hints: options.hints } : {}) }, (e, addresses) =>
      e ? reject(e) : resolve(addresses),
    ),
  );

/** Structured-mode CloudEvents (the CloudEvents HTTP protocol binding, JSON event format). */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** Upper bound of one delivery attempt, from connect to the end of the answer. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** A connection refused by the address guard: permanent for this URL, so the delivery is rejected. */
export class BlockedAddressError extends SlotwiseError {
  constructor(why: string) {
    super('CallbackAddressBlocked', `the callback host ${why}`);
  }
}

/**
 * The `lookup` Node's connect calls for a host name, with the guard in it. The name is resolved once;
 * if any of its addresses is forbidden the connection is refused (a name that mixes public and private
 * answers is a rebinding setup, not a receiver); else Node gets the checked addresses, so the socket
 * can only go to one of them. Node asks in two ways and both must be answered: `all: true` (what
 * `autoSelectFamily`, on by default since Node 20, asks for: a list to race over) and `all: false` (one
 * address and its family). `family` narrows the answer, never the check.
 */
export function guardedLookup(policy: CallbackPolicy, resolve: LookupAll = systemLookup): LookupFunction {
  return (hostname, options, callback) => {
    const answer = (e: NodeJS.ErrnoException) => (options.all ? callback(e, []) : callback(e, '', undefined));
    resolve(hostname, options.hints ? { hints: options.hints } : {}).then(
      (resolved) => {
        // The family comes from the address itself, never from what a resolver claims.
        const addresses = resolved.map(({ address }) => ({ address, family: isIP(address) }));
        const why =
          addresses.length === 0
            ? 'resolves to nothing'
            : addresses.map((a) => forbiddenAddressReason(a.address, policy)).find((r) => r !== undefined);
        if (why !== undefined) return answer(new BlockedAddressError(why));
        const family = familyNumber(options.family);
        const usable = family === 0 ? addresses : addresses.filter((a) => a.family === family);
        const first = usable[0];
        if (!first)
          return answer(
            Object.assign(new Error(`the callback host has no IPv${family} address`), { code: 'ENOTFOUND' }),
          );
        if (options.all) callback(null, usable);
        else callback(null, first.address, first.family);
      },
      (e: unknown) => answer(e as NodeJS.ErrnoException),
    );
  };
}

function familyNumber(family: LookupOptions['family']): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
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
    connect: { timeout: DELIVERY_TIMEOUT_MS, lookup: guardedLookup(policy, lookup) },
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
