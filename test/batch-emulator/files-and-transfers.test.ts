/**
 * The emulator moving real bytes, against a real Azurite: resource files fetched before a command
 * (a job preparation task's shared input, once per node), output files uploaded after it as the SAS
 * allows, job release at the job's end, the files API, files gone with their node, a failed
 * preparation keeping a job off a node, and the transfer counters. Manual clock (factor 0).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContainerClient, ContainerSASPermissions, StorageSharedKeyCredential } from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, startAzurite } from '../../dev/services/services.js';
import { ACCOUNT, advance, call, control, KEY, poolBody, start, until } from './helpers.js';

let azurite: Azurite;
let emulator: BatchEmulator;
let containerSeq = 0;

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

const credential = () => new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);

/** A fresh container, its client, and container URLs with a SAS of the given permissions. */
async function container(blobs: Record<string, string> = {}) {
  const name = `c${++containerSeq}-${Date.now()}`;
  const client = new ContainerClient(`${azurite.blobEndpoint}/${name}`, credential());
  await client.create();
  for (const [blob, text] of Object.entries(blobs))
    await client.getBlockBlobClient(blob).upload(text, text.length);
  const sas = (permissions: string) =>
    client.generateSasUrl({
      permissions: ContainerSASPermissions.parse(permissions),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
  return { client, sas };
}

async function blobText(client: ContainerClient, name: string): Promise<string | undefined> {
  const blob = client.getBlobClient(name);
  if (!(await blob.exists())) return undefined;
  return (await blob.downloadToBuffer()).toString();
}

async function ok(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  const r = await call(emulator, method, path, body, headers ? { headers } : {});
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as Record<string, unknown>;
}

interface SideRunWire {
  state: string;
  result?: string;
  exitCode?: number;
  retryCount?: number;
  taskRootDirectory: string;
  failureInfo?: { code: string };
}
type PrepStatus = {
  poolId: string;
  nodeId: string;
  jobPreparationTaskExecutionInfo: SideRunWire;
  jobReleaseTaskExecutionInfo?: SideRunWire;
};

type Task = {
  id: string;
  state: string;
  executionInfo: { result?: string; exitCode?: number; failureInfo?: { code: string; category: string } };
  nodeInfo?: { nodeId: string; taskRootDirectory: string; taskRootDirectoryUrl: string };
};

const task = async (job: string, id: string) =>
  (await ok('GET', `/jobs/${job}/tasks/${id}`)) as unknown as Task;

async function readyPool(id: string, extra: Record<string, unknown> = {}) {
  await ok('POST', '/pools', poolBody(id, extra));
  await advance(emulator, 30);
}

async function addTasks(job: string, tasks: Record<string, unknown>[]) {
  const r = await ok('POST', `/jobs/${job}/addtaskcollection`, { value: tasks });
  expect((r.value as { status: string }[]).every((x) => x.status === 'success')).toBe(true);
}

/** Polls until every task of the job completed (the clock does not move: only I/O is awaited). */
async function allCompleted(job: string): Promise<Task[]> {
  const list = await until(
    async () => ((await ok('GET', `/jobs/${job}/tasks`)).value as Task[]) ?? [],
    (tasks) => tasks.length > 0 && tasks.every((t) => t.state === 'completed'),
  );
  return list;
}

async function transfers() {
  return (await control(emulator, 'GET', 'transfers')).json as {
    totals: Record<string, number>;
    nodes: Record<
      string,
      { prepRuns: number; releaseRuns: number; downloadedFiles: number; downloadedBytes: number }
    >;
    runs: Record<string, Record<string, number>>;
  };
}

const upload = (
  containerUrl: string,
  filePattern: string,
  path: string,
  uploadCondition = 'taskcompletion',
) => ({
  filePattern,
  destination: { container: { containerUrl, path } },
  uploadOptions: { uploadCondition },
});

describe('job preparation and shared input', () => {
  it('fetches the shared input once per node in the preparation task; every task reads it and its output is uploaded', async () => {
    const reference = 'reference-data\n';
    const inputs = await container({ 'shared/ref.txt': reference, 'other/skip.txt': 'not this' });
    const results = await container();
    await readyPool('p', { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 4, targetDedicatedNodes: 2 });
    await ok('POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      jobPreparationTask: {
        commandLine: "/bin/sh -c 'mkdir -p data && cp ref/shared/ref.txt data/ref.txt'",
        resourceFiles: [
          { storageContainerUrl: await inputs.sas('rl'), blobPrefix: 'shared/', filePath: 'ref' },
        ],
      },
    });
    const out = await results.sas('cw');
    await addTasks(
      'j',
      Array.from({ length: 8 }, (_, i) => ({
        id: `t${i}`,
        commandLine:
          '/bin/sh -c "cat $AZ_BATCH_JOB_PREP_WORKING_DIR/data/ref.txt > out.txt && echo $AZ_BATCH_TASK_ID >> out.txt"',
        outputFiles: [upload(out, 'out.txt', `run/t${i}/out.txt`, 'tasksuccess')],
      })),
    );
    const tasks = await allCompleted('j');
    expect(tasks.map((t) => t.executionInfo.result)).toEqual(Array(8).fill('success'));
    for (let i = 0; i < 8; i++)
      expect(await blobText(results.client, `run/t${i}/out.txt`)).toBe(`${reference}t${i}\n`);
    const nodes = new Set(tasks.map((t) => t.nodeInfo?.nodeId));
    expect(nodes.size).toBe(2);

    const moved = await transfers();
    for (const nodeId of nodes)
      expect(moved.nodes[nodeId!]).toMatchObject({
        prepRuns: 1,
        downloadedFiles: 1,
        downloadedBytes: reference.length,
      });
    expect(moved.totals).toMatchObject({
      downloadedFiles: 2,
      downloadedBytes: 2 * reference.length,
      uploadedFiles: 8,
    });
    expect(moved.runs['j/t3']).toMatchObject({
      downloadedFiles: 0,
      uploadedFiles: 1,
      uploadedBytes: reference.length + 3,
    });

    const status = (await ok('GET', '/jobs/j/jobpreparationandreleasetaskstatus')).value as PrepStatus[];
    expect(status).toHaveLength(2);
    for (const s of status)
      expect(s).toMatchObject({
        poolId: 'p',
        jobPreparationTaskExecutionInfo: {
          state: 'completed',
          result: 'success',
          exitCode: 0,
          retryCount: 0,
          taskRootDirectory: 'workitems/j/job-1/jobpreparation',
        },
      });
    expect(status[0]!.jobReleaseTaskExecutionInfo).toBeUndefined();
    const filtered = await ok(
      'GET',
      `/jobs/j/jobpreparationandreleasetaskstatus?$filter=nodeId eq '${status[1]!.nodeId}'&maxresults=1`,
    );
    expect((filtered.value as unknown[]).length).toBe(1);
  });

  it('keeps a job off a node whose preparation failed, and runs its tasks on the others', async () => {
    await readyPool('p', { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 2, targetDedicatedNodes: 2 });
    // A first job leaves a marker on one node; the second job's preparation fails where it finds it.
    await ok('POST', '/jobs', { id: 'marker', poolInfo: { poolId: 'p' } });
    await addTasks('marker', [
      { id: 'm', commandLine: '/bin/sh -c "echo x > $AZ_BATCH_NODE_SHARED_DIR/bad"' },
    ]);
    const bad = (await allCompleted('marker'))[0]!.nodeInfo!.nodeId;
    await ok('POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      jobPreparationTask: {
        commandLine: "/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/bad && exit 1 || true'",
        constraints: { maxTaskRetryCount: 1 },
      },
    });
    await addTasks(
      'j',
      Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 10' })),
    );
    await advance(emulator, 10);
    await advance(emulator, 10);
    await advance(emulator, 10);
    const tasks = await allCompleted('j');
    expect(tasks.every((t) => t.executionInfo.result === 'success')).toBe(true);
    expect(tasks.every((t) => t.nodeInfo?.nodeId !== bad)).toBe(true);
    const status = (await ok('GET', '/jobs/j/jobpreparationandreleasetaskstatus')).value as PrepStatus[];
    const onBad = status.find((s) => s.nodeId === bad)!.jobPreparationTaskExecutionInfo;
    expect(onBad).toMatchObject({
      state: 'completed',
      result: 'failure',
      exitCode: 1,
      retryCount: 1,
      failureInfo: { code: 'FailureExitCode' },
    });
    // The node still serves other jobs.
    await addTasks('marker', [
      { id: 'again', commandLine: 'sleep 1' },
      { id: 'again2', commandLine: 'sleep 1' },
      { id: 'again3', commandLine: 'sleep 1' },
    ]);
    await advance(emulator, 1);
    const marker = await allCompleted('marker');
    expect(marker.some((t) => t.id.startsWith('again') && t.nodeInfo?.nodeId === bad)).toBe(true);
  });

  it('runs the release task on each prepared node when the job ends; the job completes after it', async () => {
    await readyPool('p');
    await ok('POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      jobPreparationTask: { commandLine: '/bin/sh -c "echo prepared > $AZ_BATCH_NODE_SHARED_DIR/state.txt"' },
      jobReleaseTask: {
        commandLine: "/bin/sh -c 'sleep 30; echo released >> $AZ_BATCH_NODE_SHARED_DIR/state.txt'",
        maxWallClockTime: 'PT5M',
      },
    });
    await addTasks('j', [{ id: 't', commandLine: 'sleep 5' }]);
    await advance(emulator, 5);
    const [t] = await allCompleted('j');
    await ok('POST', '/jobs/j/terminate', {});
    await advance(emulator, 10);
    expect((await ok('GET', '/jobs/j')).state).toBe('terminating');
    await advance(emulator, 25);
    expect((await ok('GET', '/jobs/j')).state).toBe('completed');
    const [status] = (await ok('GET', '/jobs/j/jobpreparationandreleasetaskstatus')).value as PrepStatus[];
    expect(status!.jobReleaseTaskExecutionInfo).toMatchObject({
      state: 'completed',
      result: 'success',
      exitCode: 0,
      taskRootDirectory: 'workitems/j/job-1/jobrelease',
    });
    const nodeFile = await fetchFile(`/pools/p/nodes/${t!.nodeInfo!.nodeId}/files/shared/state.txt`);
    expect(nodeFile.text).toBe('prepared\nreleased\n');
    expect((await transfers()).nodes[t!.nodeInfo!.nodeId]).toMatchObject({ prepRuns: 1, releaseRuns: 1 });
  });

  it('refuses a release task without a preparation task, and a task with the preparation task id', async () => {
    await readyPool('p');
    const r = await call(emulator, 'POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      jobReleaseTask: { commandLine: 'x' },
    });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({
      code: 'InvalidPropertyValue',
      values: [{ key: 'PropertyName', value: 'jobReleaseTask' }, {}],
    });
    const long = await call(emulator, 'POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      jobPreparationTask: { commandLine: 'x' },
      jobReleaseTask: { commandLine: 'x', maxWallClockTime: 'PT16M' },
    });
    expect(long.status).toBe(400);
    await ok('POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      jobPreparationTask: { commandLine: 'x' },
    });
    const same = await call(emulator, 'POST', '/jobs/j/tasks', { id: 'jobpreparation', commandLine: 'x' });
    expect(same).toMatchObject({ status: 409, json: { code: 'TaskIdSameAsJobPreparationTask' } });
    await ok('POST', '/jobs', { id: 'plain', poolInfo: { poolId: 'p' } });
    const none = await call(emulator, 'GET', '/jobs/plain/jobpreparationandreleasetaskstatus');
    expect(none).toMatchObject({ status: 409, json: { code: 'JobPreparationTaskNotSpecified' } });
  });
});

describe('resource and output files', () => {
  it('reports a missing blob as BlobNotFound and a SAS without read as BlobAccessDenied', async () => {
    const inputs = await container({ 'a.txt': 'A' });
    await readyPool('p');
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    const readable = await inputs.sas('r');
    const writeOnly = await inputs.sas('w');
    const at = (sasUrl: string, blob: string) => sasUrl.replace('?', `/${blob}?`);
    await addTasks('j', [
      {
        id: 'missing',
        commandLine: 'echo',
        resourceFiles: [{ httpUrl: at(readable, 'nope.txt'), filePath: 'n.txt' }],
      },
      {
        id: 'denied',
        commandLine: 'echo',
        resourceFiles: [{ httpUrl: at(writeOnly, 'a.txt'), filePath: 'a.txt' }],
      },
      {
        id: 'fine',
        commandLine: 'cat a.txt',
        resourceFiles: [{ httpUrl: at(readable, 'a.txt'), filePath: 'a.txt' }],
      },
    ]);
    await allCompleted('j');
    expect((await task('j', 'missing')).executionInfo.failureInfo).toMatchObject({
      code: 'BlobNotFound',
      category: 'usererror',
    });
    expect((await task('j', 'denied')).executionInfo.failureInfo).toMatchObject({ code: 'BlobAccessDenied' });
    expect((await task('j', 'denied')).executionInfo.exitCode).toBeUndefined();
    expect((await task('j', 'fine')).executionInfo).toMatchObject({ result: 'success', exitCode: 0 });
    expect((await fetchFile('/jobs/j/tasks/fine/files/stdout.txt')).text).toBe('A');
  });

  it('fails the upload of a task whose SAS cannot write, with FileUploadMiscError and its exit option', async () => {
    const results = await container();
    await readyPool('p');
    await ok('POST', '/jobs', {
      id: 'j',
      poolInfo: { poolId: 'p' },
      onTaskFailure: 'performexitoptionsjobaction',
    });
    const readOnly = await results.sas('rl');
    await addTasks('j', [
      {
        id: 'up',
        commandLine: '/bin/sh -c "echo result > r.txt"',
        outputFiles: [upload(readOnly, 'r.txt', 'r.txt')],
        exitConditions: { fileUploadError: { jobAction: 'none' } },
      },
    ]);
    const [t] = await allCompleted('j');
    expect(t!.executionInfo).toMatchObject({
      result: 'failure',
      exitCode: 0,
      failureInfo: { code: 'FileUploadMiscError', category: 'usererror' },
    });
    expect((await ok('GET', '/jobs/j')).state).toBe('active');
    expect(await blobText(results.client, 'r.txt')).toBeUndefined();
    const log = await fetchFile('/jobs/j/tasks/up/files/fileuploaderr.txt');
    expect(log.text).toContain('403');
    expect(log.text).not.toContain('sig=');
  });

  it('uploads stderr only for the failing task with uploadCondition taskfailure, and logs by wildcard', async () => {
    const results = await container();
    const out = await results.sas('cw');
    await readyPool('p');
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    const outputs = (id: string) => [
      upload(out, '../stderr.txt', `${id}/stderr-on-failure.txt`, 'taskfailure'),
      upload(out, '../std*.txt', `${id}/$TaskLog`),
    ];
    await addTasks('j', [
      {
        id: 'bad',
        commandLine: "/bin/sh -c 'echo working; echo boom >&2; exit 3'",
        outputFiles: outputs('bad'),
      },
      { id: 'good', commandLine: "/bin/sh -c 'echo fine; echo note >&2'", outputFiles: outputs('good') },
    ]);
    await allCompleted('j');
    expect(await blobText(results.client, 'bad/stderr-on-failure.txt')).toBe('boom\n');
    expect(await blobText(results.client, 'good/stderr-on-failure.txt')).toBeUndefined();
    expect(await blobText(results.client, 'bad/$TaskLog/stdout.txt')).toBe('working\n');
    expect(await blobText(results.client, 'good/$TaskLog/stderr.txt')).toBe('note\n');
    expect((await task('j', 'bad')).executionInfo).toMatchObject({
      exitCode: 3,
      failureInfo: { code: 'FailureExitCode' },
    });
  });
});

describe('late and switched-off transfers', () => {
  it('does not let a download that ends after the task was terminated touch it', async () => {
    let arrived!: () => void;
    const requested = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let answer!: () => void;
    const held = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const server = createServer((_req, res) => {
      arrived();
      void held.then(() => res.end('late bytes'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      await readyPool('p');
      await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
      await addTasks('j', [
        {
          id: 'slow',
          commandLine: 'cat in.txt',
          resourceFiles: [{ httpUrl: `http://127.0.0.1:${port}/in.txt`, filePath: 'in.txt' }],
        },
      ]);
      await requested;
      expect((await task('j', 'slow')).state).toBe('running');
      await call(emulator, 'POST', '/jobs/j/tasks/slow/terminate');
      answer();
      await until(transfers, (m) => m.totals.downloadedFiles === 1);
      const t = await task('j', 'slow');
      expect(t.executionInfo.failureInfo).toMatchObject({ code: 'TaskEnded' });
      expect(await call(emulator, 'GET', '/jobs/j/tasks/slow/files/wd/in.txt')).toMatchObject({
        status: 404,
        json: { code: 'FileNotFound' },
      });
    } finally {
      server.close();
    }
  });

  it('contacts no storage with transfers off, and the tasks still run', async () => {
    await emulator.close();
    emulator = await startBatchEmulator({
      port: 0,
      accountName: ACCOUNT,
      accountKey: KEY,
      clockFactor: 0,
      allocationSeconds: 30,
      nodeStartSeconds: 0,
      transfers: 'off',
    });
    const results = await container();
    await readyPool('p');
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [
      {
        id: 't',
        commandLine: '/bin/sh -c "echo x > out.txt"',
        outputFiles: [upload(await results.sas('cw'), 'out.txt', 'out.txt')],
      },
    ]);
    const [t] = await allCompleted('j');
    expect(t!.executionInfo.result).toBe('success');
    expect(await blobText(results.client, 'out.txt')).toBeUndefined();
    expect((await transfers()).totals.uploadedFiles).toBe(0);
  });
});

describe('task files', () => {
  it('lists, reads and ranges a task’s files, through the task and through its node', async () => {
    await readyPool('p');
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [{ id: 't', commandLine: '/bin/sh -c "echo -n 0123456789 > out.txt; echo hello"' }]);
    const [t] = await allCompleted('j');
    expect(t!.nodeInfo).toMatchObject({ taskRootDirectory: 'workitems/j/job-1/t' });

    const top = (await ok('GET', '/jobs/j/tasks/t/files')).value as {
      name: string;
      isDirectory: boolean;
      properties: Record<string, string>;
    }[];
    expect(top.map((f) => [f.name, f.isDirectory])).toEqual([
      ['stderr.txt', false],
      ['stdout.txt', false],
      ['wd', true],
    ]);
    expect(top[1]!.properties).toMatchObject({ contentLength: '6', contentType: 'application/octet-stream' });
    const deep = (await ok('GET', "/jobs/j/tasks/t/files?recursive=true&$filter=startswith(name,'wd/')"))
      .value as { name: string; url: string }[];
    expect(deep.map((f) => f.name)).toEqual(['wd/out.txt']);
    expect(deep[0]!.url).toBe(`${emulator.url}/jobs/j/tasks/t/files/wd/out.txt`);
    const page = await ok('GET', '/jobs/j/tasks/t/files?recursive=true&maxresults=2');
    expect((page.value as unknown[]).length).toBe(2);
    const next = new URL(String(page['odata.nextLink']));
    const rest = await ok('GET', `${next.pathname}${next.search}`);
    expect(
      [...(page.value as { name: string }[]), ...(rest.value as { name: string }[])].map((f) => f.name),
    ).toEqual(['stderr.txt', 'stdout.txt', 'wd', 'wd/out.txt']);

    const whole = await fetchFile('/jobs/j/tasks/t/files/wd/out.txt');
    expect(whole.text).toBe('0123456789');
    expect(whole.headers.get('ocp-batch-file-isdirectory')).toBe('false');
    const part = await fetchFile('/jobs/j/tasks/t/files/wd/out.txt', { 'ocp-range': 'bytes=2-5' });
    expect(part.text).toBe('2345');
    const head = await call(emulator, 'HEAD', '/jobs/j/tasks/t/files/wd/out.txt');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('10');
    expect(head.headers.get('ocp-batch-file-url')).toBe(`${emulator.url}/jobs/j/tasks/t/files/wd/out.txt`);
    expect(head.headers.get('ocp-batch-file-mode')).toBeTruthy();
    const viaNode = await fetchFile(`${new URL(t!.nodeInfo!.taskRootDirectoryUrl).pathname}/stdout.txt`);
    expect(viaNode.text).toBe('hello\n');

    expect(await call(emulator, 'GET', '/jobs/j/tasks/t/files/wd/nope.txt')).toMatchObject({
      status: 404,
      json: { code: 'FileNotFound' },
    });
    expect(
      (
        await call(emulator, 'GET', '/jobs/j/tasks/t/files/stdout.txt', undefined, {
          headers: { 'ocp-range': 'bytes=50-60' },
        })
      ).status,
    ).toBe(416);
  });

  it('answers TaskFilesUnavailable once the node has left the pool', async () => {
    await readyPool('p');
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [{ id: 't', commandLine: 'echo hi' }]);
    await allCompleted('j');
    expect((await call(emulator, 'GET', '/jobs/j/tasks/t/files/stdout.txt')).status).toBe(200);
    await ok('POST', '/pools/p/resize', { targetDedicatedNodes: 0 });
    await advance(emulator, 30);
    expect((await ok('GET', '/pools/p/nodes')).value).toEqual([]);
    expect(await call(emulator, 'GET', '/jobs/j/tasks/t/files')).toMatchObject({
      status: 409,
      json: { code: 'TaskFilesUnavailable' },
    });
    await addTasks('j', [{ id: 'never', commandLine: 'echo' }]);
    expect((await call(emulator, 'GET', '/jobs/j/tasks/never/files')).status).toBe(409);
  });

  it('loses a preempted low-priority node’s disk', async () => {
    await readyPool('p', { targetDedicatedNodes: 0, targetLowPriorityNodes: 1 });
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await addTasks('j', [
      { id: 't', commandLine: '/bin/sh -c "echo kept > $AZ_BATCH_NODE_SHARED_DIR/f.txt"' },
    ]);
    const [t] = await allCompleted('j');
    const nodeId = t!.nodeInfo!.nodeId;
    expect((await fetchFile(`/pools/p/nodes/${nodeId}/files/shared/f.txt`)).text).toBe('kept\n');
    expect(
      (await control(emulator, 'POST', 'pools/p/preempt', { nodeIds: [nodeId], recoverAfterSeconds: null }))
        .status,
    ).toBe(200);
    expect((await call(emulator, 'GET', `/pools/p/nodes/${nodeId}/files/shared/f.txt`)).status).toBe(404);
    expect((await call(emulator, 'GET', '/jobs/j/tasks/t/files/stdout.txt')).status).toBe(409);
  });
});

async function fetchFile(path: string, headers: Record<string, string> = {}) {
  const r = await call(emulator, 'GET', path, undefined, { headers });
  if (r.status !== 200) throw new Error(`GET ${path} → ${r.status} ${r.raw}`);
  return { headers: r.headers, text: r.raw };
}
