/**
 * VM sizes Slotwise knows, shared by the planner (slots per node, resources → slots) and the Batch
 * emulator (taskSlotsPerNode ≤ 4 × vCPUs). Figures from learn.microsoft.com/azure/virtual-machines/sizes.
 * Keys are lowercase: Batch treats vmSize case-insensitively.
 */
export interface VmSize {
  readonly name: string;
  readonly vCpus: number;
  readonly memoryGiB: number;
}

const table: ReadonlyArray<readonly [string, number, number]> = [
  ['standard_a1_v2', 1, 2],
  ['standard_a2_v2', 2, 4],
  ['standard_a4_v2', 4, 8],
  ['standard_a8_v2', 8, 16],
  ['standard_d2_v3', 2, 8],
  ['standard_d4_v3', 4, 16],
  ['standard_d8_v3', 8, 32],
  ['standard_d16_v3', 16, 64],
  ['standard_d32_v3', 32, 128],
  ['standard_d64_v3', 64, 256],
  ['standard_d2s_v3', 2, 8],
  ['standard_d4s_v3', 4, 16],
  ['standard_d8s_v3', 8, 32],
  ['standard_d16s_v3', 16, 64],
  ['standard_d32s_v3', 32, 128],
  ['standard_d48s_v3', 48, 192],
  ['standard_d64s_v3', 64, 256],
  ['standard_d2s_v5', 2, 8],
  ['standard_d4s_v5', 4, 16],
  ['standard_d8s_v5', 8, 32],
  ['standard_d16s_v5', 16, 64],
  ['standard_d32s_v5', 32, 128],
  ['standard_d48s_v5', 48, 192],
  ['standard_d64s_v5', 64, 256],
  ['standard_d96s_v5', 96, 384],
  ['standard_e2s_v3', 2, 16],
  ['standard_e4s_v3', 4, 32],
  ['standard_e8s_v3', 8, 64],
  ['standard_e16s_v3', 16, 128],
  ['standard_e32s_v3', 32, 256],
  ['standard_e64s_v3', 64, 432],
  ['standard_e2s_v5', 2, 16],
  ['standard_e4s_v5', 4, 32],
  ['standard_e8s_v5', 8, 64],
  ['standard_e16s_v5', 16, 128],
  ['standard_e32s_v5', 32, 256],
  ['standard_e64s_v5', 64, 512],
  ['standard_f2s_v2', 2, 4],
  ['standard_f4s_v2', 4, 8],
  ['standard_f8s_v2', 8, 16],
  ['standard_f16s_v2', 16, 32],
  ['standard_f32s_v2', 32, 64],
  ['standard_f48s_v2', 48, 96],
  ['standard_f64s_v2', 64, 128],
  ['standard_f72s_v2', 72, 144],
  ['standard_nc6s_v3', 6, 112],
  ['standard_nc12s_v3', 12, 224],
  ['standard_nc24s_v3', 24, 448],
  ['standard_nc4as_t4_v3', 4, 28],
  ['standard_nc64as_t4_v3', 64, 440],
  ['standard_hb120rs_v3', 120, 448],
  ['standard_hc44rs', 44, 352],
  ['standard_m128s', 128, 2048],
];

const byName: ReadonlyMap<string, VmSize> = new Map(
  table.map(([name, vCpus, memoryGiB]) => [name, { name, vCpus, memoryGiB }]),
);

/** The size, or undefined when Slotwise does not know it. Case-insensitive. */
export function tryGetVmSize(name: string): VmSize | undefined {
  return byName.get(name.toLowerCase());
}

/** Batch's ceiling for taskSlotsPerNode on a size: min(4 × vCPUs, 256). */
export function maxTaskSlotsPerNode(size: VmSize): number {
  return Math.min(4 * size.vCpus, 256);
}

/**
 * The Azure VM family of a size, as Batch names it in `dedicatedCoreQuotaPerVMFamily`
 * (e.g. standard_d4s_v3 → standardDSv3Family). The shared size table has no family, so it is
 * derived from the name: series letters in capitals, `S` when the size takes premium storage, the
 * version, then `Family`. The few families Azure names irregularly are listed.
 */
const irregularFamilies: ReadonlyMap<string, string> = new Map([
  ['standard_nc4as_t4_v3', 'standardNCASv3_T4Family'],
  ['standard_nc64as_t4_v3', 'standardNCASv3_T4Family'],
  ['standard_hb120rs_v3', 'standardHBrsv3Family'],
]);

/** The family name, or `standard<SIZE>Family` for a name that does not follow the pattern. */
export function vmFamilyOf(vmSize: string): string {
  const size = vmSize.toLowerCase();
  const known = irregularFamilies.get(size);
  if (known) return known;
  const m = /^standard_([a-z]+)\d+([a-z]*)(?:_v(\d+))?$/.exec(size);
  if (!m) return `standard${size.replace(/^standard_/, '').toUpperCase()}Family`;
  const [, series = '', features = '', version] = m;
  return `standard${series.toUpperCase()}${features.includes('s') ? 'S' : ''}${version ? `v${version}` : ''}Family`;
}
