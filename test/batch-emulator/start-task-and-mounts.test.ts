/**
 * What a node does as it joins a pool made through the management plane: its start task (run with the
 * emulator's shell in AZ_BATCH_NODE_STARTUP_DIR before the node takes tasks, retried, failing a node
 * into `starttaskfailed`) and its mounts (directories under AZ_BATCH_NODE_MOUNTS_DIR that the pool's
 * nodes share); and a task file naming an identity the pool lacks, failed at run time as Batch does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BatchManagementClient } from '@azure/arm-batch';
import { ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, startAzurite } from '../../dev/services/services.js';
import { type BatchClient, createBatchClient } from '../../shared/adapters/batch/client.js';
import { armPool, localArmClient } from '../support/arm.js';
import { ACCOUNT, advance, call, control, KEY, start, until } from './helpers.js';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'rg-batch';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pool-id`;
const OTHER_IDENTITY = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other`;

let emulator: BatchEmulator;
let arm: BatchManagementClient;
let data: BatchClient;
let files: Server;
let filesUrl: string;

const pool = armPool;

type Node = Record<string, unknown> & {
  id: string;
  state: string;
  startTaskInfo?: Record<string, unknown>;
  startTask?: Record<string, unknown>;
};

async function nodes(poolId: string): Promise<Node[]> {
  const out: Node[] = [];
  for await (const n of data.nodes.list(poolId)) out.push(n as Node);
  return out;
}

async function tasks(jobId: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const t of data.tasks.list(jobId)) out.push(t);
  return out;
}

async function nodeFile(
  poolId: string,
  nodeId: string,
  path: string,
): Promise<{ status: number; text: string }> {
  const r = await call(emulator, 'GET', `/pools/${poolId}/nodes/${nodeId}/files/${path}`);
  return { status: r.status, text: r.raw };
}

beforeAll(async () => {
  emulator = await start({ clockFactor: 600, allocationSeconds: 30, nodeStartSeconds: 5 });
  arm = localArmClient(emulator.url, SUB);
  data = createBatchClient({ endpoint: emulator.url, accountName: ACCOUNT, accountKey: KEY });
  files = createServer((req, res) => {
    if (req.url === '/tool.sh') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('#!/bin/sh\necho tool\n');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await data?.close();
  await emulator?.close();
  await new Promise((resolve) => files?.close(resolve));
});

// A test that stops the clock and fails midway must not leave it stopped for the next.
afterEach(async () => {
  await control(emulator, 'POST', 'clock', { factor: 600 });
});

describe('the start task', () => {
  it('runs on each node before it takes tasks; one that fails leaves its node starttaskfailed while the others run tasks', async () => {
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'st',
      pool({
        startTask: {
          commandLine:
            "/bin/sh -c 'echo hello from $AZ_BATCH_NODE_ID; sleep 30; echo done > $AZ_BATCH_TASK_WORKING_DIR/ready.txt'",
          waitForSuccess: true,
          maxTaskRetryCount: 2,
        },
      }),
    );
    expect((await control(emulator, 'POST', 'pools/st/start-task-failures', { count: 1 })).status).toBe(200);
    // A new pool allocates its (zero) nodes first: Batch resizes only a steady pool.
    await until(
      () => arm.poolOperations.get(RG, ACCOUNT, 'st'),
      (p) => p.allocationState === 'Steady',
    );
    // Step the clock by hand through allocation, start and the start task.
    await control(emulator, 'POST', 'clock', { factor: 0 });
    await arm.poolOperations.update(RG, ACCOUNT, 'st', {
      scaleSettings: { fixedScale: { targetDedicatedNodes: 3 } },
    });
    await advance(emulator, 30);
    expect((await nodes('st')).map((n) => n.state)).toEqual(['starting', 'starting', 'starting']);
    await advance(emulator, 5);
    const joining = await nodes('st');
    expect(joining.map((n) => n.state)).toEqual([
      'waitingforstarttask',
      'waitingforstarttask',
      'waitingforstarttask',
    ]);
    expect(joining[0]?.startTaskInfo).toMatchObject({ state: 'running', retryCount: 0 });
    // The scripted failure: 3 attempts of 1 s, a second apart; the others still sleep.
    await advance(emulator, 10);
    const failedOne = (await nodes('st')).find((n) => n.state === 'starttaskfailed');
    expect(failedOne?.startTaskInfo).toMatchObject({
      state: 'completed',
      exitCode: 1,
      result: 'failure',
      retryCount: 2,
      failureInfo: { category: 'usererror', code: 'FailureExitCode' },
    });
    expect((await nodes('st')).filter((n) => n.state === 'waitingforstarttask')).toHaveLength(2);
    await advance(emulator, 30);
    const joined = await nodes('st');
    expect(joined.map((n) => n.state).sort()).toEqual(['idle', 'idle', 'starttaskfailed']);
    const good = joined.filter((n) => n.state === 'idle');
    for (const n of good) {
      expect(n.startTaskInfo).toMatchObject({
        state: 'completed',
        exitCode: 0,
        result: 'success',
        retryCount: 0,
      });
      expect(n.startTask).toMatchObject({ waitForSuccess: true, maxTaskRetryCount: 2 });
      expect(await nodeFile('st', n.id, 'startup/stdout.txt')).toEqual({
        status: 200,
        text: `hello from ${n.id}\n`,
      });
      expect((await nodeFile('st', n.id, 'startup/wd/ready.txt')).text).toBe('done\n');
    }
    expect((await nodeFile('st', failedOne!.id, 'startup/stderr.txt')).text).toContain('exit 1');

    await data.jobs.add({ id: 'st-job', poolInfo: { poolId: 'st' } });
    for (let i = 0; i < 6; i++) await data.tasks.add('st-job', { id: `t${i}`, commandLine: 'sleep 10' });
    await control(emulator, 'POST', 'clock', { factor: 600 });
    const done = await until(
      () => tasks('st-job'),
      (ts) => ts.length === 6 && ts.every((t) => t.state === 'completed'),
    );
    const ranOn = new Set(done.map((t) => (t.nodeInfo as { nodeId: string }).nodeId));
    expect([...ranOn].sort()).toEqual(good.map((n) => n.id).sort());
    expect(done.every((t) => (t.executionInfo as { result: string }).result === 'success')).toBe(true);
  });

  it('without waitForSuccess the node takes tasks whatever its start task does', async () => {
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'st-nowait',
      pool({ startTask: { commandLine: "/bin/sh -c 'echo trying; exit 3'", waitForSuccess: false } }, 1),
    );
    const [node] = await until(
      () => nodes('st-nowait'),
      (ns) => ns[0]?.startTaskInfo?.state === 'completed',
    );
    expect(node?.state).toBe('idle');
    expect(node?.startTaskInfo).toMatchObject({ exitCode: 3, result: 'failure', retryCount: 0 });
    await data.jobs.add({ id: 'nowait-job', poolInfo: { poolId: 'st-nowait' } });
    await data.tasks.add('nowait-job', { id: 'a', commandLine: 'echo ran' });
    const [task] = await until(
      () => tasks('nowait-job'),
      (ts) => ts[0]?.state === 'completed',
    );
    expect(task?.executionInfo).toMatchObject({ result: 'success', exitCode: 0 });
  });

  it('fetches its resource files into its working directory first', async () => {
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'st-files',
      pool(
        {
          startTask: {
            commandLine: "/bin/sh -c 'cat tools/tool.sh'",
            resourceFiles: [{ httpUrl: `${filesUrl}/tool.sh`, filePath: 'tools/tool.sh', fileMode: '0755' }],
          },
        },
        1,
      ),
    );
    const [node] = await until(
      () => nodes('st-files'),
      (ns) => ns[0]?.state === 'idle',
    );
    expect((await nodeFile('st-files', node!.id, 'startup/wd/tools/tool.sh')).text).toBe(
      '#!/bin/sh\necho tool\n',
    );
    expect((await nodeFile('st-files', node!.id, 'startup/stdout.txt')).text).toBe('#!/bin/sh\necho tool\n');
  });

  it('a start task whose file cannot be fetched fails at once, not retried', async () => {
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'st-missing',
      pool(
        {
          startTask: {
            commandLine: '/bin/true',
            maxTaskRetryCount: 3,
            resourceFiles: [{ httpUrl: `${filesUrl}/missing.sh`, filePath: 'missing.sh' }],
          },
        },
        1,
      ),
    );
    const [node] = await until(
      () => nodes('st-missing'),
      (ns) => ns[0]?.state === 'starttaskfailed',
    );
    expect(node?.startTaskInfo).toMatchObject({
      result: 'failure',
      retryCount: 0,
      failureInfo: { category: 'usererror', code: 'BlobNotFound' },
    });
  });
});

describe('mounts', () => {
  it('each mount is a directory under AZ_BATCH_NODE_MOUNTS_DIR, the same storage on every node', async () => {
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'mnt',
      pool(
        {
          identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } },
          mountConfiguration: [
            {
              azureFileShareConfiguration: {
                accountName: 'files',
                azureFileUrl: 'https://files.file.core.windows.net/share',
                accountKey: 'a2V5',
                relativeMountPath: 'share',
              },
            },
            {
              azureBlobFileSystemConfiguration: {
                accountName: 'data',
                containerName: 'refs',
                relativeMountPath: 'refs/genomes',
                identityReference: { resourceId: IDENTITY },
              },
            },
          ],
        },
        2,
      ),
    );
    const ready = await until(
      () => nodes('mnt'),
      (ns) => ns.length === 2 && ns.every((n) => n.state === 'idle'),
    );
    await data.jobs.add({ id: 'mnt-job', poolInfo: { poolId: 'mnt' } });
    await data.tasks.add('mnt-job', {
      id: 'writer',
      commandLine:
        "/bin/sh -c 'echo $AZ_BATCH_NODE_MOUNTS_DIR; ls $AZ_BATCH_NODE_MOUNTS_DIR; echo shared > $AZ_BATCH_NODE_MOUNTS_DIR/share/note.txt'",
    });
    const [writer] = await until(
      () => tasks('mnt-job'),
      (ts) => ts[0]?.state === 'completed',
    );
    expect(writer?.executionInfo).toMatchObject({ result: 'success' });
    const stdout = await call(emulator, 'GET', '/jobs/mnt-job/tasks/writer/files/stdout.txt');
    expect(stdout.raw).toBe('/mnt/batch/tasks/fsmounts\nrefs\nshare\n');
    // What one node wrote to the share, the other node sees.
    const writerNode = (writer?.nodeInfo as { nodeId: string }).nodeId;
    const other = ready.find((n) => n.id !== writerNode)!;
    expect((await nodeFile('mnt', other.id, 'fsmounts/share/note.txt')).text).toBe('shared\n');
    expect((await nodeFile('mnt', other.id, 'fsmounts/refs/genomes')).status).toBe(200);
  });
});

describe('identity references at run time', () => {
  it('a task file naming an identity the pool lacks fails as Batch reports it; the pool identity works', async () => {
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'keyless',
      pool({ identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } } }, 1),
    );
    await data.jobs.add({ id: 'keyless-job', poolInfo: { poolId: 'keyless' } });
    const container = 'https://data.blob.core.windows.net/inputs';
    await data.tasks.add('keyless-job', {
      id: 'listing',
      commandLine: 'echo never',
      constraints: { maxTaskRetryCount: 2 },
      resourceFiles: [
        { storageContainerUrl: container, filePath: 'in', identityReference: { resourceId: OTHER_IDENTITY } },
      ],
    });
    await data.tasks.add('keyless-job', {
      id: 'blob',
      commandLine: 'echo never',
      resourceFiles: [
        {
          httpUrl: `${container}/a.txt`,
          filePath: 'a.txt',
          identityReference: { resourceId: OTHER_IDENTITY },
        },
      ],
    });
    await data.tasks.add('keyless-job', {
      id: 'upload',
      commandLine: "/bin/sh -c 'echo out > out.txt'",
      outputFiles: [
        {
          filePattern: 'out.txt',
          destination: {
            container: {
              containerUrl: 'https://data.blob.core.windows.net/outputs',
              identityReference: { resourceId: OTHER_IDENTITY },
            },
          },
          uploadOptions: { uploadCondition: 'taskcompletion' },
        },
      ],
    });
    await data.tasks.add('keyless-job', {
      id: 'own',
      commandLine: 'echo fine',
      resourceFiles: [
        { storageContainerUrl: container, filePath: 'in', identityReference: { resourceId: IDENTITY } },
      ],
    });
    const done = await until(
      () => tasks('keyless-job'),
      (ts) => ts.length === 4 && ts.every((t) => t.state === 'completed'),
    );
    const byId = Object.fromEntries(
      done.map((t) => [t.id as string, t.executionInfo as Record<string, unknown>]),
    );
    expect(byId.listing).toMatchObject({
      result: 'failure',
      retryCount: 0,
      failureInfo: { category: 'usererror', code: 'ResourceContainerListMiscError' },
    });
    expect(byId.blob).toMatchObject({ result: 'failure', failureInfo: { code: 'BlobDownloadMiscError' } });
    expect(byId.upload).toMatchObject({
      result: 'failure',
      exitCode: 0,
      failureInfo: { code: 'FileUploadMiscError' },
    });
    expect(byId.own).toMatchObject({ result: 'success', exitCode: 0 });
  });
});

describe('keyless transfers with the pool identity', () => {
  let azurite: Azurite;

  beforeAll(async () => {
    azurite = await startAzurite();
  }, 60_000);

  afterAll(async () => {
    if (!azurite) return;
    const exited = new Promise<void>((resolve) => azurite.process.once('exit', () => resolve()));
    azurite.process.kill('SIGTERM');
    await exited;
  });

  it('a file named with the pool identity reaches private storage without a SAS', async () => {
    const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
    const inputs = new ContainerClient(`${azurite.blobEndpoint}/keyless-in`, credential);
    const results = new ContainerClient(`${azurite.blobEndpoint}/keyless-out`, credential);
    await inputs.create();
    await results.create();
    await inputs.getBlockBlobClient('ref/genome.txt').upload('ACGT', 4);
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'keyless-io',
      pool({ identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } } }, 1),
    );
    await data.jobs.add({ id: 'keyless-io-job', poolInfo: { poolId: 'keyless-io' } });
    await data.tasks.add('keyless-io-job', {
      id: 'copy',
      commandLine: "/bin/sh -c 'cp in/ref/genome.txt out.txt'",
      resourceFiles: [
        { storageContainerUrl: inputs.url, filePath: 'in', identityReference: { resourceId: IDENTITY } },
      ],
      outputFiles: [
        {
          filePattern: 'out.txt',
          destination: {
            container: {
              containerUrl: results.url,
              path: 'copy/out.txt',
              identityReference: { resourceId: IDENTITY },
            },
          },
          uploadOptions: { uploadCondition: 'tasksuccess' },
        },
      ],
    });
    // Without the identity the same private container is refused.
    await data.tasks.add('keyless-io-job', {
      id: 'no-identity',
      commandLine: 'echo never',
      resourceFiles: [{ storageContainerUrl: inputs.url, filePath: 'in' }],
    });
    const done = await until(
      () => tasks('keyless-io-job'),
      (ts) => ts.length === 2 && ts.every((t) => t.state === 'completed'),
    );
    const byId = Object.fromEntries(
      done.map((t) => [t.id as string, t.executionInfo as Record<string, unknown>]),
    );
    expect(byId.copy).toMatchObject({ result: 'success', exitCode: 0 });
    expect((await results.getBlobClient('copy/out.txt').downloadToBuffer()).toString()).toBe('ACGT');
    expect(byId['no-identity']).toMatchObject({
      result: 'failure',
      failureInfo: { code: 'BlobAccessDenied' },
    });
  });
});
