/**
 * Emulator answers checked against the REST spec's definitions (test/fixtures/batch-spec, transcribed
 * from BatchService.json 2025-06-01.21.0) with ajv. Top-level resources are checked strictly: every
 * property the emulator writes must be declared by the spec. Request bodies the tests send are
 * checked against the create definitions too, so the inputs are real Batch requests.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { advance, call, control, poolBody, start, vmConfig } from './helpers.js';

type Schema = Record<string, unknown>;
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/batch-spec/definitions.json', import.meta.url), 'utf8'),
) as { source: { commit: string }; definitions: Record<string, Schema> };

const STRICT = [
  'BatchPool',
  'BatchJob',
  'BatchTask',
  'BatchNode',
  'BatchApplication',
  'BatchTaskExecutionInfo',
  'BatchJobExecutionInfo',
  'BatchNodeInfo',
  'BatchTaskFailureInfo',
  'BatchJobConstraints',
  'BatchTaskConstraints',
  'BatchTaskCountsResult',
  'BatchTaskCounts',
  'BatchTaskSlotCounts',
  'BatchTaskCreateResult',
  'BatchCreateTaskCollectionResult',
  'BatchError',
  'BatchErrorMessage',
  'BatchErrorDetail',
  'BatchTaskSchedulingPolicy',
  'BatchPoolListResult',
  'BatchJobListResult',
  'BatchTaskListResult',
  'BatchNodeListResult',
  'BatchApplicationListResult',
];
/** Responses may carry OData's own annotation besides the model's properties. */
const WITH_ODATA = new Set([
  'BatchPool',
  'BatchJob',
  'BatchTask',
  'BatchNode',
  'BatchApplication',
  'BatchTaskCountsResult',
  'BatchCreateTaskCollectionResult',
  'BatchError',
  'BatchPoolListResult',
  'BatchJobListResult',
  'BatchTaskListResult',
  'BatchNodeListResult',
  'BatchApplicationListResult',
]);

function buildAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  ajv.addFormat('duration', /^P(?!$)(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/);
  for (const f of ['int32', 'int64', 'float', 'arm-id', 'password', 'byte', 'date-time-rfc7231'])
    ajv.addFormat(f, true);
  const definitions: Record<string, Schema> = {};
  for (const [name, def] of Object.entries(fixture.definitions)) {
    definitions[name] = STRICT.includes(name)
      ? {
          ...def,
          additionalProperties: false,
          properties: {
            ...(def.properties as Schema),
            ...(WITH_ODATA.has(name) ? { 'odata.metadata': { type: 'string' } } : {}),
          },
        }
      : def;
  }
  ajv.addSchema({ $id: 'batch', definitions });
  return ajv;
}

const ajv = buildAjv();
const validators = new Map<string, ValidateFunction>();
function conforms(definition: string, value: unknown): void {
  let v = validators.get(definition);
  if (!v) {
    v = ajv.getSchema(`batch#/definitions/${definition}`);
    if (!v) throw new Error(`no definition ${definition}`);
    validators.set(definition, v);
  }
  const valid = v(value);
  expect(
    valid ? [] : v.errors?.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`),
    definition,
  ).toEqual([]);
}

let emulator: BatchEmulator;
async function send(method: string, path: string, body?: unknown, expected = 200) {
  const r = await call(emulator, method, path, body);
  expect(r.status, JSON.stringify(r.json)).toBe(expected);
  return r;
}

beforeAll(async () => {
  emulator = await start({ clockFactor: 0, allocationSeconds: 30, nodeStartSeconds: 0 });
  await control(emulator, 'PUT', 'applications', {
    applications: [{ id: 'ffmpeg', versions: ['6.1'], defaultVersion: '6.1' }],
  });
});

afterAll(async () => {
  await emulator?.close();
});

describe('responses match the REST spec definitions', () => {
  it('knows where its definitions came from, and rejects what the spec does not allow', () => {
    expect(fixture.source.commit).toMatch(/^[0-9a-f]{40}$/);
    const v = ajv.getSchema('batch#/definitions/BatchTask');
    expect(v?.({ id: 't', state: 'Active' })).toBe(false);
    expect(v?.({ id: 't', state: 'active', invented: true })).toBe(false);
    expect(v?.({ id: 't', state: 'active', executionInfo: { retryCount: 0 } })).toBe(false);
    expect(v?.({ id: 't', state: 'active', executionInfo: { retryCount: 0, requeueCount: 0 } })).toBe(true);
  });

  it('pools, nodes and applications', async () => {
    const pool = poolBody('specpool', {
      vmSize: 'Standard_D4s_v3',
      taskSlotsPerNode: 4,
      taskSchedulingPolicy: { nodeFillType: 'pack' },
      virtualMachineConfiguration: {
        ...vmConfig,
        // Containers need a DockerCompatible image.
        imageReference: { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest' },
        containerConfiguration: { type: 'dockerCompatible', containerImageNames: ['busybox:1.36'] },
      },
      applicationPackageReferences: [
        {
          applicationId:
            '/subscriptions/s/resourceGroups/g/providers/Microsoft.Batch/batchAccounts/a/applications/ffmpeg',
        },
      ],
      metadata: [{ name: 'owner', value: 'tests' }],
      targetDedicatedNodes: 2,
    });
    conforms('BatchPoolCreateOptions', pool);
    const created = await send('POST', '/pools', pool, 201);
    expect(created.headers.get('dataserviceid')).toBe(`${emulator.url}/pools/specpool`);
    expect(created.headers.get('etag')).toMatch(/^0x[0-9A-F]+$/);
    expect(Number.isNaN(Date.parse(created.headers.get('last-modified') ?? ''))).toBe(false);
    const resizing = (await send('GET', '/pools/specpool')).json as Record<string, unknown>;
    conforms('BatchPool', resizing);
    expect(resizing.allocationState).toBe('resizing');
    await advance(emulator, 30);
    const steady = (await send('GET', '/pools/specpool')).json as Record<string, unknown>;
    conforms('BatchPool', steady);
    expect(steady).toMatchObject({
      state: 'active',
      allocationState: 'steady',
      vmSize: 'standard_d4s_v3',
      currentDedicatedNodes: 2,
    });
    expect(['active', 'deleting']).toContain(steady.state);
    conforms('BatchPoolListResult', (await send('GET', '/pools')).json);
    const nodes = (await send('GET', '/pools/specpool/nodes')).json as { value: { state: string }[] };
    conforms('BatchNodeListResult', nodes);
    expect(nodes.value.map((n) => n.state)).toEqual(['idle', 'idle']);
    conforms('BatchApplicationListResult', (await send('GET', '/applications')).json);
    conforms('BatchApplication', (await send('GET', '/applications/FFMPEG')).json);
  });

  it('jobs, tasks, task collections and task counts', async () => {
    const job = {
      id: 'specjob',
      poolInfo: { poolId: 'specpool' },
      priority: 10,
      usesTaskDependencies: true,
      onTaskFailure: 'performexitoptionsjobaction',
      constraints: { maxTaskRetryCount: 1, maxWallClockTime: 'PT12H' },
      metadata: [{ name: 'k', value: 'v' }],
    };
    conforms('BatchJobCreateOptions', job);
    await send('POST', '/jobs', job, 201);
    const container = { imageName: 'busybox:1.36', workingDirectory: 'taskWorkingDirectory' };
    const collection = {
      value: [
        { id: 'ok', commandLine: 'sleep 5', requiredSlots: 2, containerSettings: container },
        {
          id: 'fails',
          commandLine: 'exit 3',
          containerSettings: container,
          exitConditions: {
            exitCodes: [{ code: 3, exitOptions: { jobAction: 'none', dependencyAction: 'block' } }],
          },
        },
        { id: 'after', commandLine: 'echo', containerSettings: container, dependsOn: { taskIds: ['ok'] } },
        { id: 'plain', commandLine: 'echo' },
      ],
    };
    conforms('BatchTaskGroup', collection);
    const added = (await send('POST', '/jobs/specjob/addtaskcollection', collection)).json as {
      value: { taskId: string; status: string }[];
    };
    conforms('BatchCreateTaskCollectionResult', added);
    expect(added.value.map((r) => [r.taskId, r.status])).toEqual([
      ['ok', 'success'],
      ['fails', 'success'],
      ['after', 'success'],
      ['plain', 'clienterror'],
    ]);
    for (const id of ['ok', 'after'])
      conforms('BatchTask', (await send('GET', `/jobs/specjob/tasks/${id}`)).json);
    conforms('BatchTaskCountsResult', (await send('GET', '/jobs/specjob/taskcounts')).json);
    await advance(emulator, 10);
    const tasks = (await send('GET', '/jobs/specjob/tasks')).json as { value: Record<string, unknown>[] };
    conforms('BatchTaskListResult', tasks);
    expect(tasks.value.map((t) => t.state)).toEqual(['completed', 'completed', 'completed']);
    const jobView = (await send('GET', '/jobs/specjob')).json as Record<string, unknown>;
    conforms('BatchJob', jobView);
    expect(['active', 'disabling', 'disabled', 'enabling', 'terminating', 'completed', 'deleting']).toContain(
      jobView.state,
    );
    conforms(
      'BatchJobListResult',
      (await send('GET', `/jobs?$filter=${encodeURIComponent("state eq 'active'")}`)).json,
    );
    await send('POST', '/jobs/specjob/terminate', undefined, 202);
    await advance(emulator, 1);
    conforms('BatchJob', (await send('GET', '/jobs/specjob')).json);
  });

  it('pools cut short by a quota and preempted nodes', async () => {
    await control(emulator, 'PUT', 'quotas', { lowPriorityCoreQuota: 2 });
    try {
      await send(
        'POST',
        '/pools',
        poolBody('lowpri', { vmSize: 'standard_a2_v2', targetDedicatedNodes: 0, targetLowPriorityNodes: 2 }),
        201,
      );
      await advance(emulator, 30);
      const pool = (await send('GET', '/pools/lowpri')).json as { resizeErrors: Record<string, unknown>[] };
      conforms('BatchPool', pool);
      // ResizeError declares code, message and values (NameValuePair list) only.
      expect(pool.resizeErrors.map((e) => Object.keys(e).sort())).toEqual([['code', 'message']]);
      expect(pool.resizeErrors[0]?.code).toBe('AccountLowPriorityCoreQuotaReached');
      expect(
        (await control(emulator, 'POST', 'pools/lowpri/preempt', { recoverAfterSeconds: null })).status,
      ).toBe(200);
      const nodes = (await send('GET', '/pools/lowpri/nodes')).json as { value: { state: string }[] };
      conforms('BatchNodeListResult', nodes);
      expect(nodes.value.map((n) => n.state)).toEqual(['preempted']);
    } finally {
      await control(emulator, 'PUT', 'quotas', { lowPriorityCoreQuota: 1_000_000 });
    }
  });

  it('errors', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['GET', '/jobs/nope', undefined, 404, 'JobNotFound'],
      ['POST', '/jobs', { id: 'x' }, 400, 'MissingRequiredProperty'],
      ['POST', '/pools', poolBody('specpool'), 409, 'PoolExists'],
      ['GET', '/jobs?$filter=state%20eq', undefined, 400, 'InvalidQueryParameterValue'],
      ['GET', '/jobs?maxresults=1001', undefined, 400, 'OutOfRangeQueryParameterValue'],
      ['POST', '/jobs', '{not json', 400, 'InvalidRequestBody'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await call(emulator, method, path, body);
      expect([r.status, (r.json as { code: string }).code], `${method} ${path}`).toEqual([status, code]);
      conforms('BatchError', r.json);
    }
  });
});
