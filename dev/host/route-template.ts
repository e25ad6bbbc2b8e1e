/**
 * ASP.NET Core route templates as the Functions host uses them: `{name}`, `{name?}`, `{name=default}`,
 * `{*rest}`, and constraints (`int`, `long`, `bool`, `guid`, `alpha`, `decimal`, `double`, `float`,
 * `datetime`, `minlength(n)`, `maxlength(n)`, `length(n)`, `length(a,b)`, `min(n)`, `max(n)`,
 * `range(a,b)`, `regex(expr)`). Matching is case-insensitive; a constraint mismatch is no match.
 */
export interface CompiledRoute {
  readonly template: string;
  match(path: string): Record<string, string> | undefined;
}

type Segment =
  | { kind: 'literal'; text: string }
  | {
      kind: 'param';
      name: string;
      optional: boolean;
      fallback?: string;
      catchAll: boolean;
      checks: ((v: string) => boolean)[];
    };

export class RouteTemplateError extends Error {}

function constraint(spec: string, template: string): (v: string) => boolean {
  const m = /^([a-z]+)(?:\((.*)\))?$/i.exec(spec);
  if (!m) throw new RouteTemplateError(`route '${template}': bad constraint '${spec}'`);
  const name = m[1]!.toLowerCase();
  const args = m[2] === undefined ? [] : name === 'regex' ? [m[2]] : m[2].split(',').map((a) => a.trim());
  const num = (i: number) => Number(args[i]);
  switch (name) {
    case 'int':
      return (v) => /^-?\d+$/.test(v) && Math.abs(Number(v)) <= 2 ** 31;
    case 'long':
      return (v) => /^-?\d+$/.test(v);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'guid':
      return (v) => /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i.test(v);
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'decimal':
    case 'double':
    case 'float':
      return (v) => v.trim() !== '' && Number.isFinite(Number(v));
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'minlength':
      return (v) => v.length >= num(0);
    case 'maxlength':
      return (v) => v.length <= num(0);
    case 'length':
      return args.length === 1 ? (v) => v.length === num(0) : (v) => v.length >= num(0) && v.length <= num(1);
    case 'min':
      return (v) => /^-?\d+$/.test(v) && Number(v) >= num(0);
    case 'max':
      return (v) => /^-?\d+$/.test(v) && Number(v) <= num(0);
    case 'range':
      return (v) => /^-?\d+$/.test(v) && Number(v) >= num(0) && Number(v) <= num(1);
    case 'regex': {
      const re = new RegExp(args[0] ?? '', 'i');
      return (v) => re.test(v);
    }
    default:
      throw new RouteTemplateError(`route '${template}': unknown constraint '${name}'`);
  }
}

export function compileRoute(template: string): CompiledRoute {
  const segments: Segment[] = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((s) => s.length > 0)
    .map((raw) => {
      const p = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)((?::[^:=?}]+(?:\([^)]*\))?)*)(\?)?(?:=([^}]*))?\}$/.exec(
        raw,
      );
      if (!p) {
        if (raw.includes('{') || raw.includes('}'))
          throw new RouteTemplateError(`route '${template}': bad segment '${raw}'`);
        return { kind: 'literal', text: raw.toLowerCase() };
      }
      const checks = (p[3] ?? '')
        .split(':')
        .filter(Boolean)
        .map((c) => constraint(c, template));
      return {
        kind: 'param',
        name: p[2]!,
        catchAll: p[1] === '*',
        optional: p[4] === '?' || p[1] === '*',
        ...(p[5] !== undefined ? { fallback: p[5] } : {}),
        checks,
      };
    });
  return {
    template,
    match(path) {
      const parts = path.split('/').filter((s) => s.length > 0);
      const params: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const seg = segments[i]!;
        const part = parts[i];
        if (seg.kind === 'literal') {
          if (part === undefined || decode(part).toLowerCase() !== seg.text) return undefined;
          continue;
        }
        if (seg.catchAll) {
          const rest = parts.slice(i).map(decode).join('/');
          if (rest) params[seg.name] = rest;
          else if (seg.fallback !== undefined) params[seg.name] = seg.fallback;
          return seg.checks.every((c) => rest === '' || c(rest)) ? params : undefined;
        }
        if (part === undefined) {
          if (seg.fallback !== undefined) params[seg.name] = seg.fallback;
          else if (!seg.optional) return undefined;
          continue;
        }
        const value = decode(part);
        if (!seg.checks.every((c) => c(value))) return undefined;
        params[seg.name] = value;
      }
      return parts.length <= segments.length ? params : undefined;
    },
  };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
