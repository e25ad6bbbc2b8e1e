import { describe, expect, it } from 'vitest';
import { type JobDoc, zeroTaskCounts } from '../../shared/model/job.js';
import { decide } from '../../shared/pipeline/reconcile.js';

const base: JobDoc = {
  id: 'job:j',
  type: 'job',
  tenant: 't',
  jobId: 'j',
  state: 'submitted',
  createdAt: '',
  updatedAt: '',
  sortKey: '',
  requestHash: '',
  request: null,
  taskCounts: { ...zeroTaskCounts, active: 4 },
  history: [],
  events: [],
};
const counts = (active: number, running: number, succeeded: number, failed: number) => ({
  active,
  running,
  succeeded,
  failed,
  completed: succeeded + failed,
});

describe('reconcile decision', () => {
  it('does nothing when Batch shows what the document already says', () => {
    expect(decide(base, { kind: 'seen', counts: counts(4, 0, 0, 0) })).toEqual({ kind: 'none' });
  });

  it('moves submitted to running once anything runs or finished', () => {
    expect(decide(base, { kind: 'seen', counts: counts(2, 2, 0, 0) })).toMatchObject({
      kind: 'move',
      to: 'running',
    });
    expect(decide(base, { kind: 'seen', counts: counts(3, 0, 1, 0) })).toMatchObject({
      kind: 'move',
      to: 'running',
    });
  });

  it('only updates counts while running', () => {
    const running = { ...base, state: 'running' as const };
    expect(decide(running, { kind: 'seen', counts: counts(1, 2, 1, 0) })).toEqual({
      kind: 'counts',
      taskCounts: { active: 1, running: 2, succeeded: 1, failed: 0 },
    });
  });

  it('ends completed when the Batch job completed with every task succeeded', () => {
    const decision = decide(base, {
      kind: 'seen',
      counts: counts(0, 0, 4, 0),
      job: { id: 'b', state: 'completed', terminateReason: 'AllTasksComplete', metadata: {} },
    });
    expect(decision).toMatchObject({ kind: 'move', to: 'completed' });
  });

  it('ends failed with a reason when tasks failed or the job was terminated with work left', () => {
    expect(
      decide(base, {
        kind: 'seen',
        counts: counts(0, 0, 3, 1),
        job: { id: 'b', state: 'completed', terminateReason: 'AllTasksComplete', metadata: {} },
      }),
    ).toMatchObject({ kind: 'move', to: 'failed', failure: { code: 'TaskFailed' } });
    expect(
      decide(base, {
        kind: 'seen',
        counts: counts(2, 0, 2, 0),
        job: { id: 'b', state: 'completed', terminateReason: 'MaxWallClockTimeExpiry', metadata: {} },
      }),
    ).toMatchObject({ kind: 'move', to: 'failed', failure: { code: 'MaxWallClockTimeExpiry' } });
  });

  it('fails a job whose Batch job disappeared', () => {
    expect(decide(base, { kind: 'missing' })).toMatchObject({
      kind: 'move',
      to: 'failed',
      failure: { code: 'BatchJobDeleted' },
    });
  });
});

describe('submission retry schedule', () => {
  it('doubles from 10 s to a 10-minute cap', async () => {
    const { submitRetryDelaySeconds } = await import('../../shared/pipeline/submit-stage.js');
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => submitRetryDelaySeconds(n))).toEqual([
      10, 20, 40, 80, 160, 320, 600, 600, 600,
    ]);
    // The base is a setting (SLOTWISE_SUBMIT_RETRY_BASE_SECONDS); the cap stays.
    expect([1, 2, 3, 12].map((n) => submitRetryDelaySeconds(n, 1))).toEqual([1, 2, 4, 600]);
  });
});

describe('the final state comes from the task list, not from lagging counts', () => {
  const ended = { id: 'b', state: 'completed', terminateReason: 'AllTasksComplete', metadata: {} };
  it('fails a job whose counts show no failure yet when the list has one', () => {
    const decision = decide(
      { ...base, state: 'running' },
      { kind: 'seen', counts: counts(0, 0, 4, 0), job: ended, exact: { failed: 1, unfinished: 0 } },
    );
    expect(decision).toMatchObject({
      kind: 'move',
      to: 'failed',
      taskCounts: { active: 0, running: 0, succeeded: 3, failed: 1 },
      failure: { code: 'TaskFailed' },
    });
  });

  it('completes a job whose stale counts still show a failure that was retried away', () => {
    const decision = decide(
      { ...base, state: 'running' },
      { kind: 'seen', counts: counts(0, 0, 3, 1), job: ended, exact: { failed: 0, unfinished: 0 } },
    );
    expect(decision).toMatchObject({
      kind: 'move',
      to: 'completed',
      taskCounts: { succeeded: 4, failed: 0 },
    });
  });
});
