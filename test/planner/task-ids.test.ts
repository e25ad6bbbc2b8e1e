/**
 * The caller's task ids and Batch's: equal unless the job fans in over its sweep, and computed both
 * ways without expanding the sweep.
 */
import { describe, expect, it } from 'vitest';
import type { JobRequest } from '../../shared/model/request-schema.js';
import { expandSweep } from '../../shared/model/sweep.js';
import {
  sweepIndexOf,
  toBatchTaskId,
  toCallerTaskId,
  usesSweepIndexIds,
} from '../../shared/model/task-ids.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';

function request(body: object): JobRequest {
  const checked = validateJobRequest(
    { pool: { vmSize: 'standard_d4s_v3' }, ...body },
    { checkCallbackUrl: () => undefined },
  );
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.request;
}

const merge = { id: 'merge', commandLine: 'm', dependsOn: { sweep: true } };

describe('task ids', () => {
  it('maps a fan-in sweep to index ids and back, explicit ids to themselves', () => {
    const r = request({
      tasks: [{ id: 'setup', commandLine: 's' }, merge],
      sweep: { idTemplate: 'frame-{n}', commandLine: 'x', parameters: { n: { from: 1, to: 200, pad: 3 } } },
    });
    expect(usesSweepIndexIds(r)).toBe(true);
    expect(toBatchTaskId(r, 'frame-001')).toBe('0');
    expect(toBatchTaskId(r, 'FRAME-200')).toBe('199');
    expect(toCallerTaskId(r, '0')).toBe('frame-001');
    expect(toCallerTaskId(r, '199')).toBe('frame-200');
    expect(toBatchTaskId(r, 'merge')).toBe('merge');
    expect(toBatchTaskId(r, 'Setup')).toBe('setup');
    expect(toCallerTaskId(r, 'merge')).toBe('merge');
    // Not tasks of the job: no padding, out of range, not canonical.
    expect(toBatchTaskId(r, 'frame-1')).toBeUndefined();
    expect(toBatchTaskId(r, 'frame-201')).toBeUndefined();
    expect(toBatchTaskId(r, 'frame-001x')).toBeUndefined();
    expect(toBatchTaskId(r, 'nothing')).toBeUndefined();
    expect(toCallerTaskId(r, '200')).toBe('200');
    expect(toCallerTaskId(r, '007')).toBe('007');
  });

  it('keeps caller ids as Batch ids without fan-in, and still knows which ids are the job’s', () => {
    const r = request({
      tasks: [{ id: 'a', commandLine: 'x' }],
      sweep: { idTemplate: 's{n}', commandLine: 'x', parameters: { n: { from: 0, to: 99, step: 3 } } },
    });
    expect(usesSweepIndexIds(r)).toBe(false);
    expect(toBatchTaskId(r, 'S96')).toBe('s96');
    expect(toBatchTaskId(r, 's97')).toBeUndefined();
    expect(toCallerTaskId(r, '5')).toBe('5');
    expect(toCallerTaskId(r, 's96')).toBe('s96');
  });

  it('agrees with the expansion for every task of awkward templates', () => {
    const sweeps = [
      {
        idTemplate: 'r{a}_{b}',
        parameters: { a: { from: -12, to: 30, step: 7, pad: 3 }, b: ['x', 'x-y', 'xy'] },
      },
      // List values back to back, one a prefix of another: only the split that ends the id matches.
      { idTemplate: '{p}{q}', parameters: { p: ['a', 'ab', 'abc'], q: ['x', 'yx'] } },
      { idTemplate: 'x{n}-{n}', parameters: { n: { from: 8, to: 12 } } },
      { idTemplate: 'c{k}', parameters: { k: [15, 2, 'two', -3], unused: ['only'] } },
    ];
    for (const s of sweeps) {
      const r = request({ tasks: [merge], sweep: { commandLine: 'x', ...s } });
      const ids = [...expandSweep(r.sweep!)].map((t) => t.id);
      expect(new Set(ids.map((id) => id.toLowerCase())).size).toBe(ids.length);
      ids.forEach((id, i) => {
        expect(sweepIndexOf(r.sweep!, id), `${s.idTemplate}: ${id}`).toBe(i);
        expect(toBatchTaskId(r, id)).toBe(String(i));
        expect(toCallerTaskId(r, String(i))).toBe(id);
      });
    }
  });

  it('answers for a million-task sweep at once, without expanding it', () => {
    const r = request({
      tasks: [merge],
      sweep: {
        idTemplate: 'f{x}-{y}',
        commandLine: 'x',
        parameters: { x: { from: 0, to: 999, pad: 4 }, y: { from: 0, to: 998, pad: 4 } },
      },
    });
    const started = process.hrtime.bigint();
    expect(toBatchTaskId(r, 'f0999-0998')).toBe(String(999 * 999 + 998));
    expect(toCallerTaskId(r, String(123 * 999 + 456))).toBe('f0123-0456');
    // Far below the time a million renderings take: each answer reads the parameters, not the tasks.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(200);
  });

  it('ends within its step budget, answering undefined, when an id can be split in very many ways', () => {
    const letters = Array.from({ length: 16 }, (_, i) => 'a'.repeat(i + 1));
    const r = request({
      tasks: [merge],
      sweep: {
        idTemplate: '{p}{q}{s}{t}',
        commandLine: 'x',
        parameters: { p: letters, q: letters, s: letters, t: letters },
      },
    });
    // 60 a's then a b: 16^3 splits of the a's lead nowhere; the search stops at its budget.
    const started = process.hrtime.bigint();
    expect(toBatchTaskId(r, `${'a'.repeat(60)}b`)).toBeUndefined();
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
  });
});
