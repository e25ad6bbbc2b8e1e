/**
 * Which nodes of a pool are bad: the rule the pool controller applies to the pool's node list
 * (`GET /pools/{id}/nodes`, one paged call per pool per pass). Pure, so the rule is tested alone.
 *
 * A node is bad when
 * 1. Batch says so: its state is `unusable` or `starttaskfailed` (it takes no tasks); or
 * 2. it fails what it runs while the rest of the pool does not: since it last succeeded a task (as far
 *    as Slotwise has seen) it failed at least `BAD_NODE_FAILURES` task runs — more when the pool's
 *    other nodes fail some too: as many as make such a run of failures, at their failure rate p, a
 *    chance below `UNLIKELY` (p^n < 1/10,000: 3 at p = 0, 6 at p = 0.2, 14 at p = 0.5) — and the
 *    other nodes in service have succeeded at least one task with no more failures than successes.
 *    A job whose own tasks fail everywhere fails on every node alike, so it never makes a node bad,
 *    and a job whose tasks fail now and then does not either, however long it runs.
 *
 * The counts are Batch's per node, `totalTasksRun` and `totalTasksSucceeded` (every run, retries
 * included, of every job on the node; a run cut short by a preemption or a requeue is not one): a task
 * that fails on a node and is retried there is seen here, where the task list, which keeps only a
 * task's last attempt, would not show it. A node's failures are `totalTasksRun − totalTasksSucceeded`. What Slotwise saw at the node's last
 * success is kept between passes (`NodeBaseline`) for managed pools; on an existing pool nothing is
 * kept, so there the count is since the node joined and a node that ever succeeded is not judged by it.
 */

/** A node as the node list shows it (`$select=id,state,runningTasksCount,totalTasksRun,totalTasksSucceeded`). */
export interface NodeHealth {
  readonly id: string;
  /** Batch's node state: idle, running, starting, unusable, starttaskfailed, leavingpool, preempted, … */
  readonly state: string;
  readonly running: number;
  readonly totalRun: number;
  readonly totalSucceeded: number;
}

/** A node's counts when it last succeeded a task (or when first seen). */
export interface NodeBaseline {
  readonly failed: number;
  readonly succeeded: number;
}

/** Failures since the last success before a node counts as bad (rule 2), at the least. */
export const BAD_NODE_FAILURES = 3;
/** How unlikely the node's run of failures must be, at the rest of the pool's failure rate. */
export const UNLIKELY = 1e-4;

/** Failures in a row that make a node bad when the pool's other nodes fail at rate `p` (0 ≤ p ≤ 0.5). */
export function failuresNeeded(p: number): number {
  if (p <= 0) return BAD_NODE_FAILURES;
  return Math.max(BAD_NODE_FAILURES, Math.ceil(Math.log(UNLIKELY) / Math.log(p)));
}

export type BadNodeReason = 'NodeUnusable' | 'NodeStartTaskFailed' | 'NodeFailsTasks';

export interface BadNode {
  readonly nodeId: string;
  readonly reason: BadNodeReason;
  readonly message: string;
}

export interface NodeVerdicts {
  /** Bad nodes, Batch's own verdicts first. */
  readonly bad: readonly BadNode[];
  /** Nodes in service not found bad. */
  readonly healthy: number;
  /** The baselines to keep for the next pass (nodes no longer listed are dropped). */
  readonly baselines: Readonly<Record<string, NodeBaseline>>;
}

const IN_SERVICE = new Set(['idle', 'running']);

export function failedOn(node: NodeHealth): number {
  return Math.max(0, node.totalRun - node.totalSucceeded);
}

export function judgeNodes(
  nodes: readonly NodeHealth[],
  previous: Readonly<Record<string, NodeBaseline>> = {},
): NodeVerdicts {
  const baselines: Record<string, NodeBaseline> = {};
  const streaks = new Map<string, number>();
  for (const node of nodes) {
    const failed = failedOn(node);
    const before = previous[node.id];
    // A success since the last look starts the count again from here.
    const baseline =
      before && node.totalSucceeded <= before.succeeded ? before : { failed, succeeded: node.totalSucceeded };
    const fresh = !before && node.totalSucceeded === 0 ? { failed: 0, succeeded: 0 } : baseline;
    baselines[node.id] = fresh;
    streaks.set(node.id, failed - fresh.failed);
  }
  const bad: BadNode[] = [];
  for (const node of nodes) {
    if (node.state === 'unusable')
      bad.push({ nodeId: node.id, reason: 'NodeUnusable', message: 'Batch reports the node unusable.' });
    else if (node.state === 'starttaskfailed')
      bad.push({
        nodeId: node.id,
        reason: 'NodeStartTaskFailed',
        message: "Batch reports the node's start task failed.",
      });
  }
  for (const node of nodes) {
    if (!IN_SERVICE.has(node.state)) continue;
    const streak = streaks.get(node.id) ?? 0;
    if (streak < BAD_NODE_FAILURES) continue;
    const others = nodes.filter((n) => n.id !== node.id && IN_SERVICE.has(n.state));
    const succeeded = others.reduce((sum, n) => sum + n.totalSucceeded, 0);
    const failed = others.reduce((sum, n) => sum + failedOn(n), 0);
    if (succeeded === 0 || failed > succeeded) continue;
    if (streak < failuresNeeded(failed / (succeeded + failed))) continue;
    bad.push({
      nodeId: node.id,
      reason: 'NodeFailsTasks',
      message: `The node failed ${streak} task runs since it last succeeded one, while the pool's other nodes succeeded ${succeeded} of ${succeeded + failed}.`,
    });
  }
  const badIds = new Set(bad.map((b) => b.nodeId));
  const healthy = nodes.filter((n) => IN_SERVICE.has(n.state) && !badIds.has(n.id)).length;
  return { bad, healthy, baselines };
}

/** Code of a job's wait while no node of its pool has passed the pool's start task. */
export const START_TASK_FAILED_CODE = 'PoolStartTaskFailed';

/** Kept on a managed pool's record while no node of the pool is in service because start tasks fail. */
export interface StartTaskProblem {
  readonly since: string;
  /** A node whose start task failed (the first seen). */
  readonly nodeId: string;
}

/**
 * Whether a pool waits on its start task: a node of it failed the start task and none is in service.
 * Failed nodes are removed and replaced as bad ones; while the replacements start, the problem stands
 * (from the first failure), so jobs waiting on the pool are told why and fail at the allocation
 * deadline instead of waiting forever. One node in service clears it.
 */
export function judgeStartTask(
  nodes: readonly NodeHealth[],
  previous: StartTaskProblem | undefined,
  now: Date,
): StartTaskProblem | undefined {
  if (nodes.some((n) => n.state === 'idle' || n.state === 'running')) return undefined;
  if (previous) return previous;
  const failed = nodes.find((n) => n.state === 'starttaskfailed');
  return failed ? { since: now.toISOString(), nodeId: failed.id } : undefined;
}
