/**
 * `value` (plain JSON-like data: arrays, objects, primitives) with some properties replaced:
 * `replace(key, v)` returns the new value of property `key`, or `undefined` to keep `v` and look inside
 * it. The parts in which nothing was replaced are shared with `value`, not copied, so putting a few
 * values into a large planned body (a chunk of 100 task bodies) costs little.
 */
export function rewriteTree<T>(value: T, replace: (key: string, v: unknown) => unknown): T {
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const r = rewriteTree(v, replace);
      if (r !== v) changed = true;
      return r;
    });
    return (changed ? out : value) as T;
  }
  if (typeof value !== 'object' || value === null) return value;
  let out: Record<string, unknown> | undefined;
  for (const [key, v] of Object.entries(value)) {
    const replaced = replace(key, v);
    const r =
      replaced !== undefined ? replaced : typeof v === 'object' && v !== null ? rewriteTree(v, replace) : v;
    if (r !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[key] = r;
    }
  }
  return (out ?? value) as T;
}
