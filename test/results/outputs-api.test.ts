/**
 * A job's results end to end on the local stack: a job whose tasks write files and ask for them as
 * `outputFiles` (no destination: the tenant's results store) is submitted through the API; the
 * submitter gives Batch the tenant's container URL with a fresh SAS in place of the placeholder; the
 * Batch emulator runs the tasks and uploads with that SAS into Azurite; the outputs are then listed
 * and downloaded through the API — whole, by range — and no other tenant can see them. No answer,
 * header or stored document carries a SAS.
 */
import { ContainerClient } from '@azure/storage-blob';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containsSas } from '../../shared/core/redact-sas.js';
import { openApiDocument } from '../../shared/interfaces/http/openapi.js';
import { RESULTS_STORE_URL } from '../../shared/model/batch-bodies.js';
import { resultsContainerName } from '../../shared/model/results-paths.js';
import { emulatorClient, type SlotwiseStack, startSlotwise, waitForJobState } from '../support/stack.js';

const OTHER_KEY = 'other-tenant-key-0123456789';
const JOB = 'results-e2e-1';

let stack: SlotwiseStack;
/** Every answer any route gave in this file, to look for a SAS in. */
const seen: { what: string; status: number; headers: string; body: string }[] = [];

async function call(path: string, init: RequestInit & { key?: string | null } = {}) {
  const res = await stack.request(path, init);
  const body = Buffer.from(await res.arrayBuffer());
  const headers = JSON.stringify([...res.headers.entries()]);
  seen.push({
    what: `${init.method ?? 'GET'} ${path}`,
    status: res.status,
    headers,
    body: body.toString('latin1'),
  });
  return { res, body, text: body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) };
}

interface Page {
  value: { task: string; path: string; size: number; lastModified: string; links: { download: string } }[];
  nextLink?: string;
}

beforeAll(async () => {
  stack = await startSlotwise();
  await stack.deps.tenants.upsert('other', { apiKey: OTHER_KEY, now: new Date() });
  const created = await call('/jobs', {
    method: 'POST',
    body: JSON.stringify({
      id: JOB,
      pool: { vmSize: 'standard_d2s_v3', maxNodes: 1 },
      tasks: [
        {
          id: 't-001',
          commandLine: '/bin/sh -c "echo hello from t-001 > out.txt"',
          outputFiles: [{ filePattern: 'out.txt' }],
        },
        {
          id: 't-002',
          commandLine: '/bin/sh -c "echo -n 0123456789 > digits.txt"',
          outputFiles: [{ filePattern: 'digits.txt' }],
        },
      ],
    }),
  });
  expect(created.res.status, created.text).toBe(202);
  await waitForJobState(stack, JOB, ['completed'], 60_000);
}, 120_000);

afterAll(() => stack?.close());

describe('job outputs through the API', () => {
  it('lists what the tasks uploaded, paged, relative to the job folder (logs under $TaskLog too)', async () => {
    const items: Page['value'] = [];
    let next: string | undefined = `/jobs/${JOB}/outputs?limit=2`;
    let pages = 0;
    while (next) {
      const page = await call(next.replace(/^\/api/, ''));
      expect(page.res.status, page.text).toBe(200);
      expect(page.res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = page.json() as Page;
      expect(body.value.length).toBeLessThanOrEqual(2);
      items.push(...body.value);
      next = body.nextLink;
      pages++;
    }
    expect(pages).toBeGreaterThan(1);
    const paths = items.map((i) => i.path);
    expect(paths).toEqual([...paths].sort());
    expect(paths).toEqual(
      expect.arrayContaining(['t-001/out.txt', 't-002/digits.txt', 't-001/$TaskLog/stdout.txt']),
    );
    const digits = items.find((i) => i.path === 't-002/digits.txt')!;
    expect(digits).toMatchObject({
      task: 't-002',
      size: 10,
      links: { download: `/api/jobs/${JOB}/outputs/t-002/digits.txt` },
    });
    expect(Number.isNaN(Date.parse(digits.lastModified))).toBe(false);
    // A prefix narrows the list to one task's folder.
    const one = (await call(`/jobs/${JOB}/outputs?prefix=t-001/`)).json() as Page;
    expect(one.value.every((i) => i.task === 't-001')).toBe(true);
    expect(one.value.map((i) => i.path)).toContain('t-001/out.txt');
  });

  it('downloads an output whole, as an attachment, and a range of it with 206', async () => {
    const whole = await call(`/jobs/${JOB}/outputs/t-002/digits.txt`);
    expect(whole.res.status).toBe(200);
    expect(whole.text).toBe('0123456789');
    expect(whole.res.headers.get('content-type')).toBe('application/octet-stream');
    expect(whole.res.headers.get('content-disposition')).toBe('attachment; filename="digits.txt"');
    expect(whole.res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(whole.res.headers.get('content-length')).toBe('10');
    expect(whole.res.headers.get('accept-ranges')).toBe('bytes');
    const etag = whole.res.headers.get('etag')!;

    const part = await call(`/jobs/${JOB}/outputs/t-002/digits.txt`, { headers: { range: 'bytes=2-4' } });
    expect(part.res.status).toBe(206);
    expect(part.text).toBe('234');
    expect(part.res.headers.get('content-range')).toBe('bytes 2-4/10');
    expect(part.res.headers.get('content-length')).toBe('3');
    const tail = await call(`/jobs/${JOB}/outputs/t-002/digits.txt`, { headers: { range: 'bytes=-3' } });
    expect([tail.res.status, tail.text]).toEqual([206, '789']);
    // Resuming with the version's ETag gets the range; with a stale one, the whole current file.
    const resumed = await call(`/jobs/${JOB}/outputs/t-002/digits.txt`, {
      headers: { range: 'bytes=5-', 'if-range': etag },
    });
    expect([resumed.res.status, resumed.text]).toEqual([206, '56789']);
    const stale = await call(`/jobs/${JOB}/outputs/t-002/digits.txt`, {
      headers: { range: 'bytes=5-', 'if-range': '"0x0"' },
    });
    expect([stale.res.status, stale.text]).toEqual([200, '0123456789']);

    const past = await call(`/jobs/${JOB}/outputs/t-002/digits.txt`, { headers: { range: 'bytes=10-' } });
    expect(past.res.status).toBe(416);
    expect(past.res.headers.get('content-range')).toBe('bytes */10');
    const text = (await call(`/jobs/${JOB}/outputs/t-001/out.txt`)).text;
    expect(text).toBe('hello from t-001\n');
  });

  it('answers 404 for a file that is not there and for a job that is not', async () => {
    expect((await call(`/jobs/${JOB}/outputs/t-001/none.txt`)).res.status).toBe(404);
    expect((await call('/jobs/no-such-job/outputs')).res.status).toBe(404);
    expect((await call('/jobs/no-such-job/outputs/t-001/out.txt')).res.status).toBe(404);
  });

  it("hides one tenant's outputs from another: 404 for the list and the download", async () => {
    const list = await call(`/jobs/${JOB}/outputs`, { key: OTHER_KEY });
    expect(list.res.status).toBe(404);
    expect(list.res.headers.get('content-type')).toBe('application/problem+json');
    expect((await call(`/jobs/${JOB}/outputs/t-002/digits.txt`, { key: OTHER_KEY })).res.status).toBe(404);
    expect((await call(`/jobs/${JOB}/outputs`, { key: null })).res.status).toBe(401);
  });

  it('refuses a path, prefix, limit, continuation or Range that is not valid, naming it', async () => {
    const cases: [string, RequestInit, string][] = [
      [`/jobs/${JOB}/outputs?prefix=../`, {}, 'prefix'],
      [`/jobs/${JOB}/outputs?prefix=%2Fetc`, {}, 'prefix'],
      [`/jobs/${JOB}/outputs?prefix=a%5Cb`, {}, 'prefix'],
      [`/jobs/${JOB}/outputs?limit=0`, {}, 'limit'],
      [`/jobs/${JOB}/outputs?limit=1001`, {}, 'limit'],
      [`/jobs/${JOB}/outputs?continuation=not%20a%20token`, {}, 'continuation'],
      [`/jobs/${JOB}/outputs/t-001/..%2F..%2Fother-job%2Fsecret.txt`, {}, 'path'],
      [`/jobs/${JOB}/outputs/%2Fetc%2Fpasswd`, {}, 'path'],
      [`/jobs/${JOB}/outputs/${'a'.repeat(1100)}`, {}, 'path'],
      [`/jobs/${JOB}/outputs/t-002/digits.txt`, { headers: { range: 'bytes=1-2,4-5' } }, 'Range'],
      [`/jobs/${JOB}/outputs/t-002/digits.txt`, { headers: { range: 'lines=1-2' } }, 'Range'],
    ];
    for (const [path, init, field] of cases) {
      const answer = await call(path, init);
      expect(answer.res.status, path).toBe(400);
      expect(answer.res.headers.get('content-type')).toBe('application/problem+json');
      expect(
        (answer.json() as { errors: { field: string }[] }).errors.map((e) => e.field),
        path,
      ).toEqual([field]);
    }
  });

  it('gave Batch the tenant’s container with a fresh SAS, never the placeholder, and stored none', async () => {
    const job = await stack.deps.jobs.get('dev', JOB);
    const batch = emulatorClient(stack);
    try {
      for (const taskId of ['t-001', 't-002']) {
        const task = (await batch.tasks.get(job!.batch!.jobId, taskId)) as {
          outputFiles: { destination: { container: { containerUrl: string; path?: string } } }[];
        };
        expect(task.outputFiles.length).toBeGreaterThan(0);
        for (const output of task.outputFiles) {
          const url = new URL(output.destination.container.containerUrl);
          expect(output.destination.container.containerUrl).not.toBe(RESULTS_STORE_URL);
          expect(url.pathname).toBe(`/devstoreaccount1/${resultsContainerName('dev')}`);
          expect(url.searchParams.get('sp')).toBe('cw');
          expect(url.searchParams.get('sig')).toBeTruthy();
          expect(output.destination.container.path?.startsWith(`${JOB}/${taskId}/`)).toBe(true);
        }
        // The SAS lasts at least the 48 hours a task may need, and writes only.
        const sas = new URL(task.outputFiles[0]!.destination.container.containerUrl);
        expect(Date.parse(sas.searchParams.get('se')!) - Date.now()).toBeGreaterThan(47 * 3_600_000);
        const reader = new ContainerClient(sas.toString());
        await expect(
          reader.getBlobClient(`${JOB}/${taskId}/$TaskLog/stdout.txt`).download(),
        ).rejects.toMatchObject({
          statusCode: 403,
        });
      }
    } finally {
      await batch.close();
    }
    // The job as stored (and as the API shows it) keeps the placeholder's world: no SAS anywhere.
    expect(containsSas(JSON.stringify(job))).toBe(false);
    expect(containsSas((await call(`/jobs/${JOB}`)).text)).toBe(false);
  });

  it('answers as its OpenAPI document says (status, media type, required headers, closed bodies)', async () => {
    const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
      addFormatsModule) as unknown as (ajv: Ajv2020) => void;
    type Answer = { headers?: Record<string, { required?: boolean }>; content?: Record<string, unknown> };
    const doc = openApiDocument() as {
      paths: Record<string, Record<string, { responses: Record<string, Answer> }>>;
    };
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(ajv);
    ajv.addSchema(doc, 'openapi');
    const checks: [string, string, RequestInit & { key?: string | null }][] = [
      ['/jobs/{id}/outputs', `/jobs/${JOB}/outputs?limit=1`, {}],
      ['/jobs/{id}/outputs', `/jobs/${JOB}/outputs?limit=x`, {}],
      ['/jobs/{id}/outputs', `/jobs/${JOB}/outputs`, { key: OTHER_KEY }],
      ['/jobs/{id}/outputs', `/jobs/${JOB}/outputs`, { key: null }],
      ['/jobs/{id}/outputs/{path}', `/jobs/${JOB}/outputs/t-002/digits.txt`, {}],
      [
        '/jobs/{id}/outputs/{path}',
        `/jobs/${JOB}/outputs/t-002/digits.txt`,
        { headers: { range: 'bytes=0-0' } },
      ],
      [
        '/jobs/{id}/outputs/{path}',
        `/jobs/${JOB}/outputs/t-002/digits.txt`,
        { headers: { range: 'bytes=99-' } },
      ],
      ['/jobs/{id}/outputs/{path}', `/jobs/${JOB}/outputs/t-002/..%2Fx`, {}],
      ['/jobs/{id}/outputs/{path}', `/jobs/${JOB}/outputs/t-002/nope`, {}],
      ['/jobs/{id}/outputs/{path}', `/jobs/${JOB}/outputs/t-002/nope`, { key: null }],
    ];
    for (const [template, path, init] of checks) {
      const { res, text } = await call(path, init);
      const answer = doc.paths[template]?.get?.responses[String(res.status)];
      expect(answer, `${path} answered an undocumented ${res.status}`).toBeDefined();
      for (const [name, header] of Object.entries(answer!.headers ?? {}))
        if (header.required) expect(res.headers.get(name), `${path} ${res.status} ${name}`).not.toBeNull();
      const type = res.headers.get('content-type')?.split(';')[0] ?? '';
      expect(Object.keys(answer!.content ?? {}), `${path} ${res.status}`).toContain(type);
      if (type === 'application/octet-stream') continue;
      const pointer = ['paths', template, 'get', 'responses', String(res.status), 'content', type, 'schema']
        .map((x) => x.replaceAll('~', '~0').replaceAll('/', '~1'))
        .join('/');
      const check = ajv.compile({ $ref: `openapi#/${pointer}` });
      expect(check(JSON.parse(text)), `${path} ${res.status}: ${JSON.stringify(check.errors)}`).toBe(true);
    }
  });

  it('never answered with a SAS, in any body or header, on any route', async () => {
    // The routes that show a job or its tasks (read from Batch, whose task bodies hold the SAS) too.
    for (const path of ['/jobs', `/jobs/${JOB}`, `/jobs/${JOB}/tasks`, `/jobs/${JOB}/tasks/t-001`, '/health'])
      await call(path);
    await call(`/jobs/${JOB}/tasks/t-001/files/stdout.txt`);
    expect(seen.length).toBeGreaterThan(20);
    const leaks = seen.filter(
      (s) => containsSas(s.headers) || containsSas(s.body) || s.body.includes('sig='),
    );
    expect(leaks.map((l) => l.what)).toEqual([]);
  });
});
