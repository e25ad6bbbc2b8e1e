/**
 * Per-job efficiency, measured once when the job ends from Batch's task list (one paged read of the
 * completed tasks, selecting only `id, requiredSlots, executionInfo, nodeInfo`).
 *
 * - `slotSeconds`: Σ over tasks of (endTime − startTime) × requiredSlots. Batch keeps only the last
 *   attempt's times, so retried and requeued attempts before it are not counted.
 * - `nodeSeconds`: for every node that ran the job's tasks, the time during which at least one of them
 *   ran there (the union of their intervals on that node), summed over nodes. This is the node time the
 *   job occupied, not the node time billed: allocation, boot, idle gaps and the shrink delay are left
 *   out (they belong to the pool, which the tenant's jobs share), and a node running two jobs at once
 *   counts for both. Reading the pool's allocation over the job's lifetime would need a sample per
 *   reconcile pass; this needs one read at the end and is exact for what it measures.
 * - `ratio`: slotSeconds / (nodeSeconds × taskSlotsPerNode), the share of the occupied nodes' slots the
 *   tasks filled (1 = every slot busy whenever the job held a node).
 */
/** What one completed task contributes (Batch's executionInfo times, nodeInfo.nodeId). */
export interface TaskUsage {
  readonly requiredSlots: number;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly nodeId?: string;
}

export interface JobEfficiency {
  readonly nodeSeconds: number;
  readonly slotSeconds: number;
  readonly taskSlotsPerNode: number;
  /** slotSeconds / (nodeSeconds × taskSlotsPerNode); null when no task ran. */
  readonly ratio: number | null;
  /** Tasks with a start and end time (the ones measured). */
  readonly tasksMeasured: number;
  readonly nodes: number;
  readonly measuredAt: string;
}

export interface UsageAccumulator {
  add(task: TaskUsage): void;
  result(taskSlotsPerNode: number, at: Date): JobEfficiency;
}

export function createUsageAccumulator(): UsageAccumulator {
  let slotMs = 0;
  let measured = 0;
  // Per node, the tasks' intervals as flat [start, end, start, end, ...] (merged at the end).
  const byNode = new Map<string, number[]>();
  return {
    add(task) {
      const start = task.startTime ? Date.parse(task.startTime) : Number.NaN;
      const end = task.endTime ? Date.parse(task.endTime) : Number.NaN;
      if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return;
      measured++;
      slotMs += (end - start) * task.requiredSlots;
      if (!task.nodeId) return;
      const intervals = byNode.get(task.nodeId);
      if (intervals) intervals.push(start, end);
      else byNode.set(task.nodeId, [start, end]);
    },
    result(taskSlotsPerNode, at) {
      let nodeMs = 0;
      for (const flat of byNode.values()) nodeMs += unionLength(flat);
      const nodeSeconds = round3(nodeMs / 1000);
      const slotSeconds = round3(slotMs / 1000);
      return {
        nodeSeconds,
        slotSeconds,
        taskSlotsPerNode,
        ratio: nodeMs > 0 ? round3(slotMs / (nodeMs * taskSlotsPerNode)) : null,
        tasksMeasured: measured,
        nodes: byNode.size,
        measuredAt: at.toISOString(),
      };
    },
  };
}

/** Total length covered by intervals given flat as [start, end, ...]. */
export function unionLength(flat: readonly number[]): number {
  const order = Array.from({ length: flat.length / 2 }, (_, i) => i).sort(
    (a, b) => flat[2 * a]! - flat[2 * b]!,
  );
  let total = 0;
  let from = Number.NEGATIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const i of order) {
    const s = flat[2 * i]!;
    const e = flat[2 * i + 1]!;
    if (s > to) {
      if (to > from) total += to - from;
      from = s;
      to = e;
    } else if (e > to) {
      to = e;
    }
  }
  if (to > from) total += to - from;
  return total;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
