import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueNames } from '../../shared/adapters/queues/names.js';
import { type JobDoc, zeroTaskCounts } from '../../shared/model/job.js';
import { runSweep } from '../../shared/pipeline/sweep.js';
import { jobDocFixture } from '../support/job-fixture.js';
import { type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;

beforeAll(async () => {
  // Timers effectively off: this file drives the sweep by hand.
  stack = await startSlotwise({
    env: { SLOTWISE_SWEEP_SCHEDULE: '0 0 0 1 1 *', SLOTWISE_RECONCILE_SCHEDULE: '0 0 0 1 1 *' },
  });
});

afterAll(async () => {
  await stack?.close();
});

const stuckJob = (jobId: string, state: JobDoc['state'], updatedAt: string): JobDoc =>
  jobDocFixture('dev', jobId, state, updatedAt);

describe('sweep', () => {
  it('re-drives a job left in accepted (a lost plan message) until it runs', async () => {
    const long = new Date(Date.now() - 3600_000).toISOString();
    await stack.deps.jobs.create(stuckJob('stuck-1', 'accepted', long));
    const report = await runSweep({ ...stack.deps, stuckAfterMs: 60_000 });
    expect(report.redriven).toBeGreaterThanOrEqual(1);
    const job = await waitFor(
      () => stack.deps.jobs.get('dev', 'stuck-1'),
      (j) => j?.state === 'submitted' || j?.state === 'running' || j?.state === 'completed',
      {
        what: 'stuck job moving again',
      },
    );
    expect(job?.history.map((h) => h.state).slice(0, 3)).toEqual(['accepted', 'planned', 'submitting']);
  });

  it('leaves a submission whose lease is alive alone', async () => {
    const long = new Date(Date.now() - 3600_000).toISOString();
    const doc = stuckJob('leased-1', 'submitting', long);
    doc.submission = {
      chunksTotal: 1,
      chunksAdded: 0,
      tasksAdded: 0,
      attempts: 1,
      lease: { owner: 'x', until: new Date(Date.now() + 600_000).toISOString() },
    };
    await stack.deps.jobs.create(doc);
    // A stuck job without a lease beside it, so the pass provably looked at submitting jobs.
    const lapsed = stuckJob('lapsed-1', 'submitting', long);
    lapsed.submission = {
      chunksTotal: 1,
      chunksAdded: 0,
      tasksAdded: 0,
      attempts: 1,
      lease: { owner: 'y', until: new Date(Date.now() - 1000).toISOString() },
    };
    await stack.deps.jobs.create(lapsed);
    const sent: unknown[] = [];
    const report = await runSweep({
      ...stack.deps,
      queues: { ...stack.deps.queues, send: async (_queue, message) => void sent.push(message) },
      stuckAfterMs: 60_000,
    });
    expect(report.redrivenJobs).toContainEqual({ tenant: 'dev', jobId: 'lapsed-1' });
    expect(report.redrivenJobs).not.toContainEqual({ tenant: 'dev', jobId: 'leased-1' });
    expect(report.leased).toBeGreaterThanOrEqual(1);
    expect(sent).not.toContainEqual({ tenant: 'dev', jobId: 'leased-1' });
  });

  it('hands a retry request whose retrier died back to the retrier, and leaves live or finished ones alone', async () => {
    const now = Date.now();
    const retryDoc = (jobId: string, status: 'working' | 'done', until: number): JobDoc => {
      const doc = stuckJob(jobId, 'running', new Date(now).toISOString());
      doc.retry = {
        requestId: `req-${jobId}`,
        attempt: 0,
        requestedAt: new Date(now - 60_000).toISOString(),
        status,
        tasks: 0,
        source: { from: 0, to: 1 },
        lease: { owner: 'retrier-1', until: new Date(until).toISOString() },
      };
      return doc;
    };
    await stack.deps.jobs.create(retryDoc('retry-dead', 'working', now - 1000));
    await stack.deps.jobs.create(retryDoc('retry-live', 'working', now + 600_000));
    await stack.deps.jobs.create(retryDoc('retry-done', 'done', now - 1000));
    const sent: { queue: string; message: unknown }[] = [];
    const report = await runSweep({
      ...stack.deps,
      queues: { ...stack.deps.queues, send: async (queue, message) => void sent.push({ queue, message }) },
      stuckAfterMs: 60_000,
    });
    const retries = sent.filter((s) => s.queue === queueNames.retry).map((s) => s.message);
    expect(retries).toContainEqual({ tenant: 'dev', jobId: 'retry-dead', requestId: 'req-retry-dead' });
    expect(retries).not.toContainEqual(expect.objectContaining({ jobId: 'retry-live' }));
    expect(retries).not.toContainEqual(expect.objectContaining({ jobId: 'retry-done' }));
    expect(report.retriesResumed).toBe(retries.length);
  });

  it('re-announces overdue deliveries', async () => {
    const long = new Date(Date.now() - 3600_000).toISOString();
    const doc = stuckJob('late-1', 'completed', long);
    doc.request = { ...doc.request!, callback: { url: 'http://127.0.0.1:9/never' } };
    doc.events = [
      {
        seq: 1,
        id: 'e1',
        type: 'slotwise.job.completed',
        state: 'completed',
        at: long,
        taskCounts: { ...zeroTaskCounts },
        delivery: { status: 'pending', attempts: 1, nextAttemptAt: long },
      },
    ];
    await stack.deps.jobs.create(doc);
    const report = await runSweep({ ...stack.deps, stuckAfterMs: 60_000 });
    expect(report.reannounced).toBeGreaterThanOrEqual(1);
    // The notifier picks it up and records a delivery attempt.
    await waitFor(
      () => stack.deps.jobs.get('dev', 'late-1'),
      (j) => (j?.events[0]?.delivery.attempts ?? 0) >= 2,
      { what: 'a new attempt' },
    );
  });

  it('releases the lease and re-queues the submission with a delay, keeping the job submitting', async () => {
    // A planned job that no queue message points at, so nothing else touches it.
    const { planJob } = await import('../../shared/planner/plan-job.js');
    const request = {
      id: 'flaky-1',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'sleep 1' }],
    };
    const outcome = planJob({
      tenant: 'dev',
      jobId: 'flaky-1',
      request,
      defaults: { image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, nodeAgentSkuId: 'n' },
    });
    if (!outcome.ok) throw new Error('expected a plan');
    await stack.deps.jobs.create({
      ...stuckJob('flaky-1', 'planned', new Date().toISOString()),
      request,
      batch: { poolId: outcome.plan.poolId, jobId: outcome.plan.batchJob.id, managedPool: true },
      batchBodies: { pool: outcome.plan.pool!, job: outcome.plan.batchJob },
      submission: { chunksTotal: 0, chunksAdded: 0, tasksAdded: 0, attempts: 0 },
    });
    const { SlotwiseError } = await import('../../shared/core/errors.js');
    const { runSubmitStage } = await import('../../shared/pipeline/submit-stage.js');
    const busy = {
      ...stack.deps.batch,
      createPool: async () => {
        throw new SlotwiseError('ServerBusy', 'The server is busy', { retryable: true });
      },
    };
    const sent: { queue: string; delaySeconds: number | undefined }[] = [];
    const queues = {
      ...stack.deps.queues,
      send: async (
        queue: Parameters<typeof stack.deps.queues.send>[0],
        message: unknown,
        options?: { delaySeconds?: number },
      ) => {
        sent.push({ queue, delaySeconds: options?.delaySeconds });
        await stack.deps.queues.send(queue, message, options);
      },
    };
    const result = await runSubmitStage({ tenant: 'dev', jobId: 'flaky-1' }, 'test-owner', {
      ...stack.deps,
      batch: busy,
      queues,
    });
    expect(result).toBe('retrying');
    const job = await stack.deps.jobs.get('dev', 'flaky-1');
    expect(job?.state).toBe('submitting');
    expect(job?.submission?.lease).toBeUndefined();
    expect(job?.submission?.lastError).toBe('ServerBusy: The server is busy');
    // The retry waits 10 s in the queue (first attempt), after the `submitting` event was announced.
    expect(sent).toContainEqual({ queue: queueNames.submit, delaySeconds: 10 });
  });
});

describe('resuming a submission that had reached its last step', () => {
  it('accepts a Batch job that has already run to the end and finishes the submission', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'resume-1',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 't', commandLine: 'echo' }],
      }),
    });
    expect(res.status).toBe(202);
    const submitted = await waitFor(
      () => stack.deps.jobs.get('dev', 'resume-1'),
      (j) => j?.state === 'submitted',
    );
    await waitFor(
      () => stack.deps.batch.getJob(submitted!.batch!.jobId),
      (j) => j?.state === 'completed',
      { what: 'Batch job completed' },
    );
    // As if the worker had died between switching the Batch job and recording `submitted`.
    await stack.deps.jobs.update('dev', 'resume-1', (j) => ({ ...j, state: 'submitting' }));
    const { runSubmitStage } = await import('../../shared/pipeline/submit-stage.js');
    expect(await runSubmitStage({ tenant: 'dev', jobId: 'resume-1' }, 'another-worker', stack.deps)).toBe(
      'submitted',
    );
    const counters = (await (await stack.emulatorControl('counters')).json()) as {
      taskAdds: Record<string, number>;
    };
    expect(counters.taskAdds[`${submitted!.batch!.jobId}/t`]).toBe(1);
  });
});
