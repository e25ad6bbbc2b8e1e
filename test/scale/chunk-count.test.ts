/**
 * The plan's chunk count without building every body: the closed-form count and widest body agree
 * with building the chunks, and the chunks built without measuring bodies are the measured ones.
 */
import { describe, expect, it } from 'vitest';
import type { JobRequest, TaskSpec } from '../../shared/model/request-schema.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';
import { tryGetVmSize } from '../../shared/model/vm-sizes.js';
import {
  MAX_CHUNK_BYTES,
  planJob,
  rebuildChunks,
  slotsFor,
  widestTaskBody,
} from '../../shared/planner/plan-job.js';

const defaults = { image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, nodeAgentSkuId: 'n' };

function check(body: unknown): JobRequest {
  const checked = validateJobRequest(body, { checkCallbackUrl: () => undefined });
  if (!checked.ok) throw new Error(`invalid request: ${JSON.stringify(checked.errors)}`);
  return checked.request;
}

const requests: Record<string, unknown> = {
  'small sweep': {
    pool: { vmSize: 'standard_d16s_v3', taskSlotsPerNode: 32 },
    sweep: {
      idTemplate: 'f-{frame}',
      commandLine: 'render {frame}',
      parameters: { frame: { from: 1, to: 2345 } },
    },
  },
  'every templated field, negative padded range, list values of several widths': {
    pool: { vmSize: 'standard_d16s_v3', taskSlotsPerNode: 32 },
    applicationPackages: [{ applicationId: 'tool' }],
    sweep: {
      idTemplate: 't{i}_{name}',
      commandLine: 'run --i {i} --name "{name}" --again {i}',
      environment: { I: '{i}', NAME: '{name}{name}' },
      resourceFiles: [{ httpUrl: 'https://example.com/x', filePath: 'in/{i}/{name}.dat' }],
      resources: { cpus: 2 },
      parameters: {
        i: { from: -120, to: 5, step: 3, pad: 4 },
        name: ['a', 'b-c', 'long-value-long-value'],
      },
    },
  },
  'explicit tasks then a sweep': {
    pool: { vmSize: 'standard_d4s_v3' },
    tasks: Array.from({ length: 150 }, (_, i) => ({ id: `e${i}`, commandLine: `echo ${i}` })),
    sweep: { idTemplate: 's{n}', commandLine: 'x {n}', parameters: { n: { from: 1, to: 333 } } },
  },
  'bodies large enough for the byte limit to cut': {
    pool: { vmSize: 'standard_d4s_v3' },
    sweep: {
      idTemplate: 'big{n}',
      commandLine: `${'y'.repeat(7000)} {n}`,
      environment: { A: 'a'.repeat(4000), B: '{n}' },
      parameters: { n: { from: 1, to: 250 } },
    },
  },
  'one wide explicit task among small sweep tasks': {
    pool: { vmSize: 'standard_d4s_v3' },
    tasks: [{ id: 'wide', commandLine: 'z'.repeat(7000), environment: { A: 'a'.repeat(4000) } }],
    sweep: { idTemplate: 's{n}', commandLine: 'x {n}', parameters: { n: { from: 1, to: 420 } } },
  },
};

describe('chunk count', () => {
  for (const [name, body] of Object.entries(requests)) {
    it(`equals the chunks built: ${name}`, () => {
      const request = check({ id: 'cc', ...(body as object) });
      const outcome = planJob({ tenant: 't', jobId: 'cc', request, defaults });
      if (!outcome.ok) throw new Error('not planned');
      const built = [...outcome.plan.chunks()];
      expect(outcome.plan.chunkCount()).toBe(built.length);
      for (const chunk of built) {
        expect(chunk.length).toBeLessThanOrEqual(100);
        expect(Buffer.byteLength(JSON.stringify(chunk))).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
      }
      // The widest body, computed, is the widest body built.
      const widest = Math.max(...built.flat().map((t) => Buffer.byteLength(JSON.stringify(t))));
      const { summary } = outcome.plan;
      const slotsAt = (_i: number, task: TaskSpec) =>
        slotsFor(task, tryGetVmSize(summary.vmSize), summary.taskSlotsPerNode);
      const packages =
        outcome.plan.summary.applicationPackages.placement === 'task' ? [{ applicationId: 'tool' }] : [];
      expect(widestTaskBody(request, slotsAt, packages)).toBe(widest);
      // Rebuilt from the summary (the submitter's way), the same chunks.
      expect([...rebuildChunks(request, outcome.plan.summary)]).toEqual(built);
    });
  }

  it('cuts by bytes when bodies are wide, and only then', () => {
    const wide = planJob({
      tenant: 't',
      jobId: 'cc',
      request: check({ id: 'cc', ...(requests['bodies large enough for the byte limit to cut'] as object) }),
      defaults,
    });
    const small = planJob({
      tenant: 't',
      jobId: 'cc',
      request: check({ id: 'cc', ...(requests['small sweep'] as object) }),
      defaults,
    });
    if (!wide.ok || !small.ok) throw new Error('not planned');
    expect(wide.plan.chunkCount()).toBeGreaterThan(Math.ceil(250 / 100));
    expect(small.plan.chunkCount()).toBe(Math.ceil(2345 / 100));
  });
});
