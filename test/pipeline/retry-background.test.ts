/**
 * Retry in the background: the HTTP call answers 202 at once and the retry stage does the work,
 * paged and resumable, exactly once per request whatever is redelivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import type { QueueGateway } from '../../shared/adapters/queues/queue-gateway.js';
import { batchJobIdFor } from '../../shared/model/batch-names.js';
import { requestRetry, runRetryStage } from '../../shared/usecases/retry-job.js';
import {
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;
const OTHER_KEY = 'other-key-0123456789';

beforeAll(async () => {
  stack = await startSlotwise();
  batch = emulatorClient(stack);
  await stack.deps.tenants.upsert('other', { apiKey: OTHER_KEY, now: new Date() });
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const post = (body: object) => stack.request('/jobs', { method: 'POST', body: JSON.stringify(body) });

async function batchTaskIds(jobId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const t of batch.tasks.list(jobId)) ids.push(String(t.id));
  return ids.sort();
}

function recordingQueues(): QueueGateway & { sent: { queue: string; message: unknown }[] } {
  const sent: { queue: string; message: unknown }[] = [];
  return {
    sent,
    send: async (queue, message) => void sent.push({ queue, message }),
    sendRaw: async () => undefined,
    ping: async () => undefined,
  };
}

describe('POST /jobs/{id}/retry', () => {
  it('answers 202 at once with the retry queued, then resubmits in the background; a redelivery does nothing', async () => {
    expect(
      (
        await post({
          id: 'rb-1',
          pool: { vmSize: 'standard_d2s_v3' },
          tasks: [
            { id: 'ok', commandLine: 'echo' },
            { id: 'bad', commandLine: 'exit 2' },
          ],
        })
      ).status,
    ).toBe(202);
    await waitForJobState(stack, 'rb-1', ['failed']);

    const res = await stack.request('/jobs/rb-1/retry', { method: 'POST' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      state: string;
      retry: { status: string; requestId: string; attempt: number };
    };
    // The answer comes before the work: the job is still failed, the retry only queued.
    expect(body.state).toBe('failed');
    expect(body.retry).toMatchObject({ status: 'queued', attempt: 1 });

    const resubmitted = await waitFor(
      () => stack.deps.jobs.get('dev', 'rb-1'),
      (j) => j?.retry?.status === 'done',
      { what: 'the retry done' },
    );
    expect(resubmitted?.retry).toMatchObject({
      requestId: body.retry.requestId,
      mode: 'resubmitted',
      tasks: 1,
    });
    const newBatchJobId = batchJobIdFor('dev', 'rb-1', 1);
    expect(resubmitted?.batch?.jobId).toBe(newBatchJobId);
    const again = await waitForJobState(stack, 'rb-1', ['failed']);
    expect(again.history.filter((h) => h.state === 'submitting')).toHaveLength(2);
    expect(await batchTaskIds(newBatchJobId)).toEqual(['bad']);

    // The same message again (at-least-once delivery): no second attempt.
    const message = { tenant: 'dev', jobId: 'rb-1', requestId: body.retry.requestId };
    expect(await runRetryStage(message, 'redelivered', stack.deps)).toBe('skipped');
    await stack.deps.queues.send(queueNames.retry, message);
    const after = await stack.deps.jobs.get('dev', 'rb-1');
    expect(after?.history.filter((h) => h.state === 'submitting')).toHaveLength(2);
    expect(after?.retry?.requestId).toBe(body.retry.requestId);
  });

  it('answers 404 for another tenant, and for no such job; 409 when there is nothing to retry', async () => {
    const before = await stack.deps.jobs.get('dev', 'rb-1');
    const foreign = await stack.request('/jobs/rb-1/retry', { method: 'POST', key: OTHER_KEY });
    expect(foreign.status).toBe(404);
    expect((await stack.deps.jobs.get('dev', 'rb-1'))?.retry).toEqual(before?.retry);
    expect((await stack.request('/jobs/no-such-job/retry', { method: 'POST' })).status).toBe(404);

    await post({
      id: 'rb-ok',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'echo' }],
    });
    await waitForJobState(stack, 'rb-ok', ['completed']);
    const done = await stack.request('/jobs/rb-ok/retry', { method: 'POST' });
    expect(done.status).toBe(409);
    expect((await stack.deps.jobs.get('dev', 'rb-ok'))?.retry).toBeUndefined();
  });

  it('works page by page, resumes where it stopped, and writes each task once', async () => {
    const tasks = Array.from({ length: 250 }, (_, i) => ({
      id: `t${String(i).padStart(3, '0')}`,
      commandLine: i % 50 === 7 ? 'exit 1' : 'echo',
    }));
    await post({ id: 'rb-paged', pool: { vmSize: 'standard_d2s_v3' }, tasks });
    const failed = await waitForJobState(stack, 'rb-paged', ['failed']);
    expect(failed.taskCounts.failed).toBe(5);

    // Driven by hand, one source chunk per step, with sends recorded.
    const queues = recordingQueues();
    const deps = { ...stack.deps, queues, chunksPerStep: 1 };
    const queued = await requestRetry('dev', 'rb-paged', deps);
    if (queued.kind !== 'queued') throw new Error(`expected a queued retry, got ${queued.kind}`);
    const message = { tenant: 'dev', jobId: 'rb-paged', requestId: queued.retry.requestId };
    // Asking again while queued returns the same request.
    const repeat = await requestRetry('dev', 'rb-paged', deps);
    expect(repeat.kind === 'queued' && repeat.retry.requestId).toBe(queued.retry.requestId);

    const results: string[] = [];
    for (let i = 0; i < 3; i++) results.push(await runRetryStage(message, `step-${i}`, deps));
    expect(results).toEqual(['continued', 'continued', 'resubmitted']);
    expect(queues.sent.filter((s) => s.queue === queueNames.retry)).toHaveLength(4); // 2 requests + 2 continuations
    expect(await runRetryStage(message, 'late', deps)).toBe('skipped');

    const doc = await stack.deps.jobs.get('dev', 'rb-paged');
    expect(doc?.state).toBe('submitting');
    expect(doc?.retry).toMatchObject({
      status: 'done',
      mode: 'resubmitted',
      tasks: 5,
      source: { from: 0, to: 3 },
    });
    const written: string[] = [];
    for await (const chunk of stack.deps.chunks.listAll('dev', 'rb-paged', doc!.retry!.output!))
      written.push(...chunk.tasks.map((t) => t.id));
    expect(written).toEqual(['t007', 't057', 't107', 't157', 't207']);

    // Hand the recorded submit message to the live pipeline and follow the new attempt.
    for (const s of queues.sent.filter((x) => x.queue === queueNames.submit))
      await stack.deps.queues.send(queueNames.submit, s.message);
    await waitForJobState(stack, 'rb-paged', ['failed']);
    expect(await batchTaskIds(batchJobIdFor('dev', 'rb-paged', 1))).toEqual(written);
  });
});
