/**
 * Managed pools through the management plane, against the Batch emulator's ARM routes over HTTP with
 * the official `@azure/arm-batch` client: create (and what the data plane then shows), an existing pool
 * never overwritten, a pool being deleted, resize and delete only of this owner's pool (and asking again
 * for nodes a failed allocation left missing), a foreign pool left alone. A deleted pool stays `deleting` for ten real seconds here, long enough to be seen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { BatchError } from '../../shared/adapters/batch/batch-error.js';
import { createRestBatchGateway } from '../../shared/adapters/batch/batch-gateway-rest.js';
import { type BatchClient, createBatchClient } from '../../shared/adapters/batch/client.js';
import {
  type ArmPoolOperations,
  createArmPoolOperations,
} from '../../shared/adapters/batch-management/arm-pools.js';
import type { PoolBody } from '../../shared/model/batch-bodies.js';
import { type PoolOwner, poolOwnerMetadata } from '../../shared/model/batch-names.js';
import { secretPlaceholder } from '../../shared/model/secret-refs.js';
import { BATCH_ACCOUNT, BATCH_KEY, waitFor } from '../support/stack.js';

const SUB = '00000000-0000-0000-0000-000000000000';
const RG = 'slotwise-local';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pool-id`;
const SUBNET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/batch`;
const LICENSE = 'license-value-7f3a';

let emulator: BatchEmulator;
let data: BatchClient;
let pools: ArmPoolOperations;
const asked: string[] = [];

const owner: PoolOwner = { tenant: 'acme', spec: 'spec-1' };

function poolBody(id: string, extra: Partial<PoolBody> = {}): PoolBody {
  return {
    id,
    vmSize: 'standard_d2s_v3',
    virtualMachineConfiguration: {
      imageReference: {
        publisher: 'canonical',
        offer: '0001-com-ubuntu-server-jammy',
        sku: '22_04-lts',
        version: 'latest',
      },
      nodeAgentSKUId: 'batch.node.ubuntu 22.04',
    },
    taskSlotsPerNode: 2,
    taskSchedulingPolicy: { nodeFillType: 'pack' },
    targetDedicatedNodes: 0,
    targetLowPriorityNodes: 0,
    resizeTimeout: 'PT15M',
    enableAutoScale: false,
    targetNodeCommunicationMode: 'simplified',
    metadata: poolOwnerMetadata(owner),
    ...extra,
  };
}

interface WirePool {
  id: string;
  state?: string;
  allocationState?: string;
  targetDedicatedNodes?: number;
  targetLowPriorityNodes?: number;
  identity?: { type?: string; userAssignedIdentities?: { resourceId?: string }[] };
  networkConfiguration?: { subnetId?: string; publicIPAddressConfiguration?: { provision?: string } };
  targetNodeCommunicationMode?: string;
  startTask?: {
    commandLine?: string;
    environmentSettings?: { name: string; value: string }[];
    userIdentity?: { autoUser?: { scope?: string; elevationLevel?: string } };
    waitForSuccess?: boolean;
  };
  mountConfiguration?: Record<string, Record<string, unknown>>[];
  virtualMachineConfiguration?: { dataDisks?: Record<string, unknown>[] };
  metadata?: { name: string; value: string }[];
}

const readPool = async (id: string): Promise<WirePool | undefined> => {
  try {
    return (await data.pools.get(id)) as unknown as WirePool;
  } catch (e) {
    if (e instanceof BatchError && e.status === 404) return undefined;
    throw e;
  }
};

beforeAll(async () => {
  emulator = await startBatchEmulator({
    port: 0,
    accountName: BATCH_ACCOUNT,
    accountKey: BATCH_KEY,
    clockFactor: 600,
    allocationSeconds: 30,
    deleteSeconds: 6000,
  });
  data = createBatchClient({ endpoint: emulator.url, accountName: BATCH_ACCOUNT, accountKey: BATCH_KEY });
  pools = createArmPoolOperations({
    endpoint: emulator.url,
    subscriptionId: SUB,
    resourceGroup: RG,
    accountName: BATCH_ACCOUNT,
    maxRetries: 0,
    resolveSecret: async (tenant, name) => {
      asked.push(`${tenant}/${name}`);
      if (name === 'license') return LICENSE;
      if (name === 'files-key') return 'ZmlsZXMta2V5';
      throw new Error(`no secret ${name}`);
    },
  });
});

afterAll(async () => {
  await data?.close();
  await emulator?.close();
});

describe('managed pools through the management plane', () => {
  it('creates the pool with identity, network, disks, start task and mounts, secrets resolved', async () => {
    const body = poolBody('swp_acme_full', {
      identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: IDENTITY }] },
      virtualMachineConfiguration: {
        ...poolBody('x').virtualMachineConfiguration,
        dataDisks: [{ lun: 0, diskSizeGB: 64, caching: 'readwrite', storageAccountType: 'premium_lrs' }],
      },
      networkConfiguration: {
        subnetId: SUBNET,
        publicIPAddressConfiguration: { provision: 'nopublicipaddresses' },
      },
      startTask: {
        commandLine: '/bin/sh -c "echo ready"',
        environmentSettings: [
          { name: 'MODE', value: 'fast' },
          { name: 'LICENSE_KEY', value: secretPlaceholder('license') },
        ],
        userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
        maxTaskRetryCount: 0,
        waitForSuccess: true,
      },
      mountConfiguration: [
        {
          azureBlobFileSystemConfiguration: {
            accountName: 'acmedata',
            containerName: 'inputs',
            relativeMountPath: 'inputs',
            identityReference: { resourceId: IDENTITY },
          },
        },
        {
          azureFileShareConfiguration: {
            accountName: 'acmefiles',
            azureFileUrl: 'https://acmefiles.file.core.windows.net/scratch',
            accountKey: secretPlaceholder('files-key'),
            relativeMountPath: 'scratch',
          },
        },
      ],
    });
    expect(await pools.createPool(body)).toBe('created');
    expect(asked.sort()).toEqual(['acme/files-key', 'acme/license']);

    // The data plane reads the same account: the pool is there as planned.
    const pool = await readPool(body.id);
    expect(pool).toMatchObject({
      id: body.id,
      state: 'active',
      targetDedicatedNodes: 0,
      identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: IDENTITY }] },
      networkConfiguration: {
        subnetId: SUBNET,
        publicIPAddressConfiguration: { provision: 'nopublicipaddresses' },
      },
      targetNodeCommunicationMode: 'simplified',
      startTask: {
        commandLine: '/bin/sh -c "echo ready"',
        userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
        waitForSuccess: true,
      },
      virtualMachineConfiguration: { dataDisks: [{ lun: 0, diskSizeGB: 64 }] },
    });
    expect(pool?.startTask?.environmentSettings).toEqual([
      { name: 'MODE', value: 'fast' },
      { name: 'LICENSE_KEY', value: LICENSE },
    ]);
    expect(pool?.mountConfiguration?.map((m) => Object.keys(m)[0])).toEqual([
      'azureBlobFileSystemConfiguration',
      'azureFileShareConfiguration',
    ]);
    expect(Object.fromEntries((pool?.metadata ?? []).map((m) => [m.name, m.value]))).toMatchObject({
      'slotwise.tenant': 'acme',
      'slotwise.managed': 'true',
      'slotwise.spec': 'spec-1',
    });
  });

  it('never overwrites an existing pool: a second create answers exists', async () => {
    const body = poolBody('swp_acme_twice');
    expect(await pools.createPool(body)).toBe('created');
    expect(await pools.createPool({ ...body, targetDedicatedNodes: 3, taskSlotsPerNode: 4 })).toBe('exists');
    expect(await readPool(body.id)).toMatchObject({ targetDedicatedNodes: 0 });
  });

  it("resizes only this owner's pool", async () => {
    const body = poolBody('swp_acme_resize');
    expect(await pools.createPool(body)).toBe('created');
    // Batch resizes a pool only when it is steady (a new pool is briefly resizing, even to nothing).
    const steady = () =>
      waitFor(
        () => readPool(body.id),
        (p) => p?.allocationState === 'steady',
        { what: 'the pool steady' },
      );
    await steady();
    expect(await pools.resizePool(body.id, { dedicated: 2, lowPriority: 0 }, owner)).toBe('done');
    expect(await readPool(body.id)).toMatchObject({ targetDedicatedNodes: 2, targetLowPriorityNodes: 0 });
    // The same tenant's other spec, or another tenant: not theirs.
    for (const other of [
      { tenant: 'acme', spec: 'spec-2' },
      { tenant: 'umbrella', spec: 'spec-1' },
    ]) {
      expect(await pools.resizePool(body.id, { dedicated: 5, lowPriority: 0 }, other)).toBe('foreign');
    }
    expect(await readPool(body.id)).toMatchObject({ targetDedicatedNodes: 2 });
    await steady();
    // Again (each resize reads the pool and its ETag afresh).
    expect(await pools.resizePool(body.id, { dedicated: 1, lowPriority: 0 }, owner)).toBe('done');
    expect(await readPool(body.id)).toMatchObject({ targetDedicatedNodes: 1 });
    expect(await pools.resizePool('swp_acme_nothing', { dedicated: 1, lowPriority: 0 }, owner)).toBe(
      'missing',
    );
  });

  it('asks again for nodes a failed allocation left missing, at the same target', async () => {
    const quotas = (family: { name: string; coreQuota: number }[]) =>
      fetch(`${emulator.url}/_emulator/quotas`, {
        method: 'PUT',
        body: JSON.stringify({ dedicatedCoreQuotaPerVMFamily: family }),
      });
    const dataPlane = createRestBatchGateway(data);
    let again = 0;
    const reasking = createArmPoolOperations({
      endpoint: emulator.url,
      subscriptionId: SUB,
      resourceGroup: RG,
      accountName: BATCH_ACCOUNT,
      maxRetries: 0,
      resolveSecret: async () => 'unused',
      resizeAgain: (poolId, target, who) => {
        again++;
        return dataPlane.resizePool(poolId, target, who);
      },
    });
    const body = poolBody('swp_acme_short', { vmSize: 'standard_e4s_v3' });
    try {
      expect((await quotas([{ name: 'standardESv3Family', coreQuota: 0 }])).status).toBe(200);
      expect(await reasking.createPool(body)).toBe('created');
      await waitFor(
        () => readPool(body.id),
        (p) => p?.allocationState === 'steady',
        { what: 'the new pool steady' },
      );
      expect(await reasking.resizePool(body.id, { dedicated: 1, lowPriority: 0 }, owner)).toBe('done');
      expect(again).toBe(0);
      const short = await waitFor(
        () => dataPlane.getPool(body.id),
        (p) => p?.allocationState === 'steady' && p.resizeErrors.length > 0,
        { what: 'the allocation failed' },
      );
      expect(short?.resizeErrors[0]?.code).toBe('AccountCoreQuotaReached');
      expect(short?.currentNodes).toBe(0);

      expect((await quotas([])).status).toBe(200);
      expect(await reasking.resizePool(body.id, { dedicated: 1, lowPriority: 0 }, owner)).toBe('done');
      expect(again).toBe(1);
      await waitFor(
        () => dataPlane.getPool(body.id),
        (p) => p?.currentDedicatedNodes === 1,
        { what: 'the node allocated once cores came' },
      );
      // Not for another owner: the guard comes first.
      expect(
        await reasking.resizePool(body.id, { dedicated: 1, lowPriority: 0 }, { ...owner, spec: 'x' }),
      ).toBe('foreign');
      expect(again).toBe(1);
    } finally {
      await quotas([]);
    }
  });

  it('leaves a pool without this owner’s metadata untouched', async () => {
    await data.pools.add({
      id: 'operator-pool',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: poolBody('x').virtualMachineConfiguration,
      targetDedicatedNodes: 1,
    });
    expect(await pools.resizePool('operator-pool', { dedicated: 0, lowPriority: 0 }, owner)).toBe('foreign');
    expect(await pools.deletePool('operator-pool', owner)).toBe('foreign');
    expect(await readPool('operator-pool')).toMatchObject({ state: 'active', targetDedicatedNodes: 1 });
  });

  it('deletes without waiting; a pool being deleted is done, and cannot be created meanwhile', async () => {
    const body = poolBody('swp_acme_delete');
    expect(await pools.createPool(body)).toBe('created');
    expect(await pools.deletePool(body.id, { tenant: 'acme', spec: 'spec-2' })).toBe('foreign');
    expect(await readPool(body.id)).toMatchObject({ state: 'active' });

    expect(await pools.deletePool(body.id, owner)).toBe('done');
    expect(await readPool(body.id)).toMatchObject({ state: 'deleting' });
    expect(await pools.deletePool(body.id, owner)).toBe('done');
    expect(await pools.createPool(body)).toBe('deleting');

    await waitFor(
      () => readPool(body.id),
      (p) => p === undefined,
      { what: 'the pool gone', timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(await pools.deletePool(body.id, owner)).toBe('missing');
    expect(await pools.createPool(body)).toBe('created');
  });

  it("fails as BatchError with ARM's status, and no secret value in it", async () => {
    const body = poolBody('swp_acme_bad', {
      vmSize: 'standard_nosuchsize_v9',
      startTask: {
        commandLine: 'true',
        environmentSettings: [{ name: 'LICENSE_KEY', value: secretPlaceholder('license') }],
        userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
        maxTaskRetryCount: 0,
        waitForSuccess: true,
      },
    });
    const error = await pools.createPool(body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchError);
    expect(error).toMatchObject({ status: 400, retryable: false });
    expect(
      JSON.stringify({ ...(error as BatchError), message: (error as BatchError).message }),
    ).not.toContain(LICENSE);
    expect(await readPool(body.id)).toBeUndefined();
  });

  it('answers a refused sign-in with 403, which the submitter waits out, and retries a 503', async () => {
    const armPath = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${BATCH_ACCOUNT}/pools`;
    const faults = (config: object) =>
      fetch(`${emulator.url}/_emulator/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pathPrefix: armPath, ...config }),
      });
    try {
      expect((await faults({ rate403: 1, count: 1 })).status).toBe(200);
      const error = await pools.createPool(poolBody('swp_acme_auth')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BatchError);
      expect(error).toMatchObject({ status: 403, code: 'AuthorizationFailed', retryable: false });
      expect(await readPool('swp_acme_auth')).toBeUndefined();

      // With its retries (Retry-After honoured), a passing 503 is not seen by the caller.
      const retrying = createArmPoolOperations({
        endpoint: emulator.url,
        subscriptionId: SUB,
        resourceGroup: RG,
        accountName: BATCH_ACCOUNT,
        resolveSecret: async () => 'unused',
      });
      expect((await faults({ rate503: 1, count: 1, retryAfterSeconds: 0 })).status).toBe(200);
      expect(await retrying.createPool(poolBody('swp_acme_retried'))).toBe('created');
      const injected = (await (await fetch(`${emulator.url}/_emulator/faults`)).json()) as {
        remaining?: number;
      };
      expect(injected.remaining).toBe(0);
    } finally {
      await fetch(`${emulator.url}/_emulator/faults`, { method: 'DELETE' });
    }
  });

  it('fails before sending anything when a secret cannot be read', async () => {
    const body = poolBody('swp_acme_nosecret', {
      startTask: {
        commandLine: 'true',
        environmentSettings: [{ name: 'TOKEN', value: secretPlaceholder('missing') }],
        userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
        maxTaskRetryCount: 0,
        waitForSuccess: true,
      },
    });
    await expect(pools.createPool(body)).rejects.toThrow(/no secret missing/);
    expect(await readPool(body.id)).toBeUndefined();
  });
});
