/**
 * The task-event rules of shared/pipeline/task-events.ts on their own: when a pass looks (the counts
 * changed, and 30 s passed or the job drained or ended), and the watermark that keeps a task from
 * being reported twice when several end at the same instant.
 */
import { describe, expect, it } from 'vitest';
import type { EndedTaskInfo } from '../../shared/adapters/batch/batch-gateway.js';
import {
  advance,
  newSince,
  TASK_EVENT_INTERVAL_MS,
  taskEventsDue,
} from '../../shared/pipeline/task-events.js';

const counts = (failed: number, active = 5) => ({
  active,
  running: 0,
  completed: failed,
  succeeded: 0,
  failed,
});
const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const ended = (id: string, ms: number): EndedTaskInfo => ({
  id,
  state: 'completed',
  requiredSlots: 1,
  retryCount: 0,
  requeueCount: 0,
  stateTransitionTime: at(ms).toISOString(),
});

describe('task events: when to look', () => {
  const state = { kinds: ['failed' as const], ended: 3, lastEventAt: at(0).toISOString() };

  it('looks only when the counts changed and the interval passed', () => {
    expect(taskEventsDue(state, counts(3), at(TASK_EVENT_INTERVAL_MS))).toBe(false);
    expect(taskEventsDue(state, counts(4), at(TASK_EVENT_INTERVAL_MS - 1))).toBe(false);
    expect(taskEventsDue(state, counts(4), at(TASK_EVENT_INTERVAL_MS))).toBe(true);
    // Fewer (a retry reactivated some) is a change too.
    expect(taskEventsDue(state, counts(1), at(TASK_EVENT_INTERVAL_MS))).toBe(true);
  });

  it('does not wait the interval once the job drained, nor at its end', () => {
    expect(taskEventsDue(state, counts(4, 0), at(1))).toBe(true);
    expect(taskEventsDue(state, counts(3), at(1), true)).toBe(true);
  });
});

describe('task events: the watermark', () => {
  it('reports each task once, ties at the watermark included', () => {
    const first = [ended('b', 20), ended('a', 10), ended('c', 20)];
    const fresh = newSince({ kinds: ['failed'] }, first);
    expect(fresh.map((t) => t.id)).toEqual(['a', 'b', 'c']);
    const mark = { kinds: ['failed' as const], ...advance({ kinds: ['failed'] }, fresh) };
    expect(mark).toMatchObject({ watermark: at(20).toISOString(), atWatermark: ['b', 'c'] });
    // The next read (ge the watermark) sees b and c again, and d that ended at the same instant.
    const next = newSince(mark, [ended('b', 20), ended('c', 20), ended('d', 20), ended('e', 30)]);
    expect(next.map((t) => t.id)).toEqual(['d', 'e']);
    expect(advance(mark, [ended('d', 20)])).toMatchObject({ atWatermark: ['b', 'c', 'd'] });
  });
});
