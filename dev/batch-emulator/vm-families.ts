/**
 * The Azure VM family of a size, as Batch names it in `dedicatedCoreQuotaPerVMFamily`
 * (e.g. standard_d4s_v3 → standardDSv3Family). The shared size table has no family, so it is
 * derived from the name: series letters in capitals, `S` when the size takes premium storage, the
 * version, then `Family`. The few families Azure names irregularly are listed.
 */
const irregular: ReadonlyMap<string, string> = new Map([
  ['standard_nc4as_t4_v3', 'standardNCASv3_T4Family'],
  ['standard_nc64as_t4_v3', 'standardNCASv3_T4Family'],
  ['standard_hb120rs_v3', 'standardHBrsv3Family'],
]);

/** The family name, or `standard<SIZE>Family` for a name that does not follow the pattern. */
export function vmFamilyOf(vmSize: string): string {
  const size = vmSize.toLowerCase();
  const known = irregular.get(size);
  if (known) return known;
  const m = /^standard_([a-z]+)\d+([a-z]*)(?:_v(\d+))?$/.exec(size);
  if (!m) return `standard${size.replace(/^standard_/, '').toUpperCase()}Family`;
  const [, series = '', features = '', version] = m;
  return `standard${series.toUpperCase()}${features.includes('s') ? 'S' : ''}${version ? `v${version}` : ''}Family`;
}
