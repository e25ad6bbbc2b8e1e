/**
 * GA4GH TES 1.1 on the real local stack (dev host, Batch emulator, Azurite, Cosmos): tasks created
 * over HTTP run as Batch tasks in a lane (one long-lived Batch job per tenant and pool spec), their
 * state, logs and outputs come back through the views, listing filters and pages as the spec says,
 * cancel goes through CANCELING to CANCELED, Basic and Bearer auth both work, and another tenant
 * sees nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlotwiseStack, startSlotwise, TEST_API_KEY, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;
const OTHER = 'other-tenant-key-0123456789';
const TES = '/ga4gh/tes/v1';

beforeAll(async () => {
  stack = await startSlotwise();
  await stack.deps.tenants.upsert('other', { apiKey: OTHER, now: new Date() });
}, 120_000);
afterAll(() => stack?.close());

async function tes(path: string, init: RequestInit & { key?: string | null } = {}) {
  const res = await stack.request(`${TES}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, res };
}

async function create(task: object, key?: string): Promise<string> {
  const { status, body } = await tes('/tasks', {
    method: 'POST',
    body: JSON.stringify(task),
    ...(key ? { key } : {}),
  });
  expect(status, JSON.stringify(body)).toBe(200);
  expect(Object.keys(body!)).toEqual(['id']);
  return body!.id as string;
}

async function waitForState(id: string, states: readonly string[], key?: string) {
  return waitFor(
    async () => (await tes(`/tasks/${id}?view=FULL`, key ? { key } : {})).body!,
    (t) => states.includes(t.state as string),
    { timeoutMs: 60_000, what: `task ${id} in ${states.join('|')}` },
  );
}

const echo = (text: string) => ({
  executors: [{ image: 'alpine', command: ['sh', '-c', `echo ${text}`] }],
});

describe('TES tasks on the local stack', () => {
  it('runs a task to COMPLETE with its executor log, and serves MINIMAL, BASIC and FULL', async () => {
    const id = await create({ name: 'hello', tags: { project: 'p1' }, ...echo('hello') });
    const minimal = await tes(`/tasks/${id}`);
    expect(Object.keys(minimal.body!).sort()).toEqual(['id', 'state']);
    const full = await waitForState(id, ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR']);
    expect(full.state, JSON.stringify(full)).toBe('COMPLETE');
    const logs = full.logs as { logs: { exit_code: number; stdout?: string }[] }[];
    expect(logs.at(-1)!.logs[0]!.exit_code).toBe(0);
    expect(logs.at(-1)!.logs[0]!.stdout).toContain('hello');
    const basic = (await tes(`/tasks/${id}?view=BASIC`)).body!;
    expect(basic.name).toBe('hello');
    expect(basic.tags).toEqual({ project: 'p1' });
    expect(JSON.stringify(basic)).not.toContain('"stdout"');
  });

  it('fails a task whose executor exits non-zero with EXECUTOR_ERROR and its exit code', async () => {
    const id = await create({ executors: [{ image: 'alpine', command: ['sh', '-c', 'exit 3'] }] });
    const full = await waitForState(id, ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR']);
    expect(full.state).toBe('EXECUTOR_ERROR');
    const logs = full.logs as { logs: { exit_code: number }[] }[];
    expect(logs.at(-1)!.logs[0]!.exit_code).toBe(3);
  });

  it('adds many tasks to one Batch job (the lane), in bulk', { timeout: 240_000 }, async () => {
    const before = (await (await stack.emulatorControl('counters')).json()) as {
      requests: Record<string, number>;
    };
    const ids = await Promise.all(
      Array.from({ length: 150 }, (_, i) => create({ name: `bulk-${i}`, ...echo(`n${i}`) })),
    );
    await waitFor(
      async () => Promise.all(ids.map(async (id) => (await tes(`/tasks/${id}`)).body!.state)),
      (states) => states.every((s) => s === 'COMPLETE'),
      // 150 reads per look: look twice a second, not forty times.
      { timeoutMs: 200_000, intervalMs: 500, what: 'every bulk task COMPLETE' },
    );
    const after = (await (await stack.emulatorControl('counters')).json()) as {
      requests: Record<string, number>;
    };
    const adds =
      (after.requests['POST /jobs/{id}/addtaskcollection'] ?? 0) -
      (before.requests['POST /jobs/{id}/addtaskcollection'] ?? 0);
    // 150 tasks in calls of at most 100, with the 1 s coalescing: a handful of calls, never one per task.
    expect(adds).toBeGreaterThanOrEqual(2);
    expect(adds).toBeLessThan(30);
    const jobs = (await (await stack.emulatorControl('counters')).json()) as {
      requests: Record<string, number>;
    };
    expect(jobs.requests['POST /jobs'] ?? 0).toBeLessThanOrEqual(2);
  });

  it('lists newest first with name_prefix, state, tags and pages', async () => {
    const a = await create({ name: 'list-a', tags: { kind: 'x', shared: '' }, ...echo('a') });
    const b = await create({ name: 'list-b', tags: { kind: 'y' }, ...echo('b') });
    const c = await create({ name: 'other-c', tags: { kind: 'x' }, ...echo('c') });
    const byPrefix = (await tes('/tasks?name_prefix=list-&page_size=10')).body!;
    expect((byPrefix.tasks as { id: string }[]).map((t) => t.id)).toEqual([b, a]);
    const byTag = (await tes('/tasks?tag_key=kind&tag_value=x&page_size=10')).body!;
    expect((byTag.tasks as { id: string }[]).map((t) => t.id)).toEqual([c, a]);
    const anyValue = (await tes('/tasks?tag_key=shared&page_size=10')).body!;
    expect((anyValue.tasks as { id: string }[]).map((t) => t.id)).toEqual([a]);
    const first = (await tes('/tasks?name_prefix=list-&page_size=1')).body!;
    expect((first.tasks as { id: string }[]).map((t) => t.id)).toEqual([b]);
    expect(typeof first.next_page_token).toBe('string');
    const second = (await tes(`/tasks?name_prefix=list-&page_size=1&page_token=${first.next_page_token}`))
      .body!;
    expect((second.tasks as { id: string }[]).map((t) => t.id)).toEqual([a]);
    expect(second.next_page_token).toBeUndefined();
    await waitForState(c, ['COMPLETE']);
    const complete = (await tes('/tasks?state=COMPLETE&name_prefix=other-&page_size=5')).body!;
    expect((complete.tasks as { id: string }[]).map((t) => t.id)).toEqual([c]);
    expect((await tes('/tasks?page_size=2048')).status).toBe(400);
  });

  it('cancels a running task: CANCELING, then CANCELED once Batch stopped it', async () => {
    const id = await create({ executors: [{ image: 'alpine', command: ['sh', '-c', 'sleep 3600'] }] });
    await waitForState(id, ['RUNNING']);
    const cancelled = await tes(`/tasks/${id}:cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({});
    expect(['CANCELING', 'CANCELED']).toContain((await tes(`/tasks/${id}`)).body!.state);
    await waitForState(id, ['CANCELED']);
  });

  it('accepts an s3:// input and ends the task SYSTEM_ERROR, saying why', async () => {
    const id = await create({
      inputs: [{ url: 's3://bucket/key', path: '/data/in.txt' }],
      ...echo('never'),
    });
    const full = await waitForState(id, ['SYSTEM_ERROR']);
    expect(JSON.stringify(full.logs)).toContain('s3');
  });

  it('answers 400 naming the field for a bad task and for strict unknown backend parameters', async () => {
    const bad = await tes('/tasks', { method: 'POST', body: JSON.stringify({ executors: [] }) });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('executors');
    const strict = await tes('/tasks', {
      method: 'POST',
      body: JSON.stringify({
        ...echo('x'),
        resources: { backend_parameters: { foo: 'bar' }, backend_parameters_strict: true },
      }),
    });
    expect(strict.status).toBe(400);
    expect(JSON.stringify(strict.body)).toContain('foo');
  });

  it('takes HTTP Basic (tenant, key) and Bearer; another tenant gets 404', async () => {
    const id = await create(echo('mine'));
    const basic = await stack.request(`${TES}/tasks/${id}`, {
      key: null,
      headers: { authorization: `Basic ${Buffer.from(`dev:${TEST_API_KEY}`).toString('base64')}` },
    });
    expect(basic.status).toBe(200);
    const wrongUser = await stack.request(`${TES}/tasks/${id}`, {
      key: null,
      headers: { authorization: `Basic ${Buffer.from(`other:${TEST_API_KEY}`).toString('base64')}` },
    });
    expect(wrongUser.status).toBe(401);
    expect((await tes(`/tasks/${id}`, { key: OTHER })).status).toBe(404);
    expect((await tes(`/tasks/${id}:cancel`, { method: 'POST', key: OTHER })).status).toBe(404);
    const theirs = (await tes('/tasks?page_size=100', { key: OTHER })).body!;
    expect(theirs.tasks).toEqual([]);
    expect((await tes('/tasks', { key: null })).status).toBe(401);
  });

  it('serves service-info at both paths, without auth', async () => {
    for (const path of ['/ga4gh/tes/v1/service-info', '/ga4gh/tes/service-info']) {
      const res = await stack.request(path, { key: null });
      expect(res.status).toBe(200);
      const info = (await res.json()) as Record<string, unknown>;
      expect(info.type).toEqual({ group: 'org.ga4gh', artifact: 'tes', version: '1.1.0' });
    }
  });
});
