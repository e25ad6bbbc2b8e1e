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

/** For each parameter, its longest rendered value: used to check the longest id a template can make. */
export function sweepWidestValues(sweep: SweepSpec): Record<string, string> {
  const widest: Record<string, string> = {};
  for (const [name, p] of Object.entries(sweep.parameters)) {
    const v = valuesOf(p);
    let best = v.at(0);
    // Ranges are monotone in width at their ends; lists need a scan (bounded by the list length).
    const candidates = Array.isArray(p) ? p.map((_, i) => v.at(i)) : [v.at(0), v.at(v.count - 1)];
    for (const c of candidates) if (c.length > best.length) best = c;
    widest[name] = best;
  }
  return widest;
}

export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** Yields the sweep's tasks in a stable order (last parameter varies fastest). */
export function* expandSweep(sweep: SweepSpec): Generator<TaskSpec> {
  const names = Object.keys(sweep.parameters);
  const lists = names.map((n) => valuesOf(sweep.parameters[n]!));
  const total = lists.reduce((n, l) => n * l.count, 1);
  const { idTemplate, parameters: _parameters, ...template } = sweep;
  const values: Record<string, string> = {};
  for (let index = 0; index < total; index++) {
    let rest = index;
    for (let k = names.length - 1; k >= 0; k--) {
      const list = lists[k]!;
      values[names[k]!] = list.at(rest % list.count);
      rest = Math.floor(rest / list.count);
    }
    const task: TaskSpec = {
      ...template,
      id: renderTemplate(idTemplate, values),
      commandLine: renderTemplate(template.commandLine, values),
    };
    if (template.environment) {
      task.environment = Object.fromEntries(
        Object.entries(template.environment).map(([k, v]) => [k, renderTemplate(v, values)]),
      );
    }
    if (template.resourceFiles) {
      task.resourceFiles = template.resourceFiles.map((f) =>
        f.filePath === undefined ? f : { ...f, filePath: renderTemplate(f.filePath, values) },
      );
    }
    yield task;
  }
}
