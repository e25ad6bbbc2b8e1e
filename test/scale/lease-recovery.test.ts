/**
 * Recovery in seconds, not minutes (issue 18): a submitter killed mid-submission (its worker
 * restarted by `functionTimeout`, which ends every invocation on it as a killed process would)
 * leaves its lease on the job. The lease is short and only renewed by a live holder, so the sweep
 * re-drives the job once it lapses and a new holder carries on. Everything here runs with the
 * stages' production defaults (lease, slice, stuck-after); only the function timeout is short, so
 * the submission outlives its invocation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionTable } from '../../functions/table.js';
import { runSubmitStage } from '../../shared/pipeline/submit-stage.js';
import { type SlotwiseStack, startSlotwise, waitFor, waitForJobState } from '../support/stack.js';

const sweepJob = (id: string, tasks: number) => ({
  id,
  pool: { vmSize: 'standard_d4s_v3', maxNodes: 50 },
  sweep: { idTemplate: 't{n}', commandLine: 'exit 0 # {n}', parameters: { n: { from: 1, to: tasks } } },
});

describe('a host killed mid-submission', () => {
  let stack: SlotwiseStack;
  beforeAll(async () => {
    stack = await startSlotwise({ hostJson: { functionTimeout: '00:00:06' } });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it("the job's next progress is stored within about a minute, by a new holder, and nothing is added twice", async () => {
    // Slow adds: one submit invocation outlasts the function timeout and is killed mid-submission.
    await stack.emulatorControl('faults', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 500, pathPrefix: '/jobs/' }),
    });
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify(sweepJob('recover-1', 20_000)),
    });
    expect(res.status).toBe(202);
    await waitFor(
      () => stack.deps.jobs.get('dev', 'recover-1'),
      (j) => (j?.submission?.chunksAdded ?? 0) > 0,
      { what: 'submission under way', timeoutMs: 60_000 },
    );
    await waitFor(
      async () => stack.host.workerRestarts(),
      (n) => n >= 1,
      { what: 'the submitter killed by the function timeout', timeoutMs: 30_000 },
    );
    const cut = (await stack.deps.jobs.get('dev', 'recover-1'))!;
    expect(cut.state).toBe('submitting');
    const deadHolder = cut.submission?.lease;
    // The dead holder left its lease behind: no one released it.
    expect(deadHolder).toBeDefined();
    const killedAt = Date.now();
    // Progress stored by another holder: the job was taken over.
    const resumed = await waitFor(
      () => stack.deps.jobs.get('dev', 'recover-1'),
      (j) =>
        j !== undefined &&
        ((j.submission?.chunksAdded ?? 0) > (cut.submission?.chunksAdded ?? 0) || j.state !== 'submitting') &&
        j.submission?.lease?.owner !== deadHolder!.owner,
      { what: 'progress by a new holder', timeoutMs: 75_000, intervalMs: 250 },
    );
    const tookMs = Date.now() - killedAt;
    console.log(
      `next progress ${Math.round(tookMs / 1000)} s after the kill: chunks ${cut.submission?.chunksAdded} → ${resumed?.submission?.chunksAdded}`,
    );
    expect(resumed!.submission!.chunksAdded).toBeGreaterThan(cut.submission!.chunksAdded);
    // Let the rest go fast; the job is submitted once, every task added exactly once in effect.
    await stack.emulatorControl('faults', { method: 'DELETE' });
    await waitForJobState(stack, 'recover-1', ['submitted', 'running', 'completed'], 120_000);
    const doc = await stack.deps.jobs.get('dev', 'recover-1');
    expect(doc?.submission).toMatchObject({ chunksAdded: doc?.submission?.chunksTotal, tasksAdded: 20_000 });
    expect(doc?.submission?.lease).toBeUndefined();
  }, 240_000);
});

describe('a live holder with slow rounds', () => {
  let stack: SlotwiseStack;
  beforeAll(async () => {
    // No submitter function: the test drives the stage itself, as two holders.
    stack = await startSlotwise({ functions: functionTable.filter((f) => f.name !== 'submitter') });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('keeps its short lease through a round longer than the lease: a second holder is turned away', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify(sweepJob('slow-1', 300)),
    });
    expect(res.status).toBe(202);
    await waitFor(
      () => stack.deps.jobs.get('dev', 'slow-1'),
      (j) => j?.state === 'planned',
      { what: 'planned', timeoutMs: 30_000 },
    );
    // Each round (one chunk, one Batch call) takes longer than the whole lease.
    await stack.emulatorControl('faults', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 1500, pathPrefix: '/jobs/' }),
    });
    const leaseMs = 1000;
    const message = { tenant: 'dev', jobId: 'slow-1' };
    const first = runSubmitStage(message, 'holder-a', { ...stack.deps, leaseMs, chunksPerRound: 1 });
    const claimed = await waitFor(
      () => stack.deps.jobs.get('dev', 'slow-1'),
      (j) => j?.submission?.lease?.owner === 'holder-a',
      { what: 'first holder claimed', intervalMs: 10 },
    );
    const firstUntil = Date.parse(claimed!.submission!.lease!.until);
    // Past the lease as first claimed, with no round finished: only the heartbeat kept it alive.
    const renewed = await waitFor(
      () => stack.deps.jobs.get('dev', 'slow-1'),
      (j) => Date.now() > firstUntil + 300 && (j?.submission?.chunksAdded ?? 0) === 0,
      { what: 'the first lease as claimed has passed mid-round', intervalMs: 20 },
    );
    expect(renewed?.submission?.lease?.owner).toBe('holder-a');
    expect(Date.parse(renewed!.submission!.lease!.until)).toBeGreaterThan(firstUntil);
    expect(await runSubmitStage(message, 'holder-b', { ...stack.deps, leaseMs, chunksPerRound: 1 })).toBe(
      'busy',
    );
    await stack.emulatorControl('faults', { method: 'DELETE' });
    expect(await first).toBe('submitted');
    const doc = await stack.deps.jobs.get('dev', 'slow-1');
    expect(doc?.submission).toMatchObject({ chunksAdded: 3, tasksAdded: 300 });
    expect(doc?.submission?.lease).toBeUndefined();
  }, 120_000);
});
