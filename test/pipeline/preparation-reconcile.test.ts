/**
 * Job preparation against the Batch emulator: reconcile reads the preparation's status per node into
 * the job; a preparation that fails on every node of the pool fails the job with the node, exit code
 * and message; one that succeeds lets the job complete, with its count shown. Both views are what the
 * OpenAPI document says.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../shared/interfaces/http/openapi.js';
import { type SlotwiseStack, startSlotwise, waitForJobState } from '../support/stack.js';

const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(openApiDocument(), 'openapi');
const jobSchema = ajv.compile({ $ref: 'openapi#/components/schemas/Job' });

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise();
});

afterAll(async () => {
  await stack?.close();
});

const submit = async (body: object) => {
  const res = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(202);
};

describe('job preparation status', () => {
  it('fails the job when the preparation failed on every node of the pool, naming node and exit code', async () => {
    await submit({
      id: 'prep-fails',
      pool: { vmSize: 'standard_d2s_v3', maxNodes: 1 },
      jobPreparation: { commandLine: '/bin/sh -c "exit 3"' },
      tasks: [
        { id: 'a', commandLine: 'sleep 1' },
        { id: 'b', commandLine: 'sleep 1' },
      ],
    });
    const job = await waitForJobState(stack, 'prep-fails', ['failed', 'completed'], 60_000);
    expect(job.state).toBe('failed');
    expect(job.failure?.code).toBe('JobPreparationFailed');
    expect(job.failure?.message).toMatch(
      /^Job preparation failed on every node of the pool \(1\), so no task can run; first: node \S+ exited with code 3/,
    );
    expect(job.batch?.jobPreparation).toEqual({ waitForSuccess: true });
    expect(job.preparation).toMatchObject({ failed: 1, succeeded: 0, running: 0 });
    expect(job.preparation?.nodes[0]).toMatchObject({ state: 'completed', result: 'failure', exitCode: 3 });
    expect(job.waiting).toBeUndefined();
    expect(jobSchema(job), JSON.stringify(jobSchema.errors)).toBe(true);
    // The tasks never ran.
    expect(job.taskCounts.succeeded + job.taskCounts.failed).toBe(0);
  });

  it('shows the preparation’s nodes once it succeeded, and the job completes', async () => {
    await submit({
      id: 'prep-works',
      pool: { vmSize: 'standard_d2s_v3', maxNodes: 2 },
      jobPreparation: { commandLine: '/bin/sh -c "sleep 2"' },
      jobRelease: { commandLine: '/bin/sh -c "sleep 1"' },
      tasks: Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 5' })),
    });
    const job = await waitForJobState(stack, 'prep-works', ['completed', 'failed'], 60_000);
    expect(job.state).toBe('completed');
    expect(job.preparation?.failed).toBe(0);
    expect(job.preparation?.succeeded).toBeGreaterThanOrEqual(1);
    expect(job.preparation?.nodes.every((n) => n.result === 'success' && n.exitCode === 0)).toBe(true);
    expect(jobSchema(job), JSON.stringify(jobSchema.errors)).toBe(true);
  });

  it('reads no preparation status for a job without one', async () => {
    await submit({
      id: 'no-prep',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 'a', commandLine: 'sleep 1' }],
    });
    const job = await waitForJobState(stack, 'no-prep', ['completed', 'failed'], 60_000);
    expect(job.state).toBe('completed');
    expect(job.preparation).toBeUndefined();
    expect(job.batch).not.toHaveProperty('jobPreparation');
  });
});
