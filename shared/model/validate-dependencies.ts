/**
 * Dependencies between a job's tasks, checked at the door: fan-in over the sweep (`dependsOn.sweep`),
 * the sweep template's own `dependsOn.taskIds`, circles, and Batch's limit on the length of a task's
 * `dependsOn.taskIds`. Explicit tasks' `taskIds` naming unknown tasks or themselves are reported by
 * validate-request.ts.
 */

import { type FieldError, fieldError } from './field-error.js';
import type { JobRequest } from './request-schema.js';
import { usesSweepIndexIds } from './task-ids.js';

/**
 * Batch refuses a task whose `dependsOn.taskIds` add up to more than 64,000 characters
 * (BatchTaskDependencies.taskIds in specification/batch/Azure.Batch/models.tsp); ranges or
 * `dependsOn.sweep` name any number of tasks instead.
 */
export const MAX_DEPENDENCY_ID_CHARACTERS = 64_000;

const fmt = (n: number) => n.toLocaleString('en-US');

export function checkDependencies(request: JobRequest, errors: FieldError[]): void {
  const tasks = request.tasks ?? [];
  const sweep = request.sweep;
  const fanIn = usesSweepIndexIds(request);
  const explicit = new Map(tasks.map((t, i) => [t.id.toLowerCase(), i]));

  tasks.forEach((task, i) => {
    const deps = task.dependsOn;
    if (deps?.sweep === true && !sweep)
      errors.push(fieldError(['tasks', i, 'dependsOn', 'sweep'], 'the job has no sweep'));
    if (fanIn && /^\d+$/.test(task.id))
      errors.push(
        fieldError(
          ['tasks', i, 'id'],
          "ids of only digits are refused when a task depends on the sweep (dependsOn.sweep): the sweep's tasks take the ids 0 to N-1 in Batch",
        ),
      );
    if (fanIn && deps?.ranges !== undefined)
      errors.push(
        fieldError(
          ['tasks', i, 'dependsOn', 'ranges'],
          "cannot be used in a job that fans in over its sweep (dependsOn.sweep): the sweep's tasks have index ids in Batch, not the ids the ranges would name",
        ),
      );
    checkIdCharacters(deps?.taskIds, ['tasks', i, 'dependsOn', 'taskIds'], errors);
  });

  const sweepDeps = sweep?.dependsOn?.taskIds ?? [];
  sweepDeps.forEach((dep, d) => {
    if (!explicit.has(dep.toLowerCase()))
      errors.push(
        fieldError(
          ['sweep', 'dependsOn', 'taskIds', d],
          `unknown task '${dep}' (the sweep may depend on the job's explicit tasks)`,
        ),
      );
  });
  checkIdCharacters(sweep?.dependsOn?.taskIds, ['sweep', 'dependsOn', 'taskIds'], errors);
  checkCircles(request, explicit, errors);
}

function checkIdCharacters(
  ids: readonly string[] | undefined,
  path: readonly PropertyKey[],
  errors: FieldError[],
): void {
  const characters = (ids ?? []).reduce((n, id) => n + id.length, 0);
  if (characters > MAX_DEPENDENCY_ID_CHARACTERS)
    errors.push(
      fieldError(
        path,
        `names ${fmt(characters)} characters of task ids; Batch allows at most ${fmt(MAX_DEPENDENCY_ID_CHARACTERS)} in all (use ranges, or dependsOn.sweep for a sweep)`,
      ),
    );
}

const SWEEP = -1;

/**
 * Tasks that wait for each other round a circle never run: Batch would keep them blocked. The graph
 * has the explicit tasks and the sweep as one node (`dependsOn.sweep` points at it, its template's
 * `taskIds` point out of it); self-dependencies are reported elsewhere, so they are left out here.
 * One circle is reported, from its first task in request order.
 */
function checkCircles(
  request: JobRequest,
  explicit: ReadonlyMap<string, number>,
  errors: FieldError[],
): void {
  const tasks = request.tasks ?? [];
  const edges = (node: number): number[] => {
    if (node === SWEEP)
      return (request.sweep?.dependsOn?.taskIds ?? []).flatMap((id) => {
        const to = explicit.get(id.toLowerCase());
        return to === undefined ? [] : [to];
      });
    const deps = tasks[node]?.dependsOn;
    const out = (deps?.taskIds ?? []).flatMap((id) => {
      const to = explicit.get(id.toLowerCase());
      return to === undefined || to === node ? [] : [to];
    });
    if (deps?.sweep === true && request.sweep) out.push(SWEEP);
    return out;
  };
  // Iterative depth-first search: 0 unseen, 1 on the path, 2 done.
  const mark = new Map<number, number>();
  const nodes = [...tasks.keys(), ...(request.sweep ? [SWEEP] : [])];
  for (const start of nodes) {
    if (mark.get(start)) continue;
    const path: number[] = [start];
    const pending: number[][] = [edges(start)];
    mark.set(start, 1);
    while (path.length > 0) {
      const next = pending[pending.length - 1]!.pop();
      if (next === undefined) {
        mark.set(path.pop()!, 2);
        pending.pop();
        continue;
      }
      const state = mark.get(next) ?? 0;
      if (state === 2) continue;
      if (state === 1) {
        const circle = [...path.slice(path.indexOf(next)), next];
        const name = (n: number) => (n === SWEEP ? 'the sweep' : `'${tasks[n]!.id}'`);
        const first = circle[0]!;
        errors.push(
          fieldError(
            first === SWEEP ? ['sweep', 'dependsOn'] : ['tasks', first, 'dependsOn'],
            `the dependencies go round a circle (${circle.map(name).join(' → ')}), so none of these tasks would ever run`,
          ),
        );
        return;
      }
      mark.set(next, 1);
      path.push(next);
      pending.push(edges(next));
    }
  }
}
