/**
 * The OData subset Batch lists accept. `$filter`: comparisons (`eq ne gt ge lt le`) of a property
 * path (`state`, `executionInfo/result`) with a literal ('text', 12, true, datetime'…'),
 * `startswith(path,'prefix')`, joined by `and` / `or` (and binds tighter) with parentheses.
 * String comparisons ignore case, as Batch's enum and id filters do. `$select`: a comma list.
 */
import { EmulatedBatchError, errors } from './errors.js';

export type Item = Record<string, unknown>;
export type Predicate = (item: Item) => boolean;

type Token =
  | { t: 'lp' | 'rp' | 'comma' }
  | { t: 'word'; v: string }
  | { t: 'lit'; v: string | number | boolean; date?: number };

function tokenize(text: string, fail: (reason: string) => never): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(') {
      out.push({ t: 'lp' });
      i++;
    } else if (c === ')') {
      out.push({ t: 'rp' });
      i++;
    } else if (c === ',') {
      out.push({ t: 'comma' });
      i++;
    } else if (c === "'" || text.startsWith("datetime'", i)) {
      const isDate = c !== "'";
      let j = i + (isDate ? 9 : 1);
      let s = '';
      for (;;) {
        if (j >= text.length) fail('Unterminated string literal.');
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          break;
        }
        s += text[j];
        j++;
      }
      i = j + 1;
      if (isDate) {
        const ms = Date.parse(s);
        if (Number.isNaN(ms)) fail(`Invalid datetime literal '${s}'.`);
        out.push({ t: 'lit', v: s, date: ms });
      } else out.push({ t: 'lit', v: s });
    } else {
      const m = /^(-?\d+(?:\.\d+)?)(?![\w/])|^([A-Za-z_$][\w/]*)/.exec(text.slice(i));
      if (!m) fail(`Unexpected character '${c}' at position ${i}.`);
      if (m[1] !== undefined) out.push({ t: 'lit', v: Number(m[1]) });
      else if (m[2] === 'true' || m[2] === 'false') out.push({ t: 'lit', v: m[2] === 'true' });
      else out.push({ t: 'word', v: m[2]! });
      i += m[0].length;
    }
  }
  return out;
}

function get(item: Item, path: string): unknown {
  let v: unknown = item;
  for (const part of path.split('/')) v = v && typeof v === 'object' ? (v as Item)[part] : undefined;
  return v;
}

const OPS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

function compare(op: string, actual: unknown, lit: Token & { t: 'lit' }): boolean {
  let a: unknown = actual;
  let b: unknown = lit.v;
  if (lit.date !== undefined) {
    a = typeof actual === 'string' ? Date.parse(actual) : undefined;
    b = lit.date;
  } else if (typeof a === 'string' && typeof b === 'string') {
    a = a.toLowerCase();
    b = b.toLowerCase();
  }
  if (op === 'eq') return a === b;
  if (op === 'ne') return a !== b;
  if (a === undefined || a === null || typeof a !== typeof b) return false;
  const x = a as number | string;
  const y = b as number | string;
  if (op === 'gt') return x > y;
  if (op === 'ge') return x >= y;
  if (op === 'lt') return x < y;
  return x <= y;
}

export function parseFilter(raw: string | null): Predicate | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const fail = (reason: string): never => {
    throw errors.invalidQuery('$filter', raw, reason);
  };
  const tokens = tokenize(raw, fail);
  let pos = 0;
  const peek = () => tokens[pos];
  const isWord = (w: string) => {
    const t = peek();
    return t?.t === 'word' && t.v.toLowerCase() === w;
  };
  const expect = (t: Token['t']) => {
    if (peek()?.t !== t) fail(`Expected '${t === 'lp' ? '(' : t === 'rp' ? ')' : t}' at token ${pos + 1}.`);
    pos++;
  };
  const literal = (): Token & { t: 'lit' } => {
    const t = peek();
    if (t?.t !== 'lit') return fail(`Expected a literal at token ${pos + 1}.`);
    pos++;
    return t;
  };
  const primary = (): Predicate => {
    const t = peek();
    if (t?.t === 'lp') {
      pos++;
      const inner = or();
      expect('rp');
      return inner;
    }
    if (t?.t !== 'word') return fail(`Expected a property or function at token ${pos + 1}.`);
    pos++;
    if (t.v.toLowerCase() === 'startswith') {
      expect('lp');
      const prop = peek();
      if (prop?.t !== 'word') return fail('startswith needs a property name.');
      pos++;
      expect('comma');
      const lit = literal();
      expect('rp');
      if (typeof lit.v !== 'string') return fail('startswith needs a string literal.');
      const prefix = lit.v.toLowerCase();
      return (item) => {
        const v = get(item, prop.v);
        return typeof v === 'string' && v.toLowerCase().startsWith(prefix);
      };
    }
    const opTok = peek();
    if (opTok?.t !== 'word' || !OPS.has(opTok.v.toLowerCase()))
      return fail(`Expected a comparison operator after '${t.v}'.`);
    pos++;
    const op = opTok.v.toLowerCase();
    const lit = literal();
    return (item) => compare(op, get(item, t.v), lit);
  };
  const and = (): Predicate => {
    const parts = [primary()];
    while (isWord('and')) {
      pos++;
      parts.push(primary());
    }
    return parts.length === 1 ? parts[0]! : (item) => parts.every((p) => p(item));
  };
  const or = (): Predicate => {
    const parts = [and()];
    while (isWord('or')) {
      pos++;
      parts.push(and());
    }
    return parts.length === 1 ? parts[0]! : (item) => parts.some((p) => p(item));
  };
  const result = or();
  if (pos < tokens.length) fail(`Unexpected token at position ${pos + 1}.`);
  return result;
}

/** `$select=id,state,executionInfo` → only those top-level properties. */
export function applySelect(item: Item, select: string | null): Item {
  if (!select) return item;
  const out: Item = {};
  for (const key of select.split(',')) {
    const k = key.trim();
    if (k && item[k] !== undefined) out[k] = item[k];
  }
  return out;
}

/**
 * One page of an OData list as Batch answers it: `$filter`, `$select`, `maxresults` (1..1000, else
 * 400 OutOfRangeQueryParameterValue) and paging through `odata.nextLink` with a `$skiptoken`.
 */
export function listPage(
  items: Iterable<unknown>,
  toWire: (x: unknown) => Item,
  url: URL,
  kind: string,
  base: string,
): { status: 200; json: Item } {
  const q = url.searchParams;
  const filter = parseFilter(q.get('$filter'));
  const maxText = q.get('maxresults');
  const max = maxText === null ? 1000 : Number(maxText);
  if (!Number.isInteger(max) || max < 1 || max > 1000)
    throw new EmulatedBatchError(
      400,
      'OutOfRangeQueryParameterValue',
      'One of the query parameters specified in the request URI is outside the permissible range.',
      [
        { key: 'QueryParameterName', value: 'maxresults' },
        { key: 'QueryParameterValue', value: String(maxText) },
        { key: 'Reason', value: 'The value must be between 1 and 1000.' },
      ],
    );
  const tokenText = q.get('$skiptoken');
  const skip = tokenText === null ? 0 : Number(/^p(\d+)$/.exec(tokenText)?.[1] ?? Number.NaN);
  if (!Number.isInteger(skip) || skip < 0)
    throw errors.invalidQuery('$skiptoken', String(tokenText), 'Malformed skip token.');
  const select = q.get('$select');
  const value: Item[] = [];
  let position = 0;
  let more = false;
  for (const raw of items) {
    position++;
    if (position <= skip) continue;
    const wire = toWire(raw);
    if (filter && !filter(wire)) continue;
    if (value.length === max) {
      more = true;
      position--;
      break;
    }
    value.push(applySelect(wire, select));
  }
  const out: Item = { 'odata.metadata': `${base}/$metadata#${kind}`, value };
  if (more) {
    const next = new URL(url.toString());
    next.searchParams.set('$skiptoken', `p${position}`);
    out['odata.nextLink'] = `${base}${next.pathname}${next.search}`;
  }
  return { status: 200, json: out };
}
