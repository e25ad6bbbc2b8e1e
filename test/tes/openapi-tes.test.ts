/**
 * The GA4GH TES routes answer as the OpenAPI document says (shared/interfaces/http/openapi-tes.ts):
 * real answers of the running stack (a task created, run and cancelled; a page; service-info; 400,
 * 401 and 404) are checked against the operation's documented answer and, per view, against the
 * view's own closed schema, so a stray field (one py-tes would refuse) or a BASIC answer leaking a
 * FULL-only field fails here.
 */
import { BlobSASPermissions, BlobServiceClient } from '@azure/storage-blob';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../shared/interfaces/http/openapi.js';
import { parseTesTaskRequest } from '../../shared/model/tes-schema.js';
import { type SlotwiseStack, startSlotwise, TEST_API_KEY, waitFor } from '../support/stack.js';

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

interface Answer {
  content?: Record<string, { schema?: object }>;
  headers?: Record<string, { required?: boolean }>;
}
interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, Answer> }>>;
}

const doc = openApiDocument() as Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');
const at = (...segments: string[]) =>
  ajv.compile({
    $ref: `openapi#/${segments.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`,
  });
const schema = (name: string) => at('components', 'schemas', name);

/** `schema` refuses `value`: what a stray or leaked field must do. */
function refuses(name: string, value: unknown): boolean {
  return !schema(name)(value);
}

function expectValid(name: string, value: unknown): void {
  const check = schema(name);
  expect(check(value), `${name}: ${JSON.stringify(check.errors)} in ${JSON.stringify(value)}`).toBe(true);
}

let stack: SlotwiseStack;
const V1 = '/ga4gh/tes/v1';

beforeAll(async () => {
  stack = await startSlotwise();
}, 120_000);
afterAll(() => stack?.close());

/** The body (JSON when there is one) after checking status, headers, media type and schema. */
async function documented(path: string, method: string, res: Response): Promise<unknown> {
  const op = `${method.toUpperCase()} ${path}`;
  const answer = doc.paths[path]?.[method]?.responses[String(res.status)];
  expect(answer, `${op} answered an undocumented ${res.status}`).toBeDefined();
  for (const [name, header] of Object.entries(answer!.headers ?? {}))
    if (header.required) expect(res.headers.get(name), `${op} ${res.status} header ${name}`).not.toBeNull();
  const text = await res.text();
  const media = Object.keys(answer!.content ?? {});
  if (media.length === 0) return text;
  const type = res.headers.get('content-type')?.split(';')[0] ?? '';
  expect(media, `${op} ${res.status}`).toContain(type);
  const body = JSON.parse(text) as unknown;
  const check = at('paths', path, method, 'responses', String(res.status), 'content', type, 'schema');
  expect(check(body), `${op} ${res.status}: ${JSON.stringify(check.errors)} in ${text}`).toBe(true);
  return body;
}

const post = (path: string, body: unknown, key?: string | null) =>
  stack.request(`${V1}${path}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(key !== undefined ? { key } : {}),
  });

async function create(task: object): Promise<string> {
  const res = await post('/tasks', task);
  expect(res.status).toBe(200);
  return ((await documented(`${V1}/tasks`, 'post', res)) as { id: string }).id;
}

async function get(id: string, view: string): Promise<Record<string, unknown>> {
  const res = await stack.request(`${V1}/tasks/${id}?view=${view}`);
  expect(res.status).toBe(200);
  return (await documented(`${V1}/tasks/{id}`, 'get', res)) as Record<string, unknown>;
}

async function waitForState(id: string, states: readonly string[]): Promise<Record<string, unknown>> {
  return waitFor(
    () => get(id, 'FULL'),
    (t) => states.includes(t.state as string),
    { timeoutMs: 60_000, what: `task ${id} in ${states.join('|')}` },
  );
}

describe('the TES task request in the document', () => {
  const exec = { image: 'alpine', command: ['true'] };
  const cases: [string, unknown, boolean][] = [
    ['one executor', { executors: [exec] }, true],
    [
      'every field, nulls for absent ones, read-only fields echoed',
      {
        id: 'x',
        state: 'COMPLETE',
        logs: [],
        creation_time: '2026-01-01T00:00:00Z',
        name: 'n',
        description: null,
        inputs: [
          { path: '/in/a.txt', content: 'a', url: null, type: 'FILE' },
          { path: '/in/b', url: 'https://example.com/b', type: 'DIRECTORY', streamable: true },
          { path: '/in/c', url: 'https://example.com/c', content: '', type: 'DIRECTORY' },
        ],
        outputs: [{ path: '/out/*.txt', path_prefix: '/out/', url: 'az://acct/c/out', type: null }],
        resources: {
          cpu_cores: 2,
          ram_gb: 1.5,
          preemptible: null,
          backend_parameters: { VM_SIZE: 'x', other: null },
        },
        executors: [
          { ...exec, workdir: '/', env: { A_1: 'x', B: null }, stdout: '/out/log', ignore_error: true },
        ],
        volumes: ['/scratch'],
        tags: { k: 'v', e: null },
      },
      true,
    ],
    ['no executors', { executors: [] }, false],
    ['executors null', { executors: null }, false],
    ['an unknown field', { executors: [exec], colour: 'blue' }, false],
    ['an unknown executor field', { executors: [{ ...exec, user: 'root' }] }, false],
    ['a relative input path', { executors: [exec], inputs: [{ path: 'in.txt', content: 'a' }] }, false],
    ['a .. segment', { executors: [exec], inputs: [{ path: '/a/../b', content: 'a' }] }, false],
    ['an input at /', { executors: [exec], inputs: [{ path: '/', url: 'https://e.com/a' }] }, false],
    ['an input with neither url nor content', { executors: [exec], inputs: [{ path: '/a' }] }, false],
    [
      'content as a DIRECTORY',
      { executors: [exec], inputs: [{ path: '/a', content: 'x', type: 'DIRECTORY' }] },
      false,
    ],
    [
      'a wildcard without path_prefix',
      { executors: [exec], outputs: [{ path: '/o/*', url: 'az://a/c/o' }] },
      false,
    ],
    [
      'a path_prefix with a wildcard',
      { executors: [exec], outputs: [{ path: '/o/*', path_prefix: '/o*', url: 'az://a/c' }] },
      false,
    ],
    ['the same volume twice', { executors: [exec], volumes: ['/v', '/v'] }, false],
    ['an image with a space', { executors: [{ ...exec, image: 'alpine latest' }] }, false],
    ['an image starting with -', { executors: [{ ...exec, image: '--privileged' }] }, false],
    ['an env name with a dash', { executors: [{ ...exec, env: { 'A-B': 'x' } }] }, false],
    ['cpu_cores 0', { executors: [exec], resources: { cpu_cores: 0 } }, false],
    ['an empty tag name', { executors: [exec], tags: { '': 'x' } }, false],
    ['a null command argument', { executors: [{ ...exec, command: ['echo', null] }] }, false],
  ];

  it('accepts and refuses what the API accepts and refuses', () => {
    const check = schema('TesTaskRequest');
    for (const [what, body, valid] of cases) {
      expect(check(body), `${what}: ${JSON.stringify(check.errors)}`).toBe(valid);
      const parsed = parseTesTaskRequest(body);
      expect(parsed.ok, `${what}: ${JSON.stringify(parsed)}`).toBe(valid);
    }
  });
});

describe('the TES routes answer as the OpenAPI document says', () => {
  it('a task with a content input, an output to Blob and tags: created, read in each view, ended', async () => {
    const blobs = BlobServiceClient.fromConnectionString(stack.services.storageConnectionString);
    const container = blobs.getContainerClient('tes-openapi-outputs');
    await container.createIfNotExists();
    const outUrl = await container.getBlockBlobClient('run/out.txt').generateSasUrl({
      permissions: BlobSASPermissions.parse('cw'),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    const id = await create({
      name: 'documented',
      description: 'a task of every kind of field',
      tags: { project: 'openapi' },
      inputs: [{ name: 'in', path: '/data/in.txt', content: 'hello from the document\n' }],
      outputs: [{ path: '/data/out.txt', url: outUrl, type: 'FILE' }],
      resources: { cpu_cores: 1, ram_gb: 1, backend_parameters: { Nope: 'x' } },
      executors: [
        {
          image: 'alpine',
          command: ['sh', '-c', 'cat /data/in.txt > /data/out.txt && echo done'],
          workdir: '/data',
          env: { GREETING: 'hi' },
        },
      ],
      volumes: ['/scratch'],
    });

    const minimal = await get(id, 'MINIMAL');
    expectValid('TesTaskMinimal', minimal);
    expect(Object.keys(minimal).sort()).toEqual(['id', 'state']);

    const full = await waitForState(id, ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR']);
    expect(full.state, JSON.stringify(full)).toBe('COMPLETE');
    expectValid('TesTaskFull', full);
    const log = (full.logs as { logs: { exit_code: number; stdout?: string }[]; outputs: unknown[] }[]).at(
      -1,
    )!;
    expect(log.logs[0]!.exit_code).toBe(0);
    expect(log.logs[0]!.stdout).toContain('done');
    expect(log.outputs, JSON.stringify(full)).toHaveLength(1);
    const sig = new URL(outUrl).searchParams.get('sig')!;
    expect(JSON.stringify(full)).not.toContain(sig);
    expect(JSON.stringify(full)).not.toContain(encodeURIComponent(sig));

    const basic = await get(id, 'BASIC');
    expectValid('TesTaskBasic', basic);
    // BASIC leaves out the FULL-only fields: its schema refuses them, and the FULL answer has them.
    expect(refuses('TesTaskBasic', full), 'a FULL answer (content, stdout, system_logs) as BASIC').toBe(true);
    expect((full.inputs as { content?: string }[])[0]!.content).toBe('hello from the document\n');
    expect((basic.inputs as { content?: string }[])[0]!.content).toBeUndefined();

    // Closed schemas: a stray field anywhere is caught.
    expect(refuses('TesTaskMinimal', { ...minimal, name: 'x' })).toBe(true);
    expect(refuses('TesTaskBasic', { ...basic, surprise: 1 })).toBe(true);
    expect(
      refuses('TesTaskFull', { ...full, executors: [{ image: 'alpine', command: ['true'], user: 'root' }] }),
    ).toBe(true);
    expect(refuses('TesTaskFull', { ...full, logs: [{ ...log, exitCode: 0 }] })).toBe(true);
    expect(refuses('TesTaskFull', { ...full, state: 'FAILED' })).toBe(true);
  });

  it('a task that cannot run (an s3:// input) ends SYSTEM_ERROR, its system_logs in FULL only', async () => {
    const id = await create({
      inputs: [{ path: '/data/in.txt', url: 's3://bucket/in.txt' }],
      executors: [{ image: 'alpine', command: ['cat', '/data/in.txt'] }],
    });
    const full = await waitForState(id, ['SYSTEM_ERROR']);
    expectValid('TesTaskFull', full);
    expect(JSON.stringify(full.logs)).toContain('system_logs');
    const basic = await get(id, 'BASIC');
    expectValid('TesTaskBasic', basic);
    expect(JSON.stringify(basic)).not.toContain('system_logs');
  });

  it('a long task cancelled: the cancel answer, then CANCELING or CANCELED', async () => {
    const id = await create({ executors: [{ image: 'alpine', command: ['sleep', '3600'] }] });
    const res = await post(`/tasks/${id}:cancel`, '');
    expect(res.status).toBe(200);
    expect(await documented(`${V1}/tasks/{idAction}`, 'post', res)).toEqual({});
    const full = await waitForState(id, ['CANCELED']);
    expectValid('TesTaskFull', full);
    const again = await post(`/tasks/${id}:cancel`, '');
    expect(await documented(`${V1}/tasks/{idAction}`, 'post', again)).toEqual({});
  });

  it('pages of the list in each view, following next_page_token', async () => {
    await create({ name: 'list-a', executors: [{ image: 'alpine', command: ['true'] }] });
    await create({ name: 'list-b', executors: [{ image: 'alpine', command: ['true'] }] });
    for (const [view, name] of [
      ['MINIMAL', 'TesTaskMinimal'],
      ['BASIC', 'TesTaskBasic'],
      ['FULL', 'TesTaskFull'],
    ] as const) {
      const first = (await documented(
        `${V1}/tasks`,
        'get',
        await stack.request(`${V1}/tasks?page_size=1&view=${view}`),
      )) as { tasks: unknown[]; next_page_token?: string };
      expect(first.tasks).toHaveLength(1);
      expectValid(name, first.tasks[0]);
      expect(first.next_page_token).toBeTruthy();
      const second = (await documented(
        `${V1}/tasks`,
        'get',
        await stack.request(`${V1}/tasks?page_size=1&view=${view}&page_token=${first.next_page_token}`),
      )) as { tasks: { id: string }[] };
      expect(second.tasks).toHaveLength(1);
      expect(second.tasks[0]!.id).not.toBe((first.tasks[0] as { id: string }).id);
    }
    expect(refuses('TesListTasksResponse', { tasks: [], nextPageToken: 'x' })).toBe(true);
  });

  it('service-info at both paths, without a key', async () => {
    for (const path of ['/ga4gh/tes/v1/service-info', '/ga4gh/tes/service-info']) {
      const res = await stack.request(path, { key: null });
      expect(res.status).toBe(200);
      const info = (await documented(path, 'get', res)) as { type: { artifact: string } };
      expect(info.type.artifact).toBe('tes');
      expectValid('TesServiceInfo', info);
      expect(refuses('TesServiceInfo', { ...info, tesResourcesBackendParameters: [] })).toBe(true);
    }
  });

  it('errors as documented problem details: 400, 401 (both schemes named), 404', async () => {
    const invalid = await post('/tasks', { executors: [{ image: 'alpine', command: [] }], colour: 'blue' });
    expect(invalid.status).toBe(400);
    const problem = (await documented(`${V1}/tasks`, 'post', invalid)) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field).sort()).toEqual(['colour', 'executors[0].command']);
    expect((await post('/tasks', '{"executors":')).status).toBe(400);

    const badView = await stack.request(`${V1}/tasks/nope?view=EVERYTHING`);
    expect(badView.status).toBe(400);
    await documented(`${V1}/tasks/{id}`, 'get', badView);
    const badPage = await stack.request(`${V1}/tasks?page_token=forged`);
    expect(badPage.status).toBe(400);
    await documented(`${V1}/tasks`, 'get', badPage);

    const anonymous = await stack.request(`${V1}/tasks`, { key: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/Basic/);
    await documented(`${V1}/tasks`, 'get', anonymous);
    const wrongUser = await stack.request(`${V1}/tasks`, {
      key: null,
      headers: { authorization: `Basic ${Buffer.from(`someone:${TEST_API_KEY}`).toString('base64')}` },
    });
    expect(wrongUser.status).toBe(401);
    await documented(`${V1}/tasks`, 'get', wrongUser);
    const cancelAnonymous = await post('/tasks/x:cancel', '', null);
    expect(cancelAnonymous.status).toBe(401);
    await documented(`${V1}/tasks/{idAction}`, 'post', cancelAnonymous);

    const missing = await stack.request(`${V1}/tasks/no-such-task?view=BASIC`);
    expect(missing.status).toBe(404);
    await documented(`${V1}/tasks/{id}`, 'get', missing);
    const missingCancel = await post('/tasks/no-such-task:cancel', '');
    expect(missingCancel.status).toBe(404);
    await documented(`${V1}/tasks/{idAction}`, 'post', missingCancel);
    const otherAction = await post('/tasks/no-such-task:pause', '');
    expect(otherAction.status).toBe(404);
    await documented(`${V1}/tasks/{idAction}`, 'post', otherAction);
  });
});
