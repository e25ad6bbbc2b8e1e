/**
 * The emulator's management-plane pools API driven by the official `@azure/arm-batch` client
 * (BatchManagementClient, api-version 2023-11-01) over http: create, read (through ARM and through the
 * data plane), resize by update, ETag conditions, delete as a long-running operation, and each rule
 * Batch enforces on identity, network, mounts, start task and data disks refused with its code.
 */
import type { BatchManagementClient, Pool } from '@azure/arm-batch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { type BatchClient, createBatchClient } from '../../shared/adapters/batch/client.js';
import { armPool, localArmClient } from '../support/arm.js';
import { ACCOUNT, control, KEY, start, until } from './helpers.js';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'rg-batch';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pool-id`;
const OTHER_IDENTITY = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other`;
const SUBNET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/batch`;

let emulator: BatchEmulator;
let arm: BatchManagementClient;
let data: BatchClient;

const armClient = (url: string, token: string | null = 'x') => localArmClient(url, SUB, token);

const pool = armPool;
const vm = armPool().deploymentConfiguration!.virtualMachineConfiguration!;

interface ArmFailure {
  code?: string;
  statusCode?: number;
  message: string;
  /** ARM's error body as the SDK deserialised it. */
  body?: { code?: string; target?: string; details?: { code?: string; message?: string }[] };
  /** The property a Batch refusal names (its `PropertyName` detail). */
  property?: string;
}

async function rejection(p: Promise<unknown>): Promise<ArmFailure> {
  try {
    await p;
  } catch (e) {
    const failure = e as ArmFailure & { response?: { parsedBody?: { error?: ArmFailure['body'] } } };
    const body = failure.response?.parsedBody?.error;
    return {
      ...(failure.code !== undefined ? { code: failure.code } : {}),
      ...(failure.statusCode !== undefined ? { statusCode: failure.statusCode } : {}),
      message: failure.message,
      ...(body ? { body } : {}),
      ...(body?.details?.find((d) => d.code === 'PropertyName')?.message !== undefined
        ? { property: body.details.find((d) => d.code === 'PropertyName')?.message }
        : {}),
    };
  }
  throw new Error('expected a rejection');
}

/** Raw ARM request (no SDK), for what the SDK would not send. */
async function rawArm(
  method: string,
  path: string,
  options: { apiVersion?: string | null; auth?: string | null; body?: unknown } = {},
) {
  const url = new URL(path, emulator.url);
  if (options.apiVersion !== null) url.searchParams.set('api-version', options.apiVersion ?? '2024-07-01');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.auth !== null) headers.authorization = options.auth ?? 'Bearer local-token';
  const res = await fetch(url, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: (text ? JSON.parse(text) : undefined) as
      | {
          error?: {
            code: string;
            message: string;
            target?: string;
            details?: { code: string; message: string }[];
          };
        }
      | Record<string, unknown>
      | undefined,
  };
}

const poolsPath = (account = ACCOUNT) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${account}/pools`;

beforeAll(async () => {
  emulator = await start({ clockFactor: 600, allocationSeconds: 30, nodeStartSeconds: 5 });
  arm = armClient(emulator.url);
  data = createBatchClient({ endpoint: emulator.url, accountName: ACCOUNT, accountKey: KEY });
});

afterAll(async () => {
  await data?.close();
  await emulator?.close();
});

describe('ARM pools through @azure/arm-batch', () => {
  it('creates a pool with identity, network, start task, mounts and data disks, read back on both planes', async () => {
    const created = await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'full',
      pool(
        {
          identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } },
          deploymentConfiguration: {
            virtualMachineConfiguration: {
              ...vm,
              dataDisks: [
                { lun: 0, diskSizeGB: 128, caching: 'ReadOnly', storageAccountType: 'Premium_LRS' },
              ],
            },
          },
          networkConfiguration: {
            subnetId: SUBNET,
            publicIPAddressConfiguration: { provision: 'NoPublicIPAddresses' },
          },
          targetNodeCommunicationMode: 'Simplified',
          taskSlotsPerNode: 2,
          taskSchedulingPolicy: { nodeFillType: 'Pack' },
          startTask: {
            commandLine: "/bin/sh -c 'echo ready > $AZ_BATCH_NODE_STARTUP_DIR/ready.txt'",
            waitForSuccess: true,
            maxTaskRetryCount: 1,
            userIdentity: { autoUser: { scope: 'Pool', elevationLevel: 'NonAdmin' } },
          },
          mountConfiguration: [
            {
              azureBlobFileSystemConfiguration: {
                accountName: 'data',
                containerName: 'refs',
                relativeMountPath: 'refs',
                identityReference: { resourceId: IDENTITY },
              },
            },
            {
              azureFileShareConfiguration: {
                accountName: 'files',
                azureFileUrl: 'https://files.file.core.windows.net/share',
                accountKey: 'c2VjcmV0LWtleQ==',
                relativeMountPath: 'share',
              },
            },
          ],
          metadata: [{ name: 'owner', value: 'test' }],
        },
        1,
      ),
    );
    expect(created).toMatchObject({
      name: 'full',
      type: 'Microsoft.Batch/batchAccounts/pools',
      id: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${ACCOUNT}/pools/full`,
      provisioningState: 'Succeeded',
      taskSlotsPerNode: 2,
      taskSchedulingPolicy: { nodeFillType: 'Pack' },
      targetNodeCommunicationMode: 'Simplified',
      networkConfiguration: {
        subnetId: SUBNET,
        publicIPAddressConfiguration: { provision: 'NoPublicIPAddresses' },
      },
    });
    expect(created.etag).toMatch(/^W\/"0x8D[0-9A-F]+"$/);
    expect(created.eTag).toBe(created.etag);
    expect(created.identity?.userAssignedIdentities?.[IDENTITY]?.clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.deploymentConfiguration?.virtualMachineConfiguration?.dataDisks).toEqual([
      { lun: 0, diskSizeGB: 128, caching: 'ReadOnly', storageAccountType: 'Premium_LRS' },
    ]);

    const read = await arm.poolOperations.get(RG, ACCOUNT, 'full');
    expect(read.etag).toBe(created.etag);
    // Batch returns no mount key.
    expect(JSON.stringify(read)).not.toContain('c2VjcmV0LWtleQ==');
    expect(read.mountConfiguration?.[1]?.azureFileShareConfiguration).toEqual({
      accountName: 'files',
      azureFileUrl: 'https://files.file.core.windows.net/share',
      relativeMountPath: 'share',
    });

    const wire = await data.pools.get('full');
    expect(wire).toMatchObject({
      identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: IDENTITY }] },
      networkConfiguration: {
        subnetId: SUBNET,
        publicIPAddressConfiguration: { provision: 'nopublicipaddresses' },
      },
      targetNodeCommunicationMode: 'simplified',
      currentNodeCommunicationMode: 'simplified',
      taskSchedulingPolicy: { nodeFillType: 'pack' },
      startTask: { waitForSuccess: true, maxTaskRetryCount: 1 },
      virtualMachineConfiguration: {
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
        dataDisks: [{ lun: 0, diskSizeGB: 128, caching: 'readonly', storageAccountType: 'premium_lrs' }],
      },
    });
    expect(JSON.stringify(wire)).not.toContain('c2VjcmV0LWtleQ==');
    const listed = [];
    for await (const p of arm.poolOperations.listByBatchAccount(RG, ACCOUNT)) listed.push(p.name);
    expect(listed).toContain('full');
  });

  it("shows a pool the data plane made, in ARM's shape and casing", async () => {
    await data.pools.add({
      id: 'from-data-plane',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: { imageReference: vm.imageReference, nodeAgentSKUId: vm.nodeAgentSkuId },
      targetDedicatedNodes: 0,
      taskSchedulingPolicy: { nodeFillType: 'pack' },
      targetNodeCommunicationMode: 'simplified',
      startTask: {
        commandLine: '/bin/true',
        userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'admin' } },
      },
    });
    const p = await arm.poolOperations.get(RG, ACCOUNT, 'from-data-plane');
    expect(p).toMatchObject({
      name: 'from-data-plane',
      taskSchedulingPolicy: { nodeFillType: 'Pack' },
      targetNodeCommunicationMode: 'Simplified',
      deploymentConfiguration: { virtualMachineConfiguration: { nodeAgentSkuId: 'batch.node.ubuntu 22.04' } },
      scaleSettings: { fixedScale: { targetDedicatedNodes: 0 } },
      startTask: { userIdentity: { autoUser: { scope: 'Pool', elevationLevel: 'Admin' } } },
    });
    expect(p.identity).toBeUndefined();
  });

  it('lists pools in pages through nextLink', async () => {
    for (const name of ['page-a', 'page-b', 'page-c'])
      await arm.poolOperations.create(RG, ACCOUNT, name, pool());
    const pages: string[][] = [];
    for await (const page of arm.poolOperations
      .listByBatchAccount(RG, ACCOUNT, { maxresults: 2, filter: "startswith(name, 'page-')" })
      .byPage())
      pages.push(page.map((p) => p.name ?? ''));
    expect(pages).toEqual([['page-a', 'page-b'], ['page-c']]);
  });

  it("resizes through an update of the fixed scale, with the data plane's rules", async () => {
    await arm.poolOperations.create(RG, ACCOUNT, 'grow', pool());
    await until(
      () => arm.poolOperations.get(RG, ACCOUNT, 'grow'),
      (p) => p.allocationState === 'Steady',
    );
    // Time stands still while the resize is checked, so the allocation cannot land in between.
    await control(emulator, 'POST', 'clock', { factor: 0 });
    const resized = await arm.poolOperations.update(RG, ACCOUNT, 'grow', {
      scaleSettings: { fixedScale: { targetDedicatedNodes: 2, nodeDeallocationOption: 'TaskCompletion' } },
    });
    expect(resized).toMatchObject({
      allocationState: 'Resizing',
      scaleSettings: { fixedScale: { targetDedicatedNodes: 2, targetLowPriorityNodes: 0 } },
      resizeOperationStatus: { targetDedicatedNodes: 2, nodeDeallocationOption: 'TaskCompletion' },
    });
    expect((await data.pools.get('grow')).targetDedicatedNodes).toBe(2);
    const again = await rejection(
      arm.poolOperations.update(RG, ACCOUNT, 'grow', {
        scaleSettings: { fixedScale: { targetDedicatedNodes: 3 } },
      }),
    );
    expect(again).toMatchObject({ statusCode: 409, code: 'PoolBeingResized' });
    // The same targets again change nothing, so a retried update is not refused.
    await arm.poolOperations.update(RG, ACCOUNT, 'grow', {
      scaleSettings: { fixedScale: { targetDedicatedNodes: 2 } },
    });
    const tooMany = await rejection(
      arm.poolOperations.update(RG, ACCOUNT, 'grow', {
        scaleSettings: { fixedScale: { targetDedicatedNodes: 10_001 } },
      }),
    );
    expect(tooMany).toMatchObject({
      statusCode: 400,
      code: 'InvalidPropertyValue',
      property: 'scaleSettings.fixedScale.targetDedicatedNodes',
    });
    await control(emulator, 'POST', 'clock', { factor: 600 });
    const steady = await until(
      () => arm.poolOperations.get(RG, ACCOUNT, 'grow'),
      (p) => p.allocationState === 'Steady' && p.currentDedicatedNodes === 2,
    );
    expect(steady.provisioningState).toBe('Succeeded');
    // With nodes, what Batch lets change only on an empty pool is refused.
    const vmSize = await rejection(
      arm.poolOperations.update(RG, ACCOUNT, 'grow', { vmSize: 'STANDARD_D4S_V3' }),
    );
    expect(vmSize).toMatchObject({ statusCode: 400, code: 'InvalidPropertyValue', property: 'vmSize' });
    // Metadata and the start task may change at any time.
    const patched = await arm.poolOperations.update(RG, ACCOUNT, 'grow', {
      metadata: [{ name: 'k', value: 'v' }],
      startTask: { commandLine: '/bin/true' },
    });
    expect(patched.metadata).toEqual([{ name: 'k', value: 'v' }]);
    expect(patched.startTask?.commandLine).toBe('/bin/true');
    // An empty start task removes it.
    const removed = await arm.poolOperations.update(RG, ACCOUNT, 'grow', { startTask: {} });
    expect(removed.startTask).toBeUndefined();
  });

  it('honours If-Match and If-None-Match', async () => {
    const first = await arm.poolOperations.create(RG, ACCOUNT, 'tagged', pool(), { ifNoneMatch: '*' });
    const exists = await rejection(
      arm.poolOperations.create(RG, ACCOUNT, 'tagged', pool(), { ifNoneMatch: '*' }),
    );
    expect(exists).toMatchObject({ statusCode: 412, code: 'ConditionNotMet' });
    const missing = await rejection(
      arm.poolOperations.create(RG, ACCOUNT, 'untagged', pool(), { ifMatch: first.etag ?? '' }),
    );
    expect(missing).toMatchObject({ statusCode: 412, code: 'ConditionNotMet' });
    const updated = await arm.poolOperations.update(
      RG,
      ACCOUNT,
      'tagged',
      { metadata: [{ name: 'v', value: '2' }] },
      { ifMatch: first.etag ?? '' },
    );
    expect(updated.etag).not.toBe(first.etag);
    const stale = await rejection(
      arm.poolOperations.update(RG, ACCOUNT, 'tagged', { metadata: [] }, { ifMatch: first.etag ?? '' }),
    );
    expect(stale).toMatchObject({ statusCode: 412, code: 'ConditionNotMet' });
    // A PUT without If-None-Match on an existing pool updates it.
    const put = await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'tagged',
      pool({ metadata: [{ name: 'v', value: '3' }] }),
      { ifMatch: updated.etag ?? '' },
    );
    expect(put.metadata).toEqual([{ name: 'v', value: '3' }]);
    expect((await arm.poolOperations.get(RG, ACCOUNT, 'tagged')).etag).toBe(put.etag);
    expect((await data.pools.get('tagged')).metadata).toEqual([{ name: 'v', value: '3' }]);
  });

  it('deletes as a long-running operation, the pool deleting meanwhile', async () => {
    await arm.poolOperations.create(RG, ACCOUNT, 'doomed', pool({}, 1));
    await until(
      () => arm.poolOperations.get(RG, ACCOUNT, 'doomed'),
      (p) => p.currentDedicatedNodes === 1 && p.allocationState === 'Steady',
    );
    await control(emulator, 'POST', 'clock', { factor: 0 });
    const responses: { status: number; location?: string }[] = [];
    const poller = await arm.poolOperations.beginDelete(RG, ACCOUNT, 'doomed', {
      onResponse: (r) =>
        responses.push({ status: r.status, location: r.headers.get('location') ?? undefined }),
    });
    expect(responses[0]?.status).toBe(202);
    expect(responses[0]?.location).toMatch(
      new RegExp(
        `/batchAccounts/${ACCOUNT}/poolOperationResults/delete-doomed-[0-9A-F]+\\?api-version=2023-11-01$`,
      ),
    );
    expect((await arm.poolOperations.get(RG, ACCOUNT, 'doomed')).provisioningState).toBe('Deleting');
    expect((await data.pools.get('doomed')).state).toBe('deleting');
    const recreate = await rejection(
      arm.poolOperations.create(RG, ACCOUNT, 'doomed', pool(), { ifNoneMatch: '*' }),
    );
    expect(recreate).toMatchObject({ statusCode: 409, code: 'PoolBeingDeleted' });
    const patch = await rejection(arm.poolOperations.update(RG, ACCOUNT, 'doomed', { metadata: [] }));
    expect(patch).toMatchObject({ statusCode: 409, code: 'PoolBeingDeleted' });
    // A second delete joins the first.
    const second = await arm.poolOperations.beginDelete(RG, ACCOUNT, 'doomed');
    expect(second.getOperationState().status).toBe('running');
    await control(emulator, 'POST', 'clock', { advanceSeconds: 60 });
    await poller.pollUntilDone();
    expect(responses.at(-1)?.status).toBe(200);
    expect(await data.pools.exists('doomed')).toBe(false);
    await control(emulator, 'POST', 'clock', { factor: 600 });
    const gone = await rejection(arm.poolOperations.get(RG, ACCOUNT, 'doomed'));
    expect(gone).toMatchObject({ statusCode: 404, code: 'PoolNotFound' });
    // Deleting what is not there is 204, which the client takes as done (examples/PoolDelete.json).
    const statuses: number[] = [];
    await arm.poolOperations.beginDeleteAndWait(RG, ACCOUNT, 'doomed', {
      onResponse: (r) => statuses.push(r.status),
    });
    expect(statuses).toEqual([204]);
    // Gone: the name can be used again.
    await arm.poolOperations.create(RG, ACCOUNT, 'doomed', pool(), { ifNoneMatch: '*' });
  });

  it('asks for a bearer token, an api-version and this account, as ARM does', async () => {
    const noAuth = await rawArm('GET', poolsPath(), { auth: null });
    expect(noAuth.status).toBe(401);
    expect(noAuth.json).toMatchObject({ error: { code: 'AuthenticationFailed' } });
    expect(noAuth.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const sharedKey = await rawArm('GET', poolsPath(), { auth: `SharedKey ${ACCOUNT}:abc` });
    expect(sharedKey.status).toBe(401);
    const noVersion = await rawArm('GET', poolsPath(), { apiVersion: null });
    expect(noVersion).toMatchObject({ status: 400, json: { error: { code: 'MissingApiVersionParameter' } } });
    const oldVersion = await rawArm('GET', poolsPath(), { apiVersion: '2017-09-01' });
    expect(oldVersion).toMatchObject({ status: 400, json: { error: { code: 'NoRegisteredProviderFound' } } });
    for (const version of ['2023-11-01', '2024-02-01', '2024-07-01', '2025-06-01'])
      expect((await rawArm('GET', poolsPath(), { apiVersion: version })).status).toBe(200);
    const otherAccount = await rejection(arm.poolOperations.get(RG, 'someoneelse', 'full'));
    expect(otherAccount).toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    const noToken = await rejection(armClient(emulator.url, null).poolOperations.get(RG, ACCOUNT, 'full'));
    expect(noToken).toMatchObject({ statusCode: 401, code: 'AuthenticationFailed' });
    // Faults aimed at the management plane, with ARM's answers.
    await control(emulator, 'PUT', 'faults', { pathPrefix: '/subscriptions/', rate403: 1, count: 1 });
    const denied = await rejection(arm.poolOperations.get(RG, ACCOUNT, 'full'));
    expect(denied).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    expect((await arm.poolOperations.get(RG, ACCOUNT, 'full')).name).toBe('full');
    await control(emulator, 'PUT', 'faults', { rate503: 1, count: 1 });
    expect((await arm.poolOperations.get(RG, ACCOUNT, 'full')).name).toBe('full');
    await control(emulator, 'DELETE', 'faults');
    // A member a Pool does not have is refused as Batch's resource provider refuses it.
    const location = await rawArm('PUT', `${poolsPath()}/located`, {
      body: { location: 'westeurope', properties: {} },
    });
    expect(location).toMatchObject({
      status: 400,
      json: { error: { code: 'InvalidRequestBody', target: 'BatchAccount' } },
    });
  });
});

describe('the rules Batch enforces, refused with its code and the property named', () => {
  const refused = async (name: string, body: Pool) =>
    rejection(arm.poolOperations.create(RG, ACCOUNT, name, body));

  it("an identity reference must name one of the pool's identities", async () => {
    const blob = {
      azureBlobFileSystemConfiguration: {
        accountName: 'data',
        containerName: 'refs',
        relativeMountPath: 'refs',
        identityReference: { resourceId: OTHER_IDENTITY },
      },
    };
    expect(
      await refused(
        'id-mount',
        pool({
          identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } },
          mountConfiguration: [blob],
        }),
      ),
    ).toMatchObject({
      statusCode: 400,
      code: 'InvalidPropertyValue',
      property: 'mountConfiguration[0].azureBlobFileSystemConfiguration.identityReference.resourceId',
      body: { target: 'BatchAccount' },
    });
    expect(
      await refused(
        'id-registry',
        pool({
          deploymentConfiguration: {
            virtualMachineConfiguration: {
              imageReference: {
                publisher: 'microsoft-dsvm',
                offer: 'ubuntu-hpc',
                sku: '2204',
                version: 'latest',
              },
              nodeAgentSkuId: 'batch.node.ubuntu 22.04',
              containerConfiguration: {
                type: 'DockerCompatible',
                containerRegistries: [
                  { registryServer: 'acr.azurecr.io', identityReference: { resourceId: IDENTITY } },
                ],
              },
            },
          },
        }),
      ),
    ).toMatchObject({
      code: 'InvalidPropertyValue',
      property:
        'deploymentConfiguration.virtualMachineConfiguration.containerConfiguration.containerRegistries[0].identityReference.resourceId',
    });
    expect(
      await refused(
        'id-start',
        pool({
          startTask: {
            commandLine: '/bin/true',
            resourceFiles: [
              {
                httpUrl: 'https://data.blob.core.windows.net/c/tool',
                filePath: 'tool',
                identityReference: { resourceId: IDENTITY },
              },
            ],
          },
        }),
      ),
    ).toMatchObject({
      code: 'InvalidPropertyValue',
      property: 'startTask.resourceFiles[0].identityReference.resourceId',
    });
    // The same references pass once the pool has the identity.
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'id-ok',
      pool({
        identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY.toUpperCase()]: {} } },
        mountConfiguration: [
          {
            ...blob,
            azureBlobFileSystemConfiguration: {
              ...blob.azureBlobFileSystemConfiguration,
              identityReference: { resourceId: IDENTITY },
            },
          },
        ],
      }),
    );
    // The data plane gives a pool no identity, so there every identity reference is refused.
    const dataPlane = await fetchDataPlanePool({
      id: 'dp-identity',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: { imageReference: vm.imageReference, nodeAgentSKUId: vm.nodeAgentSkuId },
      targetDedicatedNodes: 0,
      identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: IDENTITY }] },
      mountConfiguration: [
        {
          ...blob,
          azureBlobFileSystemConfiguration: {
            ...blob.azureBlobFileSystemConfiguration,
            identityReference: { resourceId: IDENTITY },
          },
        },
      ],
    });
    expect(dataPlane).toMatchObject({ code: 'InvalidPropertyValue' });
    expect(
      await refused(
        'id-bad',
        pool({ identity: { type: 'UserAssigned', userAssignedIdentities: { 'not-an-id': {} } } }),
      ),
    ).toMatchObject({ code: 'InvalidPropertyValue', property: 'identity.userAssignedIdentities' });
  });

  it("network: the subnet id's form, and no public IP addresses only with simplified communication", async () => {
    expect(
      await refused(
        'net-subnet',
        pool({
          networkConfiguration: {
            subnetId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet`,
          },
        }),
      ),
    ).toMatchObject({
      statusCode: 400,
      code: 'InvalidPropertyValue',
      property: 'networkConfiguration.subnetId',
    });
    expect(
      await refused(
        'net-sub-guid',
        pool({ networkConfiguration: { subnetId: SUBNET.replace(SUB, 'my-subscription') } }),
      ),
    ).toMatchObject({ code: 'InvalidPropertyValue', property: 'networkConfiguration.subnetId' });
    expect(
      await refused(
        'net-nopip',
        pool({
          networkConfiguration: {
            subnetId: SUBNET,
            publicIPAddressConfiguration: { provision: 'NoPublicIPAddresses' },
          },
          targetNodeCommunicationMode: 'Classic',
        }),
      ),
    ).toMatchObject({
      code: 'InvalidPropertyValue',
      property: 'networkConfiguration.publicIPAddressConfiguration.provision',
    });
    expect(
      await refused(
        'net-default',
        pool({
          networkConfiguration: {
            subnetId: SUBNET,
            publicIPAddressConfiguration: { provision: 'NoPublicIPAddresses' },
          },
        }),
      ),
    ).toMatchObject({ property: 'networkConfiguration.publicIPAddressConfiguration.provision' });
  });

  it('mounts: one kind each, one credential for blob, the Azure Files fields, distinct relative paths', async () => {
    const files = {
      accountName: 'files',
      azureFileUrl: 'https://files.file.core.windows.net/share',
      accountKey: 'a2V5',
      relativeMountPath: 'share',
    };
    const blob = { accountName: 'data', containerName: 'c', relativeMountPath: 'blob', sasKey: 'sv=x&sig=y' };
    expect(
      await refused(
        'm-two',
        pool({
          mountConfiguration: [
            { azureFileShareConfiguration: files, azureBlobFileSystemConfiguration: blob },
          ],
        }),
      ),
    ).toMatchObject({ code: 'InvalidPropertyValue', property: 'mountConfiguration[0]' });
    expect(
      await refused(
        'm-cred',
        pool({ mountConfiguration: [{ azureBlobFileSystemConfiguration: { ...blob, accountKey: 'a2V5' } }] }),
      ),
    ).toMatchObject({
      code: 'InvalidPropertyValue',
      property: 'mountConfiguration[0].azureBlobFileSystemConfiguration',
    });
    // The SDK checks required fields itself, so this one goes without it.
    const { accountKey: _key, ...noKey } = files;
    const missingKey = await rawArm('PUT', `${poolsPath()}/m-key`, {
      body: {
        properties: {
          vmSize: 'STANDARD_D2S_V3',
          deploymentConfiguration: { virtualMachineConfiguration: vm },
          mountConfiguration: [{ azureFileShareConfiguration: noKey }],
        },
      },
    });
    expect(missingKey).toMatchObject({
      status: 400,
      json: {
        error: {
          code: 'MissingRequiredProperty',
          details: [
            { code: 'PropertyName', message: 'mountConfiguration[0].azureFileShareConfiguration.accountKey' },
          ],
        },
      },
    });
    expect(
      await refused(
        'm-dup',
        pool({
          mountConfiguration: [
            { azureFileShareConfiguration: files },
            { azureBlobFileSystemConfiguration: { ...blob, relativeMountPath: 'share' } },
          ],
        }),
      ),
    ).toMatchObject({
      code: 'InvalidPropertyValue',
      property: 'mountConfiguration[1].azureBlobFileSystemConfiguration.relativeMountPath',
    });
    expect(
      await refused(
        'm-abs',
        pool({
          mountConfiguration: [{ azureFileShareConfiguration: { ...files, relativeMountPath: '/mnt/x' } }],
        }),
      ),
    ).toMatchObject({ property: 'mountConfiguration[0].azureFileShareConfiguration.relativeMountPath' });
    // Neither key nor SAS comes back from either plane.
    await arm.poolOperations.create(
      RG,
      ACCOUNT,
      'm-ok',
      pool({ mountConfiguration: [{ azureBlobFileSystemConfiguration: blob }] }),
    );
    expect(JSON.stringify(await arm.poolOperations.get(RG, ACCOUNT, 'm-ok'))).not.toContain('sig=y');
    expect(JSON.stringify(await data.pools.get('m-ok'))).not.toContain('sig=y');
  });

  it('start task: a command line, and at most 100 retries', async () => {
    expect(await refused('st-cmd', pool({ startTask: { waitForSuccess: true } }))).toMatchObject({
      statusCode: 400,
      code: 'MissingRequiredProperty',
      property: 'startTask.commandLine',
    });
    expect(
      await refused('st-retries', pool({ startTask: { commandLine: '/bin/true', maxTaskRetryCount: 101 } })),
    ).toMatchObject({ code: 'InvalidPropertyValue', property: 'startTask.maxTaskRetryCount' });
    expect(
      await refused('st-low', pool({ startTask: { commandLine: '/bin/true', maxTaskRetryCount: -2 } })),
    ).toMatchObject({ code: 'InvalidPropertyValue', property: 'startTask.maxTaskRetryCount' });
  });

  it('data disks: distinct luns from 0 to 63, at least 1 GB', async () => {
    const disks = (dataDisks: object[]) =>
      pool({
        deploymentConfiguration: { virtualMachineConfiguration: { ...vm, dataDisks: dataDisks as never } },
      });
    const base = 'deploymentConfiguration.virtualMachineConfiguration.dataDisks';
    expect(
      await refused(
        'dd-dup',
        disks([
          { lun: 1, diskSizeGB: 10 },
          { lun: 1, diskSizeGB: 10 },
        ]),
      ),
    ).toMatchObject({ code: 'InvalidPropertyValue', property: `${base}[1].lun` });
    expect(await refused('dd-lun', disks([{ lun: 64, diskSizeGB: 10 }]))).toMatchObject({
      property: `${base}[0].lun`,
    });
    expect(await refused('dd-size', disks([{ lun: 0, diskSizeGB: 0 }]))).toMatchObject({
      property: `${base}[0].diskSizeGB`,
    });
  });
});

/** A data-plane pool create, answered as Batch's error (code and values). */
async function fetchDataPlanePool(body: object): Promise<{ code?: string }> {
  try {
    await data.pools.add(body);
  } catch (e) {
    return { code: (e as { code?: string }).code };
  }
  throw new Error('expected a rejection');
}
