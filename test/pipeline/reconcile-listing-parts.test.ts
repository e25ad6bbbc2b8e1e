/** The pure parts of the listing reconcile: converters, the catch-up rotation, the budget. */
import { describe, expect, it } from 'vitest';
import { BatchError } from '../../shared/adapters/batch/batch-error.js';
import type { BatchGateway, ListedJob } from '../../shared/adapters/batch/batch-gateway.js';
import { toListedJob, toNodeActivity } from '../../shared/adapters/batch/batch-gateway-rest.js';
import type { WorkItem } from '../../shared/adapters/cosmos/job-store.js';
import { SlotwiseError } from '../../shared/core/errors.js';
import { zeroTaskCounts } from '../../shared/model/job.js';
import {
  AccountBudgetSpentError,
  meterGateway,
  stopReasonOf,
} from '../../shared/pipeline/reconcile-budget.js';
import {
  accountOfJob,
  boundedKeys,
  later,
  minus,
  takeCatchUp,
} from '../../shared/pipeline/reconcile-work.js';

const item = (tenant: string, jobId: string, account?: string): WorkItem => ({
  id: jobId,
  tenant,
  jobId,
  state: 'running',
  updatedAt: '2026-01-01T00:00:00.000Z',
  taskCounts: { ...zeroTaskCounts },
  batch: { ...(account ? { account } : {}), poolId: 'p', jobId: `${tenant}_${jobId}`, managedPool: false },
});

describe('converters', () => {
  it('reads a listed job: state, time, terminate reason, pool and owner', () => {
    expect(
      toListedJob({
        id: 'dev_a',
        state: 'completed',
        stateTransitionTime: '2026-01-01T00:00:05.000Z',
        executionInfo: { terminateReason: 'MaxWallClockTimeExpiry', poolId: 'p1' },
        poolInfo: { poolId: 'p1' },
        metadata: [{ name: 'slotwise.tenant', value: 'dev' }],
      }),
    ).toEqual<ListedJob>({
      id: 'dev_a',
      state: 'completed',
      stateTransitionTime: '2026-01-01T00:00:05.000Z',
      terminateReason: 'MaxWallClockTimeExpiry',
      poolId: 'p1',
      metadata: { 'slotwise.tenant': 'dev' },
    });
  });

  it("reads a node's recent tasks with their start and end", () => {
    expect(
      toNodeActivity({
        id: 'n1',
        state: 'idle',
        recentTasks: [
          {
            jobId: 'dev_a',
            taskId: 't1',
            taskState: 'completed',
            executionInfo: { startTime: '2026-01-01T00:00:01Z', endTime: '2026-01-01T00:00:02Z' },
          },
          { jobId: 'dev_a', taskId: 't2', taskState: 'active' },
        ],
      }),
    ).toEqual({
      id: 'n1',
      state: 'idle',
      recentTasks: [
        {
          jobId: 'dev_a',
          taskId: 't1',
          state: 'completed',
          startTime: '2026-01-01T00:00:01Z',
          endTime: '2026-01-01T00:00:02Z',
        },
        { jobId: 'dev_a', taskId: 't2', state: 'active' },
      ],
    });
    expect(toNodeActivity({ id: 'n2' })).toEqual({ id: 'n2', state: 'unknown', recentTasks: [] });
  });
});

describe('work', () => {
  it('puts a job naming no account in the primary one', () => {
    expect(accountOfJob(item('dev', 'a'), 'main')).toBe('main');
    expect(accountOfJob(item('dev', 'a', 'second'), 'main')).toBe('second');
  });

  it('rotates the catch-up slice through every job, wrapping at the end', () => {
    const jobs = ['e', 'a', 'd', 'b', 'c'].map((id) => item('dev', id));
    const first = takeCatchUp(jobs, undefined, 2);
    expect(first.taken.map((j) => j.jobId)).toEqual(['a', 'b']);
    const second = takeCatchUp(jobs, first.last, 2);
    expect(second.taken.map((j) => j.jobId)).toEqual(['c', 'd']);
    const third = takeCatchUp(jobs, second.last, 2);
    expect(third.taken.map((j) => j.jobId)).toEqual(['e', 'a']);
    // A job gone since keeps the place: the next one after it comes.
    expect(takeCatchUp(jobs, 'dev/bb', 1).taken.map((j) => j.jobId)).toEqual(['c']);
    expect(takeCatchUp(jobs, undefined, 9).taken).toHaveLength(5);
    expect(takeCatchUp(jobs, undefined, 0)).toEqual({ taken: [] });
  });

  it('keeps keys once each, in order, up to the bound', () => {
    expect(boundedKeys(['a', 'b', 'a', 'c', 'd'], 3)).toEqual(['a', 'b', 'c']);
  });

  it('compares Batch times as instants', () => {
    expect(later('2026-01-01T00:00:02Z', '2026-01-01T00:00:01.500Z')).toBe('2026-01-01T00:00:02Z');
    expect(later(undefined, '2026-01-01T00:00:01Z')).toBe('2026-01-01T00:00:01Z');
    expect(later(undefined, '')).toBeUndefined();
    expect(later('2026-01-01T00:00:01Z', 'soon')).toBe('2026-01-01T00:00:01Z');
    expect(minus('2026-01-01T00:02:00.000Z', 120_000)).toBe('2026-01-01T00:00:00.000Z');
  });
});

describe('budget', () => {
  const gateway = {
    getTaskCounts: async () => ({ active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 }),
    async *listJobPages() {
      yield [];
      yield [];
    },
  } as unknown as BatchGateway;

  it('counts calls and pages, and refuses past the pass share', async () => {
    const meter = meterGateway('a', gateway, { available: () => true }, 4);
    await meter.gateway.getTaskCounts('j');
    let pages = 0;
    for await (const _ of meter.gateway.listJobPages({ maxResults: 10 })) pages++;
    expect(pages).toBe(2);
    // The end of a listing is no call.
    expect(meter.calls).toBe(3);
    await meter.gateway.getTaskCounts('j');
    expect(meter.calls).toBe(4);
    await expect(async () => meter.gateway.getTaskCounts('j')).rejects.toBeInstanceOf(
      AccountBudgetSpentError,
    );
  });

  it("refuses before calling when the account's guard would make the call wait", async () => {
    const meter = meterGateway('a', gateway, { available: () => false }, 100);
    await expect(async () => meter.gateway.getTaskCounts('j')).rejects.toMatchObject({
      code: 'AccountBudgetSpent',
    });
    expect(meter.calls).toBe(0);
  });

  it("tells the account's trouble from a job's", () => {
    expect(stopReasonOf(new AccountBudgetSpentError('a', 'share'))).toBe('budget');
    const batch = (code: string, status?: number) =>
      new BatchError({ code, message: code, ...(status ? { status } : {}), retryable: true });
    expect(stopReasonOf(batch('AccountThrottled', 429))).toBe('throttled');
    expect(stopReasonOf(batch('ServerBusy', 503))).toBe('throttled');
    expect(stopReasonOf(batch('ConnectionFailed'))).toBe('unavailable');
    expect(stopReasonOf(batch('JobNotFound', 404))).toBeUndefined();
    expect(stopReasonOf(new SlotwiseError('ConcurrentUpdate', 'x'))).toBeUndefined();
  });
});
