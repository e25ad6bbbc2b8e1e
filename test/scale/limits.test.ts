/**
 * Azure's limits on the local stack: no chunk of a plan stored (rebuilt from the request instead), the
 * 2 MB item limit and 429s from the Cosmos proxy, submission in slices, and a worker restart (a
 * function timeout) in the middle of a submission.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageQueueFunction } from '../../functions/definition.js';
import { functionTable } from '../../functions/table.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import type { AppDeps } from '../../shared/app/app.js';
import { parsePipelineMessage } from '../../shared/model/pipeline-message.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';
import { runSubmitStage } from '../../shared/pipeline/submit-stage.js';
import { planJob, rebuildChunks } from '../../shared/planner/plan-job.js';
import { type SlotwiseStack, startSlotwise, waitFor, waitForJobState } from '../support/stack.js';

// Throughput jobs: no log copies, whose thousands of real uploads to Azurite would be timed here
// instead of the submission paths these tests are about (logs are tested in test/round-trip).
const sweepJob = (id: string, tasks: number, command = 'exit 0') => ({
  id,
  keepLogs: 'none',
  pool: { vmSize: 'standard_d4s_v3', maxNodes: 50 },
  sweep: {
    idTemplate: 't{n}',
    commandLine: `${command} # {n}`,
    parameters: { n: { from: 1, to: tasks } },
  },
});

async function taskAdds(stack: SlotwiseStack, batchJobId: string): Promise<number[]> {
  const counters = (await (await stack.emulatorControl('counters')).json()) as {
    taskAdds: Record<string, number>;
  };
  return Object.entries(counters.taskAdds)
    .filter(([k]) => k.startsWith(`${batchJobId}/`))
    .map(([, n]) => n);
}

describe('rebuilt chunks', () => {
  it('are the plan chunks, from the start and from any chunk boundary', () => {
    const checked = validateJobRequest(
      {
        id: 'rebuild',
        pool: { vmSize: 'standard_d16s_v3', taskSlotsPerNode: 32 },
        applicationPackages: [{ applicationId: 'tool' }],
        tasks: [{ id: 'first', commandLine: 'x'.repeat(7000), resources: { cpus: 4 } }],
        sweep: {
          idTemplate: 'f{i}',
          commandLine: 'render {i}',
          resources: { cpus: 2, memoryGiB: 30 },
          parameters: { i: { from: 1, to: 1234 } },
        },
      },
      { checkCallbackUrl: () => undefined },
    );
    if (!checked.ok) throw new Error('invalid request');
    const outcome = planJob({
      tenant: 't',
      jobId: 'rebuild',
      request: checked.request,
      defaults: { image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, nodeAgentSkuId: 'n' },
    });
    if (!outcome.ok) throw new Error('not planned');
    const planned = [...outcome.plan.chunks()];
    expect(planned.length).toBeGreaterThan(10);
    const rebuilt = [...rebuildChunks(checked.request, outcome.plan.summary)];
    expect(rebuilt).toEqual(planned);
    const from = 7;
    const firstTask = planned.slice(0, from).reduce((n, c) => n + c.length, 0);
    expect([...rebuildChunks(checked.request, outcome.plan.summary, firstTask)]).toEqual(planned.slice(from));
  });
});

describe('Cosmos limits and throttling', () => {
  let stack: SlotwiseStack;
  beforeAll(async () => {
    stack = await startSlotwise();
  }, 120_000);
  afterAll(() => stack?.close());

  it('refuses an item over 2 MB and takes one under it', async () => {
    const { chunks } = (await import('../../shared/adapters/cosmos/cosmos-setup.js')).containerDefinitions;
    const { CosmosClient } = await import('@azure/cosmos');
    const client = new CosmosClient({
      endpoint: stack.env.COSMOS_ENDPOINT!,
      key: stack.env.COSMOS_KEY!,
      connectionPolicy: { enableEndpointDiscovery: false },
    });
    try {
      const c = client.database(stack.env.COSMOS_DATABASE!).container(chunks.id);
      const big = { id: 'big', job: 'x/y', blob: 'a'.repeat(2_100_000) };
      await expect(c.items.upsert(big)).rejects.toMatchObject({ code: 413 });
      const fits = { id: 'fits', job: 'x/y', blob: 'a'.repeat(1_900_000) };
      await c.items.upsert(fits);
      const { resource } = await c.item('fits', 'x/y').read<{ blob: string }>();
      expect(resource?.blob.length).toBe(1_900_000);
    } finally {
      client.dispose();
    }
  });

  it('submits every task once with a fifth of Cosmos requests throttled, storing no chunk', async () => {
    stack.services.cosmosProxy.setFaults({ rate429: 0.2, seed: 11 });
    stack.services.cosmosProxy.reset();
    try {
      const res = await stack.request('/jobs', {
        method: 'POST',
        body: JSON.stringify(sweepJob('throttled-1', 3000)),
      });
      expect(res.status).toBe(202);
      const job = await waitForJobState(stack, 'throttled-1', ['submitted', 'running', 'completed'], 90_000);
      const stats = stack.services.cosmosProxy.stats();
      expect(stats.throttled).toBeGreaterThan(0);
      const adds = await taskAdds(stack, job.batch!.jobId);
      expect(adds).toHaveLength(3000);
      expect(adds.every((n) => n === 1)).toBe(true);
      const doc = await stack.deps.jobs.get('dev', 'throttled-1');
      expect(doc?.plan?.chunks).toBe(30);
      expect(doc?.submission).toMatchObject({ chunksTotal: 30, chunksAdded: 30, tasksAdded: 3000 });
      // Nothing of the plan was stored: not one chunk item for this job.
      const stored = [];
      for await (const c of stack.deps.chunks.listAll('dev', 'throttled-1', { from: 30, to: 40 }))
        stored.push(c);
      expect(stored).toEqual([]);
    } finally {
      stack.services.cosmosProxy.setFaults({ rate429: 0 });
    }
  }, 120_000);
});

describe('a worker restart in the middle of a submission', () => {
  let stack: SlotwiseStack;
  let release: (() => void) | undefined;
  const results: string[] = [];
  beforeAll(async () => {
    // The submitter works in small slices (well under the timeout) with a short lease, as its
    // production settings are to `functionTimeout`; a stuck function exceeds the timeout.
    const submitter: StorageQueueFunction<AppDeps> = {
      kind: 'storageQueue',
      name: 'submitter',
      queueName: queueNames.submit,
      handler: async (message, context, deps) => {
        const result = await runSubmitStage(parsePipelineMessage(message), context.invocationId, {
          ...deps,
          sliceMs: 300,
          chunksPerRound: 2,
          leaseMs: 2000,
        });
        results.push(result);
      },
    };
    const stuck: StorageQueueFunction<AppDeps> = {
      kind: 'storageQueue',
      name: 'stuck',
      queueName: 'slotwise-test-stuck',
      // Hangs once (past the timeout); its redelivery returns.
      handler: () =>
        release
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              release = resolve;
            }),
    };
    stack = await startSlotwise({
      functions: [...functionTable.map((f) => (f.name === 'submitter' ? submitter : f)), stuck],
      hostJson: { functionTimeout: '00:00:02' },
      env: { SLOTWISE_STUCK_AFTER_SECONDS: '1' },
    });
  }, 120_000);
  afterAll(async () => {
    release?.();
    release = undefined;
    await stack?.close();
  });

  it('submits in slices: each invocation stops after its budget and the next goes on', async () => {
    // Slow adds (10 rounds of ≥ 100 ms) make the submission outlast one 300 ms slice however fast
    // the bodies are built.
    await stack.emulatorControl('faults', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 100, pathPrefix: '/jobs/' }),
    });
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify(sweepJob('sliced-1', 2000)),
    });
    expect(res.status).toBe(202);
    await waitForJobState(stack, 'sliced-1', ['submitted', 'running', 'completed'], 60_000);
    await stack.emulatorControl('faults', { method: 'DELETE' });
    expect(results.filter((r) => r === 'continued').length).toBeGreaterThanOrEqual(1);
    expect(results).toContain('submitted');
    const doc = await stack.deps.jobs.get('dev', 'sliced-1');
    expect(doc?.submission).toMatchObject({ chunksTotal: 20, chunksAdded: 20, tasksAdded: 2000 });
    expect(await taskAdds(stack, doc!.batch!.jobId)).toHaveLength(2000);
  }, 90_000);

  it('ends every in-flight invocation; the job is still submitted once and completes', async () => {
    // Slow adds keep the submission going long enough to be cut.
    await stack.emulatorControl('faults', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 400, pathPrefix: '/jobs/' }),
    });
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify(sweepJob('restart-1', 8000)),
    });
    expect(res.status).toBe(202);
    const mid = await waitFor(
      () => stack.deps.jobs.get('dev', 'restart-1'),
      (j) => (j?.submission?.chunksAdded ?? 0) > 0,
      { what: 'submission under way', timeoutMs: 60_000 },
    );
    expect(mid?.state).toBe('submitting');
    await stack.queue('slotwise-test-stuck').createIfNotExists();
    await stack.queue('slotwise-test-stuck').sendMessage(Buffer.from('"go"').toString('base64'));
    await waitFor(
      async () => stack.host.workerRestarts(),
      (n) => n >= 1,
      { what: 'worker restart', timeoutMs: 30_000 },
    );
    const cut = await stack.deps.jobs.get('dev', 'restart-1');
    expect(cut?.submission?.chunksAdded ?? 0).toBeLessThan(80);
    await stack.emulatorControl('faults', { method: 'DELETE' });
    const job = await waitForJobState(stack, 'restart-1', ['completed'], 90_000);
    expect(job.taskCounts.succeeded).toBe(8000);
    const doc = await stack.deps.jobs.get('dev', 'restart-1');
    expect(doc?.submission).toMatchObject({ chunksTotal: 80, chunksAdded: 80, tasksAdded: 8000 });
    const adds = await taskAdds(stack, doc!.batch!.jobId);
    expect(adds).toHaveLength(8000);
    expect(adds.every((n) => n >= 1)).toBe(true);
  }, 180_000);
});
