/**
 * The bad-node rule (shared/model/node-health.ts) on its own: Batch's broken states, failures since
 * the last success against the rest of the pool, and the cases that must not make a node bad (a job
 * failing everywhere, a node that succeeds between failures).
 */
import { describe, expect, it } from 'vitest';
import {
  BAD_NODE_FAILURES,
  failuresNeeded,
  judgeNodes,
  judgeStartTask,
  type NodeHealth,
} from '../../shared/model/node-health.js';

const node = (id: string, totalRun: number, totalSucceeded: number, extra: Partial<NodeHealth> = {}) => ({
  id,
  state: 'idle',
  running: 0,
  totalRun,
  totalSucceeded,
  ...extra,
});

describe('judgeNodes', () => {
  it("takes Batch's word for unusable and starttaskfailed nodes", () => {
    const v = judgeNodes([
      node('a', 0, 0, { state: 'unusable' }),
      node('b', 0, 0, { state: 'starttaskfailed' }),
      node('c', 2, 2),
    ]);
    expect(v.bad.map((b) => [b.nodeId, b.reason])).toEqual([
      ['a', 'NodeUnusable'],
      ['b', 'NodeStartTaskFailed'],
    ]);
    expect(v.healthy).toBe(1);
  });

  it('finds a node that failed BAD_NODE_FAILURES runs while the others succeed', () => {
    const nodes = [node('bad', BAD_NODE_FAILURES, 0), node('ok', 5, 5), node('ok2', 3, 3, { running: 1 })];
    const v = judgeNodes(nodes);
    expect(v.bad).toEqual([expect.objectContaining({ nodeId: 'bad', reason: 'NodeFailsTasks' })]);
    expect(v.healthy).toBe(2);
    // One failure fewer is not enough.
    expect(judgeNodes([node('bad', BAD_NODE_FAILURES - 1, 0), node('ok', 5, 5)]).bad).toEqual([]);
  });

  it('asks for a longer run of failures when the other nodes fail now and then too', () => {
    expect([0, 0.1, 0.2, 0.5].map(failuresNeeded)).toEqual([3, 4, 6, 14]);
    // The others fail 1 run in 5: five failures in a row could be chance, six are not.
    const others = [node('ok', 10, 8), node('ok2', 10, 8)];
    expect(judgeNodes([node('x', 5, 0), ...others]).bad).toEqual([]);
    expect(judgeNodes([node('x', 6, 0), ...others]).bad.map((b) => b.nodeId)).toEqual(['x']);
  });

  it('blames no node when the tasks fail everywhere, or no other node has succeeded', () => {
    expect(judgeNodes([node('a', 5, 0), node('b', 6, 1)]).bad).toEqual([]);
    expect(judgeNodes([node('a', 5, 0), node('b', 0, 0)]).bad).toEqual([]);
    expect(judgeNodes([node('a', 5, 0)]).bad).toEqual([]);
  });

  it('counts failures since the last success it saw, kept as a baseline between passes', () => {
    // First look: the node had succeeded, so its count starts here.
    const first = judgeNodes([node('x', 10, 10), node('ok', 5, 5)]);
    expect(first.baselines.x).toEqual({ failed: 0, succeeded: 10 });
    // It breaks: three runs fail, none succeeds.
    const second = judgeNodes([node('x', 13, 10), node('ok', 6, 6)], first.baselines);
    expect(second.bad.map((b) => b.nodeId)).toEqual(['x']);
    // A success in between starts the count again.
    const healed = judgeNodes([node('x', 14, 11), node('ok', 6, 6)], first.baselines);
    expect(healed.bad).toEqual([]);
    expect(healed.baselines.x).toEqual({ failed: 3, succeeded: 11 });
    // Without a baseline, a node that ever succeeded is not judged by its counts.
    expect(judgeNodes([node('x', 13, 10), node('ok', 6, 6)]).bad).toEqual([]);
  });
});

describe('judgeStartTask', () => {
  const t0 = new Date('2026-12-07T10:00:00Z');
  const later = new Date('2026-12-07T10:05:00Z');
  it('starts at the first failed start task while no node is in service, and keeps its start', () => {
    const first = judgeStartTask([node('a', 0, 0, { state: 'starttaskfailed' })], undefined, t0);
    expect(first).toEqual({ since: t0.toISOString(), nodeId: 'a' });
    // The failed node was replaced and its replacement is still starting: the wait goes on from t0.
    expect(judgeStartTask([node('b', 0, 0, { state: 'starting' })], first, later)).toEqual(first);
  });
  it('is cleared by one node in service, and never raised while one is', () => {
    const first = { since: t0.toISOString(), nodeId: 'a' };
    expect(judgeStartTask([node('b', 0, 0)], first, later)).toBeUndefined();
    expect(
      judgeStartTask(
        [node('a', 0, 0, { state: 'starttaskfailed' }), node('b', 1, 1, { state: 'running' })],
        undefined,
        t0,
      ),
    ).toBeUndefined();
  });
  it('is not raised by nodes that are only starting', () => {
    expect(
      judgeStartTask([node('a', 0, 0, { state: 'waitingforstarttask' })], undefined, t0),
    ).toBeUndefined();
  });
});
