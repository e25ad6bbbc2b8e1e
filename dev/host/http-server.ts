/**
 * The HTTP trigger, as the Functions host serves it: `/{routePrefix}/{route}` with route templates,
 * real `HttpRequest` / `InvocationContext` objects, the returned `HttpResponseInit` written as is,
 * 200 with an empty body when a handler returns nothing, 500 with an empty body when it throws (the
 * error is logged, never sent), 404 for unknown routes and for methods a route does not accept
 * (the host has no 405), 413 above the body limit and 414 above the URL limit.
 *
 * The body limit (`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`, dev/host/config.ts) holds before any function
 * runs, so before any key is checked: a declared `Content-Length` over it is answered at once, and a
 * chunked body is read only up to it. Either way nothing more of the body is read; the connection is
 * answered and closed.
 *
 * With HTTP streams on (functions/http-streams.ts, as `app.setup({ enableHttpStream: true })` in
 * Azure), the response is sent as the handler's body stream yields it; off, it is read whole first.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import azureFunctions, { type HttpResponseInit } from '@azure/functions';
import type { HttpFunction } from '../../functions/definition.js';
import { DEFAULT_REQUEST_BODY_SIZE_LIMIT } from './config.js';
import type { Worker } from './invoke.js';
import { type HostLogger, invocationLogHandler } from './logger.js';
import { type CompiledRoute, compileRoute } from './route-template.js';

export const MAX_URL_BYTES = 4096;
export const DEFAULT_MAX_BODY_BYTES = DEFAULT_REQUEST_BODY_SIZE_LIMIT;

export interface HttpTimeouts {
  /** The whole request (head and body) must have arrived within this (Node's `requestTimeout`): else 408. */
  readonly requestMs: number;
  /** The head must have arrived within this (Node's `headersTimeout`): else 408. */
  readonly headersMs: number;
  /** A connection with nothing sent either way this long is closed (Node's `server.timeout`). */
  readonly idleMs: number;
}

/**
 * Azure's front end, where these hold in production: 230 s is the longest an HTTP call may take, the
 * idle timeout of the Azure Load Balancer in front of every function app (learn.microsoft.com/azure/
 * azure-functions/functions-scale, "Function app timeout duration"); 30 s for the head is Kestrel's
 * `RequestHeadersTimeout` default, the server the Functions host runs on (learn.microsoft.com/dotnet/
 * api/microsoft.aspnetcore.server.kestrel.core.kestrelserverlimits.requestheaderstimeout). Node's own
 * defaults (300 s, 60 s, none) are looser: a body sent a byte every 5 s held a connection 320 s.
 */
export const HTTP_TIMEOUTS: HttpTimeouts = { requestMs: 230_000, headersMs: 30_000, idleMs: 230_000 };

/** How long a refused connection stays open for its answer to reach the client (nothing is read). */
const REFUSED_LINGER_MS = 2_000;

interface Route<D> {
  readonly fn: HttpFunction<D>;
  readonly compiled: CompiledRoute;
  readonly methods: ReadonlySet<string>;
}

export interface HttpHostOptions<D> {
  readonly functions: readonly HttpFunction<D>[];
  readonly routePrefix: string;
  readonly worker: Worker<D>;
  /** -1 = unbounded. Over `maxOutstandingRequests` the host answers 429; `maxConcurrentRequests` queue. */
  readonly throttle?: { readonly maxConcurrentRequests: number; readonly maxOutstandingRequests: number };
  /** Bytes; default 100 MB, the host's. */
  readonly maxBodyBytes?: number;
  /** Default `HTTP_TIMEOUTS`; tests shorten them. */
  readonly timeouts?: Partial<HttpTimeouts>;
  readonly cors?: string;
  /** Responses stream (`enableHttpStream`). Default false, the library's default. */
  readonly streamResponses?: boolean;
  readonly logger: HostLogger;
  readonly inFlight: { add(p: Promise<unknown>): void };
  readonly accepting: () => boolean;
}

export function createHttpHost<D>(options: HttpHostOptions<D>): Server {
  const routes: Route<D>[] = options.functions.map((fn) => ({
    fn,
    compiled: compileRoute(fn.route ?? fn.name),
    methods: new Set((fn.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase())),
  }));
  const prefix = options.routePrefix ? `/${options.routePrefix.toLowerCase()}` : '';
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxConcurrent = options.throttle?.maxConcurrentRequests ?? -1;
  const maxOutstanding = options.throttle?.maxOutstandingRequests ?? -1;
  let outstanding = 0;
  let executing = 0;
  const waiting: (() => void)[] = [];
  const acquire = async () => {
    if (maxConcurrent > 0 && executing >= maxConcurrent) await new Promise<void>((r) => waiting.push(r));
    executing++;
  };
  const release = () => {
    executing--;
    waiting.shift()?.();
  };

  const timeouts = { ...HTTP_TIMEOUTS, ...options.timeouts };
  const headersTimeout = Math.min(timeouts.headersMs, timeouts.requestMs);
  const server = createServer(
    {
      requestTimeout: timeouts.requestMs,
      headersTimeout,
      // Node checks both only this often (30 s by default); a quarter of the head's deadline is close.
      connectionsCheckingInterval: Math.min(5_000, Math.max(250, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      const work = handle(req, res).catch((e: unknown) => {
        options.logger.log('error', 'Host.Http', `Request failed: ${(e as Error).message}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
      options.inFlight.add(work);
    },
  );
  server.keepAliveTimeout = 5000;
  server.timeout = timeouts.idleMs;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!options.accepting()) {
      res.writeHead(503, { connection: 'close' }).end();
      return;
    }
    const rawUrl = req.url ?? '/';
    if (Buffer.byteLength(rawUrl) > MAX_URL_BYTES) {
      res.writeHead(414).end();
      return;
    }
    if (options.cors) applyCors(req, res, options.cors);
    const url = new URL(rawUrl, `http://${req.headers.host ?? '127.0.0.1'}`);
    const path = url.pathname;
    if (req.method === 'OPTIONS' && options.cors) {
      res.writeHead(204).end();
      return;
    }
    if (prefix && !(path.toLowerCase() === prefix || path.toLowerCase().startsWith(`${prefix}/`))) {
      res.writeHead(404).end();
      return;
    }
    const rest = path.slice(prefix.length);
    const method = (req.method ?? 'GET').toUpperCase();
    let matched: { route: Route<D>; params: Record<string, string> } | undefined;
    for (const route of routes) {
      if (!route.methods.has(method)) continue;
      const params = route.compiled.match(rest);
      if (params) {
        matched = { route, params };
        break;
      }
    }
    if (!matched) {
      res.writeHead(404).end();
      return;
    }
    // Node's parser has already refused a malformed Content-Length (400).
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxBody) {
      refuseUnread(req, res, 413);
      return;
    }
    const body = await readBody(req, maxBody);
    if (body === 'tooLarge') {
      refuseUnread(req, res, 413);
      return;
    }
    if (maxOutstanding > 0 && outstanding >= maxOutstanding) {
      res.writeHead(429).end();
      return;
    }
    outstanding++;
    await acquire();
    try {
      await invoke(matched, method, url, path, req, body, res);
    } finally {
      release();
      outstanding--;
    }
  }

  async function invoke(
    matched: { route: Route<D>; params: Record<string, string> },
    method: string,
    url: URL,
    path: string,
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
  ): Promise<void> {
    const fn = matched.route.fn;
    const invocationId = randomUUID();
    let done = false;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const request = new azureFunctions.HttpRequest({
      method,
      url: url.toString(),
      headers,
      query: Object.fromEntries(url.searchParams),
      params: matched.params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    });
    const context = new azureFunctions.InvocationContext({
      invocationId,
      functionName: fn.name,
      logHandler: invocationLogHandler(options.logger, fn.name, invocationId, () => done),
    });
    options.logger.log(
      'information',
      `Function.${fn.name}`,
      `Executing (Reason='HTTP ${method} ${path}', Id=${invocationId})`,
    );
    let result: HttpResponseInit | undefined;
    try {
      result = await options.worker.invoke(fn.name, (deps) => fn.handler(request, context, deps));
    } catch (e) {
      done = true;
      options.logger.log(
        'error',
        `Function.${fn.name}`,
        `Executed (Failed, Id=${invocationId}): ${(e as Error).stack ?? String(e)}`,
      );
      res.writeHead(500).end();
      return;
    }
    done = true;
    await (options.streamResponses ? writeStreamedResponse(res, result) : writeResponse(res, result));
    options.logger.log(
      'information',
      `Function.${fn.name}`,
      `Executed (Succeeded, Id=${invocationId}, Status=${res.statusCode})`,
    );
  }

  return server;
}

/**
 * The body, read only up to `limit`: past it, reading stops (the request is paused, so the socket stops
 * too and the client's sending stalls) and 'tooLarge' is the answer; what was read is dropped.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'tooLarge'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        req.pause();
        chunks.length = 0;
        resolve('tooLarge');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    // The client went away before the body ended.
    const onClose = () => onError(new Error('The request was aborted before its body ended'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * Answers `status` and closes the connection without reading more of the request. Node would, after
 * an ordinary `end()`, read the rest of the body to keep the connection (and a plain close with
 * unread bytes would reset it, often before the client has read the answer): instead the answer (head
 * only, `Content-Length: 0`) and a FIN are sent, nothing more is read, and the socket is dropped once
 * the answer had time to arrive.
 */
function refuseUnread(req: IncomingMessage, res: ServerResponse, status: number): void {
  req.pause();
  res.writeHead(status, { connection: 'close', 'content-length': '0' });
  res.flushHeaders();
  const socket = req.socket;
  socket.end();
  const linger = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}

async function writeResponse(res: ServerResponse, result: HttpResponseInit | undefined): Promise<void> {
  if (result === undefined || result === null) {
    res.writeHead(200).end();
    return;
  }
  const headers = new Headers(result.headers as ConstructorParameters<typeof Headers>[0]);
  let payload: Buffer | undefined;
  if (result.jsonBody !== undefined) {
    payload = Buffer.from(JSON.stringify(result.jsonBody));
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  } else if (result.body !== undefined && result.body !== null) {
    const body = result.body;
    if (typeof body === 'string') {
      payload = Buffer.from(body);
      if (!headers.has('content-type')) headers.set('content-type', 'text/plain; charset=utf-8');
    } else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
      payload = Buffer.from(
        body instanceof ArrayBuffer
          ? new Uint8Array(body)
          : new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      );
    } else {
      payload = Buffer.from(
        await new Response(body as ConstructorParameters<typeof Response>[0]).arrayBuffer(),
      );
    }
  }
  const out: Record<string, string | string[]> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  const cookies = setCookies(result);
  if (cookies.length > 0) out['set-cookie'] = cookies;
  if (payload) out['content-length'] = String(payload.length);
  res.writeHead(result.status ?? 200, out);
  res.end(payload);
}

function setCookies(result: HttpResponseInit): string[] {
  return (result.cookies ?? []).map(
    (c) =>
      `${c.name}=${c.value}${c.path ? `; Path=${c.path}` : ''}${c.httpOnly ? '; HttpOnly' : ''}${c.secure ? '; Secure' : ''}${c.maxAge !== undefined ? `; Max-Age=${c.maxAge}` : ''}`,
  );
}

/** Headers a proxy never forwards (the library's `blockedProxyResponseHeaders`). */
const hopByHopHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The response as Azure sends it with HTTP streams on: the library makes the handler's answer a
 * fetch `Response` (its `HttpResponse`: `jsonBody` serialised, default content types), copies status,
 * headers (less hop-by-hop ones and those `connection` names) and cookies, then writes the body chunk
 * by chunk as its stream yields them (@azure/functions src/http/httpProxy.ts `sendProxyResponse`). No
 * `content-length` unless the handler set one: Node then sends the body chunked. A body stream that
 * fails part-way, or a client that goes away, ends the connection (the stream is cancelled), so a
 * cut answer never looks complete.
 */
async function writeStreamedResponse(
  res: ServerResponse,
  result: HttpResponseInit | undefined,
): Promise<void> {
  if (result === undefined || result === null) {
    res.writeHead(200).end();
    return;
  }
  const response = new azureFunctions.HttpResponse(result);
  const named = (response.headers.get('connection') ?? '').split(',').map((h) => h.trim().toLowerCase());
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (!hopByHopHeaders.has(key) && !named.includes(key)) out[key] = value;
  });
  const cookies = setCookies(result);
  if (cookies.length > 0) out['set-cookie'] = cookies;
  res.writeHead(response.status, out);
  const body = response.body as WebReadableStream<Uint8Array> | null;
  if (!body) {
    res.end();
    return;
  }
  try {
    await pipeline(Readable.fromWeb(body), res);
  } catch {
    res.destroy();
  }
}

function applyCors(req: IncomingMessage, res: ServerResponse, cors: string): void {
  const origin = req.headers.origin;
  const allowed = cors.split(',').map((o) => o.trim());
  if (origin && (allowed.includes('*') || allowed.includes(origin))) {
    res.setHeader('access-control-allow-origin', allowed.includes('*') ? '*' : origin);
    res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? '*');
    res.setHeader('access-control-allow-methods', 'GET,POST,PUT,PATCH,DELETE,OPTIONS');
  }
}
