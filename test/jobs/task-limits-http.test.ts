import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlotwiseStack, startSlotwise } from '../support/stack.js';

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise();
});

afterAll(async () => {
  await stack?.close();
});

async function post(body: unknown) {
  const res = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(body) });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: (await res.json()) as { errors?: { field: string; pointer: string; message: string }[] },
  };
}

describe('POST /api/jobs refuses tasks that would escape or outgrow their limits', () => {
  it('answers 400 naming sweep.commandLine for a sweep whose command lines grow past 8,000', async () => {
    const res = await post({
      id: 'long-sweep',
      pool: { vmSize: 'standard_d2s_v3' },
      sweep: {
        idTemplate: 'r-{i}',
        commandLine: `echo ${'{v}'.repeat(2665)}`,
        parameters: { i: { from: 1, to: 1000 }, v: ['w'.repeat(256)] },
      },
    });
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body.errors).toEqual([
      {
        field: 'sweep.commandLine',
        pointer: '/sweep/commandLine',
        message: expect.stringContaining('renders command lines of up to 682,245 characters'),
      },
    ]);
    // Nothing was stored.
    expect((await stack.request('/jobs/long-sweep')).status).toBe(404);
  });

  it('answers 400 naming the run options field for --privileged, however it is quoted', async () => {
    for (const runOptions of ['--privileged', '--rm "--privileged"', '-e A=1 --privileged=true']) {
      const res = await post({
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 't', commandLine: 'x', container: { image: 'repo/img:1', runOptions } }],
      });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([
        {
          field: 'tasks[0].container.runOptions',
          pointer: '/tasks/0/container/runOptions',
          message: expect.stringMatching(
            /^--privileged is not allowed: it gives the container every capability/,
          ),
        },
      ]);
    }
  });

  it('answers 400 for an admin task when the tenant has no grant', async () => {
    const res = await post({
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'x', elevationLevel: 'admin' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      {
        field: 'tasks[0].elevationLevel',
        pointer: '/tasks/0/elevationLevel',
        message: 'the operator has not allowed admin tasks for this tenant',
      },
    ]);
  });
});
