/**
 * Cost of a plan: node-hours from the tasks' expected durations, and a price per node-hour by VM size.
 *
 * Prices: USD per node-hour, Linux, pay-as-you-go, East US, typed in by hand as approximations of the
 * Azure "Linux Virtual Machines Pricing" page (azure.microsoft.com/pricing/details/virtual-machines/linux/)
 * and not checked against it (Batch adds no charge of its own: a node costs what its VM costs). Prices differ by
 * region, change over time and are lower for Spot (low-priority) nodes: set `SLOTWISE_PRICES`, a JSON
 * object `{ "<vmSize>": <price per node-hour> }`, to override or add sizes. The estimate is a guide,
 * never a bill.
 *
 * Node-hours: the pool's nodes (capped by maxNodes) for the time the tasks take on them. With Σ slots ×
 * duration over all tasks (slot-hours) and N nodes of S slots, the job cannot finish sooner than
 * max(longest task, slot-hours / (N × S)); node-hours = N × that. It assumes tasks start as soon as
 * slots free up (no allocation or boot time, dependencies ignored), so it is a lower bound on the pool's
 * time; `busyNodeHours` = slot-hours / S is the node time the tasks themselves fill.
 */
import { z } from 'zod';

export const PRICE_SOURCE =
  'approximate Azure Linux VM pay-as-you-go prices, East US, USD per hour, not checked against the pricing page (override with SLOTWISE_PRICES)';

/** USD per node-hour by VM size (lowercase, as in shared/model/vm-sizes.ts). */
export const DEFAULT_PRICES: Readonly<Record<string, number>> = {
  standard_a1_v2: 0.043,
  standard_a2_v2: 0.091,
  standard_a4_v2: 0.191,
  standard_a8_v2: 0.4,
  standard_d2_v3: 0.096,
  standard_d4_v3: 0.192,
  standard_d8_v3: 0.384,
  standard_d16_v3: 0.768,
  standard_d32_v3: 1.536,
  standard_d64_v3: 3.072,
  standard_d2s_v3: 0.096,
  standard_d4s_v3: 0.192,
  standard_d8s_v3: 0.384,
  standard_d16s_v3: 0.768,
  standard_d32s_v3: 1.536,
  standard_d48s_v3: 2.304,
  standard_d64s_v3: 3.072,
  standard_d2s_v5: 0.096,
  standard_d4s_v5: 0.192,
  standard_d8s_v5: 0.384,
  standard_d16s_v5: 0.768,
  standard_d32s_v5: 1.536,
  standard_d48s_v5: 2.304,
  standard_d64s_v5: 3.072,
  standard_d96s_v5: 4.608,
  standard_e2s_v3: 0.126,
  standard_e4s_v3: 0.252,
  standard_e8s_v3: 0.504,
  standard_e16s_v3: 1.008,
  standard_e32s_v3: 2.016,
  standard_e64s_v3: 3.629,
  standard_e2s_v5: 0.126,
  standard_e4s_v5: 0.252,
  standard_e8s_v5: 0.504,
  standard_e16s_v5: 1.008,
  standard_e32s_v5: 2.016,
  standard_e64s_v5: 4.032,
  standard_f2s_v2: 0.0846,
  standard_f4s_v2: 0.169,
  standard_f8s_v2: 0.338,
  standard_f16s_v2: 0.677,
  standard_f32s_v2: 1.353,
  standard_f48s_v2: 2.03,
  standard_f64s_v2: 2.706,
  standard_f72s_v2: 3.045,
  standard_nc6s_v3: 3.06,
  standard_nc12s_v3: 6.12,
  standard_nc24s_v3: 12.24,
  standard_nc4as_t4_v3: 0.526,
  standard_nc64as_t4_v3: 4.352,
  standard_hb120rs_v3: 3.6,
  standard_hc44rs: 3.168,
  standard_m128s: 13.338,
};

/**
 * The `SLOTWISE_PRICES` setting: empty, or a JSON object of VM size → price per node-hour (> 0).
 * Checked at start-up like every setting; keys are lowercased (Batch reads sizes in any case).
 */
export const priceOverridesSetting = z
  .string()
  .default('')
  .transform((text, ctx): Record<string, number> => {
    if (text.trim() === '') return {};
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of VM size → price per node-hour' });
      return z.NEVER;
    }
    const parsed = z.record(z.string().min(1), z.number().positive().finite()).safeParse(value);
    if (!parsed.success) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a JSON object of VM size → price per node-hour (> 0)',
      });
      return z.NEVER;
    }
    return Object.fromEntries(Object.entries(parsed.data).map(([k, v]) => [k.toLowerCase(), v]));
  });

export function priceFor(
  vmSize: string,
  overrides: Readonly<Record<string, number>> = {},
): { readonly perNodeHour: number; readonly source: 'setting' | 'table' } | undefined {
  const key = vmSize.toLowerCase();
  if (Object.hasOwn(overrides, key)) return { perNodeHour: overrides[key]!, source: 'setting' };
  if (Object.hasOwn(DEFAULT_PRICES, key)) return { perNodeHour: DEFAULT_PRICES[key]!, source: 'table' };
  return undefined;
}

/** One task's contribution: its slots and expected seconds (undefined when it gives none). */
export interface TaskDemand {
  readonly slots: number;
  readonly seconds: number | undefined;
}

export interface CostEstimate {
  readonly vmSize: string;
  readonly nodes: number;
  readonly taskSlotsPerNode: number;
  /** Present when every task has an expected duration (its own, or the job's default). */
  readonly slotHours?: number;
  readonly busyNodeHours?: number;
  readonly makespanHours?: number;
  readonly nodeHours?: number;
  /** Tasks without an expected duration (then no hours are estimated). */
  readonly tasksWithoutDuration: number;
  readonly price?: {
    readonly perNodeHour: number;
    readonly currency: 'USD';
    readonly source: 'setting' | 'table';
    readonly note: string;
  };
  /** nodeHours × price, when both are known. */
  readonly cost?: number;
  readonly assumptions: string;
}

export function estimateCost(input: {
  readonly vmSize: string;
  readonly nodes: number;
  readonly taskSlotsPerNode: number;
  readonly tasks: Iterable<TaskDemand>;
  readonly prices?: Readonly<Record<string, number>>;
}): CostEstimate {
  let slotSeconds = 0;
  let longest = 0;
  let missing = 0;
  for (const t of input.tasks) {
    if (t.seconds === undefined) {
      missing++;
      continue;
    }
    slotSeconds += t.slots * t.seconds;
    if (t.seconds > longest) longest = t.seconds;
  }
  const price = priceFor(input.vmSize, input.prices);
  const nodes = Math.max(1, input.nodes);
  const hours =
    missing === 0
      ? (() => {
          const makespan = Math.max(longest, slotSeconds / (nodes * input.taskSlotsPerNode));
          return {
            slotHours: round4(slotSeconds / 3600),
            busyNodeHours: round4(slotSeconds / input.taskSlotsPerNode / 3600),
            makespanHours: round4(makespan / 3600),
            nodeHours: round4((nodes * makespan) / 3600),
          };
        })()
      : undefined;
  return {
    vmSize: input.vmSize,
    nodes,
    taskSlotsPerNode: input.taskSlotsPerNode,
    ...(hours ?? {}),
    tasksWithoutDuration: missing,
    ...(price ? { price: { ...price, currency: 'USD' as const, note: PRICE_SOURCE } } : {}),
    ...(hours && price ? { cost: round2(hours.nodeHours * price.perNodeHour) } : {}),
    assumptions:
      'nodes × max(longest task, slot-hours / (nodes × slots per node)): tasks start as soon as slots free up; allocation, boot time and dependencies are not counted',
  };
}

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;
const round2 = (n: number) => Math.round(n * 100) / 100;
