/**
 * Pools as enterprises run them, end to end on the real stack: a job asks for a managed pool with a
 * user-assigned identity, a subnet without public IPs, a start task, a Blob mount and a data disk; the
 * pool is created through the management plane and lands in Batch with exactly those properties (read
 * back through the official `@azure/arm-batch` client and through the data plane), the start task runs
 * before the tasks (they read what it left), and keyless resource files reach Storage with the pool's
 * identity. Two tenants asking for the same spec get two pools. A start task that fails on a node makes
 * the node bad: the pool controller removes it and the job completes on the others.
 */
import type { BatchManagementClient, Pool } from '@azure/arm-batch';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import type { JobDoc } from '../../shared/model/job.js';
import { localArmClient } from '../support/arm.js';
import {
  BATCH_ACCOUNT,
  emulatorClient,
  getJob,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

const SUB = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
const RG = 'slotwise-local';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-acme`;
const SUBNET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-acme/subnets/batch-nodes`;
const ACME_KEY = 'acme-key-0123456789';

let stack: SlotwiseStack;
let batch: BatchClient;
let arm: BatchManagementClient;
let inputsUrl: string;

beforeAll(async () => {
  stack = await startSlotwise({
    env: {
      BATCH_SUBSCRIPTION_ID: SUB,
      BATCH_RESOURCE_GROUP: RG,
      SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '600',
      SLOTWISE_POOL_IDLE_TTL_SECONDS: '600',
      // A pool whose start task fails everywhere holds its jobs this long (real seconds), then fails them.
      SLOTWISE_ALLOCATION_DEADLINE_SECONDS: '5',
    },
  });
  batch = emulatorClient(stack);
  const grants = {
    limits: { submissionsPerSecond: 1000, submissionBurst: 1000, maxNodes: 1000 },
    identities: [IDENTITY],
    subnets: [SUBNET],
    allowStartTask: true,
  };
  await stack.deps.tenants.updatePolicy('dev', grants);
  await stack.deps.tenants.upsert('acme', { apiKey: ACME_KEY, now: new Date() });
  await stack.deps.tenants.updatePolicy('acme', grants);

  // The official management client, as an operator would read the pool (http: a fixed local token).
  arm = localArmClient(stack.emulator.url, SUB, 'operator');

  // A container the pool's identity reads: no SAS in the request (the emulator lets a pool identity in).
  const blobs = BlobServiceClient.fromConnectionString(stack.env.AzureWebJobsStorage!);
  const container = blobs.getContainerClient('acme-inputs');
  await container.createIfNotExists();
  await container.getBlockBlobClient('tool.txt').upload('tool-v2', 7);
  inputsUrl = container.url;
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const post = (body: unknown, key?: string) =>
  stack.request('/jobs', { method: 'POST', body: JSON.stringify(body), ...(key ? { key } : {}) });

const enterprisePool = (startTask: object) => ({
  vmSize: 'standard_d2s_v3',
  taskSlotsPerNode: 2,
  maxNodes: 3,
  identity: IDENTITY,
  network: { subnetId: SUBNET, publicIp: 'none' },
  startTask,
  mounts: [
    { azureBlob: { accountName: 'acmerefs', containerName: 'genomes', relativeMountPath: 'genomes' } },
  ],
  dataDisks: [{ lun: 0, diskSizeGB: 128, caching: 'readOnly', storageAccountType: 'premium_lrs' }],
});

const installTool = {
  commandLine: "/bin/sh -c 'cp tool.txt $AZ_BATCH_NODE_SHARED_DIR/tool.txt'",
  resourceFiles: [{ httpUrl: '@inputs@/tool.txt', filePath: 'tool.txt', identity: true }],
};

function withInputs<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replaceAll('@inputs@', inputsUrl)) as T;
}

async function readOutput(jobId: string, path: string): Promise<string> {
  const res = await stack.request(`/jobs/${jobId}/outputs/${path}`);
  expect(res.status).toBe(200);
  return res.text();
}

interface WirePool {
  identity?: { type: string; userAssignedIdentities?: { resourceId: string }[] };
  networkConfiguration?: { subnetId: string; publicIPAddressConfiguration?: { provision: string } };
  targetNodeCommunicationMode?: string;
  startTask?: {
    commandLine: string;
    waitForSuccess?: boolean;
    userIdentity?: unknown;
    resourceFiles?: unknown[];
  };
  mountConfiguration?: unknown[];
  virtualMachineConfiguration: { dataDisks?: unknown[] };
  metadata?: { name: string; value: string }[];
}

describe('a managed pool with identity, subnet, start task, mount and data disk', () => {
  it('lands in Batch with exactly those properties, and its tasks run after the start task', async () => {
    const res = await post(
      withInputs({
        id: 'enterprise-1',
        pool: enterprisePool(installTool),
        keepLogs: 'none',
        tasks: [0, 1, 2].map((i) => ({
          id: `t${i}`,
          commandLine: `/bin/sh -c 'ls $AZ_BATCH_NODE_MOUNTS_DIR/genomes && cat $AZ_BATCH_NODE_SHARED_DIR/tool.txt > out.txt'`,
          outputFiles: [{ filePattern: 'out.txt' }],
        })),
      }),
    );
    expect(res.status, await res.clone().text()).toBe(202);
    const job = await waitForJobState(stack, 'enterprise-1', ['completed', 'failed'], 60_000);
    expect(job.state, JSON.stringify(job.failure)).toBe('completed');
    // Each task read the file the start task left in the node's shared folder.
    for (const i of [0, 1, 2]) expect(await readOutput('enterprise-1', `t${i}/out.txt`)).toBe('tool-v2');

    const poolId = job.batch!.poolId;
    // The data plane's view (identity is read-only there, but shown).
    const wire = (await batch.pools.get(poolId)) as unknown as WirePool;
    expect(wire.identity?.type).toBe('UserAssigned');
    expect(wire.identity?.userAssignedIdentities?.map((i) => i.resourceId)).toEqual([IDENTITY]);
    expect(wire.networkConfiguration).toEqual({
      subnetId: SUBNET,
      publicIPAddressConfiguration: { provision: 'nopublicipaddresses' },
    });
    expect(wire.targetNodeCommunicationMode).toBe('simplified');
    expect(wire.startTask).toMatchObject({
      commandLine: installTool.commandLine,
      waitForSuccess: true,
      userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
      resourceFiles: [
        {
          httpUrl: `${inputsUrl}/tool.txt`,
          filePath: 'tool.txt',
          identityReference: { resourceId: IDENTITY },
        },
      ],
    });
    expect(wire.mountConfiguration).toEqual([
      {
        azureBlobFileSystemConfiguration: {
          accountName: 'acmerefs',
          containerName: 'genomes',
          relativeMountPath: 'genomes',
          identityReference: { resourceId: IDENTITY },
        },
      },
    ]);
    expect(wire.virtualMachineConfiguration.dataDisks).toEqual([
      { lun: 0, diskSizeGB: 128, caching: 'readonly', storageAccountType: 'premium_lrs' },
    ]);

    // The management plane's view, through the official client: the same pool, created there.
    const viaArm: Pool = await arm.poolOperations.get(RG, BATCH_ACCOUNT, poolId);
    expect(Object.keys(viaArm.identity?.userAssignedIdentities ?? {})).toEqual([IDENTITY]);
    expect(viaArm.networkConfiguration?.publicIPAddressConfiguration?.provision).toBe('NoPublicIPAddresses');
    expect(viaArm.targetNodeCommunicationMode).toBe('Simplified');
    expect(viaArm.startTask?.commandLine).toBe(installTool.commandLine);
    expect(viaArm.metadata).toEqual(expect.arrayContaining([{ name: 'slotwise.tenant', value: 'dev' }]));

    // Pools are created through the management plane, never the data plane's POST /pools.
    const counters = (await (await stack.emulatorControl('counters')).json()) as {
      requests: Record<string, number>;
    };
    expect(counters.requests['POST /pools'] ?? 0).toBe(0);
  }, 90_000);

  it('is never shared between two tenants asking for the same spec', async () => {
    const body = withInputs({
      id: 'same-spec',
      pool: enterprisePool(installTool),
      keepLogs: 'none',
      tasks: [{ id: 'a', commandLine: 'sleep 1' }],
    });
    expect((await post(body)).status).toBe(202);
    expect((await post(body, ACME_KEY)).status).toBe(202);
    const dev = await waitForJobState(stack, 'same-spec', ['completed', 'failed'], 60_000);
    const acme = await waitFor(
      () => getJob(stack, 'same-spec', ACME_KEY),
      (j) => j?.state === 'completed' || j?.state === 'failed',
      { what: "acme's job ended", timeoutMs: 60_000 },
    );
    expect([dev.state, acme!.state]).toEqual(['completed', 'completed']);
    expect(dev.batch!.poolId).not.toBe(acme!.batch!.poolId);
    const owners = await Promise.all(
      [dev.batch!.poolId, acme!.batch!.poolId].map(async (id) => {
        const pool = (await batch.pools.get(id)) as unknown as WirePool;
        return pool.metadata?.find((m) => m.name === 'slotwise.tenant')?.value;
      }),
    );
    expect(owners).toEqual(['dev', 'acme']);
  }, 90_000);

  it('removes a node whose start task failed, and the job completes on the others', async () => {
    // A first job creates the pool with one node; before the pool grows for the second, the emulator is
    // told that the next node's start task fails.
    const startTask = { commandLine: "/bin/sh -c 'echo ready > $AZ_BATCH_NODE_SHARED_DIR/ready.txt'" };
    const first = await post({
      id: 'start-warm',
      pool: enterprisePool(startTask),
      keepLogs: 'none',
      tasks: [{ id: 'w', commandLine: 'sleep 1' }],
    });
    expect(first.status).toBe(202);
    const warm = await waitForJobState(stack, 'start-warm', ['completed', 'failed'], 60_000);
    expect(warm.state).toBe('completed');
    const poolId = warm.batch!.poolId;
    const armed = await stack.emulatorControl(`pools/${poolId}/start-task-failures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 1 }),
    });
    expect(armed.status).toBe(200);

    const res = await post({
      id: 'start-fails',
      pool: enterprisePool(startTask),
      keepLogs: 'none',
      tasks: Array.from({ length: 6 }, (_, i) => ({
        id: `t${i}`,
        commandLine: "/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/ready.txt > out.txt && sleep 3000'",
        outputFiles: [{ filePattern: 'out.txt' }],
      })),
    });
    expect(res.status).toBe(202);
    const job = await waitForJobState(stack, 'start-fails', ['completed', 'failed'], 120_000);
    expect(job.state, JSON.stringify(job.failure)).toBe('completed');
    expect(job.taskCounts).toMatchObject({ succeeded: 6, failed: 0 });
    // Every task ran on a node whose start task had succeeded.
    for (let i = 0; i < 6; i++) expect(await readOutput('start-fails', `t${i}/out.txt`)).toBe('ready\n');

    const doc = (await stack.deps.jobs.get('dev', 'start-fails')) as JobDoc;
    const removed = doc.events.find((e) => e.type === 'slotwise.job.node_removed');
    expect(removed?.detail?.node).toMatchObject({ poolId, reason: 'NodeStartTaskFailed', action: 'removed' });
  }, 180_000);

  it('tells a job why it waits while the start task fails on every node, then fails it at the deadline', async () => {
    const res = await post({
      id: 'start-broken',
      pool: { ...enterprisePool({ commandLine: "/bin/sh -c 'exit 7'" }), maxNodes: 2 },
      keepLogs: 'none',
      tasks: [{ id: 't', commandLine: 'sleep 1' }],
    });
    expect(res.status).toBe(202);
    const waiting = await waitFor(
      () => getJob(stack, 'start-broken'),
      (j) => j?.waiting !== undefined || j?.state === 'failed',
      { what: 'the job waiting on the start task', timeoutMs: 60_000 },
    );
    expect(waiting?.waiting?.code ?? waiting?.failure?.code).toBe('PoolStartTaskFailed');
    const job = await waitForJobState(stack, 'start-broken', ['completed', 'failed'], 60_000);
    expect(job.state).toBe('failed');
    expect(job.failure?.code).toBe('PoolStartTaskFailed');
    expect(job.failure?.message).toMatch(/No node of the pool passed its start task for .*failed on node/);
    expect(job.taskCounts.succeeded).toBe(0);
  }, 90_000);
});
