/**
 * Test harness: the real local stack on free ports, per test file.
 *
 * - `startTestServices()` → Azurite (child process) + Cosmos DB API server (in-process).
 * - `startTestEmulator()` → the Batch emulator, fast clock.
 * - `startSlotwise()` → services + emulator + the dev host (in-process) serving Slotwise's real
 *   function table with `createAppDeps`; returns URLs, the deps, the env and `close()`. With
 *   `accounts`, one more emulator per Batch account, named to the host in `SLOTWISE_BATCH_ACCOUNTS`.
 * - `waitFor(probe, ok)` polls with a deadline (no fixed sleeps); `getJob` / `waitForJobState` read a
 *   job through the API.
 * Every `close()` is idempotent.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { QueueServiceClient } from '@azure/storage-queue';
import {
  type BatchEmulator,
  type BatchEmulatorOptions,
  startBatchEmulator,
} from '../../dev/batch-emulator/index.js';
import { parseHostJson } from '../../dev/host/config.js';
import { type DevHost, startHost } from '../../dev/host/host.js';
import type { HostLogger } from '../../dev/host/logger.js';
import { createDeployedQueues } from '../../dev/services/queues.js';
import { type Services, startServices } from '../../dev/services/services.js';
import { functionTable } from '../../functions/table.js';
import { type BatchClient, createBatchClient } from '../../shared/adapters/batch/client.js';
import { type AppDeps, createAppDeps } from '../../shared/app/app.js';
import type { JobView } from '../../shared/model/job-view.js';

export const TEST_API_KEY = 'test-key-0123456789';
export const TEST_WEBHOOK_SECRET = `whsec_${Buffer.from('slotwise-test-webhook-secret-32b').toString('base64')}`;
export const TEST_INTAKE_SECRET = `whsec_${Buffer.from('slotwise-test-intake-secret-32by').toString('base64')}`;
export const BATCH_ACCOUNT = 'testbatch';
export const BATCH_KEY = Buffer.from('slotwise-test-batch-account-key').toString('base64');

/** host.json queue settings of the test stack: quick polling and redelivery. */
export const TEST_QUEUE_SETTINGS = {
  maxPollingInterval: '00:00:00.200',
  visibilityTimeout: '00:00:01',
  batchSize: 16,
  maxDequeueCount: 5,
} as const;

export async function waitFor<T>(
  probe: () => Promise<T> | T,
  ok: (value: T) => boolean,
  { timeoutMs = 20_000, intervalMs = 25, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}; last value: ${JSON.stringify(last)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function startTestServices(): Promise<Services> {
  return startServices();
}

export function startTestEmulator(
  clockFactor = 600,
  options: Partial<BatchEmulatorOptions> = {},
): Promise<BatchEmulator> {
  return startBatchEmulator({
    port: 0,
    accountName: BATCH_ACCOUNT,
    accountKey: BATCH_KEY,
    clockFactor,
    allocationSeconds: 30,
    ...options,
  });
}

/** One more Batch account of a test stack, served by its own emulator. */
export interface StackAccount {
  /** The Batch account name (3 to 24 lowercase letters and digits). */
  readonly name: string;
  /** Its region. Default `region-b`, `region-c`, … in the order given. */
  readonly region?: string;
  /** Default 1. */
  readonly weight?: number;
  /** The mode the host is told and the emulator simulates. Default `BatchService`, the settings' default. */
  readonly allocationMode?: 'BatchService' | 'UserSubscription';
  /** Options of its emulator (quotas, timings, clock factor, …) over the stack's defaults. */
  readonly emulator?: Partial<BatchEmulatorOptions>;
}

/** The Shared Key of a test account other than the primary one. */
export function testAccountKey(name: string): string {
  return Buffer.from(`slotwise-test-batch-key-${name}`).toString('base64');
}

/** A value of local.settings.sample.json, the settings `npm start` runs with. */
function sampleSetting(name: string): string {
  const sample = JSON.parse(
    readFileSync(new URL('../../local.settings.sample.json', import.meta.url), 'utf8'),
  ) as { Values: Record<string, string> };
  const value = sample.Values[name];
  if (value === undefined) throw new Error(`local.settings.sample.json has no ${name}`);
  return value;
}

/** A logger that keeps lines in memory (printed only when SLOTWISE_TEST_LOGS is set). */
export function memoryLogger(): HostLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log(level, category, message) {
      const line = `${level} ${category}: ${message}`;
      lines.push(line);
      if (process.env.SLOTWISE_TEST_LOGS) console.log(line);
    },
  };
}

export interface SlotwiseStack {
  readonly services: Services;
  /** The primary account's emulator (`testbatch`). */
  readonly emulator: BatchEmulator;
  /** Every account's emulator by account name, the primary `testbatch` included. */
  readonly emulators: Readonly<Record<string, BatchEmulator>>;
  readonly host: DevHost;
  readonly api: string;
  readonly deps: AppDeps;
  readonly env: Record<string, string>;
  readonly logger: HostLogger & { lines: string[] };
  /** fetch against the API with the test tenant's key. */
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  emulatorControl(path: string, init?: RequestInit): Promise<Response>;
  /** `/_emulator/{path}` of the named account's emulator. */
  emulatorControlOf(account: string, path: string, init?: RequestInit): Promise<Response>;
  queue(name: string): ReturnType<QueueServiceClient['getQueueClient']>;
  close(): Promise<void>;
}

export async function startSlotwise(
  options: {
    env?: Record<string, string>;
    hostJson?: Record<string, unknown>;
    clockFactor?: number;
    overrides?: Parameters<typeof createAppDeps>[1];
    /** Replaces the function table (tests that add or wrap a function). */
    functions?: typeof functionTable;
    /** More Batch accounts beside the primary `testbatch`, each with its own emulator. */
    accounts?: readonly StackAccount[];
    /** The primary account's region (`BATCH_REGION`, its emulator's location). Default `region-a`. */
    primaryRegion?: string;
    /** Options for the primary account's emulator when there are several (quotas, mode). */
    primaryEmulator?: Partial<BatchEmulatorOptions>;
  } = {},
): Promise<SlotwiseStack> {
  const accounts = options.accounts ?? [];
  const names = [BATCH_ACCOUNT, ...accounts.map((a) => a.name)];
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new Error(`startSlotwise: account '${twice}' is named twice`);
  const primaryRegion = options.primaryRegion ?? 'region-a';
  const multi = accounts.length > 0 || options.primaryRegion !== undefined;
  const regionOf = (a: StackAccount, i: number) => a.region ?? `region-${String.fromCharCode(98 + i)}`;
  const modeOf = (a: StackAccount) => a.allocationMode ?? 'BatchService';
  const started = await Promise.allSettled([
    startTestServices(),
    // One account and no region asked for: the stack as it always was (no BATCH_REGION).
    // With several accounts the primary simulates the mode the host is told (BatchService by default),
    // so its account resource states core quotas as the others' do.
    startTestEmulator(
      options.clockFactor,
      multi
        ? {
            location: primaryRegion,
            poolAllocationMode:
              options.env?.BATCH_POOL_ALLOCATION_MODE === 'UserSubscription'
                ? 'UserSubscription'
                : 'BatchService',
            ...options.primaryEmulator,
          }
        : {},
    ),
    ...accounts.map((a, i) =>
      startTestEmulator(options.clockFactor, {
        accountName: a.name,
        accountKey: testAccountKey(a.name),
        location: regionOf(a, i),
        poolAllocationMode: modeOf(a),
        ...a.emulator,
      }),
    ),
  ]);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw failed.reason;
  }
  const [services, emulator, ...extra] = started.map(
    (r) => (r as PromiseFulfilledResult<Services | BatchEmulator>).value,
  ) as [Services, BatchEmulator, ...BatchEmulator[]];
  const emulators: Record<string, BatchEmulator> = { [BATCH_ACCOUNT]: emulator };
  for (const [i, a] of accounts.entries()) emulators[a.name] = extra[i]!;
  const accountsEnv: Record<string, string> = !multi
    ? {}
    : {
        BATCH_REGION: primaryRegion,
        ...(accounts.length > 0
          ? {
              SLOTWISE_BATCH_ACCOUNTS: JSON.stringify(
                accounts.map((a, i) => ({
                  name: a.name,
                  endpoint: extra[i]!.url,
                  region: regionOf(a, i),
                  allocationMode: modeOf(a),
                  weight: a.weight ?? 1,
                  // Each emulator serves its account's management plane on its own port.
                  managementEndpoint: extra[i]!.url,
                  key: a.emulator?.accountKey ?? testAccountKey(a.name),
                })),
              ),
            }
          : {}),
      };
  const env: Record<string, string> = {
    // The host's request body limit, as `npm start` (local.settings.sample.json) and the template set it.
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: sampleSetting('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'),
    AzureWebJobsStorage: services.storageConnectionString,
    COSMOS_ENDPOINT: services.cosmosEndpoint,
    COSMOS_KEY: services.cosmosKey,
    COSMOS_DATABASE: `t${randomUUID().slice(0, 8)}`,
    BATCH_ENDPOINT: emulator.url,
    // Managed pools go through the management plane, which the emulator serves on the same port.
    BATCH_MANAGEMENT_ENDPOINT: emulator.url,
    BATCH_ACCOUNT_NAME: BATCH_ACCOUNT,
    BATCH_ACCOUNT_KEY: BATCH_KEY,
    SLOTWISE_DEV_API_KEY: TEST_API_KEY,
    SLOTWISE_DEV_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    SLOTWISE_DEV_INTAKE_SECRET: TEST_INTAKE_SECRET,
    SLOTWISE_ALLOW_HTTP_LOOPBACK_CALLBACKS: 'true',
    SLOTWISE_RECONCILE_SCHEDULE: '*/1 * * * * *',
    SLOTWISE_SWEEP_SCHEDULE: '*/2 * * * * *',
    SLOTWISE_POOL_CONTROL_SCHEDULE: '*/1 * * * * *',
    ...accountsEnv,
    ...options.env,
  };
  // As `npm start` and the deployment template do.
  await createDeployedQueues(services.storageConnectionString);
  const deps = await createAppDeps(env, options.overrides);
  const base = JSON.parse(readFileSync(new URL('../../host.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  const hostJson = {
    ...base,
    extensions: {
      http: { routePrefix: 'api' },
      queues: TEST_QUEUE_SETTINGS,
    },
    ...options.hostJson,
  };
  const logger = memoryLogger();
  const host = await startHost({
    functions: options.functions ?? functionTable,
    deps: async () => deps,
    host: parseHostJson(JSON.stringify(hostJson)),
    env,
    port: 0,
    logger,
    queueLeaseSeconds: 30,
    shutdownTimeoutMs: 5000,
  });
  const queues = QueueServiceClient.fromConnectionString(services.storageConnectionString);
  let closed: Promise<void> | undefined;
  return {
    services,
    emulator,
    emulators,
    host,
    api: `${host.url}/api`,
    deps,
    env,
    logger,
    request(path, init = {}) {
      const { key = TEST_API_KEY, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key !== null) headers.set('authorization', `Bearer ${key}`);
      if (rest.body !== undefined && !headers.has('content-type'))
        headers.set('content-type', 'application/json');
      return fetch(`${host.url}/api${path}`, { ...rest, headers });
    },
    emulatorControl(path, init) {
      return fetch(`${emulator.url}/_emulator/${path}`, init);
    },
    emulatorControlOf(account, path, init) {
      const target = emulators[account];
      if (!target) return Promise.reject(new Error(`startSlotwise: no account '${account}'`));
      return fetch(`${target.url}/_emulator/${path}`, init);
    },
    queue: (name) => queues.getQueueClient(name),
    close() {
      closed ??= (async () => {
        await host.close();
        await deps.close();
        await Promise.all(Object.values(emulators).map((e) => e.close()));
        await services.close();
      })();
      return closed;
    },
  };
}

/** GET /api/jobs/{id} with the test tenant's key (or another); undefined when not 200. */
export async function getJob(stack: SlotwiseStack, id: string, key?: string): Promise<JobView | undefined> {
  const res = await stack.request(`/jobs/${id}`, key ? { key } : {});
  return res.status === 200 ? ((await res.json()) as JobView) : undefined;
}

/** Polls the job until its state is one of `states`. */
export async function waitForJobState(
  stack: SlotwiseStack,
  id: string,
  states: string[],
  timeoutMs = 30_000,
): Promise<JobView> {
  const job = await waitFor(
    () => getJob(stack, id),
    (j) => j !== undefined && states.includes(j.state),
    { what: `job ${id} in ${states.join('/')}`, timeoutMs },
  );
  return job!;
}

/**
 * A Batch client for one of the stack's emulators (default the primary account's), to look at what
 * Slotwise sent. Close it after use.
 */
export function emulatorClient(stack: SlotwiseStack, account: string = BATCH_ACCOUNT): BatchClient {
  const target = stack.emulators[account];
  if (!target) throw new Error(`emulatorClient: no account '${account}'`);
  return createBatchClient({
    endpoint: target.url,
    accountName: target.accountName,
    accountKey: account === BATCH_ACCOUNT ? BATCH_KEY : accountKeyOf(stack, account),
  });
}

/** The key the stack gave an account (from `SLOTWISE_BATCH_ACCOUNTS`). */
function accountKeyOf(stack: SlotwiseStack, account: string): string {
  const list = JSON.parse(stack.env.SLOTWISE_BATCH_ACCOUNTS ?? '[]') as { name: string; key?: string }[];
  return list.find((a) => a.name === account)?.key ?? testAccountKey(account);
}
