/**
 * `npm run bench:pipeline`: a parametric sweep of 10,000, 100,000 and 1,000,000 tasks through the
 * whole local pipeline (POST → plan → submit → `submitted`), against the same task bodies added by
 * Slotwise's Batch client alone and by the official `@azure/batch` SDK (100 per call, 8 in flight).
 * The dev host runs in this process (its peak RSS is the host's memory); Azurite, the Cosmos server
 * and its proxy, and the Batch emulator run in their own processes. Cosmos requests and estimated
 * RU per job come from the proxy. `BENCH_SIZES=10000,100000` runs other sizes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';
import { parseHostJson } from '../dev/host/config.js';
import { startHost } from '../dev/host/host.js';
import type { CosmosStats } from '../dev/services/cosmos-proxy.js';
import { functionTable } from '../functions/table.js';
import { createAppDeps } from '../shared/app.js';
import { addTasks } from '../shared/batch/add-tasks.js';
import { createBatchClient } from '../shared/batch/client.js';
import { validateJobRequest } from '../shared/jobs/validate-request.js';
import type { TaskBody } from '../shared/planner/batch-bodies.js';
import { planJob } from '../shared/planner/plan-job.js';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const account = 'benchacct';
const key = Buffer.from('bench-account-key-0123456789abcdef').toString('base64');
const apiKey = 'bench-key-0123456789';

function child(
  script: string,
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  const proc = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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

function sweep(id: string, tasks: number) {
  return {
    id,
    pool: { vmSize: 'standard_d16s_v3', taskSlotsPerNode: 32, maxNodes: 500 },
    sweep: {
      idTemplate: 'f-{frame}',
      commandLine: 'render --frame {frame}',
      requiredSlots: 3,
      parameters: { frame: { from: 1, to: tasks } },
    },
  };
}

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
const emulator = await child(
  '../dev/batch-emulator/main.js',
  { BATCH_EMULATOR_PORT: '0', BATCH_ACCOUNT_NAME: account, BATCH_ACCOUNT_KEY: key },
  /ready at (http:\/\/\S+)/,
);
const batchUrl = emulator.match[1]!;
const stop = () => {
  services.proc.kill('SIGTERM');
  emulator.proc.kill('SIGTERM');
};

const storage = [
  'DefaultEndpointsProtocol=http',
  'AccountName=devstoreaccount1',
  'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
  `BlobEndpoint=http://127.0.0.1:${blob}/devstoreaccount1`,
  `QueueEndpoint=http://127.0.0.1:${queue}/devstoreaccount1`,
  `TableEndpoint=http://127.0.0.1:${table}/devstoreaccount1`,
].join(';');
const env: Record<string, string> = {
  AzureWebJobsStorage: storage,
  COSMOS_ENDPOINT: cosmosEndpoint,
  COSMOS_KEY: 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU9DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==',
  COSMOS_DATABASE: `bench${randomUUID().slice(0, 6)}`,
  BATCH_ENDPOINT: batchUrl,
  BATCH_ACCOUNT_NAME: account,
  BATCH_ACCOUNT_KEY: key,
  SLOTWISE_DEV_API_KEY: apiKey,
  SLOTWISE_RECONCILE_SCHEDULE: '*/2 * * * * *',
  SLOTWISE_SWEEP_SCHEDULE: '*/10 * * * * *',
  SLOTWISE_POOL_CONTROL_SCHEDULE: '*/5 * * * * *',
};
process.once('exit', stop);
const deps = await createAppDeps(env);
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
      extensions: { ...(hostJson.extensions as object), queues: { maxPollingInterval: '00:00:00.100' } },
    }),
  ),
  env,
  port: 0,
  logger: { log: () => undefined },
});

const proxy = async (path: string, method = 'GET'): Promise<CosmosStats> =>
  (await (await fetch(`${cosmosEndpoint}/_proxy/${path}`, { method })).json()) as CosmosStats;

// Sampled only while a pipeline run is timed: the baselines' prebuilt bodies are not the host's.
let peakRss = process.memoryUsage().rss;
let measuring = false;
const sampler = setInterval(() => {
  if (measuring) peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

interface Row {
  tasks: number;
  pipeline: number;
  client: number;
  sdk: number;
  cosmos: CosmosStats;
  chunks: number;
}
const rows: Row[] = [];
const batch = createBatchClient({ endpoint: batchUrl, accountName: account, accountKey: key });
const sdk = new BatchServiceClient(new BatchSharedKeyCredentials(account, key), batchUrl);

async function inPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

try {
  for (const n of SIZES) {
    const id = `bench-${n}`;
    await proxy('reset', 'POST');
    measuring = true;
    const started = performance.now();
    const res = await fetch(`${host.url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(sweep(id, n)),
    });
    if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
    let state = '';
    let chunks = 0;
    while (!['submitted', 'running', 'completed', 'failed'].includes(state)) {
      await new Promise((r) => setTimeout(r, 50));
      const doc = await deps.jobs.get('dev', id);
      state = doc?.state ?? '';
      chunks = doc?.plan?.chunks ?? 0;
    }
    const pipeline = (performance.now() - started) / 1000;
    measuring = false;
    if (state === 'failed') throw new Error(`job ${id} failed`);
    const cosmos = await proxy('stats');

    // Baselines: the same bodies, built beforehand (outside the timing), added to fresh Batch jobs.
    const checked = validateJobRequest(sweep(id, n), { checkCallbackUrl: () => undefined });
    if (!checked.ok) throw new Error('invalid');
    const plan = planJob({
      tenant: 'dev',
      jobId: id,
      request: checked.request,
      defaults: { image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, nodeAgentSkuId: 'n' },
    });
    if (!plan.ok) throw new Error('not planned');
    const bodies: TaskBody[][] = [...plan.plan.chunks()];
    const clientJob = `client-${n}`;
    await batch.jobs.add({ id: clientJob, poolInfo: { poolId: 'bench-pool' } });
    let t0 = performance.now();
    await addTasks(batch, clientJob, bodies.flat(), { concurrency: 8 });
    const client = (performance.now() - t0) / 1000;
    const sdkJob = `sdk-${n}`;
    await batch.jobs.add({ id: sdkJob, poolInfo: { poolId: 'bench-pool' } });
    t0 = performance.now();
    await inPool(bodies, 8, async (chunk) => {
      await sdk.task.addCollection(sdkJob, chunk as never);
    });
    const sdkSeconds = (performance.now() - t0) / 1000;
    rows.push({ tasks: n, pipeline, client, sdk: sdkSeconds, cosmos, chunks });
    bodies.length = 0;
    console.error(`done ${n}`);
  }
} finally {
  clearInterval(sampler);
  await host.close();
  await deps.close();
  await batch.close();
  stop();
}

const pad = (s: string, w: number) => s.padStart(w);
console.log(
  `${'tasks'.padEnd(9)}${pad('POST→submitted', 15)}${pad('client alone', 13)}${pad('official SDK', 13)}${pad('ratio', 7)}${pad('µs/task', 9)}${pad('Cosmos req', 11)}${pad('RU (est.)', 11)}${pad('429s', 6)}`,
);
for (const r of rows) {
  console.log(
    `${String(r.tasks).padEnd(9)}${pad(`${r.pipeline.toFixed(2)} s`, 15)}${pad(`${r.client.toFixed(2)} s`, 13)}${pad(`${r.sdk.toFixed(2)} s`, 13)}${pad(`${(r.pipeline / r.client).toFixed(2)}×`, 7)}${pad(((r.pipeline / r.tasks) * 1e6).toFixed(1), 9)}${pad(String(r.cosmos.requests), 11)}${pad(String(Math.round(r.cosmos.ru)), 11)}${pad(String(r.cosmos.throttled), 6)}`,
  );
}
const at = (n: number) => rows.find((r) => r.tasks === n);
const big = at(1_000_000);
const mid = at(100_000);
if (big)
  console.log(`goal: pipeline ÷ client at 1M = ${(big.pipeline / big.client).toFixed(2)}× (target ≤ 2)`);
if (big && mid)
  console.log(
    `goal: per-task time 1M ÷ 100k = ${(big.pipeline / big.tasks / (mid.pipeline / mid.tasks)).toFixed(2)} (target ≤ 1.2)`,
  );
console.log(`goal: peak host RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (target < 1024)`);
