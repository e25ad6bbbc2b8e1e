/**
 * `npm run bench:data` (or `node dist/bench/data.js` after `npm run build`): a 10,000-task sweep that
 * reads one shared input (1 MiB) on a packed managed pool, submitted through the dev host's API and
 * run by the Batch emulator, which fetches resource files for real from Azurite. Twice in one run:
 * every task listing the input in its own `resourceFiles`, then the job's `jobPreparation` fetching
 * it once per node. Bytes and downloads are the emulator's transfer counters (`/_emulator/transfers`);
 * wall time is from the POST to the job's `completed`.
 *
 * Each variant gets a fresh emulator (own process, clock 600× so the tasks' `sleep 10` costs no real
 * time), a fresh database and dev host (in this process); Azurite and Cosmos are shared. Tasks keep
 * no logs by default (`keepLogs: none`): the 20,000 log uploads of a run cost the same in both
 * variants and only blur the difference. A per-task copy is removed once its task has read it, so
 * the emulator's in-memory disks hold one copy per slot, not 10 GiB.
 *
 * `BENCH_DATA_TASKS` (10000), `BENCH_DATA_INPUT_BYTES` (1048576), `BENCH_DATA_MAX_NODES` (10),
 * `BENCH_DATA_KEEP_LOGS` (`none`; `taskCompletion` uploads every task's logs).
 */
import { BlobSASPermissions, BlobServiceClient } from '@azure/storage-blob';
import {
  BENCH_API_KEY,
  benchEnv,
  startBenchEmulator,
  startBenchHost,
  startBenchServices,
} from './local-stack.js';

const TASKS = Number(process.env.BENCH_DATA_TASKS ?? 10_000);
const INPUT_BYTES = Number(process.env.BENCH_DATA_INPUT_BYTES ?? 1024 * 1024);
const MAX_NODES = Number(process.env.BENCH_DATA_MAX_NODES ?? 10);
const KEEP_LOGS = process.env.BENCH_DATA_KEEP_LOGS ?? 'none';
const SLOTS = 64;
const PREP_DIR = '$AZ_BATCH_JOB_PREP_WORKING_DIR';

interface Transfers {
  totals: { downloadedBytes: number; downloadedFiles: number };
  nodes: Record<string, { downloadedBytes: number; prepRuns: number }>;
}

interface Row {
  readonly variant: string;
  readonly seconds: number;
  readonly downloads: number;
  readonly bytes: number;
  readonly nodes: number;
  readonly prepRuns: number;
}

// The emulator's children read their clock from the environment.
process.env.BATCH_EMULATOR_CLOCK_FACTOR = '600';

const services = await startBenchServices();
const blobs = BlobServiceClient.fromConnectionString(services.storage);
const inputs = blobs.getContainerClient('bench-inputs');
await inputs.createIfNotExists();
const blob = inputs.getBlockBlobClient('shared/input.bin');
const data = Buffer.alloc(INPUT_BYTES);
for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
await blob.uploadData(data);
const inputUrl = await blob.generateSasUrl({
  permissions: BlobSASPermissions.parse('r'),
  expiresOn: new Date(Date.now() + 6 * 3_600_000),
});

function jobRequest(variant: 'per-task' | 'preparation', id: string): object {
  const file = { httpUrl: inputUrl, filePath: 'input.bin' };
  const common = {
    id,
    pool: { vmSize: 'standard_d16s_v3', taskSlotsPerNode: SLOTS, maxNodes: MAX_NODES },
    keepLogs: KEEP_LOGS,
  };
  const parameters = { n: { from: 1, to: TASKS, pad: String(TASKS).length } };
  return variant === 'per-task'
    ? {
        ...common,
        sweep: {
          idTemplate: 't-{n}',
          commandLine: `/bin/sh -c 'ls input.bin && sleep 10 && rm input.bin'`,
          resourceFiles: [file],
          parameters,
        },
      }
    : {
        ...common,
        jobPreparation: { resourceFiles: [file] },
        sweep: {
          idTemplate: 't-{n}',
          commandLine: `/bin/sh -c 'ls ${PREP_DIR}/input.bin && sleep 10'`,
          parameters,
        },
      };
}

async function run(variant: 'per-task' | 'preparation'): Promise<Row> {
  const emulator = await startBenchEmulator();
  const env = benchEnv(services, emulator.url, {
    SLOTWISE_RECONCILE_SCHEDULE: '*/1 * * * * *',
    SLOTWISE_POOL_CONTROL_SCHEDULE: '*/1 * * * * *',
    SLOTWISE_SWEEP_SCHEDULE: '*/2 * * * * *',
  });
  const app = await startBenchHost(env);
  const api = `${app.host.url}/api`;
  const headers = { authorization: `Bearer ${BENCH_API_KEY}`, 'content-type': 'application/json' };
  const id = `bench-data-${variant}`;
  try {
    const started = performance.now();
    const posted = await fetch(`${api}/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify(jobRequest(variant, id)),
    });
    if (posted.status !== 202) throw new Error(`POST answered ${posted.status}: ${await posted.text()}`);
    let state = '';
    while (!['completed', 'failed', 'cancelled', 'rejected'].includes(state)) {
      await new Promise((r) => setTimeout(r, 200));
      const res = await fetch(`${api}/jobs/${id}`, { headers });
      state = ((await res.json()) as { state: string }).state;
    }
    const seconds = (performance.now() - started) / 1000;
    if (state !== 'completed') throw new Error(`${variant}: the job ended ${state}`);
    const moved = (await (await fetch(`${emulator.url}/_emulator/transfers`)).json()) as Transfers;
    const nodes = Object.values(moved.nodes);
    return {
      variant,
      seconds,
      downloads: moved.totals.downloadedFiles,
      bytes: moved.totals.downloadedBytes,
      nodes: nodes.filter((n) => n.downloadedBytes > 0).length,
      prepRuns: nodes.reduce((sum, n) => sum + n.prepRuns, 0),
    };
  } finally {
    await app.close();
    await emulator.stop();
  }
}

const rows: Row[] = [];
try {
  rows.push(await run('per-task'));
  rows.push(await run('preparation'));
} finally {
  services.stop();
}

const pad = (s: string | number, w: number) => String(s).padStart(w);
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
console.log(
  `sweep: ${TASKS} tasks, shared input ${mib(INPUT_BYTES)}, ${SLOTS} slots a node, at most ${MAX_NODES} nodes, keepLogs ${KEEP_LOGS}`,
);
console.log(
  `${'variant'.padEnd(26)}${pad('wall time', 11)}${pad('downloads', 11)}${pad('bytes downloaded', 18)}${pad('nodes', 7)}${pad('prep runs', 11)}`,
);
for (const r of rows)
  console.log(
    `${(r.variant === 'per-task' ? 'per-task resourceFiles' : 'jobPreparation').padEnd(26)}${pad(`${r.seconds.toFixed(1)} s`, 11)}${pad(r.downloads, 11)}${pad(mib(r.bytes), 18)}${pad(r.nodes, 7)}${pad(r.prepRuns, 11)}`,
  );
const [perTask, prep] = rows;
if (perTask && prep)
  console.log(
    `ratio per-task / jobPreparation: bytes ${(perTask.bytes / prep.bytes).toFixed(0)}×, downloads ${(perTask.downloads / prep.downloads).toFixed(0)}×, wall time ${(perTask.seconds / prep.seconds).toFixed(2)}×`,
  );
