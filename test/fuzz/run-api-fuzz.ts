/**
 * Fuzzes the HTTP API from its own OpenAPI document (GET /api/openapi.json) with schemathesis, against
 * the real local stack (Azurite, the Cosmos server, the Batch emulator, the dev host) on free ports.
 * Exits 0 when everything held, 1 on any failure, 2 when it could not run. `test/fuzz/run.sh`
 * installs schemathesis and runs this; by hand (Node 22, from the repository root):
 *
 *   node --experimental-transform-types --import ./test/fuzz/ts-hooks.ts test/fuzz/run-api-fuzz.ts \
 *     [--schemathesis <path>] [--seed <n>] [--max-examples <n>] [--report-dir <dir>] [-- <schemathesis run options>]
 *
 * What it checks is in docs/local-stack.md ("Fuzzing the API"): schemathesis's checks (no 5xx; every
 * status, media type, header and body as documented; schema-invalid input refused), ours in
 * slotwise_checks.py (every error is RFC 9457 problem details; a POST /api/jobs stores exactly the job
 * it accepts and nothing when refused), and, after the fuzz, the body limit (body-limit.ts).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CosmosClient } from '@azure/cosmos';
import { openContainers } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { generateApiKey } from '../../shared/adapters/cosmos/tenant-store.js';
import { taskCallbackToken } from '../../shared/model/callback-token.js';
import { getJob, type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';
import { checkBodyLimit } from './body-limit.js';
import { startStoreOracle } from './store-oracle.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

const { values: args, positionals: extra } = parseArgs({
  // After `--`: more schemathesis options, e.g. `-- --include-name 'POST /jobs' --phases fuzzing`.
  allowPositionals: true,
  options: {
    schemathesis: { type: 'string', default: process.env.SCHEMATHESIS ?? 'schemathesis' },
    // Fixed by default so CI runs the same cases every time; pass another to explore.
    seed: { type: 'string', default: '20260501' },
    'max-examples': { type: 'string', default: '30' },
    'report-dir': { type: 'string', default: 'test-artifacts/fuzz' },
  },
});

const FUZZ_TENANT = 'fuzz';

/**
 * Jobs made before the fuzz, in the states the job operations act on, so GET, DELETE, retry and the
 * callback meet real jobs (half of the generated ids are one of these) and not only 404s.
 */
const seededJobs = {
  'fuzz-completed': { command: 'sleep 1', state: 'completed' },
  'fuzz-failed': { command: 'exit 1', state: 'failed' },
  // Simulated seconds: runs for hours of real time at the stack's clock factor.
  'fuzz-running': { command: 'sleep 100000000', state: 'running' },
} as const;
const CALLBACK_JOB = 'fuzz-running';

async function main(): Promise<number> {
  const stack = await startSlotwise();
  let oracle: Server | undefined;
  const cosmos = new CosmosClient({
    endpoint: stack.env.COSMOS_ENDPOINT!,
    key: stack.env.COSMOS_KEY!,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  try {
    // A tenant of its own, with the default limits (the fuzz meets them as a real tenant would) and
    // the operator's grant of admin tasks, so requests that ask for it reach past the policy check.
    const apiKey = generateApiKey();
    await stack.deps.tenants.upsert(FUZZ_TENANT, {
      apiKey,
      policy: { allowAdminTasks: true },
      now: new Date(),
    });
    await seedJobs(stack, apiKey);
    const tenant = await stack.deps.tenants.get(FUZZ_TENANT);
    const callbackToken = taskCallbackToken({
      tenant: FUZZ_TENANT,
      jobId: CALLBACK_JOB,
      callbackKey: tenant!.callbackKey!,
      expiresAt: Date.now() / 1000 + 24 * 3600,
    });
    const containers = await openContainers(cosmos, stack.env.COSMOS_DATABASE!, { create: false });
    oracle = await startStoreOracle(containers.jobs);

    const reportDir = resolve(args['report-dir']!);
    mkdirSync(reportDir, { recursive: true });
    const config = join(reportDir, 'schemathesis.toml');
    writeFileSync(config, fuzzConfig({ apiKey, callbackToken }), { mode: 0o600 });
    const fuzzed = await runSchemathesis({
      config,
      reportDir,
      schemaUrl: `${stack.api}/openapi.json`,
      oracleUrl: `http://127.0.0.1:${(oracle.address() as AddressInfo).port}`,
    });

    console.log('\n[fuzz] body limit');
    const limitProblems = await checkBodyLimit(
      stack.api,
      apiKey,
      Number(stack.env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT ?? Number.NaN),
    );
    for (const p of limitProblems) console.error(`[fuzz] body limit: FAIL ${p}`);
    if (limitProblems.length === 0) console.log('[fuzz] body limit: ok');
    const ok = fuzzed === 0 && limitProblems.length === 0;
    console.log(ok ? '[fuzz] passed' : `[fuzz] FAILED (schemathesis exit code ${fuzzed})`);
    return ok ? 0 : 1;
  } finally {
    await new Promise<void>((done) => (oracle ? oracle.close(() => done()) : done()));
    cosmos.dispose();
    await stack.close();
  }
}

async function seedJobs(stack: SlotwiseStack, apiKey: string): Promise<void> {
  for (const [id, { command }] of Object.entries(seededJobs)) {
    const res = await stack.request('/jobs', {
      key: apiKey,
      method: 'POST',
      body: JSON.stringify({
        id,
        pool: { vmSize: 'standard_d2s_v3', maxNodes: 1 },
        tasks: [{ id: 't1', commandLine: `/bin/sh -c "${command}"` }],
      }),
    });
    if (res.status !== 202) throw new Error(`seeding ${id}: ${res.status} ${await res.text()}`);
  }
  await Promise.all(
    Object.entries(seededJobs).map(([id, { state }]) =>
      waitFor(
        () => getJob(stack, id, apiKey),
        (job) => job?.state === state,
        { what: `seeded job ${id} ${state}`, timeoutMs: 60_000 },
      ),
    ),
  );
}

/**
 * test/fuzz/schemathesis.toml plus what only this run knows: the keys, and the seeded job ids as a
 * dictionary the `{id}` path parameter draws from half of the time.
 */
function fuzzConfig(secrets: { apiKey: string; callbackToken: string }): string {
  const ids = Object.keys(seededJobs).map((id) => JSON.stringify(id));
  return `${readFileSync(here('./schemathesis.toml'), 'utf8')}
# --- written by test/fuzz/run-api-fuzz.ts for this run ---
[headers]
Authorization = ${JSON.stringify(`Bearer ${secrets.apiKey}`)}

[dictionaries.seeded-jobs]
values = [${ids.join(', ')}]

[dictionaries.callback-job]
values = [${JSON.stringify(CALLBACK_JOB)}]

[parameters."path.id"]
dictionary = "seeded-jobs"
probability = 0.5

# The callback takes the job's task token instead of the tenant key; mostly for the job it names.
[[operations]]
include-path = "/jobs/{id}/callbacks"
headers = { Authorization = ${JSON.stringify(`Bearer ${secrets.callbackToken}`)} }
parameters = { "path.id" = { dictionary = "callback-job", probability = 0.8 } }
`;
}

function runSchemathesis(options: {
  config: string;
  reportDir: string;
  schemaUrl: string;
  oracleUrl: string;
}): Promise<number> {
  const argv = [
    '--config-file',
    options.config,
    '--no-color',
    'run',
    options.schemaUrl,
    '--seed',
    args.seed!,
    '--max-examples',
    args['max-examples']!,
    '--report',
    'junit',
    '--report-dir',
    options.reportDir,
    ...extra,
  ];
  console.log(`[fuzz] ${args.schemathesis} ${argv.join(' ')}`);
  return new Promise((done, fail) => {
    // A path given relative to here still names the same file from the child's directory.
    const command = args.schemathesis!.includes('/') ? resolve(args.schemathesis!) : args.schemathesis!;
    const child = spawn(command, argv, {
      // Its caches (.hypothesis, .schemathesis) land beside the reports, not in the repository.
      cwd: options.reportDir,
      stdio: 'inherit',
      env: {
        ...process.env,
        // Our checks and the hooks they need (a file path: schemathesis loads it as a module).
        SCHEMATHESIS_HOOKS: here('./slotwise_checks.py'),
        SLOTWISE_FUZZ_ORACLE: options.oracleUrl,
        // No __pycache__ beside the hooks file in the repository.
        PYTHONDONTWRITEBYTECODE: '1',
      },
    });
    child.once('error', fail);
    child.once('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`[fuzz] could not run: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(2);
  },
);
