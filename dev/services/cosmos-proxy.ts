/**
 * A small proxy in front of the local Cosmos DB server that brings in the limits the server does not
 * enforce, so code meets them here first:
 * - items over 2 MB (2,097,152 bytes of JSON) are refused with 413 `RequestEntityTooLarge`;
 * - a configurable share of requests is answered 429 `TooManyRequests` with `x-ms-retry-after-ms`, as
 *   a container over its provisioned RU/s does (the SDK retries those itself);
 * - every request is counted, with request units estimated from sizes (the server reports 1 RU for
 *   everything): point read ≈ 1 RU per KB read, write ≈ 5 RU per KB written (the issue's ~50 RU per
 *   10 KB), query ≈ 2.5 RU + 1 RU per KB returned. Rough, but it scales the way Cosmos's charges do.
 * Controls (no auth, local only): `GET /_proxy/stats`, `POST /_proxy/reset`, `PUT /_proxy/faults`
 * with `{ "rate429": 0.2, "seed": 7 }`.
 */
// The same seeded generator as the Batch emulator's faults: the same seed throttles the same requests.

import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { seededRandom } from '../batch-emulator/faults.js';

export const MAX_ITEM_BYTES = 2 * 1024 * 1024;

export const proxyFaultsSchema = z.strictObject({
  rate429: z.number().min(0).max(1).default(0),
  retryAfterMs: z.number().int().min(0).max(10_000).default(5),
  seed: z.number().int().default(1),
});
export type ProxyFaults = z.infer<typeof proxyFaultsSchema>;

export interface CosmosStats {
  requests: number;
  reads: number;
  writes: number;
  queries: number;
  deletes: number;
  throttled: number;
  tooLarge: number;
  /** Estimated request units (see the module comment). */
  ru: number;
  bytesIn: number;
  bytesOut: number;
}

const zeroStats = (): CosmosStats => ({
  requests: 0,
  reads: 0,
  writes: 0,
  queries: 0,
  deletes: 0,
  throttled: 0,
  tooLarge: 0,
  ru: 0,
  bytesIn: 0,
  bytesOut: 0,
});

export interface CosmosProxy {
  readonly endpoint: string;
  stats(): CosmosStats;
  reset(): void;
  setFaults(faults: Partial<ProxyFaults>): void;
  close(): Promise<void>;
}

type Kind = 'read' | 'write' | 'query' | 'delete' | 'other';

function kindOf(req: IncomingMessage): Kind {
  const isDoc = /\/docs(\/|$)/.test(req.url ?? '');
  if (!isDoc) return 'other';
  if (req.method === 'GET') return 'read';
  if (req.method === 'DELETE') return 'delete';
  if (req.method === 'POST' && req.headers['x-ms-documentdb-isquery'] === 'True') return 'query';
  if (req.method === 'POST' && String(req.headers['content-type'] ?? '').includes('query')) return 'query';
  if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') return 'write';
  return 'other';
}

function estimateRu(kind: Kind, bytesIn: number, bytesOut: number): number {
  const kb = (n: number) => Math.max(1, Math.ceil(n / 1024));
  switch (kind) {
    case 'read':
      return kb(bytesOut);
    case 'write':
      return 5 * kb(bytesIn);
    case 'delete':
      return 5;
    case 'query':
      return 2.5 + Math.ceil(bytesOut / 1024);
    default:
      return 0;
  }
}

export async function startCosmosProxy(target: string, port = 0, host = '127.0.0.1'): Promise<CosmosProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let faults: ProxyFaults = proxyFaultsSchema.parse({});
  let random = seededRandom(faults.seed);
  let stats = zeroStats();

  const answer = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'x-ms-request-charge': '0', ...headers });
    res.end(text);
  };

  const control = async (req: IncomingMessage, res: ServerResponse, path: string, body: Buffer) => {
    if (path === 'stats' && req.method === 'GET') return answer(res, 200, stats);
    if (path === 'reset' && req.method === 'POST') {
      stats = zeroStats();
      return answer(res, 200, stats);
    }
    if (path === 'faults' && req.method === 'PUT') {
      const parsed = proxyFaultsSchema.safeParse(JSON.parse(body.toString('utf8') || '{}'));
      if (!parsed.success) return answer(res, 400, { message: parsed.error.message });
      faults = parsed.data;
      random = seededRandom(faults.seed);
      return answer(res, 200, faults);
    }
    return answer(res, 404, { message: 'unknown control' });
  };

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const url = req.url ?? '/';
      if (url.startsWith('/_proxy/')) {
        control(req, res, url.slice('/_proxy/'.length), body).catch((e: unknown) =>
          answer(res, 500, { message: String(e) }),
        );
        return;
      }
      const kind = kindOf(req);
      stats.requests++;
      if (faults.rate429 > 0 && random() < faults.rate429) {
        stats.throttled++;
        answer(
          res,
          429,
          { code: 'TooManyRequests', message: 'Request rate is large. More Request Units may be needed.' },
          { 'x-ms-retry-after-ms': String(faults.retryAfterMs), 'x-ms-substatus': '3200' },
        );
        return;
      }
      if (kind === 'write' && body.length > MAX_ITEM_BYTES) {
        stats.tooLarge++;
        answer(res, 413, {
          code: 'RequestEntityTooLarge',
          message: `Request size is too large: ${body.length} bytes; an item is at most ${MAX_ITEM_BYTES} bytes`,
        });
        return;
      }
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: url,
          headers: { ...req.headers, host: upstream.host },
          agent,
        },
        (up) => {
          const out: Buffer[] = [];
          up.on('data', (c: Buffer) => out.push(c));
          up.on('end', () => {
            const payload = Buffer.concat(out);
            if (kind === 'read') stats.reads++;
            else if (kind === 'write') stats.writes++;
            else if (kind === 'query') stats.queries++;
            else if (kind === 'delete') stats.deletes++;
            stats.bytesIn += body.length;
            stats.bytesOut += payload.length;
            const ru =
              (up.statusCode ?? 500) < 400 || kind === 'query'
                ? estimateRu(kind, body.length, payload.length)
                : 1;
            stats.ru += ru;
            const headers = { ...up.headers, 'x-ms-request-charge': String(ru) };
            delete headers['content-length'];
            delete headers['transfer-encoding'];
            res.writeHead(up.statusCode ?? 502, { ...headers, 'content-length': String(payload.length) });
            res.end(payload);
          });
          up.on('error', () => res.destroy());
        },
      );
      forward.on('error', () => {
        if (!res.headersSent)
          answer(res, 503, { code: 'ServiceUnavailable', message: 'Cosmos server unreachable' });
        else res.destroy();
      });
      forward.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${address.port}`,
    stats: () => ({ ...stats }),
    reset: () => {
      stats = zeroStats();
    },
    setFaults(next) {
      faults = proxyFaultsSchema.parse({ ...faults, ...next });
      random = seededRandom(faults.seed);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          agent.destroy();
          resolve();
        });
      }),
  };
}
