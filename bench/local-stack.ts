/**
 * The local stack for end-to-end benches: Azurite and the Cosmos server behind its proxy in one child
 * process, the Batch emulator in others (one per measurement when a bench wants a fresh one), and
 * the dev host in the bench's own process, so its memory is the host's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseHostJson } from '../dev/host/config.js';
import { type DevHost, startHost } from '../dev/host/host.js';
import type { HostLogger } from '../dev/host/logger.js';
import type { CosmosStats } from '../dev/services/cosmos-proxy.js';
import { functionTable } from '../functions/table.js';
import { type AppDeps, createAppDeps } from '../shared/app/app.js';

export const BENCH_ACCOUNT = 'benchacct';
export const BENCH_KEY = Buffer.from('bench-account-key-0123456789abcdef').toString('base64');
export const BENCH_API_KEY = 'bench-key-0123456789';

interface Child {
  readonly proc: ChildProcess;
  readonly match: RegExpExecArray;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

function child(script: string, env: Record<string, string>, ready: RegExp): Promise<Child> {
  // The emulator keeps every task of a million-task run in memory: more heap than Node's default.
  const proc = spawn(
    process.execPath,
    ['--max-old-space-size=12288', fileURLToPath(new URL(script, import.meta.url))],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) resolve({ proc, match: m });
    });
    proc.once('exit', (code) => reject(new Error(`${script} exited ${code}: ${out.slice(-400)}`)));
  });
}

const port = () => 20_000 + Math.floor(Math.random() * 20_000);

export interface BenchServices {
  readonly storage: string;
  readonly cosmosEndpoint: string;
  /** The Cosmos proxy's counters (requests, estimated RU, 429s). */
  stats(): Promise<CosmosStats>;
  /** Process id of the child running Azurite, the Cosmos server and its proxy (for CPU figures). */
  readonly pid: number | undefined;
  resetStats(): Promise<void>;
  stop(): void;
}

export async function startBenchServices(): Promise<BenchServices> {
  const [blob, queue, table, cosmosPort] = [port(), port(), port(), port()];
  const services = await child(
    '../dev/services/main.js',
    {
      AZURITE_BLOB_PORT: String(blob),
      AZURITE_QUEUE_PORT: String(queue),
      AZURITE_TABLE_PORT: String(table),
      COSMOS_PORT: String(cosmosPort),
    },
    /services ready: queues (\S+), blobs (\S+), cosmos (\S+)/,
  );
  const cosmosEndpoint = services.match[3]!.replace(/,$/, '');
  const proxy = async (path: string, method = 'GET') =>
    (await fetch(`${cosmosEndpoint}/_proxy/${path}`, { method })).json() as Promise<CosmosStats>;
  return {
    storage: [
      'DefaultEndpointsProtocol=http',
      'AccountName=devstoreaccount1',
      'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
      `BlobEndpoint=http://127.0.0.1:${blob}/devstoreaccount1`,
      `QueueEndpoint=http://127.0.0.1:${queue}/devstoreaccount1`,
      `TableEndpoint=http://127.0.0.1:${table}/devstoreaccount1`,
    ].join(';'),
    cosmosEndpoint,
    pid: services.proc.pid,
    stats: () => proxy('stats'),
    resetStats: async () => {
      await proxy('reset', 'POST');
    },
    stop: () => services.proc.kill('SIGTERM'),
  };
}

export interface BenchEmulator {
  readonly url: string;
  /** Process id of the emulator's child (for CPU figures). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** A fresh Batch emulator (empty: no pools, jobs or tasks) in its own process. */
export async function startBenchEmulator(): Promise<BenchEmulator> {
  const emulator = await child(
    '../dev/batch-emulator/main.js',
    { BATCH_EMULATOR_PORT: '0', BATCH_ACCOUNT_NAME: BENCH_ACCOUNT, BATCH_ACCOUNT_KEY: BENCH_KEY },
    /ready at (http:\/\/\S+)/,
  );
  return {
    url: emulator.match[1]!,
    pid: emulator.proc.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (emulator.proc.exitCode !== null) return resolve();
        emulator.proc.once('exit', () => resolve());
        emulator.proc.kill('SIGTERM');
      }),
  };
}

/** The app's settings against these services and emulator, with a fresh Cosmos database. */
export function benchEnv(
  services: BenchServices,
  batchUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    AzureWebJobsStorage: services.storage,
    COSMOS_ENDPOINT: services.cosmosEndpoint,
    COSMOS_KEY: 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU9DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==',
    COSMOS_DATABASE: `bench${randomUUID().slice(0, 6)}`,
    BATCH_ENDPOINT: batchUrl,
    BATCH_MANAGEMENT_ENDPOINT: batchUrl,
    BATCH_ACCOUNT_NAME: BENCH_ACCOUNT,
    BATCH_ACCOUNT_KEY: BENCH_KEY,
    SLOTWISE_DEV_API_KEY: BENCH_API_KEY,
    ...extra,
  };
}

export interface BenchHostOptions {
  /**
   * Wraps the app's dependencies before the host gets them, to observe them (say, a job store that
   * reports lifecycle changes as they are written, so a bench waits without reading Cosmos). Default
   * none: the host gets them as built.
   */
  readonly wrap?: (deps: AppDeps) => AppDeps;
  /** Where the host's log goes. Default nowhere. */
  readonly logger?: HostLogger;
}

/** The dev host with the whole function table, in this process. */
export async function startBenchHost(
  env: Record<string, string>,
  options: BenchHostOptions = {},
): Promise<{ host: DevHost; deps: AppDeps; close(): Promise<void> }> {
  const built = await createAppDeps(env);
  const deps = options.wrap ? options.wrap(built) : built;
  const hostJson = JSON.parse(readFileSync(new URL('../../host.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  const host = await startHost({
    functions: functionTable,
    deps: async () => deps,
    host: parseHostJson(
      JSON.stringify({
        ...hostJson,
        // host.json's queue settings stand (batch size, threshold, encoding); only polling is quicker.
        extensions: {
          ...(hostJson.extensions as object),
          queues: {
            ...((hostJson.extensions as { queues?: object } | undefined)?.queues ?? {}),
            maxPollingInterval: '00:00:00.100',
          },
        },
      }),
    ),
    env,
    port: 0,
    logger: options.logger ?? { log: () => undefined },
  });
  return {
    host,
    deps,
    close: async () => {
      await host.close();
      await built.close();
    },
  };
}
