/**
 * An Azure Batch emulator: the data-plane REST API over real HTTP (node:http, keep-alive), with
 * Shared Key and bearer auth, Batch's JSON shapes, headers and error codes, and a simulation of
 * pools, nodes, task slots and time. On the same port, the management plane's account resource and
 * pools API (`/subscriptions/…/Microsoft.Batch/batchAccounts/{account}[/pools]`, arm.ts) over the
 * same account. One emulator is one account: `startBatchEmulatorAccounts` starts several, and
 * `suspend()` / `resume()` make one go away and come back (an account's outage).
 * Standalone: it depends on nothing of Slotwise but the VM size table (`shared/model/vm-sizes.ts`).
 *
 * Test controls live under `/_emulator/` (no auth): health, faults, clock, counters, transfers,
 * reset, applications, quotas, pool/job events, file shares. Faults apply to the REST surface only.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Account } from './account.js';
import { createArmHandler, isArmPath } from './arm.js';
import { authenticate } from './auth.js';
import { createSimClock } from './clock.js';
import { type Counters, handleControl } from './controls.js';
import { EmulatedBatchError } from './errors.js';
import { FaultInjector } from './faults.js';
import { FileShareError, type FileShareMapping, fileShareSchema } from './file-shares.js';
import { createRestHandler } from './rest.js';
import type { PoolAllocationMode } from './validate.js';

export { ARM_API_VERSIONS } from './arm.js';
export { FileShareError, type FileShareMapping } from './file-shares.js';
export { MAX_COLLECTION_BODY_BYTES, MAX_COLLECTION_TASKS } from './rest.js';

/** The api-versions served: the current stable one and the one `@azure/batch@10.2.0` sends. */
export const SUPPORTED_API_VERSIONS: readonly string[] = [
  '2025-06-01.21.0',
  '2024-07-01.20.0',
  '2024-02-01.19.0',
  '2023-11-01.18.0',
  '2023-05-01.17.0',
  '2022-10-01.16.0',
];

export interface BatchEmulatorOptions {
  /** TCP port; 0 = a free port. Default 7070. */
  readonly port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** The account name clients sign with (and the management plane's `batchAccounts/{account}`). */
  readonly accountName: string;
  /** The management plane's subscription; when set, another one is answered 404. Default: any. */
  readonly subscriptionId?: string;
  /** The management plane's resource group; when set, another one is answered 404. Default: any. */
  readonly resourceGroup?: string;
  /** The account's Azure region, as its management-plane resource states it (`location`). Default `local`. */
  readonly location?: string;
  /** The base64 account key for Shared Key. */
  readonly accountKey: string;
  /** Simulated seconds per real second. Default 60. */
  readonly clockFactor?: number;
  /** Accept `Authorization: Bearer …` (tokens cannot be verified offline). Default true. */
  readonly allowBearer?: boolean;
  /** Simulated seconds a resize takes to allocate nodes. Default 30. */
  readonly allocationSeconds?: number;
  /** Simulated seconds a new node starts before it takes tasks. Default 10. */
  readonly nodeStartSeconds?: number;
  /** Simulated seconds a deleted pool or job lingers in `deleting`. Default 10. */
  readonly deleteSeconds?: number;
  /** Real milliseconds between background simulation steps. Default 50. */
  readonly tickMs?: number;
  /** Real clock (epoch ms), for Shared Key's 15-minute window and the simulated clock. Default Date.now. */
  readonly now?: () => number;
  /**
   * The account's pool allocation mode. `BatchService` answers a pool or resize asking for low-priority
   * nodes with 400, as Batch does since it retired them there. Default `UserSubscription` (Spot nodes,
   * preemption), what the emulator has always simulated.
   */
  readonly poolAllocationMode?: PoolAllocationMode;
  /**
   * `loopback` (default): resource and output files on loopback hosts (Azurite) are transferred for
   * real. `off`: nothing is contacted and no bytes move, for throughput runs where every upload would
   * cost an Azurite request; `.invalid` hosts still fail as scripted.
   */
  readonly transfers?: 'loopback' | 'off';
  /**
   * Azure Files shares backed by directories of this machine (file-shares.ts): each node of a pool
   * mounting `https://<accountName>.file.core.windows.net/<shareName>` sees `hostPath`'s real files at
   * `$AZ_BATCH_NODE_MOUNTS_DIR/<relativeMountPath>`. Also `POST /_emulator/file-shares`. Default none.
   * A bad mapping (a name Azure refuses, a path that is not a directory) throws FileShareError.
   */
  readonly fileShares?: readonly FileShareMapping[];
}

export interface BatchEmulator {
  /** Base URL, e.g. http://127.0.0.1:7070 (the Batch endpoint clients use). */
  readonly url: string;
  readonly port: number;
  /** The account name clients sign with. */
  readonly accountName: string;
  /** The account's region (`location` of its management-plane resource). */
  readonly location: string;
  /**
   * The account goes away: the port stops listening and open connections are destroyed, so clients
   * meet connection refused or reset. The simulation keeps its state and its clock runs on. Once
   * suspended, more calls change nothing.
   */
  suspend(): Promise<void>;
  /** Listens again on the same port (rejects if something else took it meanwhile). */
  resume(): Promise<void>;
  close(): Promise<void>;
}

const BODY_LIMIT = 4 * 1024 * 1024;

export async function startBatchEmulator(options: BatchEmulatorOptions): Promise<BatchEmulator> {
  const realNow = options.now ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  const location = options.location ?? 'local';
  const clock = createSimClock(options.clockFactor ?? 60, realNow);
  const account = new Account(clock, {
    allocationSeconds: options.allocationSeconds ?? 30,
    nodeStartSeconds: options.nodeStartSeconds ?? 10,
    deleteSeconds: options.deleteSeconds ?? 10,
    transitionSeconds: 1,
  });
  for (const [i, given] of (options.fileShares ?? []).entries()) {
    const r = fileShareSchema.safeParse(given);
    if (!r.success)
      throw new FileShareError(
        `fileShares[${i}]: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
      );
    try {
      account.mapFileShare(r.data);
    } catch (e) {
      throw e instanceof FileShareError ? new FileShareError(`fileShares[${i}].${e.message}`) : e;
    }
  }
  const counters: Counters = { requests: {}, taskAdds: {} };
  const faults = new FaultInjector();
  const versions = new Set(SUPPORTED_API_VERSIONS);
  let base = '';

  const rest = createRestHandler({
    account,
    poolAllocationMode: options.poolAllocationMode ?? 'UserSubscription',
    base: () => base,
    countRequest: (op) => {
      counters.requests[op] = (counters.requests[op] ?? 0) + 1;
    },
    countTaskAdd: (jobId, taskId) => {
      const key = `${jobId}/${taskId}`;
      counters.taskAdds[key] = (counters.taskAdds[key] ?? 0) + 1;
    },
  });
  const controlContext = {
    account,
    clock,
    faults,
    counters,
    accountName: options.accountName,
    apiVersions: SUPPORTED_API_VERSIONS,
  };

  async function readBody(req: IncomingMessage): Promise<Buffer | 'tooLarge'> {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > BODY_LIMIT) tooLarge = true;
      else chunks.push(c as Buffer);
    }
    return tooLarge ? 'tooLarge' : Buffer.concat(chunks);
  }

  const arm = createArmHandler({
    account,
    clock,
    faults,
    counters,
    accountName: options.accountName,
    ...(options.subscriptionId !== undefined ? { subscriptionId: options.subscriptionId } : {}),
    ...(options.resourceGroup !== undefined ? { resourceGroup: options.resourceGroup } : {}),
    poolAllocationMode: options.poolAllocationMode ?? 'UserSubscription',
    location,
    base: () => base,
    now: realNow,
    readBody,
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    if (isArmPath(url.pathname)) {
      await arm(req, res, url);
      return;
    }
    if (url.pathname.startsWith('/_emulator/')) {
      const raw = await readBody(req);
      await handleControl(
        controlContext,
        req,
        res,
        url.pathname.slice('/_emulator/'.length),
        raw === 'tooLarge' ? Buffer.alloc(0) : raw,
      );
      return;
    }
    const requestId = randomUUID();
    const common: Record<string, string> = { 'request-id': requestId, dataserviceversion: '3.0' };
    const clientRequestId = req.headers['client-request-id'];
    if (
      typeof clientRequestId === 'string' &&
      String(req.headers['return-client-request-id']).toLowerCase() === 'true'
    )
      common['client-request-id'] = clientRequestId;
    const send = (status: number, headers: Record<string, string>, json: unknown) => {
      const body =
        json === undefined || method === 'HEAD' || status === 304 ? undefined : JSON.stringify(json);
      res.writeHead(status, {
        ...common,
        ...headers,
        ...(json !== undefined && status !== 304
          ? { 'content-type': 'application/json;odata=minimalmetadata' }
          : {}),
        ...(body === undefined ? { 'content-length': '0' } : {}),
      });
      res.end(body);
    };
    const fail = (e: EmulatedBatchError) =>
      send(
        e.status,
        e.status === 429 || e.status === 503 ? { 'retry-after': String(faults.retryAfterSeconds) } : {},
        e.body(base, requestId, new Date(realNow())),
      );

    const latency = faults.latencyFor(url.pathname);
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const fault = faults.draw(url.pathname);
    if (fault !== undefined) {
      counters.requests[`fault:${fault}`] = (counters.requests[`fault:${fault}`] ?? 0) + 1;
      if (fault === 'drop') {
        req.socket.destroy();
        return;
      }
      req.resume();
      fail(
        fault === 429
          ? new EmulatedBatchError(
              429,
              'TooManyRequests',
              'The server is receiving too many requests. Retry after some time.',
            )
          : fault === 503
            ? new EmulatedBatchError(
                503,
                'ServerBusy',
                'The server is currently unable to receive requests. Please retry your request.',
              )
            : fault === 403
              ? new EmulatedBatchError(
                  403,
                  'AuthenticationFailed',
                  'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
                )
              : new EmulatedBatchError(
                  500,
                  'InternalError',
                  'Server encountered an internal error. Please try again after some time.',
                ),
      );
      return;
    }
    try {
      const version = url.searchParams.get('api-version');
      if (!version)
        throw new EmulatedBatchError(
          400,
          'MissingRequiredQueryParameter',
          "A query parameter that's mandatory for this request is not specified.",
          [{ key: 'QueryParameterName', value: 'api-version' }],
        );
      if (!versions.has(version))
        throw new EmulatedBatchError(
          400,
          'UnsupportedRequestVersion',
          'The specified Request Version is not supported.',
          [
            { key: 'QueryParameterName', value: 'api-version' },
            { key: 'QueryParameterValue', value: version },
          ],
        );
      authenticate(
        method,
        url,
        req.headers,
        { name: options.accountName, key: options.accountKey, allowBearer: options.allowBearer ?? true },
        realNow(),
      );
      const body = await readBody(req);
      if (body === 'tooLarge')
        throw new EmulatedBatchError(
          413,
          'RequestBodyTooLarge',
          'The request body is too large and exceeds the maximum permissible limit.',
        );
      account.advance();
      const result = rest({ method, url, headers: req.headers, body });
      account.advance();
      if (result.body !== undefined) {
        // A node file: its own type and length, no body on HEAD.
        res.writeHead(result.status, { ...common, ...result.headers });
        res.end(method === 'HEAD' ? undefined : result.body);
        return;
      }
      send(result.status, result.headers ?? {}, result.json);
    } catch (e) {
      if (e instanceof EmulatedBatchError) {
        if (!req.readableEnded) req.resume();
        fail(e);
        return;
      }
      throw e;
    }
  }

  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      const requestId = randomUUID();
      const error = new EmulatedBatchError(
        500,
        'InternalError',
        `Server encountered an internal error: ${e instanceof Error ? e.message : String(e)}`,
      );
      if (!res.headersSent)
        res.writeHead(500, {
          'content-type': 'application/json;odata=minimalmetadata',
          'request-id': requestId,
        });
      res.end(JSON.stringify(error.body(base, requestId, new Date(realNow()))));
    });
  });
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 35_000;

  // Background steps so simulated time moves (tasks finish, jobs complete) between requests.
  const ticker = setInterval(() => account.advance(), options.tickMs ?? 50);
  ticker.unref();

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(options.port ?? 7070);
  const port = (server.address() as AddressInfo).port;
  base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  account.setIdentity(options.accountName, base);
  account.setTransfers(options.transfers ?? 'loopback');

  // Suspend, resume and close run one after another, each from the state the previous one left.
  let state: 'listening' | 'suspended' | 'closed' = 'listening';
  let queue: Promise<void> = Promise.resolve();
  const serially = (step: () => Promise<void>): Promise<void> => {
    const run = queue.then(step);
    queue = run.catch(() => undefined);
    return run;
  };
  const stopListening = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: base,
    port,
    accountName: options.accountName,
    location,
    suspend: () =>
      serially(async () => {
        if (state !== 'listening') return;
        state = 'suspended';
        await stopListening();
      }),
    resume: () =>
      serially(async () => {
        if (state !== 'suspended') return;
        await listen(port);
        state = 'listening';
      }),
    close: () =>
      serially(async () => {
        if (state === 'closed') return;
        clearInterval(ticker);
        const wasListening = state === 'listening';
        state = 'closed';
        if (wasListening) await stopListening();
      }),
  };
}

/** The specs do not describe accounts that can run together (a name twice, a port twice). */
export class BatchEmulatorAccountsError extends Error {
  readonly code = 'InvalidEmulatorAccounts';
  constructor(message: string) {
    super(message);
    this.name = 'BatchEmulatorAccountsError';
  }
}

export interface BatchEmulatorAccounts {
  /** The emulators in the order of their specs. */
  readonly list: readonly BatchEmulator[];
  /** The emulators by account name, as the specs spell it. */
  readonly byName: Readonly<Record<string, BatchEmulator>>;
  /** Closes every emulator. */
  close(): Promise<void>;
}

/**
 * Several Batch accounts in this process: one emulator per spec, each with its own name, key,
 * location, quotas, faults and simulated clock, on its own port (an account is reached at its own
 * endpoint, as `https://<account>.<region>.batch.azure.com` is in Azure). Every option of
 * `startBatchEmulator` applies per spec; `port` defaults to 0 (a free port), since accounts cannot
 * share 7070. If one fails to start, those started are closed and the failure is thrown.
 */
export async function startBatchEmulatorAccounts(
  specs: readonly BatchEmulatorOptions[],
): Promise<BatchEmulatorAccounts> {
  // Batch account names are unique in a region and case-insensitive in its URLs.
  const seen = new Set<string>();
  for (const spec of specs) {
    const key = spec.accountName.toLowerCase();
    if (seen.has(key)) throw new BatchEmulatorAccountsError(`account '${spec.accountName}' is named twice`);
    seen.add(key);
  }
  const ports = specs.map((s) => s.port).filter((p): p is number => p !== undefined && p !== 0);
  const twice = ports.find((p, i) => ports.indexOf(p) !== i);
  if (twice !== undefined) throw new BatchEmulatorAccountsError(`port ${twice} is given to two accounts`);

  const started = await Promise.allSettled(specs.map((s) => startBatchEmulator({ ...s, port: s.port ?? 0 })));
  const list = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(list.map((e) => e.close()));
    throw failed.reason;
  }
  let closed: Promise<void> | undefined;
  return {
    list,
    byName: Object.fromEntries(list.map((e) => [e.accountName, e])),
    close: () => {
      closed ??= Promise.all(list.map((e) => e.close())).then(() => undefined);
      return closed;
    },
  };
}
