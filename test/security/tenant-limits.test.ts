/**
 * Per-tenant limits over HTTP: each one hit, answered with a problem naming it, and nothing stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJob, type SlotwiseStack, startSlotwise } from '../support/stack.js';

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise();
});

afterAll(async () => {
  await stack?.close();
});

const generous = { submissionsPerSecond: 1000, submissionBurst: 1000 };

async function tenant(name: string, limits: Record<string, unknown>): Promise<string> {
  const key = `${name}-key-0123456789`;
  await stack.deps.tenants.upsert(name, { apiKey: key, now: new Date(), policy: { limits } });
  return key;
}

const post = (key: string, body: unknown) =>
  stack.request('/jobs', { method: 'POST', body: JSON.stringify(body), key });

const longJob = (id: string, tasks = 1) => ({
  id,
  pool: { vmSize: 'standard_d2s_v3' },
  tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 3600' })),
});

interface LimitProblem {
  status: number;
  limit: string;
  type: string;
  errors?: { field: string; message: string }[];
}

describe('per-tenant limits', () => {
  it('answers 429 with Retry-After past the submission rate, and stores nothing', async () => {
    // One token per 100 s: nothing refills while the test runs, so exactly the burst gets in.
    const key = await tenant('rate', { submissionsPerSecond: 0.01, submissionBurst: 3 });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await post(key, longJob(`r${i}`));
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    expect(limited?.headers.get('content-type')).toBe('application/problem+json');
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited?.json()) as LimitProblem).limit).toBe('submissionsPerSecond');
    expect(await getJob(stack, 'r3', key)).toBeUndefined();
    // A replay of a stored job is not a new submission: answered as stored, whatever the rate.
    expect((await post(key, longJob('r0'))).status).toBe(200);
  });

  it('answers 409 past the active-job quota until a job ends', async () => {
    const key = await tenant('active', { ...generous, maxActiveJobs: 2 });
    expect((await post(key, longJob('a1'))).status).toBe(202);
    expect((await post(key, longJob('a2'))).status).toBe(202);
    const over = await post(key, longJob('a3'));
    expect(over.status).toBe(409);
    const problem = (await over.json()) as LimitProblem;
    expect(problem.limit).toBe('maxActiveJobs');
    expect(await getJob(stack, 'a3', key)).toBeUndefined();
    expect((await stack.request('/jobs/a1', { method: 'DELETE', key })).status).toBeLessThan(300);
    expect((await post(key, longJob('a3'))).status).toBe(202);
  });

  it('answers 422 for a job that could never fit the task limit, 409 when the room is taken', async () => {
    const key = await tenant('tasks', { ...generous, maxTasksInFlight: 10 });
    const sweep = await post(key, {
      id: 'too-big',
      pool: { vmSize: 'standard_d2s_v3' },
      sweep: { idTemplate: 'f-{i}', commandLine: 'sleep {i}', parameters: { i: { from: 1, to: 11 } } },
    });
    expect(sweep.status).toBe(422);
    const problem = (await sweep.json()) as LimitProblem;
    expect(problem.limit).toBe('maxTasksInFlight');
    expect(problem.errors?.[0]?.field).toBe('sweep.parameters');
    expect((await post(key, longJob('six', 6))).status).toBe(202);
    const full = await post(key, longJob('six-more', 6));
    expect(full.status).toBe(409);
    expect(((await full.json()) as LimitProblem).limit).toBe('maxTasksInFlight');
  });

  it('refuses a VM size the tenant is not allowed', async () => {
    const key = await tenant('sizes', { ...generous, allowedVmSizes: ['standard_d2s_v3'] });
    const res = await post(key, {
      pool: { vmSize: 'standard_d4s_v3' },
      tasks: [{ id: 't', commandLine: 'x' }],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as LimitProblem;
    expect(body.errors?.[0]?.field).toBe('pool.vmSize');
    expect(body.errors?.[0]?.message).toContain('allowedVmSizes');
  });

  it('never admits more than the quota, however many submissions race', async () => {
    const key = await tenant('race', { ...generous, maxActiveJobs: 5 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post(key, longJob(`race-${i}`)).then((r) => r.status)),
    );
    expect(results.filter((s) => s === 202)).toHaveLength(5);
    expect(results.filter((s) => s !== 202 && s !== 409 && s !== 429)).toEqual([]);
    const list = (await (await stack.request('/jobs?limit=50', { key })).json()) as { value: unknown[] };
    expect(list.value).toHaveLength(5);
  });
});
