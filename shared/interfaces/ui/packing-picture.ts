/**
 * The packing picture shown by the CLI (`slotwise plan`, `slotwise get`) and the dashboard: the
 * plan's tasks packed into nodes, each task a block as wide as its slots.
 *
 * A plan keeps only `slotHistogram` (tasks by slots), not which task went where, so the picture
 * packs that histogram again with the planner's own packer: the same multiset of sizes gives the
 * same node count as the plan. Nodes with the same contents are drawn once with a count, since
 * pattern packing repeats a few node kinds many times: a million-task job stays a few rows.
 *
 * Pure (no Node or DOM APIs): the dashboard's browser bundle includes it.
 */
import { packSlots } from '../../planner/pack.js';

/** One kind of node: the slots of each task on it (largest first), and how many nodes look alike. */
export interface NodeKind {
  readonly tasks: readonly number[];
  readonly used: number;
  readonly count: number;
}

export interface PackingPicture {
  readonly slotsPerNode: number;
  readonly nodes: number;
  readonly tasks: number;
  readonly usedSlots: number;
  /** Most nodes first, then fullest first. */
  readonly kinds: readonly NodeKind[];
}

/** What a picture needs from a plan (`GET /api/jobs/{id}` `plan`, or the dry run's `plan`). */
export interface PicturePlan {
  readonly taskSlotsPerNode: number;
  readonly slotHistogram?: readonly (readonly [number, number])[];
}

/** Above this many tasks the picture is not drawn: expanding the histogram would cost too much memory. */
export const MAX_PICTURE_TASKS = 2_000_000;

/** The picture of a plan, or undefined when the plan has no histogram (or too many tasks to draw). */
export function tryPackingPicture(plan: PicturePlan): PackingPicture | undefined {
  const histogram = plan.slotHistogram;
  const capacity = plan.taskSlotsPerNode;
  if (!histogram || !Number.isInteger(capacity) || capacity < 1) return undefined;
  let tasks = 0;
  for (const [slots, count] of histogram) {
    if (!Number.isInteger(slots) || slots < 1 || slots > capacity) return undefined;
    if (!Number.isInteger(count) || count < 0) return undefined;
    tasks += count;
  }
  if (tasks > MAX_PICTURE_TASKS) return undefined;
  const sizes = new Uint16Array(tasks);
  let at = 0;
  for (const [slots, count] of histogram) {
    sizes.fill(slots, at, at + count);
    at += count;
  }
  const packed = packSlots(sizes, capacity);
  const perNode: number[][] = Array.from({ length: packed.nodes }, () => []);
  for (let i = 0; i < tasks; i++) perNode[packed.assignment[i]!]!.push(sizes[i]!);
  const kinds = new Map<string, { tasks: number[]; used: number; count: number }>();
  let usedSlots = 0;
  for (const node of perNode) {
    node.sort((a, b) => b - a);
    const key = node.join(',');
    const used = node.reduce((sum, s) => sum + s, 0);
    usedSlots += used;
    const kind = kinds.get(key);
    if (kind) kind.count++;
    else kinds.set(key, { tasks: node, used, count: 1 });
  }
  return {
    slotsPerNode: capacity,
    nodes: packed.nodes,
    tasks,
    usedSlots,
    kinds: [...kinds.values()].sort((a, b) => b.count - a.count || b.used - a.used),
  };
}

/**
 * The picture as text, one line per node kind: each task a run of its slots in alternating glyphs
 * (so neighbours stay apart), free slots as dots, e.g. `  3 × ████▒▒█·  4+2+1  7/8 slots`.
 * Nodes wider than `maxWidth` slots are drawn scaled (one character for several slots).
 */
export function renderPackingText(
  picture: PackingPicture,
  { maxKinds = 12, maxWidth = 64 }: { maxKinds?: number; maxWidth?: number } = {},
): string[] {
  const scale = Math.ceil(picture.slotsPerNode / maxWidth);
  const width = Math.ceil(picture.slotsPerNode / scale);
  const countWidth = String(picture.kinds[0]?.count ?? 1).length;
  const lines: string[] = [];
  for (const kind of picture.kinds.slice(0, maxKinds)) {
    const cells: string[] = [];
    kind.tasks.forEach((slots, i) => {
      cells.push(...Array<string>(slots).fill(i % 2 === 0 ? '█' : '▒'));
    });
    while (cells.length < picture.slotsPerNode) cells.push('·');
    // Scaled: a character shows the glyph of the first slot it covers.
    const row = Array.from({ length: width }, (_, c) => cells[c * scale]).join('');
    lines.push(
      `${String(kind.count).padStart(countWidth)} × ${row}  ${summariseTasks(kind.tasks)}  ${kind.used}/${picture.slotsPerNode} slots`,
    );
  }
  const hidden = picture.kinds.slice(maxKinds);
  if (hidden.length > 0) {
    const nodes = hidden.reduce((sum, k) => sum + k.count, 0);
    lines.push(`… ${hidden.length} more kinds of node (${nodes} nodes)`);
  }
  if (scale > 1) lines.push(`(one character is ${scale} slots)`);
  return lines;
}

/** `4+2+1`, or `4(×8)+2` when a size repeats more than twice. */
function summariseTasks(tasks: readonly number[]): string {
  if (tasks.length === 0) return 'empty';
  const parts: string[] = [];
  let i = 0;
  while (i < tasks.length) {
    let j = i;
    while (j < tasks.length && tasks[j] === tasks[i]) j++;
    parts.push(
      j - i > 2
        ? `${tasks[i]}(×${j - i})`
        : Array<number>(j - i)
            .fill(tasks[i]!)
            .join('+'),
    );
    i = j;
  }
  return parts.join('+');
}
