/**
 * The README's first jobs, run as a new user would: the HTTP example's body is posted as written,
 * and the queue example's script runs with Node against the stack's Azurite (only the connection
 * string is swapped; the tenant, its intake secret and the signing code are the README's own).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/model/job-view.js';
import {
  type SlotwiseStack,
  startSlotwise,
  TEST_API_KEY,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

const run = promisify(execFile);
const repo = (path: string) => new URL(`../../${path}`, import.meta.url);
let readme: string;
let sampleIntakeSecret: string;
let stack: SlotwiseStack;

beforeAll(async () => {
  readme = await readFile(repo('README.md'), 'utf8');
  const sample = JSON.parse(await readFile(repo('local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  };
  sampleIntakeSecret = sample.Values.SLOTWISE_DEV_INTAKE_SECRET!;
  // Tenant `dev` with the local stack's own intake secret, as `npm start` seeds it.
  stack = await startSlotwise({ env: { SLOTWISE_DEV_INTAKE_SECRET: sampleIntakeSecret } });
});

afterAll(async () => {
  await stack?.close();
});

function codeBlock(language: string, containing: string): string {
  const blocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)].filter(
    (m) => m[1] === language && m[2]!.includes(containing),
  );
  expect(blocks.length, `one ${language} block with ${containing}`).toBe(1);
  return blocks[0]![2]!;
}

describe('the README', () => {
  it('runs its first job over HTTP as written', async () => {
    const curl = codeBlock('sh', 'curl -s -X POST');
    const body = /-d '([\s\S]*?)'\n/.exec(curl)?.[1];
    expect(body).toBeDefined();
    const job = JSON.parse(body!) as { id: string; tasks: unknown[] };
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify(job),
      key: TEST_API_KEY,
    });
    expect(res.status, await res.clone().text()).toBe(202);
    expect(res.headers.get('location')).toBe(`/api/jobs/${job.id}`);
    const done = await waitForJobState(stack, job.id, ['completed', 'failed'], 60_000);
    expect(done.state).toBe('completed');
    expect(done.taskCounts.succeeded).toBe(job.tasks.length);
  });

  it('runs its TES task as written, with HTTP Basic as the tenant', async () => {
    const curl = codeBlock('sh', '/api/ga4gh/tes/v1/tasks');
    expect(curl).toContain('-u dev:dev-key');
    const body = /-d '([\s\S]*?)'\n/.exec(curl)?.[1];
    const res = await stack.request('/ga4gh/tes/v1/tasks', {
      method: 'POST',
      body: body!,
      key: null,
      headers: { authorization: `Basic ${Buffer.from(`dev:${TEST_API_KEY}`).toString('base64')}` },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const { id } = (await res.json()) as { id: string };
    const done = await waitFor(
      async () =>
        (await (await stack.request(`/ga4gh/tes/v1/tasks/${id}?view=FULL`)).json()) as { state: string },
      (t) => ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR'].includes(t.state),
      { timeoutMs: 60_000, what: 'the README TES task' },
    );
    expect(done.state).toBe('COMPLETE');
  });

  it('runs its first job over the queue as written, signed with the local intake secret', async () => {
    const script = codeBlock('js', "'job-requests'");
    expect(script).toContain(sampleIntakeSecret);
    await mkdir(repo('test-artifacts'), { recursive: true });
    const file = repo('test-artifacts/readme-queue.mjs');
    await writeFile(
      file,
      script.replace("'UseDevelopmentStorage=true'", JSON.stringify(stack.env.AzureWebJobsStorage)),
    );
    await run(process.execPath, [file.pathname], { timeout: 30_000 });
    const listed = await waitFor(
      async () => ((await (await stack.request('/jobs')).json()) as { value: JobView[] }).value,
      (jobs) => jobs.some((j) => j.id.startsWith('q-')),
      { what: 'the queued job' },
    );
    const id = listed.find((j) => j.id.startsWith('q-'))!.id;
    expect(id).toMatch(/^q-[0-9a-f]{32}$/);
    expect((await waitForJobState(stack, id, ['completed', 'failed', 'rejected'], 60_000)).state).toBe(
      'completed',
    );
    // Nothing was refused on the way.
    const poison = stack.queue('job-requests-poison');
    expect((await poison.exists()) ? (await poison.peekMessages()).peekedMessageItems : []).toEqual([]);
  });
});
