/**
 * Task events, opt-in, against the real stack and the local webhook inbox: a job whose callback asks
 * for `failed` and `completed` gets `slotwise.task.failed` / `slotwise.task.completed`, batched (at
 * most 100 tasks an event, the rest counted in `more`), signed like job events, with the caller's
 * task ids, before the job's own end event; a job that did not ask gets none. The emulator's clock is
 * moved by hand, so every task ends before any reconcile pass looks and the batching is exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Delivery, startWebhookInbox, type WebhookInbox } from '../../dev/webhook-inbox/inbox.js';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import type { JobDoc } from '../../shared/model/job.js';
import { schemaProblems } from '../support/openapi-check.js';
import {
  emulatorClient,
  getJob,
  type SlotwiseStack,
  startSlotwise,
  TEST_WEBHOOK_SECRET,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;
let inbox: WebhookInbox;

beforeAll(async () => {
  stack = await startSlotwise({ clockFactor: 0 });
  batch = emulatorClient(stack);
  inbox = await startWebhookInbox({ secret: TEST_WEBHOOK_SECRET });
  await stack.deps.tenants.updatePolicy('dev', {
    limits: { submissionsPerSecond: 1000, submissionBurst: 1000, maxNodes: 1000 },
  });
});

afterAll(async () => {
  await inbox?.close();
  await batch?.close();
  await stack?.close();
});

interface EventBody {
  id: string;
  type: string;
  data: {
    sequence: number;
    state: string;
    tasks?: {
      id: string;
      exitCode?: number;
      failure?: { code: string };
      nodeId?: string;
      endTime?: string;
    }[];
    more?: number;
  };
}

const FAILING = 120;
const PASSING = 5;

/** A sweep of tasks that fail (exit 3) and a few explicit ones that succeed, all ending together. */
function request(id: string, taskEvents?: string[]) {
  return {
    id,
    pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 16, maxNodes: 8 },
    keepLogs: 'none',
    callback: { url: `${inbox.url}/hooks/${id}`, ...(taskEvents ? { taskEvents } : {}) },
    sweep: {
      idTemplate: 'frame-{i}',
      commandLine: '/bin/sh -c "sleep 10; exit 3"',
      parameters: { i: { from: 0, to: FAILING - 1, pad: 3 } },
      maxRetries: 0,
    },
    tasks: Array.from({ length: PASSING }, (_, i) => ({ id: `ok-${i}`, commandLine: 'sleep 10' })),
  };
}

/** Runs the job: once it is in Batch and its pool is asked for, moves the clock so every task ends at once. */
async function runToEnd(id: string): Promise<void> {
  const res = await stack.request('/jobs', {
    method: 'POST',
    body: JSON.stringify(request(id, taskEventsOf[id])),
  });
  expect(res.status).toBe(202);
  const job = await waitForJobState(stack, id, ['submitted']);
  // A new pool is created empty and reads `resizing` until Batch settles it; only then is it sized.
  await advance(31);
  await waitFor(
    async () => (await batch.pools.get(job.batch!.poolId)) as { targetDedicatedNodes: number },
    (p) => p.targetDedicatedNodes > 0,
    { what: 'the pool sized' },
  );
  await advance(600);
  await waitForJobState(stack, id, ['failed']);
}

async function advance(seconds: number): Promise<void> {
  const res = await stack.emulatorControl('clock', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ advanceSeconds: seconds }),
  });
  expect(res.status).toBe(200);
}

const taskEventsOf: Record<string, string[] | undefined> = {
  'task-events-on': ['failed', 'completed'],
  'task-events-off': undefined,
};

const bodies = (name: string) => inbox.deliveries(name).map((d: Delivery) => d.body as EventBody);

describe('task events', () => {
  it('sends failed and completed tasks batched and signed, before the job fails', async () => {
    await runToEnd('task-events-on');
    const deliveries = await waitFor(
      () => inbox.deliveries('task-events-on'),
      (list) => list.some((d) => (d.body as EventBody).type === 'slotwise.job.failed'),
      { what: 'the job failed event delivered' },
    );
    expect(deliveries.every((d) => d.verified && d.answered === 204)).toBe(true);
    const events = bodies('task-events-on');
    const failed = events.filter((e) => e.type === 'slotwise.task.failed');
    const completed = events.filter((e) => e.type === 'slotwise.task.completed');
    // Every task ended before the first look: one event each, the failed one at its 100-task cap.
    expect(failed).toHaveLength(1);
    expect(failed[0]!.data.tasks).toHaveLength(100);
    expect(failed[0]!.data.more).toBe(FAILING - 100);
    const listed = failed[0]!.data.tasks!;
    expect(new Set(listed.map((t) => t.id)).size).toBe(100);
    expect(listed.every((t) => /^frame-\d{3}$/.test(t.id) && t.exitCode === 3)).toBe(true);
    expect(listed[0]).toMatchObject({ failure: { code: 'FailureExitCode' } });
    expect(listed[0]?.nodeId).toBeTruthy();
    expect(listed[0]?.endTime).toBeTruthy();
    expect(completed).toHaveLength(1);
    expect(completed[0]!.data.tasks!.map((t) => t.id).sort()).toEqual(
      Array.from({ length: PASSING }, (_, i) => `ok-${i}`),
    );
    expect(completed[0]!.data.more).toBe(0);
    // In the job's order, before its end; the ids are the stored events' (a redelivery reuses them).
    const end = events.find((e) => e.type === 'slotwise.job.failed')!;
    expect(failed[0]!.data.sequence).toBeLessThan(end.data.sequence);
    expect(completed[0]!.data.sequence).toBeLessThan(end.data.sequence);
    const stored = (await stack.deps.jobs.get('dev', 'task-events-on')) as JobDoc;
    const storedIds = stored.events.filter((e) => e.type.startsWith('slotwise.task.')).map((e) => e.id);
    expect(storedIds.sort()).toEqual([failed[0]!.id, completed[0]!.id].sort());
    expect(stored.taskEvents?.watermark).toBeTruthy();
    // The job view shows what the callback asked for, as the OpenAPI document describes it.
    const view = await getJob(stack, 'task-events-on');
    expect(schemaProblems('Job', view)).toBeUndefined();
    expect(view?.callback).toEqual({
      url: `${inbox.url}/hooks/task-events-on`,
      taskEvents: ['failed', 'completed'],
    });
  }, 120_000);

  it('sends none to a callback that did not ask', async () => {
    await runToEnd('task-events-off');
    await waitFor(
      () => inbox.deliveries('task-events-off'),
      (list) => list.some((d) => (d.body as EventBody).type === 'slotwise.job.failed'),
      { what: 'the job failed event delivered' },
    );
    const types = bodies('task-events-off').map((e) => e.type);
    expect(types.filter((t) => t.startsWith('slotwise.task.'))).toEqual([]);
    expect(types).toContain('slotwise.job.running');
  }, 120_000);

  it('refuses a taskEvents list that is not one of the kinds, each once, naming the field', async () => {
    for (const taskEvents of [['started'], [], ['failed', 'failed']]) {
      const res = await stack.request('/jobs', {
        method: 'POST',
        body: JSON.stringify({ ...request('task-events-bad', taskEvents) }),
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(await res.json())).toContain('callback.taskEvents');
    }
    expect(await getJob(stack, 'task-events-bad')).toBeUndefined();
  });
});
