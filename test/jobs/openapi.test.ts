/**
 * The OpenAPI document (GET /api/openapi.json) tells the truth: every answer an operation gives is
 * listed with its status, media type, headers and body. The API fuzz (test/fuzz/, with schemathesis,
 * run by .ci/run) explores this at length; these tests keep the essentials in `npm test` with Node
 * alone: the document's shape, and real answers of the running API checked against it.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionTable } from '../../functions/table.js';
import { jobRequestExamples, openApiDocument } from '../../shared/interfaces/http/openapi.js';
import { problems } from '../../shared/interfaces/http/problem.js';
import { summarizeJob, toJobListItem, toJobView } from '../../shared/model/job-view.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';
import { jobDocFixture } from '../support/job-fixture.js';
import { type SlotwiseStack, startSlotwise } from '../support/stack.js';

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

interface Operation {
  security?: Record<string, string[]>[];
  responses: Record<string, { content?: Record<string, { schema?: object }>; headers?: object }>;
}
interface Doc {
  security: Record<string, string[]>[];
  components: { schemas: Record<string, object> };
  paths: Record<string, Record<string, Operation>>;
}

const doc = openApiDocument() as Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');
/** A schema of the document by its place in it, so that its `#/components/...` references resolve. */
const at = (...segments: string[]) =>
  ajv.compile({
    $ref: `openapi#/${segments.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`,
  });
const schema = (name: string) => at('components', 'schemas', name);

function operations(): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => method !== 'parameters')
      .map(([method, op]) => [path, method, op] as [string, string, Operation]),
  );
}

describe('OpenAPI description', () => {
  const validate = schema('JobRequest');

  it("describes the job request exactly as the API validates it (the README's example passes)", () => {
    const example = {
      id: 'hello-1',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8, maxNodes: 4 },
      tasks: [
        { id: 'prep', commandLine: '/bin/sh -c "sleep 5"', requiredSlots: 2 },
        {
          id: 'render',
          commandLine: '/bin/sh -c "sleep 20"',
          requiredSlots: 4,
          dependsOn: { taskIds: ['prep'] },
        },
      ],
      callback: { url: 'http://127.0.0.1:7072/hooks/hello' },
    };
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...example, colour: 'blue' })).toBe(false);
    expect(validate({ ...example, tasks: [{ id: 'bad id', commandLine: 'x' }] })).toBe(false);
  });

  it('says the rules of the request that JSON Schema can say, as the API applies them', () => {
    const pool = { vmSize: 'standard_d2s_v3' };
    const sweep = { idTemplate: 't-{n}', commandLine: 'x', parameters: { n: [1, 2] } };
    const cases: [string, unknown][] = [
      ['no tasks and no sweep', { pool, tasks: [] }],
      ['a sweep without parameters', { pool, sweep: { ...sweep, parameters: {} } }],
      ['a sweep with 9 parameters', { pool, sweep: { ...sweep, parameters: nine() } }],
      [
        'requiredSlots and resources',
        { pool, tasks: [{ id: 't', commandLine: 'x', requiredSlots: 1, resources: { cpus: 1 } }] },
      ],
      [
        '21 metadata entries',
        { pool, sweep, metadata: Object.fromEntries(range(21).map((i) => [`k${i}`, 'v'])) },
      ],
    ];
    for (const [what, body] of cases) {
      expect(validate(body), what).toBe(false);
      expect(validateJobRequest(body, { checkCallbackUrl: () => undefined }).ok, what).toBe(false);
    }
    // An ISO 8601 duration the API takes (days straight after years) is valid in the document too.
    const long = { pool, sweep, maxWallClockTime: 'P1Y2D' };
    expect(validateJobRequest(long, { checkCallbackUrl: () => undefined }).ok).toBe(true);
    expect(validate(long), JSON.stringify(validate.errors)).toBe(true);
  });

  it('gives request examples that the API accepts as they are', () => {
    for (const [name, { value }] of Object.entries(jobRequestExamples)) {
      expect(validate(value), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(validateJobRequest(value, { checkCallbackUrl: () => undefined }).ok, name).toBe(true);
    }
  });

  it('lists every route the function table serves, with its methods', () => {
    for (const fn of functionTable) {
      if (fn.kind !== 'http') continue;
      // A catch-all route parameter (`{*path}`) is an ordinary path parameter in OpenAPI.
      const path = doc.paths[`/${(fn.route ?? fn.name).replace(/\{\*(\w+)\}/g, '{$1}')}`];
      expect(path, fn.name).toBeDefined();
      for (const method of fn.methods ?? ['GET', 'POST'])
        expect(path?.[method.toLowerCase()], `${method} ${fn.route}`).toBeDefined();
    }
  });

  it('documents 401 (problem details, WWW-Authenticate) on every operation a key guards', () => {
    for (const [path, method, op] of operations()) {
      const security = op.security ?? doc.security;
      if (!security.some((s) => Object.keys(s).length > 0)) continue;
      const answer = op.responses['401'];
      expect(answer?.content?.['application/problem+json'], `${method} ${path}`).toBeDefined();
      expect(answer?.headers, `${method} ${path}`).toHaveProperty('WWW-Authenticate');
    }
  });

  it("gives every API error as problem details (or, for 413 and 414, the host's bare answer)", () => {
    for (const [path, method, op] of operations()) {
      if (path.startsWith('/ui')) continue; // the dashboard's page and assets are for browsers
      for (const [status, answer] of Object.entries(op.responses)) {
        if (Number(status) < 400 || Number(status) === 503) continue;
        if (status === '413' || status === '414')
          expect(answer.content, `${method} ${path} ${status}`).toBeUndefined();
        else
          expect(Object.keys(answer.content ?? {}), `${method} ${path} ${status}`).toEqual([
            'application/problem+json',
          ]);
      }
    }
  });

  it('describes the views the API answers with, field for field (an unknown field is refused)', () => {
    const job = {
      ...jobDocFixture('t1', 'j1', 'failed', '2026-01-01T00:00:00.000Z'),
      failure: { code: 'TaskFailed', message: '1 task failed', failedTasks: [{ taskId: 't', exitCode: 1 }] },
      errors: [{ field: 'tasks', pointer: '/tasks', message: 'x' }],
    };
    const view = toJobView(job);
    const item = toJobListItem(summarizeJob(job));
    for (const [name, value] of [
      ['Job', view],
      ['JobListItem', item],
      ['JobPage', { value: [item], nextLink: '/api/jobs?continuation=x' }],
      [
        'RetryAnswer',
        { ...view, retry: { status: 'queued', requestId: 'r', attempt: 1, requestedAt: view.updatedAt } },
      ],
    ] as const) {
      const check = schema(name);
      expect(check(value), `${name}: ${JSON.stringify(check.errors)}`).toBe(true);
      expect(check({ ...value, surprise: 1 }), `${name} with an unknown field`).toBe(false);
    }
    const problem = schema('Problem');
    for (const made of [
      problems.notFound("Job 'x'"),
      problems.tooLarge(1),
      problems.limited(429, 'submissionsPerSecond', 'd', 1),
    ])
      expect(problem(JSON.parse(String(made.body))), JSON.stringify(problem.errors)).toBe(true);
  });
});

describe('the running API answers as its document says', () => {
  let stack: SlotwiseStack;
  beforeAll(async () => {
    stack = await startSlotwise();
  });
  afterAll(() => stack?.close());

  /** The answer's status, media type, required headers and body are the document's for this operation. */
  async function expectDocumented(path: string, method: string, res: Response): Promise<unknown> {
    const answer = doc.paths[path]?.[method]?.responses[String(res.status)];
    expect(answer, `${method.toUpperCase()} ${path} answered an undocumented ${res.status}`).toBeDefined();
    for (const [name, header] of Object.entries(answer!.headers ?? {}))
      if ((header as { required?: boolean }).required) expect(res.headers.get(name), name).not.toBeNull();
    const text = await res.text();
    const media = Object.keys(answer!.content ?? {});
    if (media.length === 0) return text;
    const type = res.headers.get('content-type')?.split(';')[0] ?? '';
    expect(media, `${method.toUpperCase()} ${path} ${res.status}`).toContain(type);
    const body = JSON.parse(text) as unknown;
    const check = at('paths', path, method, 'responses', String(res.status), 'content', type, 'schema');
    expect(
      check(body),
      `${method.toUpperCase()} ${path} ${res.status}: ${JSON.stringify(check.errors)}`,
    ).toBe(true);
    return body;
  }

  it('submits, replays, plans, reads, lists, retries and cancels as documented', async () => {
    const body = JSON.stringify(jobRequestExamples.tasks.value);
    const post = (query = '', key?: string | null, text = body) =>
      stack.request(`/jobs${query}`, { method: 'POST', body: text, ...(key !== undefined ? { key } : {}) });
    const created = (await expectDocumented('/jobs', 'post', await post())) as { id: string };
    await expectDocumented('/jobs', 'post', await post()); // replay: 200
    await expectDocumented('/jobs', 'post', await post('?dryRun=true'));
    await expectDocumented('/jobs', 'post', await post('', null)); // 401
    await expectDocumented('/jobs', 'post', await post('', undefined, '{"pool":')); // 400
    const conflict = JSON.stringify({ ...jobRequestExamples.tasks.value, displayName: 'another' });
    await expectDocumented('/jobs', 'post', await post('', undefined, conflict)); // 409
    await expectDocumented('/jobs/{id}', 'get', await stack.request(`/jobs/${created.id}`));
    await expectDocumented('/jobs/{id}', 'get', await stack.request('/jobs/nope'));
    await expectDocumented('/jobs', 'get', await stack.request('/jobs?limit=1'));
    await expectDocumented(
      '/jobs/{id}/retry',
      'post',
      await stack.request(`/jobs/${created.id}/retry`, { method: 'POST' }),
    );
    await expectDocumented(
      '/jobs/{id}',
      'delete',
      await stack.request(`/jobs/${created.id}`, { method: 'DELETE' }),
    );
    await expectDocumented(
      '/jobs/{id}/callbacks',
      'post',
      await stack.request(`/jobs/${created.id}/callbacks`, { method: 'POST', key: 'x.y.1.2.abc' }),
    );
    await expectDocumented('/health', 'get', await stack.request('/health', { key: null }));
  });

  it('refuses a limit the document does not allow, naming it (0x10, 1e1 and " 5" are not integers there)', async () => {
    for (const limit of ['0x10', '1e1', '%205', '5.0']) {
      const res = await stack.request(`/jobs?limit=${limit}`);
      const problem = (await expectDocumented('/jobs', 'get', res)) as { errors: { field: string }[] };
      expect(res.status, limit).toBe(400);
      expect(problem.errors.map((e) => e.field)).toEqual(['limit']);
    }
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function nine(): Record<string, number[]> {
  return Object.fromEntries(range(9).map((i) => [`p${i}`, [1]]));
}
