import { describe, expect, it } from 'vitest';
import { expandSweep, sweepSize } from '../../shared/model/sweep.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';

const policy = {
  checkCallbackUrl: (url: string) => (url.startsWith('https://') ? undefined : 'must be an https URL'),
};
const pool = { vmSize: 'standard_d4s_v3' };

function errorsOf(body: unknown) {
  const result = validateJobRequest(body, policy);
  return result.ok ? [] : result.errors.map((e) => `${e.field}: ${e.message}`);
}

describe('job request validation', () => {
  it('accepts a minimal request and keeps typed values', () => {
    const result = validateJobRequest({ pool, tasks: [{ id: 't1', commandLine: 'echo hi' }] }, policy);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.request.tasks?.[0]?.id).toBe('t1');
  });

  it('reports every invalid field at once, with paths and pointers', () => {
    const result = validateJobRequest(
      {
        id: 'bad id!',
        pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 'four' },
        tasks: [{ id: 't1', commandLine: '', requiredSlots: 0 }, { commandLine: 'x' }],
        colour: 'blue',
      },
      policy,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const fields = result.errors.map((e) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining(['id', 'tasks[0].commandLine', 'tasks[0].requiredSlots', 'tasks[1].id', '']),
    );
    expect(result.errors.find((e) => e.field === 'tasks[0].requiredSlots')?.pointer).toBe(
      '/tasks/0/requiredSlots',
    );
    expect(result.errors.find((e) => e.field === '')?.message).toContain('colour');
  });

  it('rejects ids that collide ignoring case, and unknown or self dependencies', () => {
    const errors = errorsOf({
      pool,
      tasks: [
        { id: 'Alpha', commandLine: 'a' },
        { id: 'alpha', commandLine: 'b' },
        { id: 'c', commandLine: 'c', dependsOn: { taskIds: ['nope', 'c'] } },
      ],
    });
    expect(errors).toContain('tasks[1].id: duplicates the id of tasks[0] (ids are unique ignoring case)');
    expect(errors).toContain("tasks[2].dependsOn.taskIds[0]: unknown task 'nope'");
    expect(errors).toContain('tasks[2].dependsOn.taskIds[1]: a task cannot depend on itself');
  });

  it('checks slots and resources against the VM size', () => {
    expect(
      errorsOf({
        pool: { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 9 },
        tasks: [{ id: 'a', commandLine: 'x' }],
      }),
    ).toEqual([
      'pool.taskSlotsPerNode: 9 exceeds the maximum for standard_d2s_v3: min(4 × 2 vCPUs, 256) = 8',
    ]);
    expect(
      errorsOf({
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 'a', commandLine: 'x', requiredSlots: 3 }],
      }),
    ).toEqual(['tasks[0].requiredSlots: needs 3 slots but a standard_d2s_v3 node has 2']);
    expect(
      errorsOf({
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 'a', commandLine: 'x', resources: { memoryGiB: 9 } }],
      }),
    ).toEqual(['tasks[0].resources.memoryGiB: exceeds the 8 GiB of standard_d2s_v3']);
    expect(errorsOf({ pool: { vmSize: 'standard_nope' }, tasks: [{ id: 'a', commandLine: 'x' }] })).toEqual([
      "pool.vmSize: unknown VM size 'standard_nope'",
    ]);
  });

  it('requires tasks or a sweep, one container mode, and a safe callback', () => {
    expect(errorsOf({ pool })).toEqual(['tasks: a job needs tasks or a sweep']);
    expect(
      errorsOf({
        pool,
        tasks: [
          { id: 'a', commandLine: 'x', container: { image: 'repo/img:1' } },
          { id: 'b', commandLine: 'x' },
        ],
      }),
    ).toEqual(['tasks: either every task runs in a container or none does']);
    expect(
      errorsOf({ pool, tasks: [{ id: 'a', commandLine: 'x' }], callback: { url: 'http://example.com/h' } }),
    ).toEqual(['callback.url: must be an https URL']);
  });

  it('checks sweep templates: every varying parameter in the id, ids within Batch rules', () => {
    expect(
      errorsOf({
        pool,
        sweep: { idTemplate: 'frame', commandLine: 'render {f}', parameters: { f: { from: 1, to: 3 } } },
      }),
    ).toEqual(['sweep.idTemplate: must contain {f} so that task ids are unique']);
    expect(
      errorsOf({
        pool,
        sweep: { idTemplate: 'f-{f}-{g}', commandLine: 'x', parameters: { f: { from: 1, to: 3 } } },
      }),
    ).toEqual(['sweep.idTemplate: unknown parameter {g}']);
    const long = errorsOf({
      pool,
      sweep: {
        idTemplate: `${'x'.repeat(60)}-{f}`,
        commandLine: 'x',
        parameters: { f: { from: 1, to: 100000 } },
      },
    });
    expect(long[0]).toMatch(/^sweep.idTemplate: renders ids such as 'x+-100000'/);
  });
});

describe('sweep expansion', () => {
  it('expands the cartesian product in a stable order with substitution and padding', () => {
    const result = validateJobRequest(
      {
        pool,
        sweep: {
          idTemplate: 'r-{frame}-{q}',
          commandLine: 'render --frame {frame} --quality {q}',
          environment: { FRAME: '{frame}' },
          parameters: { frame: { from: 8, to: 12, step: 2, pad: 3 }, q: ['lo', 'hi'] },
        },
      },
      policy,
    );
    expect(result.ok).toBe(true);
    if (!result.ok || !result.request.sweep) return;
    expect(sweepSize(result.request.sweep)).toBe(6);
    const tasks = [...expandSweep(result.request.sweep)];
    expect(tasks.map((t) => t.id)).toEqual([
      'r-008-lo',
      'r-008-hi',
      'r-010-lo',
      'r-010-hi',
      'r-012-lo',
      'r-012-hi',
    ]);
    expect(tasks[3]?.commandLine).toBe('render --frame 010 --quality hi');
    expect(tasks[3]?.environment).toEqual({ FRAME: '010' });
  });
});
