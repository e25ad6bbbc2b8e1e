/**
 * Test harness: the real local stack on free ports, per test file.
 *
 * - `startTestServices()` → Azurite (child process) + Cosmos DB API server (in-process).
 * - `startTestEmulator()` → the Batch emulator, fast clock.
 * - `startSlotwise()` → services + emulator + the dev host (in-process) serving Slotwise's real
 *   function table with `createAppDeps`; returns URLs, the deps, the env and `close()`.
 * - `waitFor(probe, ok)` polls with a deadline (no fixed sleeps); `getJob` / `waitForJobState` read a
 *   job through the API.
 * Every `close()` is idempotent.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { QueueServiceClient } from '@azure/storage-queue';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';
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

export function startTestEmulator(clockFactor = 600): Promise<BatchEmulator> {
  return startBatchEmulator({
    port: 0,
    accountName: BATCH_ACCOUNT,
    accountKey: BATCH_KEY,
    clockFactor,
    allocationSeconds: 30,
  });
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
  readonly emulator: BatchEmulator;
  readonly host: DevHost;
  readonly api: string;
  readonly deps: AppDeps;
  readonly env: Record<string, string>;
  readonly logger: HostLogger & { lines: string[] };
  /** fetch against the API with the test tenant's key. */
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  emulatorControl(path: string, init?: RequestInit): Promise<Response>;
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
  } = {},
): Promise<SlotwiseStack> {
  const [services, emulator] = await Promise.all([
    startTestServices(),
    startTestEmulator(options.clockFactor),
  ]);
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
      queues: {
        maxPollingInterval: '00:00:00.200',
        visibilityTimeout: '00:00:01',
        batchSize: 16,
        maxDequeueCount: 5,
      },
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
    queue: (name) => queues.getQueueClient(name),
    close() {
      closed ??= (async () => {
        await host.close();
        await deps.close();
        await emulator.close();
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

/** A Batch client for the stack's emulator, to look at what Slotwise sent. Close it after use. */
export function emulatorClient(stack: SlotwiseStack): BatchClient {
  return createBatchClient({
    endpoint: stack.emulator.url,
    accountName: BATCH_ACCOUNT,
    accountKey: BATCH_KEY,
  });
}
