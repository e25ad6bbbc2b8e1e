import { describe, expect, it } from 'vitest';
import { type SweepSpec, sweepSchema } from '../../shared/model/request-schema.js';
import {
  expandSweep,
  parameterStats,
  rangeTotalWidth,
  sweepParameterStats,
  sweepTaskBytes,
} from '../../shared/model/sweep.js';
import { tenantPolicy } from '../../shared/model/tenant-policy.js';
import { MAX_REPORTED_ERRORS, validateJobRequest } from '../../shared/model/validate-request.js';

const policy = { checkCallbackUrl: () => undefined };
const pool = { vmSize: 'standard_d4s_v3' };

function errorsOf(body: unknown, p: Parameters<typeof validateJobRequest>[1] = policy) {
  const result = validateJobRequest(body, p);
  return result.ok ? [] : result.errors.map((e) => `${e.field}: ${e.message}`);
}

function sweepOf(body: Record<string, unknown>): SweepSpec {
  const result = validateJobRequest({ pool, sweep: body }, policy);
  if (!result.ok || !result.request.sweep) throw new Error(`invalid sweep: ${JSON.stringify(result)}`);
  return result.request.sweep;
}

describe('sizes after substitution, in closed form', () => {
  it('sums rendered widths of a range exactly as rendering each value does', () => {
    const cases: [number, number, number, number | undefined][] = [
      [1, 1, 1, undefined],
      [0, 1000, 1, undefined],
      [-1234, 987, 7, undefined],
      [-50, -3, 1, 3],
      [8, 12_345, 13, 5],
      [-99_999, 100_001, 333, 2],
      [999_990, 1_000_010, 1, undefined],
    ];
    for (const [from, to, step, pad] of cases) {
      const values = [
        ...expandSweep(
          sweepOf({
            idTemplate: 'x{v}',
            commandLine: 'c',
            parameters: { v: { from, to, step, ...(pad ? { pad } : {}) } },
          }),
        ),
      ].map((t) => t.id.slice(1));
      const count = values.length;
      const stats = parameterStats({ from, to, step, ...(pad ? { pad } : {}) });
      expect(rangeTotalWidth(from, step, count, pad ?? 1)).toBe(values.reduce((n, v) => n + v.length, 0));
      expect(stats.totalJsonBytes).toBe(values.reduce((n, v) => n + v.length, 0));
      expect(stats.maxLength).toBe(Math.max(...values.map((v) => v.length)));
      expect(stats.minLength).toBe(Math.min(...values.map((v) => v.length)));
      expect(stats.count).toBe(count);
    }
  });

  it('gives the largest and the total JSON bytes of the expanded tasks without expanding', () => {
    // Parsed by the schema only: these values are deliberately not id-safe.
    const sweep = sweepSchema.parse({
      idTemplate: 't-{a}-{b}-{c}',
      commandLine: 'run {a} {b} {a} {c}',
      environment: { A: '{a}/{c}', QUOTE: 'say "{c}"' },
      resourceFiles: [{ httpUrl: 'https://example.com/f', filePath: 'in/{b}/{a}.dat' }],
      parameters: {
        a: { from: -12, to: 1003, step: 7, pad: 2 },
        b: ['x', 'yy', 'zzz-long'],
        c: ['plain', 'quo"te', 'é€😀', 'tab\there'],
      },
    });
    const tasks = [...expandSweep(sweep)];
    const sizes = tasks.map((t) => Buffer.byteLength(JSON.stringify(t)));
    const bytes = sweepTaskBytes(sweep, sweepParameterStats(sweep));
    expect(bytes.maxTask).toBe(Math.max(...sizes));
    expect(bytes.total).toBe(sizes.reduce((a, b) => a + b, 0));
  });
});

describe('sweep limits hold for every expanded task', () => {
  const wide = 'w'.repeat(256);

  it('refuses command lines that grow past 8,000 characters, saying how long they get', () => {
    // The shape of the original report: a small template whose values multiply it far past the limit.
    const errors = errorsOf({
      pool,
      sweep: {
        idTemplate: 'r-{i}',
        commandLine: `echo ${'{v}'.repeat(2665)}`,
        parameters: { i: { from: 1, to: 2 }, v: [wide] },
      },
    });
    expect(errors).toEqual([
      'sweep.commandLine: renders command lines of up to 682,245 characters after substitution (the limit is 8,000); widest values: {v} up to 256',
    ]);
  });

  it('accepts a template exactly at the limit and refuses one character more', () => {
    const body = (extra: string) => ({
      pool,
      sweep: {
        idTemplate: 'r-{i}',
        commandLine: `${'x'.repeat(7995)}{i}${extra}`,
        parameters: { i: { from: 1, to: 10_000 } },
      },
    });
    expect(errorsOf(body(''))).toEqual([]);
    expect(errorsOf(body('y'))).toEqual([
      'sweep.commandLine: renders command lines of up to 8,001 characters after substitution (the limit is 8,000); widest values: {i} up to 5',
    ]);
  });

  it('refuses environment values and file paths that grow past their limits, naming the field', () => {
    const errors = errorsOf({
      pool,
      sweep: {
        idTemplate: 'r-{i}',
        commandLine: 'run',
        environment: { OK: '{v}', FOO: '{v}'.repeat(200) },
        resourceFiles: [
          { httpUrl: 'https://example.com/a', filePath: 'a/{i}' },
          { httpUrl: 'https://example.com/b', filePath: `${'{v}/'.repeat(4)}f` },
        ],
        parameters: { i: { from: 1, to: 3 }, v: [wide] },
      },
    });
    expect(errors).toEqual([
      'sweep.environment.FOO: renders values of up to 51,200 characters after substitution (the limit is 32,768); widest values: {v} up to 256',
      'sweep.resourceFiles[1].filePath: renders file paths of up to 1,029 characters after substitution (the limit is 1,024); widest values: {v} up to 256',
    ]);
  });

  it('refuses renderings that become empty or break the id rule for any value, not only the widest', () => {
    expect(
      errorsOf({
        pool,
        sweep: {
          idTemplate: 'r-{i}-{v}',
          commandLine: '{v}',
          resourceFiles: [{ httpUrl: 'https://example.com/a', filePath: '{v}' }],
          parameters: { i: { from: 1, to: 2 }, v: ['', 'x'] },
        },
      }),
    ).toEqual([
      'sweep.commandLine: renders an empty command line for some parameter values',
      'sweep.resourceFiles[0].filePath: renders an empty file path for some parameter values',
    ]);
    expect(
      errorsOf({
        pool,
        sweep: { idTemplate: 'r-{v}', commandLine: 'x', parameters: { v: ['abcdefgh', 'x y'] } },
      }),
    ).toEqual([
      "sweep.idTemplate: renders ids such as 'r-x y' that break Batch's id rule (letters, digits, - and _, 1 to 64 characters)",
    ]);
    expect(
      errorsOf({ pool, sweep: { idTemplate: '{v}', commandLine: 'x', parameters: { v: ['', 'a'] } } }),
    ).toEqual([
      "sweep.idTemplate: renders an empty id for some values; ids break Batch's id rule (letters, digits, - and _, 1 to 64 characters)",
    ]);
  });

  it('refuses a task too large for one Batch request', () => {
    const environment = Object.fromEntries(
      Array.from({ length: 40 }, (_, k) => [`V${k}`, '{v}'.repeat(100)]),
    );
    const errors = errorsOf({
      pool,
      sweep: { idTemplate: 'r-{i}', commandLine: 'x', environment, parameters: { i: [1, 2], v: [wide] } },
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^sweep: an expanded task takes up to 1,02\d,\d{3} bytes of JSON \(the limit is 800,000, so that each task fits in one Batch request\)$/,
    );
  });

  it('caps the whole expanded job at 1 GiB of task JSON', () => {
    const body = (length: number) => ({
      pool,
      sweep: {
        idTemplate: 'r-{i}',
        commandLine: `${'x'.repeat(length)} {i}`,
        parameters: { i: { from: 1, to: 1_000_000 } },
      },
    });
    // ~1,100 bytes per task × 1,000,000 tasks > 1 GiB; ~1,000 × 1,000,000 < 1 GiB.
    expect(errorsOf(body(1000))).toEqual([]);
    const errors = errorsOf(body(1100));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^sweep\.parameters: the expanded job would take 1,1\d\d,\d{3},\d{3} bytes of task JSON \(the limit is 1,073,741,824, 1 GiB\)$/,
    );
  });
});

describe('what a rejected request stores stays small', () => {
  it('returns at most 100 errors plus a count of the rest', () => {
    const tasks = Array.from({ length: 500 }, (_, i) => ({
      id: `t${i}`,
      commandLine: 'x',
      container: { image: 'repo/img:1', runOptions: '--privileged' },
    }));
    const result = validateJobRequest({ pool, tasks }, policy);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(MAX_REPORTED_ERRORS + 1);
    expect(result.errors[0]?.field).toBe('tasks[0].container.runOptions');
    expect(result.errors[MAX_REPORTED_ERRORS]).toEqual({
      field: '',
      pointer: '',
      message: '400 more invalid fields not listed',
    });
  });

  it('clips each error, so a megabyte-long key cannot make a 2 MB document', () => {
    const key = `bad name ${'k'.repeat(900_000)}`;
    const result = validateJobRequest(
      { pool, tasks: [{ id: 't', commandLine: 'x', environment: { [key]: 'v' } }] },
      policy,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(Buffer.byteLength(JSON.stringify(result.errors))).toBeLessThan(10_000);
    expect(result.errors[0]?.field.startsWith('tasks[0].environment')).toBe(true);
  });

  it('refuses a request that grows past 1.25 MiB once parsed (short numbers that render long)', () => {
    // 1e20 is 4 bytes in the body and 21 digits once stored.
    const values = Array.from({ length: 100_000 }, () => '1e20').join(',');
    const text = `{"pool":{"vmSize":"standard_d4s_v3"},"sweep":{"idTemplate":"r{v}","commandLine":"x","parameters":{"v":[${values}]}}}`;
    expect(text.length).toBeLessThan(1024 * 1024);
    const errors = errorsOf(JSON.parse(text));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^: the request takes 2,\d{3},\d{3} bytes once parsed .* the limit is 1,310,720$/,
    );
  });
});

describe('tenant grants for tasks', () => {
  const granted = { ...policy, tenant: tenantPolicy({ allowAdminTasks: true }) };

  it('refuses elevationLevel admin without the operator grant, for tasks and the sweep template', () => {
    const body = {
      pool,
      tasks: [
        { id: 'a', commandLine: 'x', elevationLevel: 'admin' },
        { id: 'b', commandLine: 'x', elevationLevel: 'nonadmin' },
      ],
      sweep: { idTemplate: 's{i}', commandLine: 'x', elevationLevel: 'admin', parameters: { i: [1, 2] } },
    };
    expect(errorsOf(body)).toEqual([
      'tasks[0].elevationLevel: the operator has not allowed admin tasks for this tenant',
      'sweep.elevationLevel: the operator has not allowed admin tasks for this tenant',
    ]);
    expect(errorsOf(body, { ...policy, tenant: tenantPolicy({}) })).toHaveLength(2);
    expect(errorsOf(body, granted)).toEqual([]);
    // The schema knows only Batch's two values.
    expect(errorsOf({ ...body, tasks: [{ id: 'a', commandLine: 'x', elevationLevel: 'root' }] })).toEqual([
      expect.stringMatching(/^tasks\[0\]\.elevationLevel: /),
    ]);
  });

  it('checks run options of tasks and of the sweep template; uid 0 only for granted admin tasks', () => {
    const image = 'repo/img:1';
    expect(
      errorsOf({
        pool,
        tasks: [{ id: 'a', commandLine: 'x', container: { image, runOptions: '--rm -v /:/host' } }],
        sweep: {
          idTemplate: 's{i}',
          commandLine: 'x',
          container: { image, runOptions: '--network=host' },
          parameters: { i: [1, 2] },
        },
      }),
    ).toEqual([
      'tasks[0].container.runOptions: -v (--volume) is not allowed: it mounts storage of the node into the container (use --tmpfs for scratch space)',
      "sweep.container.runOptions: --network 'host' shares the node's network namespace with the container",
    ]);
    const rootTask = (elevationLevel?: string) => ({
      pool,
      tasks: [{ id: 'a', commandLine: 'x', elevationLevel, container: { image, runOptions: '--user 0' } }],
    });
    expect(errorsOf(rootTask(), granted)).toEqual([
      'tasks[0].container.runOptions: --user uid or gid 0 (root) is allowed only for tasks with elevationLevel admin',
    ]);
    expect(errorsOf(rootTask('admin'), granted)).toEqual([]);
    expect(errorsOf(rootTask('admin'))).toEqual([
      'tasks[0].elevationLevel: the operator has not allowed admin tasks for this tenant',
      'tasks[0].container.runOptions: --user uid or gid 0 (root) is allowed only for tasks with elevationLevel admin',
    ]);
  });
});
