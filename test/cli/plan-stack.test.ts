/**
 * `slotwise plan` against the real local stack: the dry run plans exactly as the plan stage does,
 * stores nothing, and the picture the CLI draws has the plan's node count.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getJob,
  type SlotwiseStack,
  startSlotwise,
  TEST_API_KEY,
  waitForJobState,
} from '../support/stack.js';
import { assertCliBuilt, runCli } from './run-cli.js';

let stack: SlotwiseStack;
let dir: string;

beforeAll(async () => {
  assertCliBuilt();
  [stack, dir] = await Promise.all([startSlotwise(), mkdtemp(join(tmpdir(), 'slotwise-plan-stack-'))]);
});

afterAll(async () => {
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('slotwise plan on the local stack', () => {
  it('shows the plan a real submission gets, and stores nothing', async () => {
    const slots = [6, 2, 4, 4, 3, 3, 2, 1, 1, 1, 5, 5];
    const request = {
      id: 'cli-plan',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8, maxNodes: 3 },
      tasks: slots.map((s, i) => ({ id: `t${i}`, commandLine: 'echo', requiredSlots: s })),
    };
    const file = join(dir, 'job.json');
    await writeFile(file, JSON.stringify(request));
    const env = { SLOTWISE_URL: stack.api, SLOTWISE_API_KEY: TEST_API_KEY };

    const json = await runCli(['plan', file, '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    const answer = JSON.parse(json.stdout) as { plan: { nodes: number; lowerBound: number; waves: number } };
    expect(await getJob(stack, 'cli-plan')).toBeUndefined();

    const text = await runCli(['plan', file], { env });
    expect(text.code, text.stderr).toBe(0);
    const rows = text.stdout.split('\n').filter((l) => /^ {2}\d+ × /.test(l));
    expect(rows.reduce((n, l) => n + Number(/^ {2}(\d+) × /.exec(l)![1]), 0)).toBe(answer.plan.nodes);
    const drawn = rows.flatMap((l) => {
      const [, count, tasks] = /^ {2}(\d+) × \S+ {2}(\S+) /.exec(l)!;
      const sizes = tasks!.split('+').flatMap((part) => {
        const [, size, times] = /^(\d+)(?:\(×(\d+)\))?$/.exec(part)!;
        return Array<number>(Number(times ?? 1)).fill(Number(size));
      });
      return Array.from({ length: Number(count) }, () => sizes).flat();
    });
    expect(drawn.sort((a, b) => a - b)).toEqual([...slots].sort((a, b) => a - b));

    const submitted = await runCli(['submit', file, '--json'], { env });
    expect(submitted.code, submitted.stderr).toBe(0);
    const planned = await waitForJobState(stack, 'cli-plan', [
      'planned',
      'submitting',
      'submitted',
      'running',
      'completed',
    ]);
    expect(answer.plan).toMatchObject({
      nodes: planned.plan!.nodes,
      lowerBound: planned.plan!.lowerBound,
      waves: planned.plan!.waves,
    });
  });
});
