/**
 * A task callback token cannot flood reconciles: `POST /api/jobs/{id}/callbacks` asks for at most one
 * reconcile per job per 5 s (one at once, and one more at the end of the window for whatever came
 * during it), and answers 202 either way. 200 calls with the token from the Batch job's environment
 * make a handful of `reconcileNow` invocations and Batch requests, not 200 and 400. The reconcile timer
 * is off here, so every reconcile counted is a callback's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import {
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;
/** Added to the app's clock: lets a test move past the coalescing window. */
let clockOffsetMs = 0;
/** When set, the app's clock stands still here, so the outcome does not depend on the machine's speed. */
let frozenAt: number | undefined;
const appNow = () => frozenAt ?? Date.now() + clockOffsetMs;

beforeAll(async () => {
  stack = await startSlotwise({
    env: {
      SLOTWISE_PUBLIC_URL: 'https://slotwise.example.com',
      // Once a year: no timer reconcile during the test.
      SLOTWISE_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
    },
    overrides: {
      clock: { now: () => new Date(appNow()), monotonicMs: () => performance.now() },
    },
  });
  batch = emulatorClient(stack);
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const callback = (jobId: string, token: string) =>
  stack.request(`/jobs/${jobId}/callbacks`, {
    method: 'POST',
    key: token,
    body: JSON.stringify({ taskId: 't', status: 'progress' }),
  });

async function tokenFromBatch(id: string): Promise<string> {
  const res = await stack.request('/jobs', {
    method: 'POST',
    body: JSON.stringify({
      id,
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'sleep 100000' }],
    }),
  });
  expect(res.status).toBe(202);
  const job = await waitForJobState(stack, id, ['submitted', 'running']);
  const env = (await batch.jobs.get(job.batch!.jobId)).commonEnvironmentSettings as
    | { name: string; value: string }[]
    | undefined;
  const token = env?.find((e) => e.name === 'SLOTWISE_CALLBACK_TOKEN')?.value;
  expect(token).toBeDefined();
  return token!;
}

const reconcilesRun = () =>
  stack.logger.lines.filter((l) => l.includes('Function.reconcileNow: Executed')).length;
const reconcilesStarted = () =>
  stack.logger.lines.filter((l) => l.includes('Function.reconcileNow: Executing')).length;

async function taskCountReads(): Promise<number> {
  const counters = (await (await stack.emulatorControl('counters')).json()) as {
    requests: Record<string, number>;
  };
  return counters.requests['GET /jobs/{id}/taskcounts'] ?? 0;
}

/** Waits until every reconcile message (the delayed one too) has been taken and its invocation ended. */
async function reconcileQueueDrained(): Promise<void> {
  await waitFor(
    async () => ({
      queued: (await stack.queue(queueNames.reconcile).getProperties()).approximateMessagesCount ?? 0,
      started: reconcilesStarted(),
      run: reconcilesRun(),
    }),
    (v) => v.queued === 0 && v.started === v.run,
    { what: 'the reconcile queue to drain', timeoutMs: 30_000 },
  );
}

describe('task callbacks coalesce reconciles', () => {
  it('turn 200 calls into two reconciles and two Batch reads, answering 202 to each', async () => {
    const token = await tokenFromBatch('flood-1');
    await reconcileQueueDrained();
    const runBefore = reconcilesRun();
    const readsBefore = await taskCountReads();

    // All 200 within one window of the app's clock, however long they take here.
    frozenAt = appNow() + 60_000;
    const answers: { status: number; reconcile: string }[] = [];
    try {
      for (let wave = 0; wave < 10; wave++) {
        const responses = await Promise.all(Array.from({ length: 20 }, () => callback('flood-1', token)));
        for (const r of responses)
          answers.push({
            status: r.status,
            reconcile: ((await r.json()) as { reconcile: string }).reconcile,
          });
      }
    } finally {
      frozenAt = undefined;
    }
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    const count = (kind: string) => answers.filter((a) => a.reconcile === kind).length;
    expect({ queued: count('queued'), scheduled: count('scheduled'), coalesced: count('coalesced') }).toEqual(
      {
        queued: 1,
        scheduled: 1,
        coalesced: 198,
      },
    );
    await reconcileQueueDrained();

    // One at once, one at the end of the window for the calls that came after it: 2, not 200.
    expect(reconcilesRun() - runBefore).toBe(2);
    // And Batch saw one task-counts read per reconcile (the review counted 424 requests for 200 calls).
    expect((await taskCountReads()) - readsBefore).toBeLessThanOrEqual(2);
  });

  it('asks for a reconcile at once again when the window has passed, and says which it did', async () => {
    const token = await tokenFromBatch('flood-2');
    await reconcileQueueDrained();
    frozenAt = appNow() + 60_000;
    const first = (await (await callback('flood-2', token)).json()) as { reconcile: string };
    expect(first.reconcile).toBe('queued');
    const second = (await (await callback('flood-2', token)).json()) as { reconcile: string };
    expect(second.reconcile).toBe('scheduled'); // the window's trailing reconcile
    const third = (await (await callback('flood-2', token)).json()) as { reconcile: string };
    expect(third.reconcile).toBe('coalesced');
    frozenAt += 4_000;
    const inWindow = (await (await callback('flood-2', token)).json()) as { reconcile: string };
    expect(inWindow.reconcile).toBe('coalesced'); // the one scheduled at +5 s is still to come
    frozenAt += 2_000;
    const next = (await (await callback('flood-2', token)).json()) as { reconcile: string };
    expect(next.reconcile).toBe('scheduled'); // the +5 s one has run: another at +10 s
    frozenAt += 60_000;
    const later = (await (await callback('flood-2', token)).json()) as { reconcile: string };
    expect(later.reconcile).toBe('queued');
    frozenAt = undefined;
  });

  it('queues nothing for a job that has ended, and still answers 202', async () => {
    const token = await tokenFromBatch('flood-3');
    expect((await stack.request('/jobs/flood-3', { method: 'DELETE' })).status).toBeLessThan(300);
    await waitForJobState(stack, 'flood-3', ['cancelled']);
    await reconcileQueueDrained();
    const runBefore = reconcilesRun();
    clockOffsetMs += 60_000;
    const res = await callback('flood-3', token);
    expect(res.status).toBe(202);
    expect(((await res.json()) as { reconcile: string }).reconcile).toBe('notNeeded');
    await reconcileQueueDrained();
    expect(reconcilesRun()).toBe(runBefore);
  });
});
