/**
 * The three TES views (shared/model/tes-views.ts): exact key sets at every level, so that a stray
 * field (which py-tes refuses) or a missing one fails; SAS redaction; the wait note; service-info.
 */
import { describe, expect, it } from 'vitest';
import { containsSas } from '../../../shared/core/redact-sas.js';
import type { TesTaskDoc, TesTaskRequest } from '../../../shared/model/tes-task.js';
import { parseTesView, tesServiceInfo, tesTaskView } from '../../../shared/model/tes-views.js';

const SAS = 'sv=2022-11-02&sp=r&sig=c2VjcmV0';

const fullRequest: TesTaskRequest = {
  name: 'align',
  description: 'align reads',
  inputs: [
    {
      name: 'reads',
      description: 'fastq',
      url: `https://acct.blob.core.windows.net/in/r.fq?${SAS}`,
      path: '/data/r.fq',
      type: 'FILE',
      streamable: false,
    },
    { path: '/data/config.json', type: 'FILE', content: '{"k": 1}' },
  ],
  outputs: [
    {
      name: 'bams',
      description: 'aligned',
      url: `https://acct.blob.core.windows.net/out/bams/?${SAS}`,
      path: '/data/out/*.bam',
      path_prefix: '/data/out/',
      type: 'FILE',
    },
  ],
  resources: {
    cpu_cores: 2,
    preemptible: false,
    ram_gb: 8,
    disk_gb: 20,
    zones: ['1'],
    backend_parameters: { vm_size: 'standard_d4s_v5' },
    backend_parameters_strict: false,
  },
  executors: [
    {
      image: 'biocontainers/bwa',
      command: ['bwa', 'mem'],
      workdir: '/data',
      stdin: '/data/r.fq',
      stdout: '/data/out/stdout',
      stderr: '/data/out/stderr',
      env: { THREADS: '2' },
      ignore_error: false,
    },
  ],
  volumes: ['/scratch'],
  tags: { project: 'p1' },
};

const minimalRequest: TesTaskRequest = {
  inputs: [],
  outputs: [],
  executors: [{ image: 'ubuntu', command: ['true'] }],
  volumes: [],
  tags: {},
};

function docOf(overrides: Partial<TesTaskDoc> = {}): TesTaskDoc {
  return {
    id: 'task-1',
    tenant: 'acme',
    type: 'tes-task',
    state: 'COMPLETE',
    creationTime: '2025-01-02T03:04:05.678Z',
    updatedAt: '2025-01-02T04:00:00.000Z',
    sortKey: '2025-01-02T03:04:05.678Z|task-1',
    name: 'align',
    request: fullRequest,
    tagKeys: ['project'],
    tagPairs: ['["project","p1"]'],
    placement: {
      laneKey: '0123456789abcdef',
      vmSize: 'standard_d4s_v5',
      taskSlotsPerNode: 4,
      requiredSlots: 2,
      lowPriority: false,
      maxNodes: 10,
    },
    lane: {
      jobId: 'lane-1',
      batchJobId: 'acme_lane-1',
      poolId: 'swp_acme_x',
      submittedAt: '2025-01-02T03:05:00Z',
    },
    logs: [
      {
        logs: [
          {
            start_time: '2025-01-02T03:10:00Z',
            end_time: '2025-01-02T03:11:00Z',
            stdout: 'o1',
            stderr: 'e1',
            exit_code: 137,
          },
        ],
        metadata: { host: 'node-1' },
        start_time: '2025-01-02T03:09:00Z',
        end_time: '2025-01-02T03:11:00Z',
        outputs: [],
        system_logs: ['attempt 1 preempted'],
      },
      {
        logs: [
          {
            start_time: '2025-01-02T03:20:00Z',
            end_time: '2025-01-02T03:30:00Z',
            stdout: `fetched https://acct.blob.core.windows.net/in/r.fq?${SAS}`,
            stderr: 'e2',
            exit_code: 0,
          },
        ],
        metadata: { host: 'node-2' },
        start_time: '2025-01-02T03:19:00Z',
        end_time: '2025-01-02T03:31:00Z',
        outputs: [
          {
            url: `https://acct.blob.core.windows.net/out/bams/a.bam?${SAS}`,
            path: '/data/out/a.bam',
            size_bytes: '123456789012',
          },
        ],
        system_logs: ['ran on node-2'],
      },
    ],
    systemLogs: ["backend_parameters: 'foo' is not supported by Slotwise and was ignored"],
    endedAt: '2025-01-02T03:31:00Z',
    batch: { state: 'completed', retryCount: 0, requeueCount: 1 },
    _etag: '"etag"',
    ...overrides,
  };
}

const keys = (value: unknown) => Object.keys(value as object).sort();
const TASK_KEYS = [
  'creation_time',
  'description',
  'executors',
  'id',
  'inputs',
  'logs',
  'name',
  'outputs',
  'resources',
  'state',
  'tags',
  'volumes',
];
const INPUT_KEYS = ['description', 'name', 'path', 'streamable', 'type', 'url'];
const OUTPUT_KEYS = ['description', 'name', 'path', 'path_prefix', 'type', 'url'];
const RESOURCES_KEYS = [
  'backend_parameters',
  'backend_parameters_strict',
  'cpu_cores',
  'disk_gb',
  'preemptible',
  'ram_gb',
  'zones',
];
const EXECUTOR_KEYS = ['command', 'env', 'ignore_error', 'image', 'stderr', 'stdin', 'stdout', 'workdir'];
const TASK_LOG_KEYS = ['end_time', 'logs', 'metadata', 'outputs', 'start_time'];
const EXECUTOR_LOG_KEYS = ['end_time', 'exit_code', 'start_time'];
const OUTPUT_LOG_KEYS = ['path', 'size_bytes', 'url'];

type View = {
  inputs: Record<string, unknown>[];
  outputs: Record<string, unknown>[];
  executors: Record<string, unknown>[];
  resources: Record<string, unknown>;
  logs: {
    logs: Record<string, unknown>[];
    outputs: Record<string, unknown>[];
    system_logs?: string[];
    metadata?: Record<string, string>;
  }[];
};

describe('tesTaskView', () => {
  it('MINIMAL is id and state only', () => {
    expect(tesTaskView(docOf(), 'MINIMAL')).toStrictEqual({ id: 'task-1', state: 'COMPLETE' });
    expect(
      tesTaskView(docOf({ state: 'QUEUED', logs: [] }), 'MINIMAL', {
        waiting: { code: 'c', message: 'm', since: 's' },
      }),
    ).toStrictEqual({ id: 'task-1', state: 'QUEUED' });
  });

  it('BASIC has every spec field but executor stdout/stderr, input content and system_logs', () => {
    const view = tesTaskView(docOf(), 'BASIC') as unknown as View;
    expect(keys(view)).toEqual(TASK_KEYS);
    expect(keys(view.inputs[0])).toEqual(INPUT_KEYS);
    expect(keys(view.inputs[1])).toEqual(['path', 'type']);
    expect(keys(view.outputs[0])).toEqual(OUTPUT_KEYS);
    expect(keys(view.resources)).toEqual(RESOURCES_KEYS);
    expect(keys(view.executors[0])).toEqual(EXECUTOR_KEYS);
    expect(view.logs).toHaveLength(2);
    for (const log of view.logs) {
      expect(keys(log)).toEqual(TASK_LOG_KEYS);
      expect(keys(log.logs[0])).toEqual(EXECUTOR_LOG_KEYS);
    }
    expect(keys(view.logs[1]!.outputs[0])).toEqual(OUTPUT_LOG_KEYS);
  });

  it('FULL adds exactly those four', () => {
    const view = tesTaskView(docOf(), 'FULL') as unknown as View;
    expect(keys(view)).toEqual(TASK_KEYS);
    expect(keys(view.inputs[1])).toEqual(['content', 'path', 'type']);
    expect(view.inputs[1]!.content).toBe('{"k": 1}');
    for (const log of view.logs) {
      expect(keys(log)).toEqual([...TASK_LOG_KEYS, 'system_logs'].sort());
      expect(keys(log.logs[0])).toEqual([...EXECUTOR_LOG_KEYS, 'stderr', 'stdout'].sort());
    }
    expect(view.logs[0]!.logs[0]).toStrictEqual({
      start_time: '2025-01-02T03:10:00Z',
      end_time: '2025-01-02T03:11:00Z',
      stdout: 'o1',
      stderr: 'e1',
      exit_code: 137,
    });
  });

  it('shows values as stored, creation_time from the document, size_bytes as a string', () => {
    const view = tesTaskView(docOf(), 'FULL') as Record<string, unknown> & View;
    expect(view.id).toBe('task-1');
    expect(view.creation_time).toBe('2025-01-02T03:04:05.678Z');
    expect(view.name).toBe('align');
    expect(view.executors).toStrictEqual(fullRequest.executors);
    expect(view.resources).toStrictEqual(fullRequest.resources);
    expect(view.volumes).toStrictEqual(['/scratch']);
    expect(view.tags).toStrictEqual({ project: 'p1' });
    expect(view.logs[1]!.outputs[0]!.size_bytes).toBe('123456789012');
  });

  it('never shows Slotwise fields', () => {
    const text = JSON.stringify(tesTaskView(docOf(), 'FULL'));
    for (const word of [
      'tenant',
      'placement',
      'laneKey',
      'tagKeys',
      'tagPairs',
      'updatedAt',
      'endedAt',
      'batch',
      '_etag',
      'systemLogs',
      'acme_lane',
    ]) {
      expect(text).not.toContain(word);
    }
  });

  it('redacts every SAS: URLs, log tails, output logs', () => {
    for (const view of ['BASIC', 'FULL'] as const) {
      const text = JSON.stringify(tesTaskView(docOf(), view));
      expect(containsSas(text)).toBe(false);
      expect(text).toContain('sig=REDACTED');
    }
    const full = tesTaskView(docOf(), 'FULL') as unknown as View;
    expect(full.inputs[0]!.url).toBe(
      'https://acct.blob.core.windows.net/in/r.fq?sv=2022-11-02&sp=r&sig=REDACTED',
    );
    expect(full.logs[1]!.logs[0]!.stdout).toBe(
      'fetched https://acct.blob.core.windows.net/in/r.fq?sv=2022-11-02&sp=r&sig=REDACTED',
    );
  });

  it('omits absent optional values instead of sending null', () => {
    const doc = docOf({ request: minimalRequest, logs: [], systemLogs: [] });
    for (const view of ['BASIC', 'FULL'] as const) {
      const shown = tesTaskView(doc, view);
      expect(shown).toStrictEqual({
        id: 'task-1',
        state: 'COMPLETE',
        inputs: [],
        outputs: [],
        executors: [{ image: 'ubuntu', command: ['true'] }],
        volumes: [],
        tags: {},
        logs: [],
        creation_time: '2025-01-02T03:04:05.678Z',
      });
      expect(JSON.stringify(shown)).not.toContain('null');
    }
  });

  it('adds the task-wide system logs to the last task log only (FULL)', () => {
    const view = tesTaskView(docOf(), 'FULL') as unknown as View;
    expect(view.logs[0]!.system_logs).toEqual(['attempt 1 preempted']);
    expect(view.logs[1]!.system_logs).toEqual([
      'ran on node-2',
      "backend_parameters: 'foo' is not supported by Slotwise and was ignored",
    ]);
  });

  it('shows a synthetic task log for task-wide lines before any attempt (FULL only)', () => {
    const doc = docOf({ state: 'SYSTEM_ERROR', logs: [], systemLogs: ['s3:// URLs are not supported'] });
    expect((tesTaskView(doc, 'FULL') as unknown as View).logs).toStrictEqual([
      { logs: [], outputs: [], system_logs: ['s3:// URLs are not supported'] },
    ]);
    expect((tesTaskView(doc, 'BASIC') as unknown as View).logs).toStrictEqual([]);
  });

  it('tells why a waiting task waits: a system log line (FULL) and its code in metadata (BASIC, FULL)', () => {
    const waiting = {
      code: 'pool-at-max',
      message: 'the lane pool is at its 10 nodes',
      since: '2025-01-02T03:05:00Z',
    };
    const doc = docOf({ state: 'QUEUED', logs: [], systemLogs: ['created'] });
    expect((tesTaskView(doc, 'FULL', { waiting }) as unknown as View).logs).toStrictEqual([
      {
        logs: [],
        outputs: [],
        metadata: { slotwise_wait_code: 'pool-at-max' },
        system_logs: [
          'created',
          'waiting since 2025-01-02T03:05:00Z: pool-at-max: the lane pool is at its 10 nodes',
        ],
      },
    ]);
    expect((tesTaskView(doc, 'BASIC', { waiting }) as unknown as View).logs).toStrictEqual([
      { logs: [], outputs: [], metadata: { slotwise_wait_code: 'pool-at-max' } },
    ]);
  });

  it('puts the wait note on the last task log of a running task, beside its own metadata', () => {
    const waiting = { code: 'c1', message: 'm1', since: 't1' };
    const view = tesTaskView(docOf({ state: 'RUNNING' }), 'FULL', { waiting }) as unknown as View;
    expect(view.logs[0]!.metadata).toStrictEqual({ host: 'node-1' });
    expect(view.logs[1]!.metadata).toStrictEqual({ host: 'node-2', slotwise_wait_code: 'c1' });
    expect(view.logs[1]!.system_logs!.at(-1)).toBe('waiting since t1: c1: m1');
    const basic = tesTaskView(docOf({ state: 'INITIALIZING' }), 'BASIC', { waiting }) as unknown as View;
    expect(basic.logs[1]!.metadata).toStrictEqual({ host: 'node-2', slotwise_wait_code: 'c1' });
  });

  it('shows no wait note once the task is no longer waiting', () => {
    const waiting = { code: 'c1', message: 'm1', since: 't1' };
    for (const state of [
      'COMPLETE',
      'EXECUTOR_ERROR',
      'SYSTEM_ERROR',
      'CANCELED',
      'CANCELING',
      'PREEMPTED',
      'PAUSED',
    ] as const) {
      expect(tesTaskView(docOf({ state, logs: [], systemLogs: [] }), 'FULL', { waiting })).toMatchObject({
        logs: [],
      });
    }
  });

  it('never returns backend parameters Slotwise does not support', () => {
    const request = { ...minimalRequest, resources: { backend_parameters: { vm_size: 'x', foo: 'bar' } } };
    expect((tesTaskView(docOf({ request }), 'BASIC') as unknown as View).resources).toStrictEqual({
      backend_parameters: { vm_size: 'x' },
    });
  });
});

describe('parseTesView', () => {
  it('defaults to MINIMAL and refuses unknown views', () => {
    expect(parseTesView(null)).toBe('MINIMAL');
    expect(parseTesView('')).toBe('MINIMAL');
    expect(parseTesView('MINIMAL')).toBe('MINIMAL');
    expect(parseTesView('BASIC')).toBe('BASIC');
    expect(parseTesView('FULL')).toBe('FULL');
    expect(parseTesView('full')).toBe('FULL');
    expect(parseTesView('EVERYTHING')).toBeUndefined();
    expect(parseTesView('FULL ')).toBeUndefined();
  });
});

describe('tesServiceInfo', () => {
  it('is a GA4GH service-info with TES’s type, storage and backend parameters', () => {
    expect(
      tesServiceInfo({
        id: 'com.example.slotwise',
        name: 'Slotwise',
        version: '0.1.0',
        organization: { name: 'Example', url: 'https://example.com' },
        documentationUrl: 'https://example.com/docs/tes',
        storage: ['https://<account>.blob.core.windows.net/<container>'],
        createdAt: '2025-01-01T00:00:00Z',
        updatedAt: '2025-01-02T00:00:00Z',
        environment: 'prod',
      }),
    ).toStrictEqual({
      id: 'com.example.slotwise',
      name: 'Slotwise',
      type: { group: 'org.ga4gh', artifact: 'tes', version: '1.1.0' },
      organization: { name: 'Example', url: 'https://example.com' },
      documentationUrl: 'https://example.com/docs/tes',
      createdAt: '2025-01-01T00:00:00Z',
      updatedAt: '2025-01-02T00:00:00Z',
      environment: 'prod',
      version: '0.1.0',
      storage: ['https://<account>.blob.core.windows.net/<container>'],
      tesResources_backend_parameters: ['vm_size'],
    });
  });

  it('leaves out the optional fields not given', () => {
    expect(
      keys(
        tesServiceInfo({
          id: 'i',
          name: 'n',
          version: 'v',
          organization: { name: 'o', url: 'u' },
          storage: [],
        }),
      ),
    ).toEqual([
      'id',
      'name',
      'organization',
      'storage',
      'tesResources_backend_parameters',
      'type',
      'version',
    ]);
  });
});
