/**
 * A small webhook inbox for demos and tests: accepts POST /hooks/{name}, checks the Standard Webhooks
 * signature with its own implementation (independent of Slotwise's signer), and shows what arrived at
 * GET /hooks, GET /hooks/{name} (JSON) and GET / (HTML). `POST /_inbox/respond { status, count? }`
 * makes the next deliveries answer with a status (a receiver that is down, or gone).
 *
 * A bad request (a name that is not valid percent-encoding, a body that is not the JSON asked for)
 * gets a 400 saying why; nothing a client sends may throw out of the handler, since the inbox's exit
 * stops the whole local stack (`dev/start.ts`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/** `POST /_inbox/respond`: an HTTP status to answer with (absent or 0: back to normal), for `count` deliveries. */
const respondSchema = z.strictObject({
  status: z
    .number()
    .int()
    .refine(
      (n) => n === 0 || (n >= 200 && n <= 599),
      'must be 0 (answer normally) or an HTTP status from 200 to 599',
    )
    .optional(),
  count: z.number().int().positive().optional(),
});

class BadRequest extends Error {}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequest('the hook name is not valid percent-encoding');
  }
}

export interface Delivery {
  readonly receivedAt: string;
  readonly name: string;
  readonly id: string;
  readonly timestamp: string;
  readonly verified: boolean;
  readonly answered: number;
  readonly body: unknown;
}

export interface WebhookInbox {
  readonly url: string;
  deliveries(name?: string): Delivery[];
  /** The next `count` deliveries (all when absent) answer `status`. */
  respondWith(status: number, count?: number): void;
  close(): Promise<void>;
}

export function verifyStandardWebhook(
  secret: string,
  id: string,
  timestamp: string,
  body: string,
  signatureHeader: string,
): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatureHeader.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export async function startWebhookInbox(
  options: { port?: number; secret?: string; toleranceSeconds?: number } = {},
): Promise<WebhookInbox> {
  const received: Delivery[] = [];
  let forced: { status: number; count: number | undefined } | undefined;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    // A client that hangs up mid-body is not the inbox's failure.
    req.on('error', () => undefined);
    req.on('end', () => {
      try {
        handle();
      } catch (e) {
        const bad = e instanceof BadRequest;
        if (!bad) console.error(`webhook inbox: ${req.method} ${req.url} failed: ${(e as Error).message}`);
        if (!res.headersSent) res.writeHead(bad ? 400 : 500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(bad ? `${e.message}\n` : 'The inbox failed on this request.\n');
      }
    });
    const handle = () => {
      const url = new URL(req.url ?? '/', 'http://inbox');
      const text = Buffer.concat(chunks).toString('utf8');
      const hook = /^\/hooks\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'POST' && hook) {
        const name = decodeName(hook[1]!);
        const header = (n: string) => String(req.headers[n] ?? '');
        const timestamp = header('webhook-timestamp');
        const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= (options.toleranceSeconds ?? 300);
        const verified =
          options.secret !== undefined &&
          fresh &&
          verifyStandardWebhook(
            options.secret,
            header('webhook-id'),
            timestamp,
            text,
            header('webhook-signature'),
          );
        let status = options.secret !== undefined && !verified ? 401 : 204;
        if (forced) {
          status = forced.status;
          if (forced.count !== undefined && --forced.count <= 0) forced = undefined;
        }
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Kept as text.
        }
        received.push({
          receivedAt: new Date().toISOString(),
          name,
          id: header('webhook-id'),
          timestamp,
          verified,
          answered: status,
          body,
        });
        res.writeHead(status).end();
        return;
      }
      if (req.method === 'POST' && url.pathname === '/_inbox/respond') {
        let json: unknown;
        try {
          json = JSON.parse(text || '{}');
        } catch {
          throw new BadRequest('the body is not JSON: send { "status": <HTTP status>, "count"?: <n> }');
        }
        const parsed = respondSchema.safeParse(json);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw new BadRequest(`${issue.path.join('.') || 'body'}: ${issue.message}`);
        }
        const { status, count } = parsed.data;
        forced = status ? { status, count } : undefined;
        res.writeHead(204).end();
        return;
      }
      if (req.method === 'DELETE' && url.pathname === '/hooks') {
        received.length = 0;
        res.writeHead(204).end();
        return;
      }
      const list = /^\/hooks(?:\/([^/]+))?$/.exec(url.pathname);
      if (req.method === 'GET' && list) {
        const name = list[1] ? decodeName(list[1]) : undefined;
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(received.filter((d) => !name || d.name === name)));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/') {
        const rows = received
          .map(
            (d) =>
              `<tr><td>${d.receivedAt}</td><td>${escapeHtml(d.name)}</td><td>${d.verified ? '✔' : '✘'}</td><td>${d.answered}</td><td><code>${escapeHtml(JSON.stringify(d.body))}</code></td></tr>`,
          )
          .join('');
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end(
            `<!doctype html><title>Slotwise webhook inbox</title><h1>Webhook inbox</h1><table border=1 cellpadding=4><tr><th>received</th><th>hook</th><th>signature</th><th>answer</th><th>event</th></tr>${rows}</table>`,
          );
        return;
      }
      res.writeHead(404).end();
    };
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    deliveries: (name) => received.filter((d) => !name || d.name === name),
    respondWith(status, count) {
      forced = { status, count };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
