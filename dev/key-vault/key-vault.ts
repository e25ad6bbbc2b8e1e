/**
 * A small Azure Key Vault (secrets) stand-in for tests: just what `@azure/keyvault-secrets`
 * `SecretClient.setSecret` and `getSecret` send, over HTTPS (the SDK sends bearer tokens only over
 * https), on a free port.
 *
 * - `PUT /secrets/{name}?api-version=…` with `{ value, contentType?, tags?, attributes? }` writes a
 *   new version and answers the secret bundle `{ value, id, contentType?, tags?, attributes }`
 *   (`id` is `<vault>/secrets/{name}/{32 hex version}`, times in epoch seconds).
 * - `GET /secrets/{name}/{version?}?api-version=…` answers the latest (or the named) version, or
 *   404 `{ error: { code: "SecretNotFound", message } }`.
 * - Auth is Key Vault's challenge: a request without `Authorization: Bearer <token>` (the SDK's
 *   first, body-less probe) is answered 401 with `WWW-Authenticate: Bearer
 *   authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"`;
 *   the SDK then asks its credential for `https://vault.azure.net/.default` in that tenant and
 *   retries with the token. With `token` set only that token is accepted (a wrong one is 401 too);
 *   tokens are not otherwise validated (no Entra here).
 * - Other errors use Key Vault's body `{ error: { code, message } }`: a missing `api-version` or an
 *   invalid name or body is 400 `BadParameter`; any other route is 404 `NotFound`.
 *
 * Because the challenge names `vault.azure.net` and the stand-in listens on 127.0.0.1, clients must
 * set `disableChallengeResourceVerification` (the SDK otherwise refuses a resource that is not a
 * suffix of the vault's host name); and trust the certificate, e.g. `new https.Agent({ ca })`.
 * Nothing is persisted; deleted, disabled and expired secrets, paging and versions lists are left out.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

export interface KeyVaultOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** The server's TLS key and certificate (PEM); the certificate must name `host`. */
  tls: Pick<ServerOptions, 'key' | 'cert'>;
  /** The only bearer token accepted; default any non-empty token. */
  token?: string;
  /** The Entra tenant the challenge names; default `00000000-0000-0000-0000-000000000000`. */
  tenantId?: string;
}

export interface StoredSecretVersion {
  readonly version: string;
  readonly value: string;
  readonly contentType?: string;
  readonly tags?: Record<string, string>;
  readonly created: number;
}

export interface VaultRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export interface KeyVault {
  /** The vault URI (`https://127.0.0.1:<port>`), what `SecretClient` takes. */
  readonly url: string;
  /** Every version of a secret, oldest first (empty when none): what the vault holds. */
  versions(name: string): StoredSecretVersion[];
  /** Every secret name the vault holds. */
  names(): string[];
  /** Requests answered so far, in order (method, path without query, status). */
  requests(): VaultRequest[];
  close(): Promise<void>;
}

/** Key Vault secret names: 1-127 letters, digits and hyphens. */
const secretName = /^[0-9A-Za-z-]{1,127}$/;

const setSecretBody = z.object({
  value: z.string(),
  contentType: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  attributes: z.object({ enabled: z.boolean().optional() }).loose().optional(),
});

class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startKeyVault(options: KeyVaultOptions): Promise<KeyVault> {
  const host = options.host ?? '127.0.0.1';
  const tenantId = options.tenantId ?? '00000000-0000-0000-0000-000000000000';
  const challenge = `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`;
  const store = new Map<string, StoredSecretVersion[]>();
  const log: VaultRequest[] = [];
  let url = '';

  const bundle = (name: string, v: StoredSecretVersion) => ({
    value: v.value,
    id: `${url}/secrets/${name}/${v.version}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
    attributes: {
      enabled: true,
      created: v.created,
      updated: v.created,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    },
  });

  const checkToken = (req: IncomingMessage): void => {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!match)
      throw new VaultError(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.');
    if (options.token !== undefined && match[1] !== options.token)
      throw new VaultError(401, 'Unauthorized', 'The access token is not accepted by this vault.');
  };

  const handle = async (req: IncomingMessage): Promise<{ status: number; body: unknown }> => {
    const target = new URL(req.url ?? '/', 'https://vault.invalid');
    // The SDK's first request carries no token and no body, to draw the challenge.
    checkToken(req);
    if (!target.searchParams.get('api-version'))
      throw new VaultError(400, 'BadParameter', 'The api-version query parameter is missing.');
    // ['', 'secrets', name, version?]; getSecret without a version sends a trailing slash.
    const parts = target.pathname.replace(/\/$/, '').split('/');
    if (parts[1] !== 'secrets' || parts[2] === undefined || parts.length > 4)
      throw new VaultError(404, 'NotFound', 'This stand-in serves only PUT and GET of /secrets/{name}.');
    const name = decodeURIComponent(parts[2]);
    const version = parts[3] ? decodeURIComponent(parts[3]) : '';
    if (!secretName.test(name))
      throw new VaultError(400, 'BadParameter', 'Secret names are 1-127 letters, digits and hyphens.');
    if (req.method === 'PUT' && parts.length === 3) {
      const parsed = setSecretBody.safeParse(await readJson(req));
      if (!parsed.success) throw new VaultError(400, 'BadParameter', 'The request body is not a secret.');
      const stored: StoredSecretVersion = {
        version: randomBytes(16).toString('hex'),
        value: parsed.data.value,
        ...(parsed.data.contentType !== undefined ? { contentType: parsed.data.contentType } : {}),
        ...(parsed.data.tags !== undefined ? { tags: parsed.data.tags } : {}),
        created: Math.floor(Date.now() / 1000),
      };
      store.set(name, [...(store.get(name) ?? []), stored]);
      return { status: 200, body: bundle(name, stored) };
    }
    if (req.method === 'GET') {
      const all = store.get(name) ?? [];
      const found = version ? all.find((v) => v.version === version) : all.at(-1);
      if (!found)
        throw new VaultError(
          404,
          'SecretNotFound',
          `A secret with (name/id) ${name}${version ? `/${version}` : ''} was not found in this key vault.`,
        );
      return { status: 200, body: bundle(name, found) };
    }
    throw new VaultError(405, 'BadParameter', `${req.method ?? ''} is not supported here.`);
  };

  const respond = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown) => {
    log.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', status });
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    if (status === 401) res.setHeader('www-authenticate', challenge);
    res.end(JSON.stringify(body));
  };

  const server = createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
    handle(req).then(
      ({ status, body }) => respond(req, res, status, body),
      (e: unknown) => {
        const err =
          e instanceof VaultError ? e : new VaultError(500, 'InternalServerError', 'Unexpected error.');
        // Drain an unread body so the connection stays usable for the SDK's retry.
        req.resume();
        respond(req, res, err.status, { error: { code: err.code, message: err.message } });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  url = `https://${host}:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;

  return {
    url,
    versions: (name) => [...(store.get(name) ?? [])],
    names: () => [...store.keys()],
    requests: () => [...log],
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
