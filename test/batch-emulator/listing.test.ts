/**
 * The lists a reconcile pass reads, as the Batch REST spec (BatchService.json 2025-06-01.21.0:
 * Job_List, Pool_List, ComputeNode_List with `$filter`, `$select`, `maxresults` and `odata.nextLink`)
 * and learn.microsoft.com "Create queries to list Batch resources efficiently" describe them: jobs
 * changed since a time, by state, in pages; each node's `recentTasks` (`BatchTaskInfo`), latest
 * change first; pools with only the properties asked for, in pages.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { advance, call, control, poolBody, start } from './helpers.js';

let emulator: BatchEmulator;

beforeEach(async () => {
  emulator = await start({ clockFactor: 0, allocationSeconds: 0, nodeStartSeconds: 0 });
});

afterEach(async () => {
  await emulator.close();
});

type Item = Record<string, unknown>;

async function ok(method: string, path: string, body?: unknown): Promise<Item> {
  const r = await call(emulator, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return (r.json ?? {}) as Item;
}

/** Every item of a list, following `odata.nextLink`; also the number of pages. */
async function listAll(path: string): Promise<{ items: Item[]; pages: number }> {
  const items: Item[] = [];
  let pages = 0;
  let next: string | undefined = path;
  while (next !== undefined) {
    const page = await ok('GET', next);
    pages++;
    items.push(...(page.value as Item[]));
    next = page['odata.nextLink'] as string | undefined;
  }
  return { items, pages };
}

async function clockNow(): Promise<string> {
  return ((await control(emulator, 'GET', 'clock')).json as { now: string }).now;
}

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe('jobs changed since a time', () => {
  const SELECT = 'id,state,stateTransitionTime,executionInfo,poolInfo,metadata';

  it('filters on stateTransitionTime and state, selects, and pages with odata.nextLink', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 0 }));
    const created = await clockNow();
    for (const i of [0, 1, 2, 3, 4])
      await ok('POST', '/jobs', {
        id: `j${i}`,
        poolInfo: { poolId: 'p' },
        metadata: [{ name: 'slotwise-job', value: `job-${i}` }],
      });
    await advance(emulator, 60);

    // All five, two a page, with only the properties asked for.
    const all = await listAll(
      `/jobs?${q({ $filter: `stateTransitionTime ge datetime'${created}'`, $select: SELECT, maxresults: '2' })}`,
    );
    expect(all.pages).toBe(3);
    expect(all.items.map((j) => j.id)).toEqual(['j0', 'j1', 'j2', 'j3', 'j4']);
    for (const job of all.items) {
      expect(Object.keys(job).sort()).toEqual(SELECT.split(',').sort());
      expect(job).toMatchObject({ state: 'active', poolInfo: { poolId: 'p' } });
    }
    expect(all.items[3]?.metadata).toEqual([{ name: 'slotwise-job', value: 'job-3' }]);

    // active → terminating → completed, each change moving stateTransitionTime.
    const terminated = await clockNow();
    await ok('POST', '/jobs/j1/terminate', {});
    const changed = `/jobs?${q({ $filter: `stateTransitionTime ge datetime'${terminated}'`, $select: SELECT })}`;
    const terminating = (await listAll(changed)).items;
    expect(terminating).toEqual([
      expect.objectContaining({ id: 'j1', state: 'terminating', stateTransitionTime: expect.any(String) }),
    ]);
    expect(Date.parse(terminating[0]?.stateTransitionTime as string)).toBe(Date.parse(terminated));
    expect((await listAll(`/jobs?${q({ $filter: "state ne 'completed'" })}`)).items).toHaveLength(5);

    await advance(emulator, 5);
    const completed = (await listAll(changed)).items;
    expect(completed).toEqual([expect.objectContaining({ id: 'j1', state: 'completed' })]);
    const completedAt = Date.parse(completed[0]?.stateTransitionTime as string);
    expect(completedAt).toBeGreaterThan(Date.parse(terminated));
    expect(completed[0]?.executionInfo).toMatchObject({
      poolId: 'p',
      endTime: completed[0]?.stateTransitionTime,
      terminateReason: 'UserTerminate',
    });

    // Since after the completion: nothing changed.
    const later = new Date(completedAt + 1).toISOString();
    expect(
      (await listAll(`/jobs?${q({ $filter: `stateTransitionTime ge datetime'${later}'` })}`)).items,
    ).toEqual([]);

    const active = await listAll(`/jobs?${q({ $filter: "state eq 'active'", $select: 'id' })}`);
    expect(active.items.map((j) => j.id)).toEqual(['j0', 'j2', 'j3', 'j4']);
    const notDone = await listAll(`/jobs?${q({ $filter: "state ne 'completed'", maxresults: '3' })}`);
    expect(notDone.items.map((j) => j.id)).toEqual(['j0', 'j2', 'j3', 'j4']);
    expect(notDone.pages).toBe(2);
    const both = await listAll(
      `/jobs?${q({ $filter: `state eq 'completed' and stateTransitionTime ge datetime'${created}'` })}`,
    );
    expect(both.items.map((j) => j.id)).toEqual(['j1']);
  });

  it('refuses a malformed datetime and maxresults out of range as Batch does', async () => {
    const bad = await call(
      emulator,
      'GET',
      `/jobs?${q({ $filter: "stateTransitionTime ge datetime'soon'" })}`,
    );
    expect(bad).toMatchObject({ status: 400, json: { code: 'InvalidQueryParameterValue' } });
    const big = await call(emulator, 'GET', `/jobs?${q({ maxresults: '1001' })}`);
    expect(big).toMatchObject({ status: 400, json: { code: 'OutOfRangeQueryParameterValue' } });
  });
});

describe("a node's recent tasks", () => {
  const fixture = JSON.parse(
    readFileSync(new URL('../fixtures/batch-spec/definitions.json', import.meta.url), 'utf8'),
  ) as { definitions: Record<string, Record<string, unknown>> };
  const ajv = new Ajv({ allErrors: true, strict: false });
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  for (const f of ['int32', 'int64']) ajv.addFormat(f, true);
  const definitions = { ...fixture.definitions };
  // Strict: every property written must be one BatchTaskInfo declares.
  definitions.BatchTaskInfo = { ...definitions.BatchTaskInfo, additionalProperties: false };
  ajv.addSchema({ $id: 'batch', definitions });
  const taskInfo = ajv.getSchema('batch#/definitions/BatchTaskInfo')!;

  it('lists TaskInformation with the latest change first, a task completed there as completed', async () => {
    await ok('POST', '/pools', poolBody('p', { targetDedicatedNodes: 1, taskSlotsPerNode: 3 }));
    await advance(emulator, 1);
    await ok('POST', '/jobs', { id: 'j', poolInfo: { poolId: 'p' } });
    await ok('POST', '/jobs/j/tasks', { id: 'short', commandLine: 'sleep 10' });
    await advance(emulator, 1);
    await ok('POST', '/jobs/j/tasks', { id: 'long', commandLine: 'sleep 100' });
    await ok('POST', '/jobs/j/tasks', {
      id: 'bad',
      commandLine: "/bin/sh -c 'sleep 20; exit 3'",
      constraints: { maxTaskRetryCount: 0 },
    });
    await advance(emulator, 1);

    const nodes = async () => {
      const list = await listAll(`/pools/p/nodes?${q({ $select: 'id,state,recentTasks' })}`);
      expect(list.items).toHaveLength(1);
      const node = list.items[0]!;
      expect(Object.keys(node).sort()).toEqual(['id', 'recentTasks', 'state']);
      const recent = node.recentTasks as Item[];
      for (const t of recent)
        expect(taskInfo(t) ? [] : taskInfo.errors?.map((e) => `${e.instancePath} ${e.message}`)).toEqual([]);
      return recent;
    };

    const started = await nodes();
    expect(started.map((t) => [t.taskId, t.taskState])).toEqual([
      ['bad', 'running'],
      ['long', 'running'],
      ['short', 'running'],
    ]);

    // `short` ends after 10 s: its change is now the latest.
    await advance(emulator, 10);
    const afterShort = await nodes();
    expect(afterShort.map((t) => [t.taskId, t.taskState])).toEqual([
      ['short', 'completed'],
      ['bad', 'running'],
      ['long', 'running'],
    ]);
    const short = afterShort[0]!;
    expect(short).toMatchObject({
      taskUrl: `${emulator.url}/jobs/j/tasks/short`,
      jobId: 'j',
      taskId: 'short',
      executionInfo: { exitCode: 0, result: 'success', retryCount: 0, requeueCount: 0 },
    });
    const exec = short.executionInfo as { startTime: string; endTime: string };
    expect(Date.parse(exec.endTime) - Date.parse(exec.startTime)).toBe(10_000);
    expect(afterShort[1]?.executionInfo).not.toHaveProperty('endTime');
    expect(afterShort[1]?.executionInfo).toHaveProperty('startTime');
    expect(afterShort).not.toContainEqual(expect.objectContaining({ subtaskId: expect.anything() }));

    await advance(emulator, 10);
    const afterBad = await nodes();
    expect(afterBad.map((t) => [t.taskId, t.taskState])).toEqual([
      ['bad', 'completed'],
      ['short', 'completed'],
      ['long', 'running'],
    ]);
    expect(afterBad[0]?.executionInfo).toMatchObject({ exitCode: 3, result: 'failure' });
  });
});

describe('pools with the properties asked for', () => {
  it('selects and pages', async () => {
    for (const id of ['pa', 'pb', 'pc'])
      await ok('POST', '/pools', poolBody(id, { targetDedicatedNodes: id === 'pb' ? 2 : 0 }));
    await advance(emulator, 1);
    const select = 'id,state,currentDedicatedNodes,currentLowPriorityNodes,vmSize';
    const list = await listAll(`/pools?${q({ $select: select, maxresults: '2' })}`);
    expect(list.pages).toBe(2);
    expect(list.items).toEqual([
      {
        id: 'pa',
        state: 'active',
        currentDedicatedNodes: 0,
        currentLowPriorityNodes: 0,
        vmSize: 'standard_d2s_v3',
      },
      {
        id: 'pb',
        state: 'active',
        currentDedicatedNodes: 2,
        currentLowPriorityNodes: 0,
        vmSize: 'standard_d2s_v3',
      },
      {
        id: 'pc',
        state: 'active',
        currentDedicatedNodes: 0,
        currentLowPriorityNodes: 0,
        vmSize: 'standard_d2s_v3',
      },
    ]);
  });
});
