/**
 * The caller's task ids and the Batch task ids a plan sends. They are the same except where a job
 * fans in over its sweep (`dependsOn.sweep`): Batch can only express "all of a million tasks" as
 * `taskIdRanges` over numeric ids, so such a sweep's tasks get their expansion index as Batch id
 * ("0".."N-1"), and explicit ids of only digits are refused at the door so the two never meet.
 *
 * Neither direction expands the sweep. Index → caller id renders the id template with the index's
 * values (O(parameters)). Caller id → index parses the id against the template: literal parts must
 * match, a range parameter's part must be one of its values as rendered (digits, padding, sign), a
 * list parameter's part one of its values (looked up by the lengths the list's values have). Ids are
 * unique across the sweep (the planner refuses duplicates), so the first full match is the task.
 * Matching is case-insensitive, as Batch task ids are. A template whose parts could split an id in
 * very many ways (several list parameters back to back with no literal between them) is searched
 * within a step budget; past it the answer is undefined ("cannot tell"), never a wrong task.
 */
import type { JobRequest, SweepSpec } from './request-schema.js';
import { parameterValues, sweepSize, sweepTaskIdAt } from './sweep.js';

/** True when the job's sweep tasks carry their index as Batch id (an explicit task fans in over the sweep). */
export function usesSweepIndexIds(request: Pick<JobRequest, 'tasks' | 'sweep'>): boolean {
  return request.sweep !== undefined && (request.tasks ?? []).some((t) => t.dependsOn?.sweep === true);
}

const CANONICAL_INDEX = /^(?:0|[1-9]\d{0,15})$/;

/** The caller's id of the task Batch knows as `batchTaskId` (itself when no mapping applies). */
export function toCallerTaskId(request: JobRequest, batchTaskId: string): string {
  const sweep = request.sweep;
  if (!sweep || !usesSweepIndexIds(request) || !CANONICAL_INDEX.test(batchTaskId)) return batchTaskId;
  const index = Number(batchTaskId);
  return index < sweepSize(sweep) ? sweepTaskIdAt(sweep, index) : batchTaskId;
}

/** The Batch id of the caller's task `callerTaskId`, or undefined if the job has no such task. */
export function toBatchTaskId(request: JobRequest, callerTaskId: string): string | undefined {
  const explicit = explicitIds(request).get(callerTaskId.toLowerCase());
  if (explicit !== undefined) return explicit;
  const sweep = request.sweep;
  if (!sweep) return undefined;
  const index = sweepIndexOf(sweep, callerTaskId);
  if (index === undefined) return undefined;
  return usesSweepIndexIds(request) ? String(index) : sweepTaskIdAt(sweep, index);
}

const explicitCache = new WeakMap<JobRequest, Map<string, string>>();

function explicitIds(request: JobRequest): Map<string, string> {
  let ids = explicitCache.get(request);
  if (!ids) {
    ids = new Map((request.tasks ?? []).map((t) => [t.id.toLowerCase(), t.id]));
    explicitCache.set(request, ids);
  }
  return ids;
}

/** Steps the parser may take for one id before it answers "cannot tell". */
const MAX_PARSE_STEPS = 20_000;

type Part =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'parameter'; readonly name: string };

interface Parameter {
  readonly count: number;
  /** Positions this parameter's value can take at `pos` in `id`: value index and length, each. */
  readonly candidates: (id: string, pos: number) => Iterable<{ index: number; length: number }>;
  readonly at: (index: number) => string;
}

interface Compiled {
  readonly parts: readonly Part[];
  readonly names: readonly string[];
  readonly parameters: ReadonlyMap<string, Parameter>;
}

const compiledCache = new WeakMap<SweepSpec, Compiled>();

/**
 * The index (in expansion order) of the sweep task whose caller id is `id`, or undefined when the
 * sweep has no such task (or the parse ran out of its step budget).
 */
export function sweepIndexOf(sweep: SweepSpec, id: string): number | undefined {
  const compiled = compile(sweep);
  const chosen = new Map<string, number>();
  const lower = id.toLowerCase();
  let steps = 0;
  const match = (part: number, pos: number): boolean => {
    if (++steps > MAX_PARSE_STEPS) return false;
    if (part === compiled.parts.length) return pos === lower.length;
    const p = compiled.parts[part]!;
    if (p.kind === 'literal') {
      return lower.startsWith(p.text, pos) && match(part + 1, pos + p.text.length);
    }
    const parameter = compiled.parameters.get(p.name)!;
    const known = chosen.get(p.name);
    if (known !== undefined) {
      // The same parameter twice in the template: the second part must repeat the first's value.
      const value = parameter.at(known).toLowerCase();
      return lower.startsWith(value, pos) && match(part + 1, pos + value.length);
    }
    for (const { index, length } of parameter.candidates(lower, pos)) {
      chosen.set(p.name, index);
      if (match(part + 1, pos + length)) return true;
      chosen.delete(p.name);
      if (steps > MAX_PARSE_STEPS) return false;
    }
    return false;
  };
  if (!match(0, 0)) return undefined;
  // Mixed radix, the last parameter fastest; one not in the template has one value (index 0).
  let index = 0;
  for (const name of compiled.names) {
    index = index * compiled.parameters.get(name)!.count + (chosen.get(name) ?? 0);
  }
  return index;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function compile(sweep: SweepSpec): Compiled {
  const cached = compiledCache.get(sweep);
  if (cached) return cached;
  const names = Object.keys(sweep.parameters);
  const parameters = new Map<string, Parameter>();
  for (const name of names) parameters.set(name, compileParameter(sweep.parameters[name]!));
  const parts: Part[] = [];
  let last = 0;
  for (const m of sweep.idTemplate.matchAll(PLACEHOLDER)) {
    const name = m[1]!;
    if (!parameters.has(name)) continue; // left as text by renderTemplate too
    if (m.index > last)
      parts.push({ kind: 'literal', text: sweep.idTemplate.slice(last, m.index).toLowerCase() });
    parts.push({ kind: 'parameter', name });
    last = m.index + m[0].length;
  }
  if (last < sweep.idTemplate.length)
    parts.push({ kind: 'literal', text: sweep.idTemplate.slice(last).toLowerCase() });
  const compiled = { parts, names, parameters };
  compiledCache.set(sweep, compiled);
  return compiled;
}

function compileParameter(p: SweepSpec['parameters'][string]): Parameter {
  const values = parameterValues(p);
  if (Array.isArray(p)) {
    // Lists are in the request (≤ 1 MiB): one map from each value (lower case) to its first index.
    const byValue = new Map<string, number>();
    const lengths = new Set<number>();
    for (let i = 0; i < values.count; i++) {
      const v = values.at(i).toLowerCase();
      if (!byValue.has(v)) byValue.set(v, i);
      lengths.add(v.length);
    }
    const sorted = [...lengths].sort((a, b) => a - b);
    return {
      count: values.count,
      at: values.at,
      *candidates(id, pos) {
        for (const length of sorted) {
          if (pos + length > id.length) break;
          const index = byValue.get(id.slice(pos, pos + length));
          if (index !== undefined) yield { index, length };
        }
      },
    };
  }
  const { from, step } = p;
  return {
    count: values.count,
    at: values.at,
    *candidates(id, pos) {
      // A rendered range value: an optional minus and digits (padded to `pad` when set).
      const m = /^-?\d+/.exec(id.slice(pos, pos + 32));
      if (!m) return;
      for (let length = m[0].length; length >= 1; length--) {
        const text = m[0].slice(0, length);
        const value = Number(text);
        if (!Number.isSafeInteger(value)) continue;
        const offset = value - from;
        if (offset < 0 || offset % step !== 0) continue;
        const index = offset / step;
        if (index >= values.count) continue;
        // Only the value's own rendering (its padding, no stray leading zeros) is an id of the sweep.
        if (values.at(index) === text) yield { index, length };
      }
    },
  };
}
