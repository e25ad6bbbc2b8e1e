/**
 * The door for the managed pool options (identity, network, start task, mounts, data disks), keyless
 * files and secret references: every refusal names its field and says why; a tenant naming an
 * identity, subnet or secret it was not granted gets the same answer whether or not the resource
 * exists (nothing is looked up); identity use needs `pool.identity` on a managed pool; and a refused
 * request stores, queues and sends nothing. The dry run shows the pool body with secret placeholders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretPlaceholder } from '../../shared/model/secret-refs.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';
import type { DryRunAnswer } from '../../shared/usecases/dry-run.js';
import { type SlotwiseStack, startSlotwise } from '../support/stack.js';

const SUB = '00000000-0000-0000-0000-00000000a001';
const identity = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/rg-slotwise/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
const subnet = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-batch/subnets/${name}`;
/** Granted to the tenant `grants`: it exists, as far as any tenant can tell. */
const GRANTED_ID = identity('id-render');
const GRANTED_SUBNET = subnet('nodes');
const NO_SUCH_ID = identity('id-nobody-made');
const NO_SUCH_SUBNET = subnet('nowhere');

const GRANTS = 'grants-key-0123456789';
const PLAIN = 'plain-key-0123456789';

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise();
  const now = new Date();
  await stack.deps.tenants.upsert('grants', {
    apiKey: GRANTS,
    now,
    policy: {
      identities: [GRANTED_ID],
      subnets: [GRANTED_SUBNET],
      allowStartTask: true,
      secrets: ['license', 'files-key'],
    },
  });
  await stack.deps.tenants.upsert('plain', { apiKey: PLAIN, now });
});

afterAll(async () => {
  await stack?.close();
});

interface Problem {
  status: number;
  errors: { field: string; pointer: string; message: string }[];
}

const post = (key: string, body: unknown, query = '') =>
  stack.request(`/jobs${query}`, { method: 'POST', body: JSON.stringify(body), key });

const refused = async (key: string, body: unknown): Promise<Problem['errors']> => {
  const res = await post(key, body);
  const problem = (await res.json()) as Problem;
  expect(res.status, JSON.stringify(problem)).toBe(400);
  return problem.errors;
};

const messageAt = (errors: readonly Problem['errors'][number][], field: string) =>
  errors.find((e) => e.field === field)?.message;

const tasks = [{ id: 'a', commandLine: 'echo a' }];
const pool = (options: Record<string, unknown>) => ({ vmSize: 'standard_d2s_v3', ...options });

/** Requests that change something in Batch (everything but reads). */
const batchWrites = async () => {
  const counters = (await (await stack.emulatorControl('counters')).json()) as {
    requests: Record<string, number>;
  };
  return Object.entries(counters.requests)
    .filter(([k]) => !/^(ARM )?(GET|HEAD) /.test(k) && !k.startsWith('fault:'))
    .reduce((n, [, v]) => n + v, 0);
};

const jobsOf = async (key: string) => {
  const res = await stack.request('/jobs', { key });
  return ((await res.json()) as { value: unknown[] }).value;
};

describe('grants at the door', () => {
  it('refuses an identity or subnet the tenant was not granted, with one answer whether it exists or not', async () => {
    const writes = await batchWrites();
    const ask = (id: string, subnetId: string) =>
      refused(PLAIN, { id: 'ungranted', pool: pool({ identity: id, network: { subnetId } }), tasks });
    const existing = await ask(GRANTED_ID, GRANTED_SUBNET);
    const missing = await ask(NO_SUCH_ID, NO_SUCH_SUBNET);
    expect(existing.map((e) => e.field).sort()).toEqual(['pool.identity', 'pool.network.subnetId']);
    expect(messageAt(existing, 'pool.identity')).toBe(
      `identity '${GRANTED_ID}' is not available to this tenant (the operator grants identities)`,
    );
    expect(messageAt(existing, 'pool.network.subnetId')).toBe(
      `subnet '${GRANTED_SUBNET}' is not available to this tenant (the operator grants subnets)`,
    );
    // The answers differ only by the id the caller gave: nothing says which one exists.
    const anonymous = (errors: Problem['errors']) =>
      JSON.stringify(errors)
        .replaceAll(GRANTED_ID, '<id>')
        .replaceAll(NO_SUCH_ID, '<id>')
        .replaceAll(GRANTED_SUBNET, '<subnet>')
        .replaceAll(NO_SUCH_SUBNET, '<subnet>');
    expect(anonymous(missing)).toBe(anonymous(existing));
    // Granted ids match ignoring case; the tenant with the grants gets past the door.
    const dry = await post(
      GRANTS,
      { pool: pool({ identity: GRANTED_ID.toUpperCase(), network: { subnetId: GRANTED_SUBNET } }), tasks },
      '?dryRun=true',
    );
    expect(dry.status).toBe(200);
    expect(await jobsOf(PLAIN)).toEqual([]);
    expect(await batchWrites()).toBe(writes);
  });

  it('refuses a start task without allowStartTask, and an elevated one without allowAdminTasks', async () => {
    const startTask = { commandLine: 'install-driver.sh', elevated: true };
    const plain = await refused(PLAIN, { pool: pool({ startTask }), tasks });
    expect(plain).toEqual([
      {
        field: 'pool.startTask',
        pointer: '/pool/startTask',
        message: 'the operator has not allowed start tasks for this tenant (allowStartTask)',
      },
    ]);
    const granted = await refused(GRANTS, { pool: pool({ startTask }), tasks });
    expect(granted).toEqual([
      {
        field: 'pool.startTask.elevated',
        pointer: '/pool/startTask/elevated',
        message: 'the operator has not allowed admin tasks for this tenant',
      },
    ]);
    const nonAdmin = await post(
      GRANTS,
      { pool: pool({ startTask: { commandLine: 'install-tools.sh' } }), tasks },
      '?dryRun=true',
    );
    expect(nonAdmin.status).toBe(200);
    await stack.deps.tenants.updatePolicy('grants', { allowAdminTasks: true });
    try {
      expect((await post(GRANTS, { pool: pool({ startTask }), tasks }, '?dryRun=true')).status).toBe(200);
    } finally {
      await stack.deps.tenants.updatePolicy('grants', { allowAdminTasks: false });
    }
  });

  it('refuses every reference to a secret the tenant was not granted, naming each field', async () => {
    const ref = (name: string) => ({ secretRef: name });
    const body = {
      id: 'secrets',
      pool: pool({
        identity: GRANTED_ID,
        startTask: { commandLine: 'setup.sh', environment: { LICENSE: ref('license') } },
        mounts: [
          {
            azureFiles: {
              accountName: 'refdata',
              shareName: 'genomes',
              relativeMountPath: 'genomes',
              accountKey: ref('no-such-secret'),
            },
          },
        ],
      }),
      tasks: [{ id: 'a', commandLine: 'run', environment: { TOKEN: ref('token'), PLAIN: 'x' } }],
      sweep: {
        idTemplate: 's{i}',
        commandLine: 'run {i}',
        environment: { TOKEN: ref('token') },
        parameters: { i: { from: 1, to: 2 } },
      },
      jobPreparation: { environment: { TOKEN: ref('token') } },
      jobRelease: { commandLine: 'cleanup', environment: { TOKEN: ref('Token') } },
    };
    const errors = await refused(GRANTS, body);
    expect(errors.map((e) => e.field).sort()).toEqual([
      'jobPreparation.environment.TOKEN.secretRef',
      'jobRelease.environment.TOKEN.secretRef',
      'pool.mounts[0].azureFiles.accountKey.secretRef',
      'sweep.environment.TOKEN.secretRef',
      'tasks[0].environment.TOKEN.secretRef',
    ]);
    expect(messageAt(errors, 'tasks[0].environment.TOKEN.secretRef')).toBe(
      "secret 'token' is not available to this tenant (the operator grants secrets)",
    );
    expect(messageAt(errors, 'pool.mounts[0].azureFiles.accountKey.secretRef')).toBe(
      "secret 'no-such-secret' is not available to this tenant (the operator grants secrets)",
    );
    // Granted ignoring case, like Key Vault's names.
    await stack.deps.tenants.updatePolicy('grants', {
      secrets: ['license', 'FILES-KEY', 'no-such-secret', 'token'],
    });
    try {
      expect((await post(GRANTS, body, '?dryRun=true')).status).toBe(200);
    } finally {
      await stack.deps.tenants.updatePolicy('grants', { secrets: ['license', 'files-key'] });
    }
    expect(await jobsOf(GRANTS)).toEqual([]);
  });
});

describe('identity use', () => {
  const container = 'https://data.blob.core.windows.net/inputs';

  it('refuses identity: true, Blob mounts and registry identities on a pool without pool.identity', async () => {
    const errors = await refused(GRANTS, {
      pool: pool({
        containerRegistries: [{ registryServer: 'acr.azurecr.io', identityResourceId: GRANTED_ID }],
        mounts: [
          { azureBlob: { accountName: 'refdata', containerName: 'models', relativeMountPath: 'models' } },
        ],
      }),
      tasks: [
        {
          id: 'a',
          commandLine: 'run',
          container: { image: 'acr.azurecr.io/tool:1' },
          resourceFiles: [
            { httpUrl: `${container}/in.txt`, filePath: 'in.txt', identity: true },
            { storageContainerUrl: container, identity: true },
          ],
          outputFiles: [{ filePattern: 'out.txt', destination: { containerUrl: container, identity: true } }],
        },
      ],
    });
    const none =
      "uses the pool's identity, but the pool has none: set pool.identity to a user-assigned identity granted to this tenant";
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'tasks[0].resourceFiles[0].identity', message: none }),
        expect.objectContaining({ field: 'tasks[0].resourceFiles[1].identity', message: none }),
        expect.objectContaining({ field: 'tasks[0].outputFiles[0].destination.identity', message: none }),
        expect.objectContaining({ field: 'pool.mounts[0].azureBlob', message: none }),
        expect.objectContaining({
          field: 'pool.containerRegistries[0].identityResourceId',
          message:
            "needs the pool's identity: set pool.identity to this identity (Batch pulls only with an identity the pool carries)",
        }),
      ]),
    );
    expect(errors).toHaveLength(5);
  });

  it('refuses identity: true on an existing pool, whose identities are not known', async () => {
    const errors = await refused(GRANTS, {
      pool: { id: 'operator-pool' },
      tasks: [
        { id: 'a', commandLine: 'run', resourceFiles: [{ storageContainerUrl: container, identity: true }] },
      ],
    });
    expect(messageAt(errors, 'tasks[0].resourceFiles[0].identity')).toBe(
      "uses the pool's identity, which only a pool Slotwise manages can have (pool.identity): the identities of an existing pool are not known here",
    );
  });

  it('takes a registry identity only when it is the pool identity (ignoring case)', async () => {
    const registry = (identityResourceId: string) => ({
      pool: pool({
        identity: GRANTED_ID,
        containerRegistries: [{ registryServer: 'acr.azurecr.io', identityResourceId }],
      }),
      tasks: [{ id: 'a', commandLine: 'run', container: { image: 'acr.azurecr.io/tool:1' } }],
    });
    const other = await refused(GRANTS, registry(NO_SUCH_ID));
    expect(other).toEqual([
      {
        field: 'pool.containerRegistries[0].identityResourceId',
        pointer: '/pool/containerRegistries/0/identityResourceId',
        message:
          "must be the pool's identity, pool.identity (Batch pulls only with an identity the pool carries)",
      },
    ]);
    const same = await post(GRANTS, registry(GRANTED_ID.toLowerCase()), '?dryRun=true');
    expect(same.status).toBe(200);
    const answer = (await same.json()) as DryRunAnswer;
    const body = answer.pool as { virtualMachineConfiguration: { containerConfiguration: unknown } };
    // The pool's own spelling, so the reference names exactly the identity the pool carries.
    expect(body.virtualMachineConfiguration.containerConfiguration).toMatchObject({
      containerRegistries: [
        { registryServer: 'acr.azurecr.io', identityReference: { resourceId: GRANTED_ID } },
      ],
    });
  });
});

describe('the dry run', () => {
  it('shows the pool body with every option, secrets as placeholders and no SAS', async () => {
    const sas = 'sv=2025-01-05&sr=c&sp=r&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D';
    const res = await post(
      GRANTS,
      {
        pool: pool({
          identity: GRANTED_ID,
          network: { subnetId: GRANTED_SUBNET, publicIp: 'none' },
          startTask: {
            commandLine: 'setup.sh',
            resourceFiles: [
              { httpUrl: `https://tools.blob.core.windows.net/bin/setup.sh?${sas}`, filePath: 'setup.sh' },
            ],
            environment: { LICENSE: { secretRef: 'license' } },
          },
          mounts: [
            {
              azureFiles: {
                accountName: 'refdata',
                shareName: 'genomes',
                relativeMountPath: 'genomes',
                accountKey: { secretRef: 'files-key' },
              },
            },
          ],
          dataDisks: [{ lun: 0, diskSizeGB: 256, caching: 'readOnly' }],
        }),
        tasks,
      },
      '?dryRun=true',
    );
    expect(res.status).toBe(200);
    const text = await res.text();
    const answer = JSON.parse(text) as DryRunAnswer & { pool: Record<string, unknown> };
    expect(answer.pool).toMatchObject({
      identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: GRANTED_ID }] },
      networkConfiguration: {
        subnetId: GRANTED_SUBNET,
        publicIPAddressConfiguration: { provision: 'nopublicipaddresses' },
      },
      targetNodeCommunicationMode: 'simplified',
      startTask: {
        commandLine: 'setup.sh',
        environmentSettings: [{ name: 'LICENSE', value: secretPlaceholder('license') }],
        userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
        maxTaskRetryCount: 0,
        waitForSuccess: true,
      },
      mountConfiguration: [
        {
          azureFileShareConfiguration: {
            accountName: 'refdata',
            azureFileUrl: 'https://refdata.file.core.windows.net/genomes',
            accountKey: secretPlaceholder('files-key'),
            relativeMountPath: 'genomes',
          },
        },
      ],
      virtualMachineConfiguration: { dataDisks: [{ lun: 0, diskSizeGB: 256, caching: 'readonly' }] },
    });
    expect(text).not.toContain('c2VjcmV0LXNpZ25hdHVyZQ');
  });
});

describe('request fields', () => {
  const validate = (body: Record<string, unknown>) => {
    const result = validateJobRequest({ tasks, ...body }, { checkCallbackUrl: () => undefined });
    return result.ok ? [] : result.errors;
  };

  it('checks the form of each pool option and names the field', () => {
    const errors = validate({
      pool: pool({
        identity:
          '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id',
        network: { subnetId: GRANTED_SUBNET.replace('/subnets/', '/subnet/'), publicIp: 'public' },
        startTask: { commandLine: '', maxRetries: 101 },
        mounts: [
          { azureBlob: { accountName: 'Bad_Account', containerName: 'models', relativeMountPath: '../etc' } },
          {
            azureFiles: {
              accountName: 'refdata',
              shareName: 'genomes',
              relativeMountPath: 'genomes',
              mountOptions: 'vers=3.0;reboot',
              accountKey: 'the-key-itself',
            },
          },
        ],
        dataDisks: [{ lun: 64, diskSizeGB: 0, caching: 'readonly' }],
      }),
    });
    expect(errors.map((e) => e.field).sort()).toEqual([
      'pool.dataDisks[0].caching',
      'pool.dataDisks[0].diskSizeGB',
      'pool.dataDisks[0].lun',
      'pool.identity',
      'pool.mounts[0].azureBlob.accountName',
      'pool.mounts[0].azureBlob.relativeMountPath',
      'pool.mounts[1].azureFiles.accountKey',
      'pool.mounts[1].azureFiles.mountOptions',
      'pool.network.publicIp',
      'pool.network.subnetId',
      'pool.startTask.commandLine',
      'pool.startTask.maxRetries',
    ]);
    expect(messageAt(errors, 'pool.identity')).toMatch(/must be the ARM id of a user-assigned identity/);
    expect(messageAt(errors, 'pool.network.subnetId')).toMatch(/must be the ARM id of a subnet/);
  });

  it('refuses duplicate disk luns and mount folders, and more than 10 mounts or 16 disks', () => {
    const blob = (path: string) => ({
      azureBlob: { accountName: 'refdata', containerName: 'models', relativeMountPath: path },
    });
    const errors = validate({
      pool: pool({
        identity: GRANTED_ID,
        mounts: [blob('models'), blob('Models')],
        dataDisks: [
          { lun: 1, diskSizeGB: 10 },
          { lun: 1, diskSizeGB: 20 },
        ],
      }),
    });
    expect(errors).toEqual([
      {
        field: 'pool.dataDisks[1].lun',
        pointer: '/pool/dataDisks/1/lun',
        message: 'duplicates the lun of pool.dataDisks[0]',
      },
      {
        field: 'pool.mounts[1].azureBlob.relativeMountPath',
        pointer: '/pool/mounts/1/azureBlob/relativeMountPath',
        message: 'is also the folder of pool.mounts[0] (each mount needs its own, ignoring case)',
      },
    ]);
    const many = validate({
      pool: pool({
        identity: GRANTED_ID,
        mounts: Array.from({ length: 11 }, (_, i) => blob(`m${i}`)),
        dataDisks: Array.from({ length: 17 }, (_, lun) => ({ lun, diskSizeGB: 1 })),
      }),
    });
    expect(many.map((e) => [e.field, e.message])).toEqual([
      ['pool.mounts', 'at most 10 mounts'],
      ['pool.dataDisks', 'at most 16 data disks'],
    ]);
  });

  it('takes environment values as strings or secret references, and says why a value is neither', () => {
    const env = (environment: Record<string, unknown>) =>
      validate({ pool: pool({}), tasks: [{ id: 'a', commandLine: 'x', environment }] });
    expect(env({ A: 'plain', B: { secretRef: 'api-token' } })).toEqual([]);
    expect(env({ A: 'x'.repeat(32_769) })[0]).toMatchObject({ field: 'tasks[0].environment.A' });
    expect(env({ A: 'x'.repeat(32_769) })[0]?.message).toMatch(/32768/);
    expect(env({ A: { secretRef: 'no spaces' } })[0]).toMatchObject({
      field: 'tasks[0].environment.A.secretRef',
      message: 'must be 1 to 64 letters, digits and hyphens (a secret name)',
    });
    expect(env({ A: { secretref: 'x' } })[0]?.field).toMatch(/^tasks\[0\]\.environment\.A/);
    expect(env({ A: 5 })).toEqual([
      {
        field: 'tasks[0].environment.A',
        pointer: '/tasks/0/environment/A',
        message: 'must be a string or { "secretRef": "<secret name>" }',
      },
    ]);
  });

  it('refuses plain values that would read as secret placeholders, in sweeps too', () => {
    const reserved = validate({
      pool: pool({ startTask: { commandLine: 'x', environment: { K: 'slotwise-secret:license' } } }),
      jobRelease: { commandLine: 'x', environment: { K: 'slotwise-secret:token' } },
    });
    expect(reserved.map((e) => e.field).sort()).toEqual([
      'jobRelease.environment.K',
      'pool.startTask.environment.K',
    ]);
    expect(reserved[0]?.message).toBe(
      'must not start with "slotwise-secret:", which marks secret references: give { "secretRef": "<name>" } to use a secret',
    );
    // Only the environment's errors: values such as `secret:` make ids Batch refuses, reported apart.
    const sweep = (environment: Record<string, unknown>, parameters: Record<string, unknown>) =>
      validate({
        pool: pool({}),
        tasks: undefined,
        sweep: {
          idTemplate: ['t{i}', ...Object.keys(parameters).map((p) => `{${p}}`)].join('-'),
          commandLine: 'x',
          environment,
          parameters: { i: { from: 1, to: 2 }, ...parameters },
        },
      }).filter((e) => e.field.startsWith('sweep.environment'));
    // Rendered from parts: a literal, then a value finishing the prefix.
    expect(sweep({ K: 'slotwise-{p}token' }, { p: ['a', 'secret:'] }).map((e) => e.field)).toEqual([
      'sweep.environment.K',
    ]);
    expect(sweep({ K: '{p}' }, { p: ['slotwise-secret:x'] }).map((e) => e.field)).toEqual([
      'sweep.environment.K',
    ]);
    expect(sweep({ K: 'slotwise{i}secret:x' }, {})).toEqual([]);
    expect(sweep({ K: 'slotwise-{p}' }, { p: ['sec', 'secret'] })).toEqual([]);
    expect(
      sweep({ K: 'slotwise-{p}{q}' }, { p: ['sec', 'x'], q: ['ret:', 'y'] }).map((e) => e.field),
    ).toEqual(['sweep.environment.K']);
  });
});
