/** The OData subset Batch lists accept: `$filter` with eq/ne/gt/ge/lt/le and startswith, joined by and/or; `$select`. */
import { errors } from './errors.js';

type Predicate = (item: Record<string, unknown>) => boolean;

function get(item: Record<string, unknown>, path: string): unknown {
  let v: unknown = item;
  for (const part of path.split('/'))
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

function literal(text: string): unknown {
  const s = /^'((?:[^']|'')*)'$/.exec(text);
  if (s) return s[1]!.replaceAll("''", "'");
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  const dt = /^datetime'([^']+)'$/.exec(text);
  if (dt) return dt[1];
  return undefined;
}

function clause(text: string, raw: string): Predicate {
  const sw = /^startswith\(\s*([\w/]+)\s*,\s*'((?:[^']|'')*)'\s*\)$/i.exec(text);
  if (sw) {
    const [, path, prefix] = sw;
    return (item) =>
      String(get(item, path!) ?? '')
        .toLowerCase()
        .startsWith(prefix!.replaceAll("''", "'").toLowerCase());
  }
  const cmp = /^([\w/]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+)$/i.exec(text);
  if (!cmp) throw errors.invalidQuery('$filter', raw, `Unsupported filter clause '${text}'`);
  const [, path, op, lit] = cmp;
  const expected = literal(lit!.trim());
  if (expected === undefined) throw errors.invalidQuery('$filter', raw, `Invalid literal '${lit}'`);
  const norm = (v: unknown) => (typeof v === 'string' && typeof expected === 'string' ? v.toLowerCase() : v);
  const want = norm(expected) as string | number | boolean;
  return (item) => {
    const actual = norm(get(item, path!)) as string | number | boolean | undefined;
    switch (op!.toLowerCase()) {
      case 'eq':
        return actual === want;
      case 'ne':
        return actual !== want;
      case 'gt':
        return actual !== undefined && actual > want;
      case 'ge':
        return actual !== undefined && actual >= want;
      case 'lt':
        return actual !== undefined && actual < want;
      default:
        return actual !== undefined && actual <= want;
    }
  };
}

export function parseFilter(raw: string | null): Predicate | undefined {
  if (!raw) return undefined;
  const text = raw.trim().replace(/^\((.*)\)$/, '$1');
  const ors = text.split(/\s+or\s+/i).map((part) =>
    part.split(/\s+and\s+/i).map((c) =>
      clause(
        c
          .trim()
          .replace(/^\((.*)\)$/, '$1')
          .trim(),
        raw,
      ),
    ),
  );
  return (item) => ors.some((ands) => ands.every((p) => p(item)));
}

export function applySelect<T extends Record<string, unknown>>(
  item: T,
  select: string | null,
): Record<string, unknown> {
  if (!select) return item;
  const keys = select
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in item) out[k] = item[k];
  return out;
}
