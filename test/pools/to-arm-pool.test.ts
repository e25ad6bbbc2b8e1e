/**
 * A planned pool as the management plane takes it (pure), its secret placeholders resolved just before
 * it is sent, how ARM failures become the BatchError the stages read, and which endpoints may be used
 * without TLS.
 */
import { RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { secretsUnavailable, toBatchError } from '../../shared/adapters/batch-management/arm-pools.js';
import { isLoopbackHttp, managementAuth } from '../../shared/adapters/batch-management/local-auth.js';
import {
  secretNamesIn,
  toArmPool,
  withResolvedSecrets,
} from '../../shared/adapters/batch-management/to-arm-pool.js';
import { SlotwiseError } from '../../shared/core/errors.js';
import type { PoolBody } from '../../shared/model/batch-bodies.js';
import { poolOwnerMetadata } from '../../shared/model/batch-names.js';
import { secretPlaceholder } from '../../shared/model/secret-refs.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const ACCOUNT_ID = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct`;
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pool-id`;
const SUBNET = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/batch`;

const minimal: PoolBody = {
  id: 'swp_acme_abc',
  vmSize: 'standard_d2s_v3',
  virtualMachineConfiguration: {
    imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
    nodeAgentSKUId: 'batch.node.ubuntu 22.04',
  },
  taskSlotsPerNode: 2,
  taskSchedulingPolicy: { nodeFillType: 'pack' },
  targetDedicatedNodes: 0,
  targetLowPriorityNodes: 0,
  resizeTimeout: 'PT15M',
  enableAutoScale: false,
  metadata: poolOwnerMetadata({ tenant: 'acme', spec: 'spec1' }),
};

const full: PoolBody = {
  ...minimal,
  displayName: 'acme pool',
  identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: IDENTITY }] },
  virtualMachineConfiguration: {
    ...minimal.virtualMachineConfiguration,
    containerConfiguration: {
      type: 'dockerCompatible',
      containerImageNames: ['acme.azurecr.io/sim:1'],
      containerRegistries: [
        { registryServer: 'acme.azurecr.io', identityReference: { resourceId: IDENTITY } },
      ],
    },
    dataDisks: [
      { lun: 0, diskSizeGB: 128, caching: 'readwrite', storageAccountType: 'premium_lrs' },
      { lun: 1, diskSizeGB: 64, caching: 'readonly', storageAccountType: 'standardssd_lrs' },
      { lun: 2, diskSizeGB: 32 },
    ],
  },
  targetDedicatedNodes: 3,
  targetLowPriorityNodes: 1,
  applicationPackageReferences: [
    { applicationId: `${ACCOUNT_ID}/applications/solver`, version: '2.1' },
    { applicationId: 'meshgen' },
  ],
  networkConfiguration: {
    subnetId: SUBNET,
    publicIPAddressConfiguration: { provision: 'nopublicipaddresses' },
  },
  targetNodeCommunicationMode: 'simplified',
  startTask: {
    commandLine: '/bin/sh -c "./setup.sh"',
    resourceFiles: [
      {
        storageContainerUrl: 'https://acme.blob.core.windows.net/tools',
        blobPrefix: 'setup/',
        identityReference: { resourceId: IDENTITY },
      },
      { httpUrl: 'https://example.com/setup.sh', filePath: 'setup.sh', fileMode: '0755' },
    ],
    environmentSettings: [
      { name: 'MODE', value: 'fast' },
      { name: 'LICENSE_KEY', value: secretPlaceholder('license') },
    ],
    userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'admin' } },
    maxTaskRetryCount: 2,
    waitForSuccess: true,
  },
  mountConfiguration: [
    {
      azureBlobFileSystemConfiguration: {
        accountName: 'acmedata',
        containerName: 'inputs',
        relativeMountPath: 'inputs',
        blobfuseOptions: '-o attr_timeout=240',
        identityReference: { resourceId: IDENTITY },
      },
    },
    {
      azureFileShareConfiguration: {
        accountName: 'acmefiles',
        azureFileUrl: 'https://acmefiles.file.core.windows.net/scratch',
        accountKey: secretPlaceholder('files-key'),
        relativeMountPath: 'scratch',
        mountOptions: '-o vers=3.0',
      },
    },
  ],
};

describe('toArmPool', () => {
  it('writes a plain managed pool with ARM names and casing', () => {
    expect(toArmPool(minimal, { accountResourceId: ACCOUNT_ID })).toEqual({
      vmSize: 'standard_d2s_v3',
      deploymentConfiguration: {
        virtualMachineConfiguration: {
          imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
          nodeAgentSkuId: 'batch.node.ubuntu 22.04',
        },
      },
      scaleSettings: {
        fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 0, resizeTimeout: 'PT15M' },
      },
      taskSlotsPerNode: 2,
      taskSchedulingPolicy: { nodeFillType: 'Pack' },
      metadata: [
        { name: 'slotwise.tenant', value: 'acme' },
        { name: 'slotwise.managed', value: 'true' },
        { name: 'slotwise.spec', value: 'spec1' },
      ],
    });
  });

  it('writes identity, disks, registries, packages, network, start task and mounts', () => {
    expect(toArmPool(full, { accountResourceId: ACCOUNT_ID })).toEqual({
      displayName: 'acme pool',
      identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } },
      vmSize: 'standard_d2s_v3',
      deploymentConfiguration: {
        virtualMachineConfiguration: {
          imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
          nodeAgentSkuId: 'batch.node.ubuntu 22.04',
          dataDisks: [
            { lun: 0, diskSizeGB: 128, caching: 'ReadWrite', storageAccountType: 'Premium_LRS' },
            { lun: 1, diskSizeGB: 64, caching: 'ReadOnly', storageAccountType: 'StandardSSD_LRS' },
            { lun: 2, diskSizeGB: 32 },
          ],
          containerConfiguration: {
            type: 'DockerCompatible',
            containerImageNames: ['acme.azurecr.io/sim:1'],
            containerRegistries: [
              { registryServer: 'acme.azurecr.io', identityReference: { resourceId: IDENTITY } },
            ],
          },
        },
      },
      scaleSettings: {
        fixedScale: { targetDedicatedNodes: 3, targetLowPriorityNodes: 1, resizeTimeout: 'PT15M' },
      },
      taskSlotsPerNode: 2,
      taskSchedulingPolicy: { nodeFillType: 'Pack' },
      metadata: minimal.metadata,
      applicationPackages: [
        { id: `${ACCOUNT_ID}/applications/solver`, version: '2.1' },
        // A bare name is put under the account: ARM takes only full ids.
        { id: `${ACCOUNT_ID}/applications/meshgen` },
      ],
      networkConfiguration: {
        subnetId: SUBNET,
        publicIPAddressConfiguration: { provision: 'NoPublicIPAddresses' },
      },
      targetNodeCommunicationMode: 'Simplified',
      startTask: {
        commandLine: '/bin/sh -c "./setup.sh"',
        resourceFiles: [
          {
            storageContainerUrl: 'https://acme.blob.core.windows.net/tools',
            blobPrefix: 'setup/',
            identityReference: { resourceId: IDENTITY },
          },
          { httpUrl: 'https://example.com/setup.sh', filePath: 'setup.sh', fileMode: '0755' },
        ],
        environmentSettings: [
          { name: 'MODE', value: 'fast' },
          { name: 'LICENSE_KEY', value: 'slotwise-secret:license' },
        ],
        userIdentity: { autoUser: { scope: 'Pool', elevationLevel: 'Admin' } },
        maxTaskRetryCount: 2,
        waitForSuccess: true,
      },
      mountConfiguration: [
        {
          azureBlobFileSystemConfiguration: {
            accountName: 'acmedata',
            containerName: 'inputs',
            relativeMountPath: 'inputs',
            blobfuseOptions: '-o attr_timeout=240',
            identityReference: { resourceId: IDENTITY },
          },
        },
        {
          azureFileShareConfiguration: {
            accountName: 'acmefiles',
            azureFileUrl: 'https://acmefiles.file.core.windows.net/scratch',
            accountKey: 'slotwise-secret:files-key',
            relativeMountPath: 'scratch',
            mountOptions: '-o vers=3.0',
          },
        },
      ],
    });
  });

  it('maps the public IP choice and a non-admin start task', () => {
    const pool = toArmPool(
      {
        ...full,
        networkConfiguration: {
          subnetId: SUBNET,
          publicIPAddressConfiguration: { provision: 'batchmanaged' },
        },
        startTask: {
          ...full.startTask!,
          userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
        },
      },
      { accountResourceId: ACCOUNT_ID },
    );
    expect(pool.networkConfiguration?.publicIPAddressConfiguration).toEqual({ provision: 'BatchManaged' });
    expect(pool.startTask?.userIdentity).toEqual({ autoUser: { scope: 'Pool', elevationLevel: 'NonAdmin' } });
  });
});

describe('secret placeholders', () => {
  const armFull = toArmPool(full, { accountResourceId: ACCOUNT_ID });

  it('finds the start task and Azure Files placeholders, and nothing in a plain pool', () => {
    expect(secretNamesIn(armFull).sort()).toEqual(['files-key', 'license']);
    expect(secretNamesIn(toArmPool(minimal, { accountResourceId: ACCOUNT_ID }))).toEqual([]);
  });

  it("resolves each secret once, for the tenant the pool's metadata names, leaving the rest alone", async () => {
    const asked: string[] = [];
    const withTwice: typeof armFull = {
      ...armFull,
      startTask: {
        ...armFull.startTask,
        environmentSettings: [
          ...(armFull.startTask?.environmentSettings ?? []),
          { name: 'LICENSE_AGAIN', value: secretPlaceholder('license') },
        ],
      },
    };
    const { pool, values } = await withResolvedSecrets(withTwice, async (tenant, name) => {
      asked.push(`${tenant}/${name}`);
      return `value-of-${name}`;
    });
    expect(asked.sort()).toEqual(['acme/files-key', 'acme/license']);
    expect(values.sort()).toEqual(['value-of-files-key', 'value-of-license']);
    expect(pool.startTask?.environmentSettings).toEqual([
      { name: 'MODE', value: 'fast' },
      { name: 'LICENSE_KEY', value: 'value-of-license' },
      { name: 'LICENSE_AGAIN', value: 'value-of-license' },
    ]);
    expect(pool.mountConfiguration?.[1]?.azureFileShareConfiguration?.accountKey).toBe('value-of-files-key');
    // The planned pool itself keeps its placeholders (it may be sent again).
    expect(JSON.stringify(withTwice)).not.toContain('value-of-');
  });

  it('asks for nothing when the pool names no secret', async () => {
    const plain = toArmPool(minimal, { accountResourceId: ACCOUNT_ID });
    const { pool, values } = await withResolvedSecrets(plain, secretsUnavailable);
    expect(pool).toBe(plain);
    expect(values).toEqual([]);
  });

  it('fails with a typed error naming the secret, never a value, when secrets cannot be read', async () => {
    const error = await withResolvedSecrets(armFull, secretsUnavailable).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlotwiseError);
    expect((error as SlotwiseError).code).toBe('SecretsUnavailable');
    expect((error as SlotwiseError).retryable).toBe(false);
  });

  it('refuses a pool naming secrets without a tenant, and a value too long', async () => {
    const noOwner = { ...armFull, metadata: [] };
    await expect(withResolvedSecrets(noOwner, async () => 'v')).rejects.toMatchObject({
      code: 'PlanInvalid',
    });
    const long = 'x'.repeat(5000);
    const error = (await withResolvedSecrets(armFull, async () => long).catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: 'SecretTooLong' });
    expect(error.message).not.toContain(long);
  });
});

describe('ARM failures as BatchError', () => {
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new RestError(JSON.stringify(body), {
      statusCode: status,
      code: (body as { error?: { code?: string } }).error?.code,
      response: {
        status,
        headers: {
          get: (n: string) => ({ 'x-ms-request-id': 'req-1', ...headers })[n.toLowerCase()],
        },
      } as never,
    });

  it("keeps ARM's code and status: auth, quota and throttling read as on the data plane", () => {
    const auth = toBatchError(answer(403, { error: { code: 'AuthorizationFailed', message: 'no' } }));
    expect(auth).toMatchObject({
      code: 'AuthorizationFailed',
      status: 403,
      retryable: false,
      requestId: 'req-1',
    });
    const quota = toBatchError(answer(409, { error: { code: 'PoolQuotaReached', message: 'full' } }));
    expect(quota).toMatchObject({ code: 'PoolQuotaReached', status: 409, retryable: false });
    const busy = toBatchError(
      answer(429, { error: { code: 'TooManyRequests', message: 'slow' } }, { 'retry-after': '7' }),
    );
    expect(busy).toMatchObject({ status: 429, retryable: true, retryAfterMs: 7000 });
    expect(toBatchError(answer(503, {}))).toMatchObject({ code: 'Http503', retryable: true });
  });

  it('keeps no secret value and no SAS in the message, and not the SDK error (it holds the request)', () => {
    const e = new RestError(
      'Invalid accountKey s3cr3t-value for https://a.blob.core.windows.net/c?sv=1&sig=abc',
      {
        statusCode: 400,
        code: 'InvalidPropertyValue',
      },
    );
    const error = toBatchError(e, ['s3cr3t-value']);
    expect(error.message).not.toContain('s3cr3t-value');
    expect(error.message).not.toContain('sig=abc');
    expect(error.cause).toBeUndefined();
  });

  it('makes a failure before any answer retryable', () => {
    const e = new RestError('connect ECONNREFUSED', { code: 'REQUEST_SEND_ERROR' });
    expect(toBatchError(e)).toMatchObject({ code: 'ConnectionFailed', retryable: true });
  });
});

describe('management endpoint sign-in', () => {
  const credential = { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 60_000 }) };

  it('uses Entra for https, with the endpoint as the scope', () => {
    expect(managementAuth('https://management.azure.com', credential)).toEqual({
      kind: 'entra',
      credential,
      scope: 'https://management.azure.com/.default',
    });
    expect(() => managementAuth('https://management.azure.com', undefined)).toThrow(
      /needs a Microsoft Entra/,
    );
  });

  it('sends the local token only to a loopback http endpoint, and refuses any other http', () => {
    expect(managementAuth('http://127.0.0.1:7070', undefined)).toEqual({ kind: 'local' });
    expect(managementAuth('http://localhost:7070', credential)).toEqual({ kind: 'local' });
    expect(isLoopbackHttp('http://[::1]:7070')).toBe(true);
    expect(isLoopbackHttp('https://127.0.0.1:7070')).toBe(false);
    expect(isLoopbackHttp('http://127.0.0.1.example.com')).toBe(false);
    for (const url of ['http://management.example.com', 'http://10.0.0.4:7070', 'ftp://127.0.0.1'])
      expect(() => managementAuth(url, credential), url).toThrow(
        expect.objectContaining({
          code: 'InvalidConfiguration',
          message: expect.stringContaining('BATCH_MANAGEMENT_ENDPOINT'),
        }),
      );
  });
});
