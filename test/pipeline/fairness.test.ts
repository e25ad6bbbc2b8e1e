/**
 * Fairness in the shared machinery, tried as a noisy neighbour would: one tenant with many stuck or
 * active jobs, or a webhook receiver that never answers, must not delay another tenant's work.
 * The timers are off here; each pass is driven by hand and judged by its report and the stored
 * documents.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueNames } from '../../shared/adapters/queues/names.js';
import type { QueueGateway } from '../../shared/adapters/queues/queue-gateway.js';
import { SlotwiseError } from '../../shared/core/errors.js';
import { type JobDoc, zeroTaskCounts } from '../../shared/model/job.js';
import { interleave } from '../../shared/pipeline/fair-order.js';
import { DELIVERIES_PER_TENANT } from '../../shared/pipeline/notify-stage.js';
import { runPlanStage } from '../../shared/pipeline/plan-stage.js';
import { reconcileActiveJobs } from '../../shared/pipeline/reconcile.js';
import { runSweep } from '../../shared/pipeline/sweep.js';
import { jobDocFixture } from '../support/job-fixture.js';
import { type SlotwiseStack, startSlotwise, waitFor } from '../support/stack.js';

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise({
    env: { SLOTWISE_SWEEP_SCHEDULE: '0 0 0 1 1 *', SLOTWISE_RECONCILE_SCHEDULE: '0 0 0 1 1 *' },
  });
  for (const tenant of ['quiet', 'slow', 'fast']) {
    await stack.deps.tenants.upsert(tenant, { apiKey: `${tenant}-key-0123456789`, now: new Date() });
  }
});

afterAll(async () => {
  await stack?.close();
});

const doc = jobDocFixture;

/** Queue sends recorded instead of sent, so no live stage touches what a test drives by hand. */
function recordingQueues(): QueueGateway & { sent: { queue: string; message: unknown; delay?: number }[] } {
  const sent: { queue: string; message: unknown; delay?: number }[] = [];
  return {
    sent,
    async send(queue, message, options) {
      sent.push({
        queue,
        message,
        ...(options?.delaySeconds !== undefined ? { delay: options.delaySeconds } : {}),
      });
    },
    sendRaw: async () => undefined,
    ping: async () => undefined,
  };
}

const ago = (ms: number, i = 0) => new Date(Date.now() - ms + i).toISOString();

describe('round-robin order', () => {
  it('interleaves per-tenant lists', () => {
    expect(interleave([['a1', 'a2', 'a3'], ['b1'], ['c1', 'c2']])).toEqual([
      'a1',
      'b1',
      'c1',
      'a2',
      'c2',
      'a3',
    ]);
  });
});

describe('sweep', () => {
  it("re-drives a quiet tenant's stuck job in the first pass, beside a tenant with many", async () => {
    // The noisy tenant's jobs are all older, so "oldest first across tenants" would pick only them.
    for (let i = 0; i < 30; i++)
      await stack.deps.jobs.create(doc('dev', `noisy-${i}`, 'planned', ago(7200_000, i)));
    await stack.deps.jobs.create(doc('quiet', 'lonely-1', 'planned', ago(3600_000)));
    const queues = recordingQueues();
    const sweep = () =>
      runSweep({
        ...stack.deps,
        queues,
        stuckAfterMs: 60_000,
        share: { perTenant: 5, total: 8 },
      });
    const first = await sweep();
    expect(first.redrivenJobs.slice(0, 2)).toContainEqual({ tenant: 'quiet', jobId: 'lonely-1' });
    expect(first.redrivenJobs.filter((j) => j.tenant === 'dev')).toHaveLength(5);
    expect(queues.sent.map((s) => s.message)).toContainEqual({ tenant: 'quiet', jobId: 'lonely-1' });
    // The noisy tenant progresses: the next pass takes its next five, oldest first.
    const second = await sweep();
    const firstNoisy = first.redrivenJobs.filter((j) => j.tenant === 'dev').map((j) => j.jobId);
    const secondNoisy = second.redrivenJobs.filter((j) => j.tenant === 'dev').map((j) => j.jobId);
    expect(firstNoisy).toEqual(['noisy-0', 'noisy-1', 'noisy-2', 'noisy-3', 'noisy-4']);
    expect(secondNoisy).toEqual(['noisy-5', 'noisy-6', 'noisy-7', 'noisy-8', 'noisy-9']);
    expect(second.redrivenJobs).toContainEqual({ tenant: 'quiet', jobId: 'lonely-1' });
  });
});

describe('reconcile', () => {
  it("reconciles a quiet tenant's job in the first pass, and covers the busy tenant over a few passes", async () => {
    // Batch jobs that do not exist: every reconcile decides `failed` (BatchJobDeleted) and writes it.
    const busy: string[] = [];
    for (let i = 0; i < 12; i++) {
      const d = doc('dev', `busy-${i}`, 'running', ago(600_000, i));
      d.batch = { poolId: 'p', jobId: `gone-busy-${i}`, managedPool: true };
      await stack.deps.jobs.create(d);
      busy.push(d.jobId);
    }
    const q = doc('quiet', 'quiet-run-1', 'running', ago(60_000));
    q.batch = { poolId: 'p', jobId: 'gone-quiet-1', managedPool: true };
    await stack.deps.jobs.create(q);

    const share = { perTenant: 3, total: 4 };
    const first = await reconcileActiveJobs({ ...stack.deps, share }, 0);
    expect(first.reconciled).toContainEqual({ tenant: 'quiet', jobId: 'quiet-run-1', decision: 'move' });
    expect(first.reconciled.filter((j) => j.tenant === 'dev')).toHaveLength(3);
    expect((await stack.deps.jobs.get('quiet', 'quiet-run-1'))?.failure?.code).toBe('BatchJobDeleted');

    let passes = 1;
    while (
      (await Promise.all(busy.map((id) => stack.deps.jobs.get('dev', id)))).some(
        (j) => j?.state === 'running',
      )
    ) {
      await reconcileActiveJobs({ ...stack.deps, share }, passes);
      passes++;
      expect(passes).toBeLessThanOrEqual(5);
    }
    expect(passes).toBe(4); // 12 jobs, 3 a pass
  });
});

describe('notifier', () => {
  let hang: Server;
  let fast: Server;
  let hangUrl: string;
  let fastUrl: string;
  let open = 0;
  let maxOpen = 0;
  const fastReceived: string[] = [];

  beforeAll(async () => {
    // Accepts every request and never answers.
    hang = createServer((req, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      req.resume();
      // The response closes only when the sender gives up (its timeout) or the test ends.
      res.on('close', () => open--);
    });
    fast = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        fastReceived.push(String(req.headers['webhook-id']));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => fast.listen(0, '127.0.0.1', r));
    hangUrl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/hook`;
    fastUrl = `http://127.0.0.1:${(fast.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    for (const s of [hang, fast]) {
      s?.closeAllConnections();
      await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
    }
  });

  function withEvents(tenant: string, jobId: string, url: string, count: number): JobDoc {
    const at = new Date().toISOString();
    const d = doc(tenant, jobId, 'completed', at);
    d.request = { ...d.request!, callback: { url } };
    d.events = Array.from({ length: count }, (_, i) => ({
      seq: i + 1,
      id: `${jobId}-e${i + 1}`,
      type: 'slotwise.job.completed',
      state: 'completed' as const,
      at,
      taskCounts: { ...zeroTaskCounts },
      delivery: { status: 'pending' as const, attempts: 0 },
    }));
    return d;
  }

  it("delivers another tenant's events while one tenant's receiver never answers", async () => {
    const slowJobs = Array.from({ length: 24 }, (_, i) => `slow-${i}`);
    for (const id of slowJobs) await stack.deps.jobs.create(withEvents('slow', id, hangUrl, 1));
    await stack.deps.jobs.create(withEvents('fast', 'fast-1', fastUrl, 3));
    // The slow tenant's messages go first: without a per-tenant cap they fill every worker.
    for (const id of slowJobs) await stack.deps.queues.send(queueNames.notify, { tenant: 'slow', jobId: id });
    await waitFor(
      () => open,
      (n) => n > 0,
      { what: 'the hanging receiver to be called' },
    );
    await stack.deps.queues.send(queueNames.notify, { tenant: 'fast', jobId: 'fast-1' });

    const delivered = await waitFor(
      () => stack.deps.jobs.get('fast', 'fast-1'),
      (j) => j?.events.every((e) => e.delivery.status === 'delivered') === true,
      { what: "the fast tenant's deliveries" },
    );
    // At this moment no slow delivery has finished even its first attempt (each takes 10 s).
    const slow = await Promise.all(slowJobs.map((id) => stack.deps.jobs.get('slow', id)));
    expect(
      slow.every((j) => j?.events[0]?.delivery.status === 'pending' && j.events[0].delivery.attempts === 0),
    ).toBe(true);
    expect(delivered?.events.map((e) => e.delivery.attempts)).toEqual([1, 1, 1]);
    expect(fastReceived).toEqual(['fast-1-e1', 'fast-1-e2', 'fast-1-e3']);
    expect(open).toBeGreaterThan(0);
    expect(maxOpen).toBeLessThanOrEqual(DELIVERIES_PER_TENANT);
  });
});

describe('plan stage', () => {
  const accepted = (jobId: string) => doc('dev', jobId, 'accepted', new Date().toISOString());

  it('lets one of two racing planners plan; the other returns busy', async () => {
    await stack.deps.jobs.create(accepted('plan-race-1'));
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    // Nothing per chunk is written any more: the first planner is held just before its final write.
    const jobs: typeof stack.deps.jobs = {
      ...stack.deps.jobs,
      update: (tenant, jobId, mutate) =>
        stack.deps.jobs.update(tenant, jobId, async (current) => {
          const next = await mutate(current);
          if (next?.state === 'planned') {
            entered();
            await gate;
          }
          return next;
        }),
    };
    const queues = recordingQueues();
    const first = runPlanStage(
      { tenant: 'dev', jobId: 'plan-race-1' },
      { ...stack.deps, jobs, queues },
      'one',
    );
    await inside; // the first holds the lease and is about to write the plan
    const second = await runPlanStage(
      { tenant: 'dev', jobId: 'plan-race-1' },
      { ...stack.deps, queues },
      'two',
    );
    open();
    expect(second).toBe('busy');
    expect(await first).toBe('planned');
    const job = await stack.deps.jobs.get('dev', 'plan-race-1');
    expect(job?.state).toBe('planned');
    expect(job?.planning).toEqual({ attempts: 1 });
    expect(queues.sent.filter((s) => s.queue === queueNames.submit)).toHaveLength(1);
  });

  it('fails a job whose planning keeps failing after the attempt limit, with the reason', async () => {
    await stack.deps.jobs.create(accepted('plan-broken-1'));
    // The plan's write fails (the claim and the release go through).
    const jobs: typeof stack.deps.jobs = {
      ...stack.deps.jobs,
      update: (tenant, jobId, mutate) =>
        stack.deps.jobs.update(tenant, jobId, async (current) => {
          const next = await mutate(current);
          if (next?.state === 'planned')
            throw new SlotwiseError('StoreUnavailable', 'plan writes are failing', { retryable: true });
          return next;
        }),
    };
    const queues = recordingQueues();
    const deps = { ...stack.deps, jobs, queues, maxAttempts: 3 };
    const results: string[] = [];
    for (let i = 0; i < 4; i++)
      results.push(await runPlanStage({ tenant: 'dev', jobId: 'plan-broken-1' }, deps, `p${i}`));
    expect(results).toEqual(['retrying', 'retrying', 'retrying', 'failed']);
    const job = await stack.deps.jobs.get('dev', 'plan-broken-1');
    expect(job?.state).toBe('failed');
    expect(job?.failure?.code).toBe('PlanFailed');
    expect(job?.failure?.message).toContain('StoreUnavailable: plan writes are failing');
    expect(job?.events.at(-1)?.type).toBe('slotwise.job.failed');
    // Each failed attempt re-queued the job with a delay; the sweep leaves it alone meanwhile.
    expect(queues.sent.filter((s) => s.queue === queueNames.plan).map((s) => s.delay)).toEqual([5, 10, 0]);
    // Once failed, nothing more is attempted.
    expect(await runPlanStage({ tenant: 'dev', jobId: 'plan-broken-1' }, deps, 'late')).toBe('skipped');
    expect((await stack.deps.jobs.get('dev', 'plan-broken-1'))?.planning?.attempts).toBe(3);
  });
});
