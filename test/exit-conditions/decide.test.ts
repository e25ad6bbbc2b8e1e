/** The pure parts: which exit options apply, tolerated failures in the reconcile decision, interval union. */
import { describe, expect, it } from 'vitest';
import { createUsageAccumulator, unionLength } from '../../shared/model/efficiency.js';
import { exitOptionsFor, isToleratedFailure, taskEnding } from '../../shared/model/exit-conditions.js';
import { type JobDoc, zeroTaskCounts } from '../../shared/model/job.js';
import type { ExitConditions, JobRequest } from '../../shared/model/request-schema.js';
import { decide } from '../../shared/pipeline/reconcile.js';

const ec: ExitConditions = {
  exitCodes: [{ code: 3, exitOptions: { jobAction: 'none' } }],
  exitCodeRanges: [{ start: 2, end: 5, exitOptions: { jobAction: 'terminate' } }],
  preProcessingError: { jobAction: 'none' },
  default: { jobAction: 'disable' },
};

describe('exit options for an ending', () => {
  it('matches exit codes before ranges, falls back to default for unmatched failures, nothing for 0', () => {
    expect(exitOptionsFor(ec, { kind: 'exitCode', code: 3 })).toEqual({ jobAction: 'none' });
    expect(exitOptionsFor(ec, { kind: 'exitCode', code: 4 })).toEqual({ jobAction: 'terminate' });
    expect(exitOptionsFor(ec, { kind: 'exitCode', code: 9 })).toEqual({ jobAction: 'disable' });
    expect(exitOptionsFor(ec, { kind: 'exitCode', code: 0 })).toBeUndefined();
    expect(exitOptionsFor(ec, { kind: 'preProcessingError' })).toEqual({ jobAction: 'none' });
    expect(exitOptionsFor(ec, { kind: 'fileUploadError' })).toEqual({ jobAction: 'disable' });
    expect(exitOptionsFor(ec, { kind: 'fileUploadError', code: 3 })).toEqual({ jobAction: 'none' });
  });

  it('tolerates only an explicit jobAction none', () => {
    expect(isToleratedFailure(ec, taskEnding({ exitCode: 3, failureCode: 'FailureExitCode' }))).toBe(true);
    expect(isToleratedFailure(ec, taskEnding({ failureCode: 'BlobDownloadMiscError' }))).toBe(true);
    expect(isToleratedFailure(ec, taskEnding({ exitCode: 7 }))).toBe(false);
    expect(isToleratedFailure(undefined, taskEnding({ exitCode: 3 }))).toBe(false);
    expect(
      isToleratedFailure({ default: { dependencyAction: 'satisfy' } }, { kind: 'exitCode', code: 1 }),
    ).toBe(false);
  });
});

const request = (withJobAction: boolean): JobRequest => ({
  pool: { vmSize: 'standard_d2s_v3' },
  tasks: [
    {
      id: 'a',
      commandLine: 'x',
      ...(withJobAction ? { exitConditions: { default: { jobAction: 'terminate' as const } } } : {}),
    },
  ],
});
const job = (req: JobRequest | null): JobDoc => ({
  id: 'job:j',
  type: 'job',
  tenant: 't',
  jobId: 'j',
  state: 'running',
  createdAt: '',
  updatedAt: '',
  sortKey: '',
  requestHash: '',
  request: req,
  taskCounts: { ...zeroTaskCounts },
  history: [],
  events: [],
});
const ended = (reason: string, failed: number, unfinished: number, tolerated?: number) => ({
  kind: 'seen' as const,
  counts: { active: 0, running: 0, succeeded: 0, failed: 0, completed: 0 },
  job: { id: 'b', state: 'completed', terminateReason: reason, metadata: {} },
  exact: { failed, unfinished, total: 4, ...(tolerated !== undefined ? { tolerated } : {}) },
});

describe('final state with exit conditions', () => {
  it('completes when every failure is tolerated, fails when one is not', () => {
    expect(decide(job(request(false)), ended('AllTasksComplete', 2, 0, 2))).toMatchObject({
      to: 'completed',
      taskCounts: { failed: 2, succeeded: 2 },
    });
    expect(decide(job(request(false)), ended('AllTasksComplete', 2, 0, 1))).toMatchObject({
      to: 'failed',
      failure: { code: 'TaskFailed', message: '1 task(s) failed' },
    });
  });

  it('an exit option that terminated the job without untolerated failures completes it', () => {
    expect(decide(job(request(true)), ended('TaskFailed', 0, 2, 0))).toMatchObject({
      to: 'completed',
      taskCounts: { active: 2 },
    });
    // Without job actions in the request the same Batch answer stays a failure, as before.
    expect(decide(job(request(false)), ended('TaskFailed', 0, 2, 0))).toMatchObject({ to: 'failed' });
    expect(decide(job(null), ended('TaskFailed', 0, 2))).toMatchObject({ to: 'failed' });
  });
});

describe('efficiency figures', () => {
  it('unions overlapping intervals per node', () => {
    expect(unionLength([0, 10, 5, 15, 20, 30])).toBe(25);
    expect(unionLength([20, 30, 0, 10])).toBe(20);
    expect(unionLength([])).toBe(0);
  });

  it('counts slot time per task and node time per node', () => {
    const u = createUsageAccumulator();
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    u.add({ requiredSlots: 2, startTime: t(0), endTime: t(10), nodeId: 'n1' });
    u.add({ requiredSlots: 2, startTime: t(0), endTime: t(10), nodeId: 'n1' });
    u.add({ requiredSlots: 1, startTime: t(0), endTime: t(20), nodeId: 'n2' });
    u.add({ requiredSlots: 1 }); // never ran: not measured
    expect(u.result(4, new Date(0))).toEqual({
      nodeSeconds: 30,
      slotSeconds: 60,
      taskSlotsPerNode: 4,
      ratio: 0.5,
      tasksMeasured: 3,
      nodes: 2,
      measuredAt: new Date(0).toISOString(),
    });
    expect(createUsageAccumulator().result(4, new Date(0)).ratio).toBeNull();
  });
});
