/**
 * The HTTP trigger, as the Functions host serves it: `/{routePrefix}/{route}` with route templates,
 * real `HttpRequest` / `InvocationContext` objects, the returned `HttpResponseInit` written as is,
 * 200 with an empty body when a handler returns nothing, 500 with an empty body when it throws (the
 * error is logged, never sent), 404 for unknown routes and for methods a route does not accept
 * (the host has no 405), 413 above the body limit and 414 above the URL limit.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import azureFunctions, { type HttpResponseInit } from '@azure/functions';
import type { HttpFunction } from '../../functions/definition.js';
import type { Worker } from './invoke.js';
import { type HostLogger, invocationLogHandler } from './logger.js';
import { type CompiledRoute, compileRoute } from './route-template.js';

export const MAX_URL_BYTES = 4096;
export const DEFAULT_MAX_BODY_BYTES = 104_857_600;

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
  readonly maxBodyBytes?: number;
  readonly cors?: string;
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

  const server = createServer((req, res) => {
    const work = handle(req, res).catch((e: unknown) => {
      options.logger.log('error', 'Host.Http', `Request failed: ${(e as Error).message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    options.inFlight.add(work);
  });
  server.keepAliveTimeout = 5000;

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
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxBody) {
      res.writeHead(413, { connection: 'close' }).end();
      req.resume();
      return;
    }
    const body = await readBody(req, maxBody);
    if (body === 'tooLarge') {
      res.writeHead(413, { connection: 'close' }).end();
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
    await writeResponse(res, result);
    options.logger.log(
      'information',
      `Function.${fn.name}`,
      `Executed (Succeeded, Id=${invocationId}, Status=${res.statusCode})`,
    );
  }

  return server;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'tooLarge'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'tooLarge';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
  const cookies = (result.cookies ?? []).map(
    (c) =>
      `${c.name}=${c.value}${c.path ? `; Path=${c.path}` : ''}${c.httpOnly ? '; HttpOnly' : ''}${c.secure ? '; Secure' : ''}${c.maxAge !== undefined ? `; Max-Age=${c.maxAge}` : ''}`,
  );
  if (cookies.length > 0) out['set-cookie'] = cookies;
  if (payload) out['content-length'] = String(payload.length);
  res.writeHead(result.status ?? 200, out);
  res.end(payload);
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
