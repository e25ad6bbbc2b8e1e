/**
 * What reconcile makes of the job preparation's status per node: counts and at most 100 nodes kept,
 * a waiting reason while a failed preparation holds tasks back, and a failure only when no node of
 * the pool can ever run them.
 */
import { describe, expect, it } from 'vitest';
import { toNodePreparation } from '../../shared/adapters/batch/batch-gateway-rest.js';
import type { NodePreparation } from '../../shared/model/job.js';
import { decidePreparation, summarizePreparation } from '../../shared/pipeline/preparation.js';

const ok = (nodeId: string): NodePreparation => ({
  nodeId,
  state: 'completed',
  result: 'success',
  exitCode: 0,
});
const running = (nodeId: string): NodePreparation => ({ nodeId, state: 'running' });
const failed = (nodeId: string, exitCode = 3): NodePreparation => ({
  nodeId,
  state: 'completed',
  result: 'failure',
  exitCode,
  failure: {
    category: 'usererror',
    code: 'FailureExitCode',
    message: 'The task exited with an exit code representing a failure',
  },
});

const waiting = { active: 10, running: 0 };
const steadyPool = (...nodeIds: string[]) => ({ nodeIds, steady: true });

describe('job preparation status', () => {
  it('counts every node and keeps at most 100, failed first', () => {
    const nodes = [
      ...Array.from({ length: 150 }, (_, i) => ok(`ok-${String(i).padStart(3, '0')}`)),
      running('r-1'),
      failed('f-2'),
      failed('f-1'),
    ];
    const status = summarizePreparation(nodes);
    expect([status.succeeded, status.failed, status.running]).toEqual([150, 2, 1]);
    expect(status.nodes).toHaveLength(100);
    expect(status.nodes.slice(0, 3).map((n) => n.nodeId)).toEqual(['f-1', 'f-2', 'r-1']);
  });

  it('reads Batch’s item, redacting a SAS its failure message quotes', () => {
    const node = toNodePreparation({
      nodeId: 'tvm-1',
      jobPreparationTaskExecutionInfo: {
        state: 'completed',
        result: 'failure',
        retryCount: 2,
        failureInfo: {
          category: 'usererror',
          code: 'BlobDownloadMiscError',
          message: 'Could not download https://a.blob.core.windows.net/c/ref?sv=1&sig=TOPSECRET',
        },
      },
    });
    expect(node).toEqual({
      nodeId: 'tvm-1',
      state: 'completed',
      result: 'failure',
      retryCount: 2,
      failure: {
        category: 'usererror',
        code: 'BlobDownloadMiscError',
        message: 'Could not download https://a.blob.core.windows.net/c/ref?sv=1&sig=REDACTED',
      },
    });
    expect(toNodePreparation({ nodeId: 'n' })).toBeUndefined();
  });

  it('names the failed node as the waiting reason while tasks wait and none runs, and clears it after', () => {
    const d = decidePreparation({
      nodes: [failed('n-1'), ok('n-2')],
      counts: waiting,
      waitForSuccess: true,
      currentWaiting: undefined,
    });
    expect(d.waiting).toEqual({
      kind: 'set',
      message:
        "Job preparation failed on 1 node(s), where the job's tasks do not run; first: node n-1 exited with code 3 (FailureExitCode: The task exited with an exit code representing a failure).",
    });
    expect(d.fail).toBeUndefined();
    const since = '2026-01-01T00:00:00.000Z';
    const current = {
      code: 'JobPreparationFailed',
      message: d.waiting.kind === 'set' ? d.waiting.message : '',
      since,
    };
    // Unchanged: nothing to write. Tasks running again: the reason goes.
    expect(
      decidePreparation({
        nodes: [failed('n-1'), ok('n-2')],
        counts: waiting,
        waitForSuccess: true,
        currentWaiting: current,
      }).waiting,
    ).toEqual({ kind: 'keep' });
    expect(
      decidePreparation({
        nodes: [failed('n-1'), ok('n-2')],
        counts: { active: 9, running: 1 },
        waitForSuccess: true,
        currentWaiting: current,
      }).waiting,
    ).toEqual({ kind: 'clear' });
    // Without waitForSuccess Batch runs tasks there anyway: nothing waits.
    expect(
      decidePreparation({
        nodes: [failed('n-1')],
        counts: waiting,
        waitForSuccess: false,
        currentWaiting: undefined,
      }).waiting,
    ).toEqual({ kind: 'keep' });
  });

  it('leaves a reason the pool controller set (allocation) in place', () => {
    const allocation = { code: 'AllocationFailed', message: 'no capacity', since: 'x', failAt: 'y' };
    const d = decidePreparation({
      nodes: [failed('n-1')],
      counts: waiting,
      waitForSuccess: true,
      currentWaiting: allocation,
    });
    expect(d.waiting).toEqual({ kind: 'keep' });
  });

  it('fails the job only when every current node of a steady pool failed and nothing prepares or runs', () => {
    const nodes = [failed('n-1'), failed('n-2', 4), failed('gone-3')];
    const base = { nodes, counts: waiting, waitForSuccess: true, currentWaiting: undefined };
    const failure = decidePreparation({ ...base, pool: steadyPool('n-1', 'n-2') }).fail;
    expect(failure).toEqual({
      code: 'JobPreparationFailed',
      message:
        'Job preparation failed on every node of the pool (2), so no task can run; first: node n-1 exited with code 3 (FailureExitCode: The task exited with an exit code representing a failure).',
    });
    // A node that has not prepared yet, a pool still resizing, a preparation still running, a task
    // running, or no task left waiting: the job waits.
    expect(decidePreparation({ ...base, pool: steadyPool('n-1', 'n-2', 'new-4') }).fail).toBeUndefined();
    expect(
      decidePreparation({ ...base, pool: { nodeIds: ['n-1', 'n-2'], steady: false } }).fail,
    ).toBeUndefined();
    expect(
      decidePreparation({ ...base, nodes: [...nodes, running('n-5')], pool: steadyPool('n-1', 'n-2') }).fail,
    ).toBeUndefined();
    expect(
      decidePreparation({ ...base, counts: { active: 5, running: 1 }, pool: steadyPool('n-1', 'n-2') }).fail,
    ).toBeUndefined();
    expect(
      decidePreparation({ ...base, counts: { active: 0, running: 0 }, pool: steadyPool('n-1', 'n-2') }).fail,
    ).toBeUndefined();
    expect(decidePreparation({ ...base, pool: steadyPool() }).fail).toBeUndefined();
    expect(
      decidePreparation({ ...base, waitForSuccess: false, pool: steadyPool('n-1', 'n-2') }).fail,
    ).toBeUndefined();
  });
});
