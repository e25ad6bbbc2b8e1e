/**
 * Parametric sweeps: one task template × parameter values. Expansion is lazy (a generator) so a
 * million-task sweep never exists as one array of request objects.
 */
import type { SweepSpec, TaskSpec } from './request-schema.js';

type ParameterValues = SweepSpec['parameters'][string];

function valuesOf(p: ParameterValues): { count: number; at: (i: number) => string } {
  if (Array.isArray(p)) return { count: p.length, at: (i) => String(p[i]) };
  const count = Math.floor((p.to - p.from) / p.step) + 1;
  return {
    count,
    at: (i) => {
      const v = p.from + i * p.step;
      if (p.pad === undefined) return String(v);
      const digits = String(Math.abs(v)).padStart(p.pad, '0');
      return v < 0 ? `-${digits}` : digits;
    },
  };
}

export function sweepSize(sweep: SweepSpec): number {
  return Object.values(sweep.parameters).reduce((n, p) => n * valuesOf(p).count, 1);
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `{name}` by its value in one pass (a substituted value is never substituted again). */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) =>
    Object.hasOwn(values, name) ? values[name]! : whole,
  );
}

/**
 * One expanded task: the template with `values` substituted in the id, command line, plain
 * environment values, resource file paths and output file patterns and paths (never in URLs, never
 * in secret references).
 */
function renderSweepTask(sweep: SweepSpec, values: Readonly<Record<string, string>>): TaskSpec {
  const { idTemplate, parameters: _parameters, ...template } = sweep;
  const task: TaskSpec = {
    ...template,
    id: renderTemplate(idTemplate, values),
    commandLine: renderTemplate(template.commandLine, values),
  };
  if (template.environment) {
    task.environment = Object.fromEntries(
      // A secret reference is a name, never a template.
      Object.entries(template.environment).map(([k, v]) => [
        k,
        typeof v === 'string' ? renderTemplate(v, values) : v,
      ]),
    );
  }
  if (template.resourceFiles) {
    task.resourceFiles = template.resourceFiles.map((f) =>
      f.filePath === undefined ? f : { ...f, filePath: renderTemplate(f.filePath, values) },
    );
  }
  if (template.outputFiles) {
    task.outputFiles = template.outputFiles.map((o) => {
      const rendered = { ...o, filePattern: renderTemplate(o.filePattern, values) };
      const d = o.destination;
      if (d && 'containerUrl' in d && d.path !== undefined)
        rendered.destination = { ...d, path: renderTemplate(d.path, values) };
      else if (d && 'results' in d && d.results.path !== undefined)
        rendered.destination = { results: { path: renderTemplate(d.results.path, values) } };
      return rendered;
    });
  }
  return task;
}

/** The templates of a sweep whose parameters are substituted (what `renderSweepTask` renders). */
export function sweepTemplates(sweep: SweepSpec): string[] {
  return [
    sweep.idTemplate,
    sweep.commandLine,
    ...Object.values(sweep.environment ?? {}).filter((v) => typeof v === 'string'),
    ...(sweep.resourceFiles ?? []).flatMap((f) => (f.filePath === undefined ? [] : [f.filePath])),
    ...(sweep.outputFiles ?? []).flatMap((o) => [o.filePattern, ...outputPathTemplates(o)]),
  ];
}

/** The destination path template of a sweep output, if it has one. */
export function outputPathTemplates(o: NonNullable<SweepSpec['outputFiles']>[number]): string[] {
  const d = o.destination;
  if (d && 'containerUrl' in d) return d.path === undefined ? [] : [d.path];
  if (d && 'results' in d) return d.results.path === undefined ? [] : [d.results.path];
  return [];
}

/**
 * The parameter values of the sweep's task number `index` (0-based, in `expandSweep`'s order), in
 * O(parameters): the index read as a mixed-radix number, the last parameter varying fastest.
 */
export function sweepValuesAt(sweep: SweepSpec, index: number): Record<string, string> {
  const names = Object.keys(sweep.parameters);
  const values: Record<string, string> = Object.create(null);
  let rest = index;
  for (let k = names.length - 1; k >= 0; k--) {
    const list = valuesOf(sweep.parameters[names[k]!]!);
    values[names[k]!] = list.at(rest % list.count);
    rest = Math.floor(rest / list.count);
  }
  return values;
}

/** The caller's id of the sweep's task number `index`. */
export function sweepTaskIdAt(sweep: SweepSpec, index: number): string {
  return renderTemplate(sweep.idTemplate, sweepValuesAt(sweep, index));
}

/** How many values a parameter has, and the value at an index: what `task-ids.ts` parses ids with. */
export function parameterValues(p: ParameterValues): { count: number; at: (i: number) => string } {
  return valuesOf(p);
}

/** Yields the sweep's tasks in a stable order (last parameter varies fastest). */
export function* expandSweep(sweep: SweepSpec): Generator<TaskSpec> {
  const names = Object.keys(sweep.parameters);
  const lists = names.map((n) => valuesOf(sweep.parameters[n]!));
  const total = lists.reduce((n, l) => n * l.count, 1);
  // No prototype: a parameter named like an Object member must not read through to it.
  const values: Record<string, string> = Object.create(null);
  for (let index = 0; index < total; index++) {
    let rest = index;
    for (let k = names.length - 1; k >= 0; k--) {
      const list = lists[k]!;
      values[names[k]!] = list.at(rest % list.count);
      rest = Math.floor(rest / list.count);
    }
    yield renderSweepTask(sweep, values);
  }
}

/*
 * Sizes after substitution, without expanding the product. Parameters vary independently, so the
 * product contains the task where every parameter takes its widest value: a templated field's longest
 * rendering is its literal text plus, per parameter, (occurrences of `{name}`) × (widest value). Sums
 * over all tasks are closed forms too: each value of parameter p appears in total / count_p tasks.
 */

export interface ParameterStats {
  readonly count: number;
  /** A value of the greatest length. */
  readonly widest: string;
  readonly maxLength: number;
  readonly minLength: number;
  /** The most UTF-8 bytes one value takes inside a JSON string (escapes included). */
  readonly maxJsonBytes: number;
  /** The same, summed over all values. */
  readonly totalJsonBytes: number;
  /** A value that is not letters, digits, `-` and `_` (so not usable in a task id), if any. */
  readonly notIdSafe: string | undefined;
}

const jsonBytes = (s: string) => Buffer.byteLength(JSON.stringify(s)) - 2;

export function parameterStats(p: ParameterValues): ParameterStats {
  if (Array.isArray(p)) {
    // Lists are in the request (≤ 1 MiB), so a scan is bounded by the body size.
    let widest = String(p[0]);
    let minLength = widest.length;
    let maxJsonBytes = 0;
    let totalJsonBytes = 0;
    let notIdSafe: string | undefined;
    for (const raw of p) {
      const v = String(raw);
      if (v.length > widest.length) widest = v;
      if (v.length < minLength) minLength = v.length;
      const bytes = jsonBytes(v);
      if (bytes > maxJsonBytes) maxJsonBytes = bytes;
      totalJsonBytes += bytes;
      if (notIdSafe === undefined && !/^[A-Za-z0-9_-]*$/.test(v)) notIdSafe = v;
    }
    return {
      count: p.length,
      widest,
      maxLength: widest.length,
      minLength,
      maxJsonBytes,
      totalJsonBytes,
      notIdSafe,
    };
  }
  const v = valuesOf(p);
  const count = v.count;
  // Width is monotone in |value| on each side of zero: the widest is at an end, the narrowest next to 0.
  const ends = [v.at(0), v.at(count - 1)];
  const widest = ends[0]!.length >= ends[1]!.length ? ends[0]! : ends[1]!;
  const firstNonNegative = p.from >= 0 ? 0 : Math.ceil(-p.from / p.step);
  const nearZero = [firstNonNegative, Math.min(firstNonNegative, count) - 1]
    .filter((i) => i >= 0 && i < count)
    .map((i) => v.at(i).length);
  const totalJsonBytes = rangeTotalWidth(p.from, p.step, count, p.pad ?? 1);
  return {
    count,
    widest,
    maxLength: widest.length,
    minLength: Math.min(...nearZero),
    maxJsonBytes: widest.length,
    totalJsonBytes,
    notIdSafe: undefined,
  };
}

/**
 * Σ of rendered widths over from, from + step, … (count values), in closed form: a value's width is
 * pad + #{k ≥ pad : |value| ≥ 10^k}, plus 1 for a minus sign.
 */
export function rangeTotalWidth(from: number, step: number, count: number, pad: number): number {
  const last = from + (count - 1) * step;
  const atLeast = (t: number) => count - clamp(Math.ceil((t - from) / step), 0, count);
  const atMost = (t: number) => clamp(Math.floor((t - from) / step) + 1, 0, count);
  let total = count * pad + atMost(-1);
  const largest = Math.max(Math.abs(from), Math.abs(last));
  for (let power = 10 ** pad; power <= largest; power *= 10) {
    total += atLeast(power) + atMost(-power);
  }
  return total;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** `{name}` occurrences per parameter in a template, and the length of everything else in it. */
export function templateShape(
  template: string,
  parameters: ReadonlySet<string>,
): { literalLength: number; literalJsonBytes: number; occurrences: Map<string, number> } {
  const occurrences = new Map<string, number>();
  let literal = '';
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1]!;
    if (!parameters.has(name)) continue;
    occurrences.set(name, (occurrences.get(name) ?? 0) + 1);
    literal += template.slice(last, m.index);
    last = m.index + m[0].length;
  }
  literal += template.slice(last);
  return { literalLength: literal.length, literalJsonBytes: jsonBytes(literal), occurrences };
}

/** The shortest and longest rendering of a template over every task of the sweep. */
export function renderedLengths(
  template: string,
  stats: ReadonlyMap<string, ParameterStats>,
): { min: number; max: number } {
  const shape = templateShape(template, new Set(stats.keys()));
  let min = shape.literalLength;
  let max = shape.literalLength;
  for (const [name, n] of shape.occurrences) {
    const s = stats.get(name)!;
    min += n * s.minLength;
    max += n * s.maxLength;
  }
  return { min, max };
}

/**
 * JSON bytes of the expanded tasks: the largest single task and the sum over all of them. Exact up
 * to surrogate pairs split across a value's edge, which can only make these figures larger.
 */
export function sweepTaskBytes(
  sweep: SweepSpec,
  stats: ReadonlyMap<string, ParameterStats>,
): { maxTask: number; total: number } {
  const empty: Record<string, string> = Object.create(null);
  for (const name of stats.keys()) empty[name] = '';
  const base = Buffer.byteLength(JSON.stringify(renderSweepTask(sweep, empty)));
  const names = new Set(stats.keys());
  const templates = sweepTemplates(sweep);
  const uses = new Map<string, number>();
  for (const t of templates) {
    for (const [name, n] of templateShape(t, names).occurrences) uses.set(name, (uses.get(name) ?? 0) + n);
  }
  const tasks = [...stats.values()].reduce((n, s) => n * s.count, 1);
  let maxTask = base;
  let total = tasks * base;
  for (const [name, n] of uses) {
    const s = stats.get(name)!;
    maxTask += n * s.maxJsonBytes;
    total += n * (tasks / s.count) * s.totalJsonBytes;
  }
  return { maxTask, total };
}

export function sweepParameterStats(sweep: SweepSpec): Map<string, ParameterStats> {
  return new Map(Object.entries(sweep.parameters).map(([name, p]) => [name, parameterStats(p)]));
}
