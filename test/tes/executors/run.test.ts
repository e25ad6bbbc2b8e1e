/**
 * TES tasks run end to end on the Batch emulator over HTTP, against a real Azurite: the body from
 * tesTaskBody (results store URLs resolved as the submitter resolves them), added to a job on a pool
 * whose image has Docker, its wrapper run by the emulator's shell and `docker run`, its inputs
 * staged and its outputs, report and logs uploaded; then the report and log tails read back from the
 * results store and turned into the TES state and log by tesOutcome. Manual clock (factor 0).
 */
import { ContainerClient, ContainerSASPermissions, StorageSharedKeyCredential } from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../../dev/batch-emulator/index.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, startAzurite } from '../../../dev/services/services.js';
import { parseTesRunReport, type TesBatchView, tesOutcome } from '../../../shared/model/tes-run-report.js';
import type { TesTaskDoc } from '../../../shared/model/tes-task.js';
import { withResultsUrls } from '../../../shared/pipeline/results-sas.js';
import {
  tesContentBlobPath,
  tesExecutorLogPath,
  tesRunReportPath,
  tesTaskBody,
} from '../../../shared/planner/tes-task-body.js';
import { advance, call, start, until } from '../../batch-emulator/helpers.js';
import { type TaskParts, tesDoc } from './fixtures.js';

let azurite: Azurite;
let emulator: BatchEmulator;
let seq = 0;

beforeAll(async () => {
  azurite = await startAzurite();
}, 60_000);

afterAll(async () => {
  const exited = new Promise<void>((resolve) => azurite.process.once('exit', () => resolve()));
  azurite.process.kill('SIGTERM');
  await exited;
});

beforeEach(async () => {
  emulator = await start({ clockFactor: 0, allocationSeconds: 30, nodeStartSeconds: 0 });
});

afterEach(async () => {
  await emulator.close();
});

/** An image whose supported-images entry lists DockerCompatible: its nodes have Docker. */
const DOCKER_IMAGE = { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest' };
const PLAIN_IMAGE = {
  publisher: 'canonical',
  offer: '0001-com-ubuntu-server-jammy',
  sku: '22_04-lts',
  version: 'latest',
};

async function ok(method: string, path: string, body?: unknown) {
  const r = await call(emulator, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as Record<string, unknown>;
}

async function lane(image = DOCKER_IMAGE) {
  await ok('POST', '/pools', {
    id: 'lane-pool',
    vmSize: 'standard_d2s_v3',
    virtualMachineConfiguration: { imageReference: image, nodeAgentSKUId: 'batch.node.ubuntu 22.04' },
    taskSlotsPerNode: 4,
    targetDedicatedNodes: 1,
  });
  await advance(emulator, 30);
  await ok('POST', '/jobs', { id: 'lane', poolInfo: { poolId: 'lane-pool' } });
}

/** A fresh Azurite container with blobs, and SAS URLs of it. */
async function container(blobs: Record<string, string> = {}) {
  const name = `c${++seq}-${Date.now()}`;
  const client = new ContainerClient(
    `${azurite.blobEndpoint}/${name}`,
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  );
  await client.create();
  for (const [blob, text] of Object.entries(blobs))
    await client.getBlockBlobClient(blob).upload(text, text.length);
  const sas = (permissions: string) =>
    client.generateSasUrl({
      permissions: ContainerSASPermissions.parse(permissions),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
  /** A blob's URL in the container with a SAS (the query of a container SAS serves its blobs). */
  const url = async (blob: string, permissions: string) => {
    const s = new URL(await sas(permissions));
    return `${client.url}/${blob}${s.search}`;
  };
  const text = async (blob: string) => {
    const b = client.getBlobClient(blob);
    return (await b.exists()) ? (await b.downloadToBuffer()).toString() : undefined;
  };
  const names = async () => {
    const out: string[] = [];
    for await (const b of client.listBlobsFlat()) out.push(b.name);
    return out.sort();
  };
  return { client, sas, url, text, names };
}

interface TaskWire {
  state: string;
  executionInfo?: {
    startTime?: string;
    endTime?: string;
    exitCode?: number;
    result?: 'success' | 'failure';
    failureInfo?: { category: string; code: string; message: string };
  };
}

/**
 * Runs a TES task on the lane: content inputs uploaded to the results store as the create use case
 * does, the body's results store placeholders resolved, the task added and awaited, its report and
 * log tails read back, and the outcome.
 */
async function runTes(doc: TesTaskDoc, results: Awaited<ReturnType<typeof container>>) {
  for (const [i, input] of doc.request.inputs.entries())
    if (input.content !== undefined)
      await results.client
        .getBlockBlobClient(tesContentBlobPath(doc.id, i))
        .upload(input.content, Buffer.byteLength(input.content));
  const built = tesTaskBody(doc, { allowLoopbackHttp: true });
  if (!built.ok) throw new Error(built.reason);
  const body = withResultsUrls(built.body, { write: await results.sas('cw'), read: await results.sas('rl') });
  const added = await ok('POST', '/jobs/lane/addtaskcollection', { value: [body] });
  expect((added.value as { status: string }[])[0]!.status).toBe('success');
  const task = await until(
    async () => (await ok('GET', `/jobs/lane/tasks/${doc.id}`)) as unknown as TaskWire,
    (t) => t.state === 'completed',
  );
  const info = task.executionInfo ?? {};
  const reportText = await results.text(tesRunReportPath(doc.id));
  const report = reportText === undefined ? undefined : parseTesRunReport(reportText);
  const tails = async (stream: 'stdout' | 'stderr') =>
    Promise.all(doc.request.executors.map((_, i) => results.text(tesExecutorLogPath(doc.id, i, stream))));
  const batch: TesBatchView = {
    state: 'completed',
    ...(info.result ? { result: info.result } : {}),
    ...(info.exitCode !== undefined ? { exitCode: info.exitCode } : {}),
    ...(info.failureInfo ? { failure: info.failureInfo } : {}),
    ...(info.startTime ? { startTime: info.startTime } : {}),
    ...(info.endTime ? { endTime: info.endTime } : {}),
  };
  const outcome = tesOutcome({
    batch,
    ...(report ? { report } : {}),
    stdoutTails: await tails('stdout'),
    stderrTails: await tails('stderr'),
    cancelRequested: false,
    doc,
  });
  return { task, info, report, outcome };
}

const doc = (parts: TaskParts) => tesDoc({ id: `tes-${++seq}`, ...parts });

describe('executors on the emulator', () => {
  it('runs two executors sharing a volume, with env, workdir and stdin/stdout/stderr at container paths', async () => {
    await lane();
    const results = await container();
    const out = await container();
    const task = doc({
      volumes: ['/shared'],
      inputs: [{ path: '/in/stdin.txt', type: 'FILE', content: 'piped in\n' }],
      executors: [
        {
          image: 'ubuntu:24.04',
          command: ['sh', '-c', 'echo "$GREETING" > /shared/msg; pwd > /shared/where; echo first'],
          env: { GREETING: 'it\'s a "fine" $day' },
          workdir: '/work/dir',
        },
        {
          image: 'alpine:3.20',
          command: ['sh', '-c', 'cat /shared/msg /shared/where; cat; echo to-stderr >&2'],
          stdin: '/in/stdin.txt',
          stdout: '/out/stdout.txt',
          stderr: '/out/stderr.txt',
        },
      ],
      outputs: [
        { path: '/out/stdout.txt', type: 'FILE', url: await out.url('run/stdout.txt', 'cw') },
        { path: '/out/stderr.txt', type: 'FILE', url: await out.url('run/stderr.txt', 'cw') },
      ],
    });
    const r = await runTes(task, results);
    expect(r.info).toMatchObject({ result: 'success', exitCode: 0 });
    expect(r.outcome.state).toBe('COMPLETE');
    expect(r.outcome.systemLogs).toEqual([]);
    const expected = `it's a "fine" $day\n/work/dir\npiped in\n`;
    expect(await out.text('run/stdout.txt')).toBe(expected);
    expect(await out.text('run/stderr.txt')).toBe('to-stderr\n');
    const log = r.outcome.log!;
    expect(log.logs.map((l) => [l.exit_code, l.stdout, l.stderr])).toEqual([
      [0, 'first\n', ''],
      [0, expected, 'to-stderr\n'],
    ]);
    for (const l of log.logs) expect(l.start_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(log.start_time).toBe(r.info.startTime);
    expect(log.end_time).toBe(r.info.endTime);
    // The URLs in the log carry no SAS.
    expect(log.outputs).toEqual([
      {
        url: `${out.client.url}/run/stdout.txt`,
        path: '/out/stdout.txt',
        size_bytes: String(expected.length),
      },
      { url: `${out.client.url}/run/stderr.txt`, path: '/out/stderr.txt', size_bytes: '10' },
    ]);
  });

  it('goes on past a failing executor with ignore_error and completes', async () => {
    await lane();
    const results = await container();
    const r = await runTes(
      doc({
        executors: [
          { image: 'alpine', command: ['sh', '-c', 'echo tried; exit 3'], ignore_error: true },
          { image: 'alpine', command: ['echo', 'after'] },
        ],
      }),
      results,
    );
    expect(r.info).toMatchObject({ result: 'success', exitCode: 0 });
    expect(r.outcome.state).toBe('COMPLETE');
    expect(r.outcome.log!.logs.map((l) => [l.exit_code, l.stdout])).toEqual([
      [3, 'tried\n'],
      [0, 'after\n'],
    ]);
  });

  it('stops at a failing executor: EXECUTOR_ERROR, the rest not run, outputs still uploaded', async () => {
    await lane();
    const results = await container();
    const out = await container();
    const r = await runTes(
      doc({
        volumes: ['/v'],
        executors: [
          { image: 'alpine', command: ['sh', '-c', 'echo partial > /v/progress.txt'] },
          { image: 'alpine', command: ['sh', '-c', 'echo broken >&2; exit 4'] },
          { image: 'alpine', command: ['sh', '-c', 'echo never > /v/never.txt'] },
        ],
        outputs: [{ path: '/v', type: 'DIRECTORY', url: await out.url('v', 'cw') }],
      }),
      results,
    );
    expect(r.info).toMatchObject({
      result: 'failure',
      exitCode: 4,
      failureInfo: { code: 'FailureExitCode' },
    });
    expect(r.outcome.state).toBe('EXECUTOR_ERROR');
    expect(r.outcome.systemLogs).toEqual(['Executor 1 exited with code 4']);
    expect(r.outcome.log!.logs.map((l) => [l.exit_code, l.stderr])).toEqual([
      [0, ''],
      [4, 'broken\n'],
    ]);
    expect(await out.names()).toEqual(['v/progress.txt']);
    expect(r.outcome.log!.outputs).toEqual([
      { url: `${out.client.url}/v/progress.txt`, path: '/v/progress.txt', size_bytes: '8' },
    ]);
  });

  it('a command missing under a bind exits 127 (EXECUTOR_ERROR); a staged script with a shebang runs', async () => {
    await lane();
    const results = await container();
    const missing = await runTes(
      doc({ executors: [{ image: 'alpine', command: ['/tools/absent.sh'] }], volumes: ['/tools'] }),
      results,
    );
    expect(missing.outcome.state).toBe('EXECUTOR_ERROR');
    expect(missing.outcome.log!.logs[0]).toMatchObject({ exit_code: 127 });
    expect(missing.outcome.log!.logs[0]!.stderr).toMatch(/no such file or directory/);

    const out = await container();
    const script = await runTes(
      doc({
        inputs: [
          { path: '/tools/run.sh', type: 'FILE', content: '#!/bin/bash\necho "args: $1 $2" > /out/r.txt\n' },
        ],
        executors: [{ image: 'alpine', command: ['/tools/run.sh', 'a', 'b c'] }],
        outputs: [{ path: '/out/r.txt', type: 'FILE', url: await out.url('r.txt', 'cw') }],
      }),
      results,
    );
    expect(script.outcome.state).toBe('COMPLETE');
    expect(await out.text('r.txt')).toBe('args: a b c\n');
  });
});

describe('inputs and outputs on the emulator', () => {
  it('stages a private blob by SAS, a content input from the results store, and a DIRECTORY input', async () => {
    await lane();
    const results = await container();
    const data = await container({
      'samples/reads.txt': 'ACGT\n',
      'refs/hg38/chr1.fa': '>chr1\n',
      'refs/hg38/index/chr1.fai': 'chr1\t6\n',
      'refs/hg38x/other.fa': 'not this\n',
    });
    const out = await container();
    const r = await runTes(
      doc({
        inputs: [
          { path: '/data/reads.txt', type: 'FILE', url: await data.url('samples/reads.txt', 'r') },
          { path: '/data/params.json', type: 'FILE', content: '{"k":1}' },
          { path: '/ref', type: 'DIRECTORY', url: await data.url('refs/hg38', 'rl') },
        ],
        executors: [
          {
            image: 'alpine',
            command: [
              'sh',
              '-c',
              'cat /data/reads.txt /data/params.json /ref/chr1.fa /ref/index/chr1.fai > /out/all.txt; ls /ref > /out/ls.txt',
            ],
          },
        ],
        outputs: [
          { path: '/out/all.txt', type: 'FILE', url: await out.url('all.txt', 'cw') },
          { path: '/out/ls.txt', type: 'FILE', url: await out.url('ls.txt', 'cw') },
        ],
      }),
      results,
    );
    expect(r.outcome.state).toBe('COMPLETE');
    expect(await out.text('all.txt')).toBe('ACGT\n{"k":1}>chr1\nchr1\t6\n');
    // Only the blobs under the directory's prefix, as its own folder.
    expect(await out.text('ls.txt')).toBe('chr1.fa\nindex\n');
  });

  it('a missing input blob fails staging (Batch’s BlobNotFound): SYSTEM_ERROR with the code, no SAS', async () => {
    await lane();
    const results = await container();
    const data = await container();
    const r = await runTes(
      doc({
        inputs: [{ path: '/data/x', type: 'FILE', url: await data.url('absent.txt', 'r') }],
        executors: [{ image: 'alpine', command: ['true'] }],
      }),
      results,
    );
    expect(r.info.failureInfo).toMatchObject({ code: 'BlobNotFound' });
    expect(r.report).toBeUndefined();
    expect(r.outcome.state).toBe('SYSTEM_ERROR');
    expect(r.outcome.systemLogs).toEqual([
      "Batch could not stage the task's inputs (BlobNotFound: One of the specified Azure Blob(s) is not found)",
    ]);
  });

  it('uploads FILE, DIRECTORY and wildcard outputs at the blob names TES asks for, with their sizes in the log', async () => {
    await lane();
    const results = await container();
    const out = await container();
    const r = await runTes(
      doc({
        executors: [
          {
            image: 'alpine',
            command: [
              'sh',
              '-c',
              [
                'echo result > /work/result.txt',
                'mkdir -p /work/plots/2026 /work/logs/deep',
                'echo p1 > /work/plots/a.png',
                'echo p22 > /work/plots/2026/b.png',
                'echo hidden > /work/plots/.cache',
                'echo l1 > /work/logs/one.log',
                'echo l2 > /work/logs/two.log',
                'echo no > /work/logs/skip.txt',
                'echo deep > /work/logs/deep/three.log',
              ].join('; '),
            ],
          },
        ],
        volumes: ['/work'],
        outputs: [
          { path: '/work/result.txt', type: 'FILE', url: await out.url('final/result.txt', 'cw') },
          { path: '/work/plots', type: 'DIRECTORY', url: await out.url('final/plots', 'cw') },
          {
            path: '/work/logs/*.log',
            path_prefix: '/work/',
            type: 'FILE',
            url: await out.url('final/all', 'cw'),
          },
        ],
      }),
      results,
    );
    expect(r.outcome.state).toBe('COMPLETE');
    // Batch's names: a hidden file and non-matches stay behind; wildcards stay in their folder.
    expect(await out.names()).toEqual([
      'final/all/logs/one.log',
      'final/all/logs/two.log',
      'final/plots/2026/b.png',
      'final/plots/a.png',
      'final/result.txt',
    ]);
    const base = out.client.url;
    expect([...r.outcome.log!.outputs].sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual([
      { url: `${base}/final/all/logs/one.log`, path: '/work/logs/one.log', size_bytes: '3' },
      { url: `${base}/final/all/logs/two.log`, path: '/work/logs/two.log', size_bytes: '3' },
      { url: `${base}/final/plots/2026/b.png`, path: '/work/plots/2026/b.png', size_bytes: '4' },
      { url: `${base}/final/plots/a.png`, path: '/work/plots/a.png', size_bytes: '3' },
      { url: `${base}/final/result.txt`, path: '/work/result.txt', size_bytes: '7' },
    ]);
  });
});

describe('where Docker cannot be used', () => {
  it('a node without Docker: the wrapper records its own failure, SYSTEM_ERROR, no executor runs', async () => {
    await lane(PLAIN_IMAGE);
    const results = await container();
    const r = await runTes(doc({ executors: [{ image: 'alpine', command: ['echo', 'hi'] }] }), results);
    expect(r.info).toMatchObject({ result: 'failure', exitCode: 1 });
    expect(r.report?.executors).toEqual([]);
    expect(r.outcome.state).toBe('SYSTEM_ERROR');
    expect(r.outcome.systemLogs).toEqual([
      "The task's wrapper failed: Docker is not usable on the node (docker version failed)",
    ]);
  });
});
