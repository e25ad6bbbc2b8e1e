/**
 * The dev host: serves a function table with the Azure Functions host's semantics (HTTP, Storage
 * queue and timer triggers) against Azurite. Independent of Slotwise's domain: it takes the table and
 * a dependency factory, and validates every trigger's options before it starts anything.
 */
import type { AddressInfo } from 'node:net';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import type {
  FunctionDefinition,
  HttpFunction,
  StorageQueueFunction,
  TimerFunction,
} from '../../functions/definition.js';
import { HTTP_STREAMS } from '../../functions/http-streams.js';
import {
  HostConfigError,
  type HostOptions,
  requestBodySizeLimit,
  resolveSetting,
  resolveStorageConnection,
  type StorageConnectionSetting,
} from './config.js';
import { createHttpHost, type HttpTimeouts } from './http-server.js';
import { createWorker } from './invoke.js';
import { consoleLogger, type HostLogger } from './logger.js';
import { createQueueListener, type QueueListener } from './queue-listener.js';
import { compileRoute } from './route-template.js';
import { compileSchedule, createTimerRunner, type TimerRunner } from './timer-runner.js';

export interface StartHostOptions<D> {
  readonly functions: readonly FunctionDefinition<D>[];
  /** Built once, on first use, and shared by every invocation. */
  readonly deps: () => Promise<D>;
  readonly host: HostOptions;
  /** App settings: `%Setting%` references and connection strings are resolved from here. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly port: number;
  readonly hostname?: string;
  readonly hostId?: string;
  readonly logger?: HostLogger;
  /** Lease on a message while its handler runs. Default 600 s (the host's); tests shorten it. */
  readonly queueLeaseSeconds?: number;
  /** Overrides `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` from `env` (default 100 MB, as in the host). */
  readonly maxBodyBytes?: number;
  /** Default: Azure's front end (http-server.ts `HTTP_TIMEOUTS`); tests shorten them. */
  readonly httpTimeouts?: Partial<HttpTimeouts>;
  readonly cors?: string;
  /** Responses stream, as with `app.setup({ enableHttpStream: true })`. Default: the app's (functions/http-streams.ts). */
  readonly httpStreams?: boolean;
  /** Grace for in-flight invocations on close. Default 30 s. */
  readonly shutdownTimeoutMs?: number;
}

export interface DevHost {
  readonly url: string;
  readonly port: number;
  /** Worker restarts so far (each `functionTimeout` exceeded restarts it). */
  readonly workerRestarts: () => number;
  /** Stops taking work, finishes in-flight invocations (within the grace), then closes. Idempotent. */
  close(): Promise<void>;
}

const queueNamePattern = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;

/** Checks every declaration before anything starts, naming the function and the key. */
export function validateFunctions<D>(
  functions: readonly FunctionDefinition<D>[],
  env: StartHostOptions<D>['env'],
): void {
  const names = new Set<string>();
  for (const fn of functions) {
    const where = `functions.${fn.name}`;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,127}$/.test(fn.name))
      throw new HostConfigError('function table', where, 'invalid function name');
    if (names.has(fn.name.toLowerCase()))
      throw new HostConfigError('function table', where, 'duplicate function name');
    names.add(fn.name.toLowerCase());
    if (typeof fn.handler !== 'function')
      throw new HostConfigError('function table', `${where}.handler`, 'is required');
    switch (fn.kind) {
      case 'http':
        try {
          compileRoute(fn.route ?? fn.name);
        } catch (e) {
          throw new HostConfigError('function table', `${where}.route`, (e as Error).message);
        }
        for (const m of fn.methods ?? []) {
          if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT'].includes(m)) {
            throw new HostConfigError('function table', `${where}.methods`, `unknown method '${m}'`);
          }
        }
        break;
      case 'storageQueue': {
        if (!fn.queueName) throw new HostConfigError('function table', `${where}.queueName`, 'is required');
        const queue = resolveSetting(fn.queueName, env, `${where}.queueName`);
        if (!queueNamePattern.test(queue)) {
          throw new HostConfigError(
            'function table',
            `${where}.queueName`,
            `'${queue}' is not a valid queue name`,
          );
        }
        const connection = fn.connection ?? 'AzureWebJobsStorage';
        const resolved = resolveStorageConnection(env, connection);
        if (!resolved || (resolved.kind === 'identity' && !resolved.queueServiceUri)) {
          throw new HostConfigError(
            'local.settings.json',
            `Values.${connection}`,
            `is required by ${where} (a connection string, or ${connection}__queueServiceUri / __accountName)`,
          );
        }
        break;
      }
      case 'timer': {
        if (!fn.schedule) throw new HostConfigError('function table', `${where}.schedule`, 'is required');
        compileSchedule(resolveSetting(fn.schedule, env, `${where}.schedule`), fn.name);
        const storage = resolveStorageConnection(env, 'AzureWebJobsStorage');
        // Timers keep their schedule monitor and locks in blobs.
        if (!storage || (storage.kind === 'identity' && !storage.blobServiceUri)) {
          throw new HostConfigError(
            'local.settings.json',
            'Values.AzureWebJobsStorage',
            `is required by ${where}`,
          );
        }
        break;
      }
      default:
        throw new HostConfigError(
          'function table',
          where,
          `unknown trigger kind '${(fn as { kind: string }).kind}'`,
        );
    }
  }
}

export async function startHost<D>(options: StartHostOptions<D>): Promise<DevHost> {
  const logger = options.logger ?? consoleLogger();
  const selected = options.host.functions
    ? options.functions.filter((f) =>
        options.host.functions!.some((n) => n.toLowerCase() === f.name.toLowerCase()),
      )
    : options.functions;
  validateFunctions(selected, options.env);
  const maxBodyBytes = options.maxBodyBytes ?? requestBodySizeLimit(options.env);
  const inFlight = new Set<Promise<unknown>>();
  const tracker = {
    add(p: Promise<unknown>) {
      inFlight.add(p);
      p.finally(() => inFlight.delete(p)).catch(() => undefined);
    },
  };
  let accepting = true;
  // One worker for every function: a timeout restarts it and ends every invocation on it, as in Azure.
  const worker = createWorker({
    deps: options.deps,
    functionTimeoutMs: options.host.functionTimeoutMs,
    onRestart: (reason, ended) =>
      logger.log(
        'warning',
        'Host.Worker',
        `Worker restarted (${reason}); ${ended} other invocation(s) ended`,
      ),
  });

  const http = createHttpHost({
    functions: selected.filter((f): f is HttpFunction<D> => f.kind === 'http'),
    worker,
    routePrefix: options.host.routePrefix,
    throttle: options.host.http,
    maxBodyBytes,
    ...(options.httpTimeouts ? { timeouts: options.httpTimeouts } : {}),
    ...(options.cors ? { cors: options.cors } : {}),
    streamResponses: options.httpStreams ?? HTTP_STREAMS,
    logger,
    inFlight: tracker,
    accepting: () => accepting,
  });

  const listeners = new Map<string, QueueListener[]>();
  const connections = new Map<string, QueueServiceClient>();
  for (const fn of selected.filter((f): f is StorageQueueFunction<D> => f.kind === 'storageQueue')) {
    const connection = fn.connection ?? 'AzureWebJobsStorage';
    const resolved = resolveStorageConnection(options.env, connection)!;
    const key = resolved.kind === 'connectionString' ? resolved.connectionString : resolved.queueServiceUri;
    let service = connections.get(key);
    if (!service) {
      service =
        resolved.kind === 'connectionString'
          ? QueueServiceClient.fromConnectionString(resolved.connectionString)
          : new QueueServiceClient(resolved.queueServiceUri, credentialFor(resolved));
      connections.set(key, service);
    }
    const queueName = resolveSetting(fn.queueName, options.env, `functions.${fn.name}.queueName`);
    const listener = createQueueListener({
      fn,
      queueName,
      service,
      settings: options.host.queues,
      worker,
      leaseSeconds: options.queueLeaseSeconds ?? 600,
      logger,
      inFlight: tracker,
    });
    listeners.set(queueName, [...(listeners.get(queueName) ?? []), listener]);
  }

  const timerFns = selected.filter((f): f is TimerFunction<D> => f.kind === 'timer');
  let monitor: ReturnType<BlobServiceClient['getContainerClient']> | undefined;
  if (timerFns.length > 0) {
    const storage = resolveStorageConnection(options.env, 'AzureWebJobsStorage')!;
    monitor = (
      storage.kind === 'connectionString'
        ? BlobServiceClient.fromConnectionString(storage.connectionString)
        : new BlobServiceClient(storage.blobServiceUri, credentialFor(storage))
    ).getContainerClient('azure-webjobs-hosts');
    await monitor.createIfNotExists().catch((e: unknown) => {
      logger.log('warning', 'Host.Timers', `Schedule monitor unavailable: ${(e as Error).message}`);
      monitor = undefined;
    });
  }
  const timers: TimerRunner[] = timerFns.map((fn) =>
    createTimerRunner({
      fn,
      schedule: resolveSetting(fn.schedule, options.env, `functions.${fn.name}.schedule`),
      hostId: options.hostId ?? 'slotwise-dev',
      monitor,
      worker,
      logger,
      inFlight: tracker,
    }),
  );

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.hostname ?? '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  for (const group of listeners.values()) for (const l of group) l.start();
  for (const t of timers) tracker.add(t.start());

  let closing: Promise<void> | undefined;
  return {
    url: `http://${options.hostname ?? '127.0.0.1'}:${port}`,
    port,
    workerRestarts: () => worker.restarts,
    close() {
      closing ??= (async () => {
        accepting = false;
        const stopping = Promise.all([
          ...[...listeners.values()].flat().map((l) => l.stop()),
          ...timers.map((t) => t.stop()),
          new Promise<void>((resolve) => http.close(() => resolve())),
        ]);
        // Idle keep-alive sockets would hold close() open; busy ones finish their response first.
        http.closeIdleConnections();
        const drained = Promise.allSettled([...inFlight]).then(() => http.closeIdleConnections());
        const grace = new Promise<void>((resolve) =>
          setTimeout(resolve, options.shutdownTimeoutMs ?? 30_000).unref(),
        );
        await Promise.race([Promise.all([stopping, drained]), grace]);
        http.closeAllConnections();
      })();
      return closing;
    },
  };
}

/** `__credential: managedidentity` (+ `__clientId`) as the host reads it; otherwise the default chain (a developer sign-in). */
function credentialFor(c: Extract<StorageConnectionSetting, { kind: 'identity' }>): TokenCredential {
  if (c.credential?.toLowerCase() === 'managedidentity')
    return c.clientId
      ? new ManagedIdentityCredential({ clientId: c.clientId })
      : new ManagedIdentityCredential();
  return new DefaultAzureCredential(c.clientId ? { managedIdentityClientId: c.clientId } : {});
}
