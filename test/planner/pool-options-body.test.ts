/**
 * The planner's bodies for the managed pool options, keyless files and secret references: the pool
 * body in the data plane's shapes and casing, every option in the pool spec hash (and the tenant
 * too), `identityReference` where a file asks for the pool identity, secret references as
 * placeholders, and chunks that stay under Batch's body limit once every placeholder holds the
 * longest value the submitter may put in.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../shared/adapters/batch/add-tasks.js';
import {
  MAX_SECRET_VALUE_LENGTH,
  type PoolBody,
  secretPlaceholder,
  type TaskBody,
} from '../../shared/model/batch-bodies.js';
import type { JobRequest } from '../../shared/model/request-schema.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';
import { planJob, rebuildChunks } from '../../shared/planner/plan-job.js';

const defaults = { image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, nodeAgentSkuId: 'n' };
const SUB = '00000000-0000-0000-0000-00000000b002';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-nodes`;
const SUBNET = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/batch`;
const DATA = 'https://data.blob.core.windows.net/inputs';

function check(body: Record<string, unknown>): JobRequest {
  const checked = validateJobRequest(
    { id: 'j1', tasks: [{ id: 'a', commandLine: 'run' }], ...body },
    { checkCallbackUrl: () => undefined },
  );
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.request;
}

function plan(body: Record<string, unknown>, tenant = 't') {
  const request = check(body);
  const outcome = planJob({ tenant, jobId: 'j1', request, defaults });
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors));
  return { request, plan: outcome.plan, tasks: [...outcome.plan.chunks()].flat() };
}

const poolOf = (options: Record<string, unknown>, tenant = 't'): PoolBody => {
  const body = plan({ pool: { vmSize: 'standard_d2s_v3', ...options } }, tenant).plan.pool;
  if (!body) throw new Error('no pool body');
  return body;
};

const everything = {
  identity: IDENTITY,
  network: { subnetId: SUBNET, publicIp: 'none' },
  startTask: {
    commandLine: '/bin/sh -c ./setup.sh',
    resourceFiles: [{ httpUrl: `${DATA}/setup.sh`, filePath: 'setup.sh', identity: true }],
    environment: { LICENSE: { secretRef: 'license' }, MODE: 'fast' },
    maxRetries: 2,
    elevated: true,
  },
  mounts: [
    { azureBlob: { accountName: 'refdata', containerName: 'models', relativeMountPath: 'models' } },
    {
      azureFiles: {
        accountName: 'refdata',
        shareName: 'genomes',
        relativeMountPath: 'genomes',
        mountOptions: '-o vers=3.0,dir_mode=0777',
        accountKey: { secretRef: 'files-key' },
      },
    },
  ],
  dataDisks: [
    { lun: 2, diskSizeGB: 512, caching: 'readWrite', storageAccountType: 'premium_lrs' },
    { lun: 0, diskSizeGB: 128, caching: 'readOnly' },
  ],
};

describe('the managed pool body', () => {
  it('carries identity, network, start task, mounts and disks in the data plane’s shapes', () => {
    const pool = poolOf(everything);
    expect(pool.identity).toEqual({
      type: 'UserAssigned',
      userAssignedIdentities: [{ resourceId: IDENTITY }],
    });
    expect(pool.networkConfiguration).toEqual({
      subnetId: SUBNET,
      publicIPAddressConfiguration: { provision: 'nopublicipaddresses' },
    });
    expect(pool.targetNodeCommunicationMode).toBe('simplified');
    expect(pool.startTask).toEqual({
      commandLine: '/bin/sh -c ./setup.sh',
      resourceFiles: [
        { httpUrl: `${DATA}/setup.sh`, filePath: 'setup.sh', identityReference: { resourceId: IDENTITY } },
      ],
      environmentSettings: [
        { name: 'LICENSE', value: 'slotwise-secret:license' },
        { name: 'MODE', value: 'fast' },
      ],
      userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'admin' } },
      maxTaskRetryCount: 2,
      waitForSuccess: true,
    });
    expect(pool.mountConfiguration).toEqual([
      {
        azureBlobFileSystemConfiguration: {
          accountName: 'refdata',
          containerName: 'models',
          relativeMountPath: 'models',
          identityReference: { resourceId: IDENTITY },
        },
      },
      {
        azureFileShareConfiguration: {
          accountName: 'refdata',
          azureFileUrl: 'https://refdata.file.core.windows.net/genomes',
          accountKey: 'slotwise-secret:files-key',
          relativeMountPath: 'genomes',
          mountOptions: '-o vers=3.0,dir_mode=0777',
        },
      },
    ]);
    // Ordered by lun, enums as the data plane writes them.
    expect(pool.virtualMachineConfiguration.dataDisks).toEqual([
      { lun: 0, diskSizeGB: 128, caching: 'readonly' },
      { lun: 2, diskSizeGB: 512, caching: 'readwrite', storageAccountType: 'premium_lrs' },
    ]);
  });

  it('defaults: simplified communication on every managed pool, batch-managed IP, a non-admin start task that must succeed', () => {
    const plain = poolOf({});
    expect(plain.targetNodeCommunicationMode).toBe('simplified');
    expect(plain).not.toHaveProperty('identity');
    expect(plain).not.toHaveProperty('networkConfiguration');
    expect(plain).not.toHaveProperty('startTask');
    expect(plain).not.toHaveProperty('mountConfiguration');
    expect(plain.virtualMachineConfiguration).not.toHaveProperty('dataDisks');
    const pool = poolOf({ network: { subnetId: SUBNET }, startTask: { commandLine: 'setup' } });
    expect(pool.networkConfiguration?.publicIPAddressConfiguration).toEqual({ provision: 'batchmanaged' });
    expect(pool.startTask).toEqual({
      commandLine: 'setup',
      userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
      maxTaskRetryCount: 0,
      waitForSuccess: true,
    });
  });

  it('gives a different pool for any option that differs, and never shares one between tenants', () => {
    const variants: Record<string, unknown>[] = [
      {},
      { identity: IDENTITY },
      { identity: IDENTITY.replace('id-nodes', 'id-other') },
      { network: { subnetId: SUBNET } },
      { network: { subnetId: SUBNET, publicIp: 'none' } },
      { network: { subnetId: SUBNET.replace('/batch', '/other') } },
      { startTask: { commandLine: 'setup' } },
      { startTask: { commandLine: 'setup', waitForSuccess: false } },
      { startTask: { commandLine: 'setup', elevated: true } },
      { startTask: { commandLine: 'setup', maxRetries: 1 } },
      { startTask: { commandLine: 'setup', environment: { K: { secretRef: 'a' } } } },
      { startTask: { commandLine: 'setup', environment: { K: { secretRef: 'b' } } } },
      { identity: IDENTITY, mounts: [everything.mounts[0]] },
      { mounts: [everything.mounts[1]] },
      { dataDisks: [{ lun: 0, diskSizeGB: 128 }] },
      { dataDisks: [{ lun: 0, diskSizeGB: 256 }] },
      { dataDisks: [{ lun: 0, diskSizeGB: 128, caching: 'readOnly' }] },
    ];
    const ids = variants.map((v) => poolOf(v).id);
    expect(new Set(ids).size).toBe(variants.length);
    // Spellings that mean the same pool give the same one.
    expect(poolOf({ network: { subnetId: SUBNET, publicIp: 'batchManaged' } }).id).toBe(ids[3]);
    expect(
      poolOf({ startTask: { commandLine: 'setup', waitForSuccess: true, maxRetries: 0, elevated: false } })
        .id,
    ).toBe(ids[6]);
    expect(poolOf({ dataDisks: [everything.dataDisks[1], everything.dataDisks[0]] }).id).toBe(
      poolOf({ dataDisks: [everything.dataDisks[0], everything.dataDisks[1]] }).id,
    );
    // Two tenants with exactly the same spec: two pools.
    const a = poolOf(everything, 'acme');
    const b = poolOf(everything, 'globex');
    expect(a.id).not.toBe(b.id);
    expect({ ...a, id: '', displayName: '', metadata: [] }).toEqual({
      ...b,
      id: '',
      displayName: '',
      metadata: [],
    });
  });

  it('writes the pool’s own spelling of its identity in a registry reference', () => {
    const pool = poolOf({
      identity: IDENTITY,
      containerRegistries: [{ registryServer: 'acr.azurecr.io', identityResourceId: IDENTITY.toUpperCase() }],
    });
    // No container task: no container configuration, so check it with one.
    expect(pool.virtualMachineConfiguration.containerConfiguration).toBeUndefined();
    const withImage = plan({
      pool: {
        vmSize: 'standard_d2s_v3',
        identity: IDENTITY,
        containerRegistries: [
          { registryServer: 'acr.azurecr.io', identityResourceId: IDENTITY.toUpperCase() },
        ],
      },
      tasks: [{ id: 'a', commandLine: 'run', container: { image: 'acr.azurecr.io/tool:1' } }],
    }).plan.pool;
    expect(withImage?.virtualMachineConfiguration.containerConfiguration?.containerRegistries).toEqual([
      { registryServer: 'acr.azurecr.io', identityReference: { resourceId: IDENTITY } },
    ]);
  });
});

describe('task, preparation and release bodies', () => {
  it('turn identity: true into identityReference and secret references into placeholders', () => {
    const { plan: p, tasks } = plan({
      pool: { vmSize: 'standard_d2s_v3', identity: IDENTITY },
      keepLogs: 'none',
      tasks: [
        {
          id: 'a',
          commandLine: 'run',
          environment: { TOKEN: { secretRef: 'api-token' }, PLAIN: 'slotwise' },
          resourceFiles: [
            { httpUrl: `${DATA}/in.txt`, filePath: 'in.txt', identity: true },
            { storageContainerUrl: DATA, blobPrefix: 'ref/' },
          ],
          outputFiles: [
            {
              filePattern: 'out.txt',
              destination: { containerUrl: DATA, path: 'out/a.txt', identity: true },
            },
          ],
        },
      ],
      sweep: {
        idTemplate: 's{n}',
        commandLine: 'run {n}',
        environment: { INDEX: 'n={n}', TOKEN: { secretRef: 'api-token' } },
        resourceFiles: [
          { storageContainerUrl: DATA, blobPrefix: 'shard', filePath: 'shard-{n}', identity: true },
        ],
        parameters: { n: { from: 1, to: 2 } },
      },
      jobPreparation: {
        resourceFiles: [{ storageContainerUrl: DATA, identity: true }],
        environment: { TOKEN: { secretRef: 'api-token' } },
      },
      jobRelease: { commandLine: 'cleanup', environment: { TOKEN: { secretRef: 'api-token' } } },
    });
    const [a, s1, s2] = tasks as [TaskBody, TaskBody, TaskBody];
    expect(a.environmentSettings).toEqual([
      { name: 'TOKEN', value: secretPlaceholder('api-token') },
      { name: 'PLAIN', value: 'slotwise' },
    ]);
    expect(a.resourceFiles).toEqual([
      { httpUrl: `${DATA}/in.txt`, filePath: 'in.txt', identityReference: { resourceId: IDENTITY } },
      { storageContainerUrl: DATA, blobPrefix: 'ref/' },
    ]);
    expect(a.outputFiles).toEqual([
      {
        filePattern: 'out.txt',
        destination: {
          container: { containerUrl: DATA, path: 'out/a.txt', identityReference: { resourceId: IDENTITY } },
        },
        uploadOptions: { uploadCondition: 'taskcompletion' },
      },
    ]);
    // Parameters are substituted into plain values only; a reference stays a name.
    expect(s2.environmentSettings).toEqual([
      { name: 'INDEX', value: 'n=2' },
      { name: 'TOKEN', value: secretPlaceholder('api-token') },
    ]);
    expect(s1.resourceFiles).toEqual([
      {
        storageContainerUrl: DATA,
        blobPrefix: 'shard',
        filePath: 'shard-1',
        identityReference: { resourceId: IDENTITY },
      },
    ]);
    expect(JSON.stringify(tasks)).not.toContain('"identity"');
    expect(p.batchJob.jobPreparationTask).toMatchObject({
      resourceFiles: [
        { storageContainerUrl: DATA, fileMode: '0755', identityReference: { resourceId: IDENTITY } },
      ],
      environmentSettings: [{ name: 'TOKEN', value: secretPlaceholder('api-token') }],
    });
    expect(p.batchJob.jobReleaseTask?.environmentSettings).toEqual([
      { name: 'TOKEN', value: secretPlaceholder('api-token') },
    ]);
  });
});

describe('chunks with secret references', () => {
  /** Every placeholder replaced by a value of the longest length the submitter may put in. */
  const resolve = (chunk: TaskBody[]) =>
    JSON.stringify({ value: chunk }).replace(/"slotwise-secret:[A-Za-z0-9-]+"/g, () =>
      JSON.stringify('v'.repeat(MAX_SECRET_VALUE_LENGTH)),
    );
  const secrets = { A: { secretRef: 'a' }, B: { secretRef: 'b' }, C: { secretRef: 'c' } };

  const expectUnderLimit = (request: JobRequest, total: number) => {
    const outcome = planJob({ tenant: 't', jobId: 'j1', request, defaults });
    if (!outcome.ok) throw new Error('not planned');
    const chunks = [...outcome.plan.chunks()];
    expect(chunks.length).toBe(outcome.plan.chunkCount());
    for (const chunk of chunks) expect(Buffer.byteLength(resolve(chunk))).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(chunks.flat()).toHaveLength(total);
    expect([...rebuildChunks(request, outcome.plan.summary)]).toEqual(chunks);
    return chunks;
  };

  it('count each placeholder at MAX_SECRET_VALUE_LENGTH when no task body could reach the limit', () => {
    // 100 small tasks are about 40 KB as planned, over 1.2 MB once three 4 KB values each are in.
    const request = check({
      pool: { vmSize: 'standard_d2s_v3' },
      keepLogs: 'none',
      tasks: undefined,
      sweep: {
        idTemplate: 't{n}',
        commandLine: 'x',
        environment: secrets,
        parameters: { n: { from: 1, to: 300 } },
      },
    });
    expect(expectUnderLimit(request, 300).length).toBeGreaterThan(3);
  });

  it('count each placeholder when chunks are measured body by body', () => {
    // One wide task makes the planner measure every body; the rest carry three references each.
    const request = check({
      pool: { vmSize: 'standard_d2s_v3' },
      keepLogs: 'none',
      tasks: [
        { id: 'wide', commandLine: 'x'.repeat(8000) },
        ...Array.from({ length: 299 }, (_, i) => ({ id: `t${i}`, commandLine: 'x', environment: secrets })),
      ],
    });
    expect(expectUnderLimit(request, 300).length).toBeGreaterThan(3);
  });
});
