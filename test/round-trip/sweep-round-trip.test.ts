/**
 * A real workload's data round trip on the local stack (dev host, Batch emulator, Azurite, the Cosmos
 * server), as a team running a render or genomics sweep would: one shared input in the caller's own
 * Blob container, read through a SAS; a 200-task sweep packed onto a few nodes of a managed pool, the
 * input copied once per node by the job preparation task; every task's result and logs uploaded to
 * the tenant's results store; a few tasks failing on purpose, tolerated by their exit conditions; a
 * merge task that waits for the whole sweep, reads its results back from the store and writes one
 * merged file. Then the pool is deleted (idle past its time to live, by the pool controller) and the
 * results and logs are still read through the API, never by another tenant, and no SAS ever shows in
 * an answer, a webhook event or a log line of the host.
 */
import { BlobSASPermissions, BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Delivery, startWebhookInbox, type WebhookInbox } from '../../dev/webhook-inbox/inbox.js';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { mapWithConcurrency } from '../../shared/core/concurrency.js';
import { containsSas } from '../../shared/core/redact-sas.js';
import type { JobView } from '../../shared/model/job-view.js';
import { resultsContainerName } from '../../shared/model/results-paths.js';
import type { TaskItem } from '../../shared/usecases/task-view.js';
import {
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  TEST_WEBHOOK_SECRET,
  waitFor,
  waitForJobState,
} from '../support/stack.js';
import { expectDocumented } from '../tasks/documented.js';

const JOB = 'round-trip';
const LOGS_JOB = 'round-trip-logs';
const STRICT_JOB = 'round-trip-strict';
const OTHER_KEY = 'other-tenant-key-0123456789';
const FRAMES = 200;
/** Frames whose task fails on purpose: the preparation marks them, each task looks for its mark. */
const BAD = ['007', '100', '199'];
const frame = (i: number) => String(i).padStart(3, '0');
/** 64 lines of 64 bytes: the shared input every task reads. */
const INPUT = Array.from({ length: 64 }, (_, i) => `scene line ${frame(i)} ${'x'.repeat(49)}\n`).join('');
const PREP_DIR = '$AZ_BATCH_JOB_PREP_WORKING_DIR';

let stack: SlotwiseStack;
let batch: BatchClient;
let inbox: WebhookInbox;
let inputUrl: string;
/** Every answer the API gave in this file (status, headers, body), to look for a SAS in. */
const answers: { what: string; text: string }[] = [];
/** Filled before the pool goes: the tasks as the API listed them while Batch had them. */
let tasks: TaskItem[] = [];
let logsTasks: TaskItem[] = [];
let finished: JobView;
let strictEnd: JobView;
let transfers: Transfers;

interface Transfers {
  nodes: Record<string, { downloadedBytes: number; prepRuns: number; releaseRuns: number }>;
  runs: Record<string, { downloadedBytes: number; downloadedFiles: number; uploadedFiles: number }>;
}
interface OutputItem {
  task: string;
  path: string;
  size: number;
  lastModified: string;
  links: { download: string };
}

async function call(
  path: string,
  init: RequestInit & { key?: string | null } = {},
): Promise<{ res: Response; text: string; bytes: Buffer; json?: unknown }> {
  const res = await stack.request(path, init);
  const template = documentedTemplate(path);
  const { text, json, bytes } =
    template && (init.method ?? 'GET') === 'GET'
      ? await expectDocumented(template, res)
      : await (async () => {
          const b = new Uint8Array(await res.arrayBuffer());
          return { text: Buffer.from(b).toString('utf8'), json: undefined, bytes: b };
        })();
  answers.push({
    what: `${init.method ?? 'GET'} ${path} → ${res.status}`,
    text: `${JSON.stringify([...res.headers])}\n${text}`,
  });
  return { res, text, bytes: Buffer.from(bytes), ...(json !== undefined ? { json } : {}) };
}

/** The OpenAPI path a request path answers for, so every answer is checked against the document. */
function documentedTemplate(path: string): string | undefined {
  const p = path.split('?')[0]!;
  if (p === '/jobs') return '/jobs';
  if (/^\/jobs\/[^/]+$/.test(p)) return '/jobs/{id}';
  if (/^\/jobs\/[^/]+\/tasks\/[^/]+$/.test(p)) return '/jobs/{id}/tasks/{taskId}';
  if (/^\/jobs\/[^/]+\/tasks$/.test(p)) return '/jobs/{id}/tasks';
  if (/^\/jobs\/[^/]+\/tasks\/[^/]+\/files\/.+$/.test(p)) return '/jobs/{id}/tasks/{taskId}/files/{path}';
  if (/^\/jobs\/[^/]+\/outputs$/.test(p)) return '/jobs/{id}/outputs';
  if (/^\/jobs\/[^/]+\/outputs\/.+$/.test(p)) return '/jobs/{id}/outputs/{path}';
  return undefined;
}

async function listAll<T>(first: string, key?: string): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined = first;
  while (next) {
    const page = await call(next.replace(/^\/api/, ''), key ? { key } : {});
    expect(page.res.status, page.text).toBe(200);
    const body = page.json as { value: T[]; nextLink?: string };
    items.push(...body.value);
    next = body.nextLink;
  }
  return items;
}

const transfersNow = async (): Promise<Transfers> =>
  (await (await stack.emulatorControl('transfers')).json()) as Transfers;

beforeAll(async () => {
  // Idle managed pools shrink and are deleted after a second, so the finished jobs' pools (and the
  // nodes' disks) go, as they do in Azure after SLOTWISE_POOL_IDLE_TTL_SECONDS.
  stack = await startSlotwise({
    env: { SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '1', SLOTWISE_POOL_IDLE_TTL_SECONDS: '1' },
  });
  batch = emulatorClient(stack);
  inbox = await startWebhookInbox({ secret: TEST_WEBHOOK_SECRET });
  await stack.deps.tenants.upsert('other', { apiKey: OTHER_KEY, now: new Date() });

  // The caller's own storage: a container holding the shared input, readable through a SAS.
  const blobs = BlobServiceClient.fromConnectionString(stack.services.storageConnectionString);
  const inputs = blobs.getContainerClient('caller-inputs');
  await inputs.createIfNotExists();
  const input = inputs.getBlockBlobClient('scenes/input.txt');
  await input.upload(INPUT, INPUT.length);
  inputUrl = await input.generateSasUrl({
    permissions: BlobSASPermissions.parse('r'),
    expiresOn: new Date(Date.now() + 3_600_000),
  });
  expect(new URL(inputUrl).searchParams.get('sig')).toBeTruthy();

  const created = await call('/jobs', {
    method: 'POST',
    body: JSON.stringify({
      id: JOB,
      // 16 one-slot tasks a node, at most 4 nodes: 201 tasks in waves on a few nodes.
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 16, maxNodes: 4 },
      callback: { url: `${inbox.url}/hooks/${JOB}` },
      jobPreparation: {
        commandLine: `/bin/sh -c 'mkdir -p bad && touch ${BAD.map((b) => `bad/${b}`).join(' ')}'`,
        resourceFiles: [{ httpUrl: inputUrl, filePath: 'input.txt' }],
      },
      jobRelease: { commandLine: `/bin/sh -c 'rm -rf bad input.txt'` },
      sweep: {
        idTemplate: 'frame-{i}',
        // Reads the prepared input, appends its own line; a frame marked bad then fails (exit 1).
        commandLine: `/bin/sh -c 'cat ${PREP_DIR}/input.txt > out.txt || exit 3; echo {i} >> out.txt; sleep 30; ls ${PREP_DIR}/bad/{i} > mark.txt 2>&1 || exit 0; echo frame {i} failed on purpose >&2; exit 1'`,
        parameters: { i: { from: 0, to: FRAMES - 1, pad: 3 } },
        maxRetries: 0,
        outputFiles: [{ filePattern: 'out.txt' }],
        // A bad frame neither ends the job nor blocks the merge.
        exitConditions: {
          exitCodes: [{ code: 1, exitOptions: { jobAction: 'none', dependencyAction: 'satisfy' } }],
        },
      },
      tasks: [
        {
          id: 'merge',
          commandLine: `/bin/sh -c 'cat in/${JOB}/frame-*/out.txt > merged.txt'`,
          dependsOn: { sweep: true },
          resourceFiles: [{ fromResults: { prefix: 'frame-' }, filePath: 'in' }],
          outputFiles: [{ filePattern: 'merged.txt' }],
        },
      ],
    }),
  });
  expect(created.res.status, created.text).toBe(202);

  // Logs kept only for failures, on another pool.
  const logs = await call('/jobs', {
    method: 'POST',
    body: JSON.stringify({
      id: LOGS_JOB,
      pool: { vmSize: 'standard_d2s_v3', maxNodes: 1 },
      keepLogs: 'taskFailure',
      tasks: [
        ...['ok-1', 'ok-2'].map((id) => ({
          id,
          commandLine: `/bin/sh -c 'echo ${id} done; echo ${id} > out.txt'`,
          outputFiles: [{ filePattern: 'out.txt' }],
        })),
        {
          id: 'bad-1',
          commandLine: `/bin/sh -c 'echo half > out.txt; echo trying; echo bad-1 broke >&2; exit 1'`,
          maxRetries: 0,
          outputFiles: [{ filePattern: 'out.txt' }],
          exitConditions: { exitCodes: [{ code: 1, exitOptions: { jobAction: 'none' } }] },
        },
      ],
    }),
  });
  expect(logs.res.status, logs.text).toBe(202);

  // A fan-in whose failure is not tolerated (the merge still runs: the failure satisfies it).
  const strict = await call('/jobs', {
    method: 'POST',
    body: JSON.stringify({
      id: STRICT_JOB,
      pool: { vmSize: 'standard_d2s_v3', maxNodes: 1 },
      keepLogs: 'none',
      sweep: {
        idTemplate: 'part-{n}',
        commandLine: `/bin/sh -c 'echo part {n}; exit {n}'`,
        parameters: { n: [0, 1, 2] },
        exitConditions: {
          exitCodeRanges: [{ start: 1, end: 2, exitOptions: { dependencyAction: 'satisfy' } }],
        },
      },
      tasks: [{ id: 'merge', commandLine: 'true', dependsOn: { sweep: true } }],
    }),
  });
  expect(strict.res.status, strict.text).toBe(202);

  finished = await waitForJobState(stack, JOB, ['completed', 'failed', 'cancelled'], 150_000);
  await waitForJobState(stack, LOGS_JOB, ['completed', 'failed', 'cancelled'], 60_000);
  strictEnd = await waitForJobState(stack, STRICT_JOB, ['completed', 'failed', 'cancelled'], 60_000);
  tasks = await listAll<TaskItem>(`/jobs/${JOB}/tasks?limit=1000`);
  logsTasks = await listAll<TaskItem>(`/jobs/${LOGS_JOB}/tasks?limit=1000`);
  transfers = await transfersNow();
  // The pools are idle past their time to live: the pool controller deletes them, and the nodes' disks.
  for (const id of [JOB, LOGS_JOB]) {
    const poolId = (await stack.deps.jobs.get('dev', id))!.batch!.poolId;
    await waitFor(
      () => batch.pools.exists(poolId),
      (exists) => !exists,
      { what: `the pool of ${id} deleted`, timeoutMs: 60_000 },
    );
  }
}, 300_000);

afterAll(async () => {
  await batch?.close();
  await inbox?.close();
  await stack?.close();
});

const expectedOut = (i: number) => `${INPUT}${frame(i)}\n`;
const failed = (t: TaskItem) => t.result === 'failure';

describe('a 200-task sweep with one shared input, results out, a merge in', () => {
  it('ends completed, the bad frames tolerated, every frame and the merge run', () => {
    expect(finished.state).toBe('completed');
    expect(finished.taskCounts).toMatchObject({ active: 0, running: 0, succeeded: FRAMES - BAD.length + 1 });
    expect(finished.taskCounts.failed).toBe(BAD.length);
    // Batch knows the frames by index (the merge fans in over them); the job names them as the caller did.
    expect(finished.toleratedFailures).toEqual({
      count: BAD.length,
      tasks: BAD.map((b) => ({ taskId: `frame-${b}`, exitCode: 1 })),
    });
    expect(tasks).toHaveLength(FRAMES + 1);
    expect(
      tasks
        .filter(failed)
        .map((t) => t.id)
        .sort(),
    ).toEqual(BAD.map((b) => `frame-${b}`));
    for (const t of tasks.filter(failed)) expect([t.exitCode, t.retryCount]).toEqual([1, 0]);
    // The plan counted the copies: one per node the packing needs (capped at 4), not one per task.
    expect(finished.plan?.sharedData).toEqual({ resourceFiles: 1, preparationCopies: 4, perTaskCopies: 201 });
  });

  it('ran the preparation once per node that ran tasks, and copied the input once per node', () => {
    const nodes = new Set(tasks.map((t) => t.nodeId));
    expect(nodes.has(undefined)).toBe(false);
    // Packed onto a few nodes: more than one (so "once per node" is not "once"), far fewer than tasks.
    expect(nodes.size).toBeGreaterThanOrEqual(2);
    expect(nodes.size).toBeLessThanOrEqual(8);
    const batchJobId = finished.batch!.jobId;
    const prepRuns = Object.entries(transfers.runs).filter(([key]) =>
      key.startsWith(`${batchJobId}/jobpreparation@`),
    );
    expect(prepRuns.map(([key]) => key.split('@')[1]).sort()).toEqual([...nodes].sort());
    for (const [, run] of prepRuns)
      expect(run).toMatchObject({ downloadedFiles: 1, downloadedBytes: INPUT.length });
    for (const node of nodes) expect(transfers.nodes[node!]?.prepRuns).toBe(1);
    const prepBytes = prepRuns.reduce((sum, [, run]) => sum + run.downloadedBytes, 0);
    expect(prepBytes).toBe(nodes.size * INPUT.length);
    // The sweep's tasks downloaded nothing themselves (Batch knows them by index: 0…199).
    for (let i = 0; i < FRAMES; i++)
      expect(transfers.runs[`${batchJobId}/${i}`]?.downloadedBytes ?? 0).toBe(0);
    // Batch's per-node status, as the job shows it: every node's preparation succeeded.
    expect(finished.preparation).toMatchObject({ succeeded: nodes.size, failed: 0, running: 0 });
    // The release ran where the job's last task (the merge) ran, and never twice on a node.
    const mergeNode = tasks.find((t) => t.id === 'merge')!.nodeId!;
    expect(transfers.nodes[mergeNode]?.releaseRuns).toBe(1);
    for (const node of nodes) expect(transfers.nodes[node!]?.releaseRuns).toBeLessThanOrEqual(1);
  });

  it('names a fan-in sweep’s failed tasks by the caller’s ids when the job fails', () => {
    expect(strictEnd.state).toBe('failed');
    expect(strictEnd.failure?.code).toBe('TaskFailed');
    expect(strictEnd.failure?.failedTasks?.map((t) => [t.taskId, t.exitCode]).sort()).toEqual([
      ['part-1', 1],
      ['part-2', 2],
    ]);
  });

  it('ran the merge after every frame ended', () => {
    const merge = tasks.find((t) => t.id === 'merge')!;
    expect(merge.result).toBe('success');
    const lastFrameEnd = Math.max(
      ...tasks.filter((t) => t.id !== 'merge').map((t) => Date.parse(t.endTime!)),
    );
    expect(Date.parse(merge.startTime!)).toBeGreaterThanOrEqual(lastFrameEnd);
  });
});

describe('after the pool is deleted', () => {
  it('lists every result and log of the job through the API', async () => {
    const items = await listAll<OutputItem>(`/jobs/${JOB}/outputs?limit=1000`);
    const byPath = new Map(items.map((i) => [i.path, i]));
    for (let i = 0; i < FRAMES; i++) {
      const id = `frame-${frame(i)}`;
      expect(byPath.get(`${id}/out.txt`), id).toMatchObject({
        task: id,
        size: expectedOut(i).length,
        links: { download: `/api/jobs/${JOB}/outputs/${id}/out.txt` },
      });
      // keepLogs defaults to taskCompletion: every frame's logs are kept.
      expect(byPath.has(`${id}/$TaskLog/stdout.txt`), id).toBe(true);
      expect(byPath.has(`${id}/$TaskLog/stderr.txt`), id).toBe(true);
    }
    expect(byPath.get('merge/merged.txt')?.size).toBe(
      Array.from({ length: FRAMES }, (_, i) => expectedOut(i).length).reduce((a, b) => a + b, 0),
    );
    expect(items).toHaveLength(FRAMES * 3 + 3);
  });

  it('serves each frame with the input it read and its own line, and the merged file with all of them', async () => {
    await mapWithConcurrency(
      Array.from({ length: FRAMES }, (_, i) => i),
      8,
      async (i) => {
        const got = await call(`/jobs/${JOB}/outputs/frame-${frame(i)}/out.txt`);
        expect(got.res.status).toBe(200);
        expect(got.text).toBe(expectedOut(i));
      },
    );
    const merged = await call(`/jobs/${JOB}/outputs/merge/merged.txt`);
    expect(merged.res.status).toBe(200);
    expect(merged.text).toBe(Array.from({ length: FRAMES }, (_, i) => expectedOut(i)).join(''));
  });

  it('holds the same bytes in Blob storage, at <job>/<task>/<file> of the tenant’s container', async () => {
    const store = BlobServiceClient.fromConnectionString(stack.services.storageConnectionString);
    const container: ContainerClient = store.getContainerClient(resultsContainerName('dev'));
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: `${JOB}/` })) names.push(blob.name);
    expect(names.filter((n) => n.endsWith('/out.txt'))).toHaveLength(FRAMES);
    for (const i of [0, 7, 99, 199]) {
      const bytes = await container.getBlobClient(`${JOB}/frame-${frame(i)}/out.txt`).downloadToBuffer();
      expect(bytes.toString()).toBe(expectedOut(i));
    }
    const stderr = await container
      .getBlobClient(`${JOB}/frame-${BAD[0]}/$TaskLog/stderr.txt`)
      .downloadToBuffer();
    expect(stderr.toString()).toBe(`frame ${BAD[0]} failed on purpose\n`);
  });

  it('keeps the failed frames’ stderr.txt and serves every task’s logs from the results store', async () => {
    for (const b of BAD) {
      const err = await call(`/jobs/${JOB}/tasks/frame-${b}/files/stderr.txt`);
      expect([err.res.status, err.text]).toEqual([200, `frame ${b} failed on purpose\n`]);
      expect(err.res.headers.get('x-slotwise-source')).toBe('results');
    }
    const ok = await call(`/jobs/${JOB}/tasks/frame-000/files/stderr.txt`);
    expect([ok.res.status, ok.text, ok.res.headers.get('x-slotwise-source')]).toEqual([200, '', 'results']);
    // Files other than the logs went with the nodes.
    expect((await call(`/jobs/${JOB}/tasks/frame-000/files/wd/out.txt`)).res.status).toBe(404);
  });

  it('keeps only failed tasks’ logs under keepLogs: taskFailure', async () => {
    expect(logsTasks.map((t) => [t.id, t.result]).sort()).toEqual([
      ['bad-1', 'failure'],
      ['ok-1', 'success'],
      ['ok-2', 'success'],
    ]);
    const items = await listAll<OutputItem>(`/jobs/${LOGS_JOB}/outputs`);
    expect(items.map((i) => i.path)).toEqual([
      'bad-1/$TaskLog/stderr.txt',
      'bad-1/$TaskLog/stdout.txt',
      'bad-1/out.txt',
      'ok-1/out.txt',
      'ok-2/out.txt',
    ]);
    const err = await call(`/jobs/${LOGS_JOB}/tasks/bad-1/files/stderr.txt`);
    expect([err.res.status, err.text]).toEqual([200, 'bad-1 broke\n']);
    expect((await call(`/jobs/${LOGS_JOB}/tasks/ok-1/files/stdout.txt`)).res.status).toBe(404);
  });

  it('shows another tenant nothing: 404 for the list, the downloads and the logs', async () => {
    for (const path of [
      `/jobs/${JOB}/outputs`,
      `/jobs/${JOB}/outputs/frame-000/out.txt`,
      `/jobs/${JOB}/outputs/merge/merged.txt`,
      `/jobs/${JOB}/tasks/frame-${BAD[0]}/files/stderr.txt`,
      `/jobs/${JOB}/tasks`,
      `/jobs/${JOB}`,
    ]) {
      const answer = await call(path, { key: OTHER_KEY });
      expect(answer.res.status, path).toBe(404);
      expect(answer.text, path).not.toContain('frame');
    }
  });
});

describe('SAS tokens', () => {
  /** The signatures of every SAS Batch was given for this job: the caller's and the results store's. */
  async function signatures(): Promise<string[]> {
    const sigs = new Set<string>([new URL(inputUrl).searchParams.get('sig')!]);
    const urls: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string' && /^https?:\/\//.test(value)) urls.push(value);
      else if (value && typeof value === 'object') for (const v of Object.values(value)) collect(v);
    };
    const batchJobId = finished.batch!.jobId;
    collect(await batch.jobs.get(batchJobId));
    for (const id of ['0', '7', 'merge']) collect(await batch.tasks.get(batchJobId, id));
    for (const url of urls) {
      const sig = new URL(url).searchParams.get('sig');
      if (sig) sigs.add(sig);
    }
    return [...sigs];
  }

  /** Text that holds a signature: as such, URL-encoded, or any unredacted `sig=` / `sig%3D`. */
  function leaks(text: string, sigs: readonly string[]): boolean {
    return (
      containsSas(text) ||
      /sig%3D(?!REDACTED)/i.test(text) ||
      sigs.some((s) => text.includes(s) || text.includes(encodeURIComponent(s)))
    );
  }

  it('appear in no answer, no webhook event and no log line of the host, though Batch got them', async () => {
    const sigs = await signatures();
    // The caller's input SAS, and at least one the submitter minted (write for outputs, read for the merge).
    expect(sigs.length).toBeGreaterThanOrEqual(3);
    await call(`/jobs/${JOB}`);
    await call(`/jobs?limit=50`);
    await call(`/jobs/${JOB}/tasks/merge`);

    expect(answers.length).toBeGreaterThan(FRAMES);
    for (const answer of answers) expect(leaks(answer.text, sigs), answer.what).toBe(false);

    const events: Delivery[] = await waitFor(
      () => inbox.deliveries(JOB),
      (d) => d.some((e) => (e.body as { type?: string }).type === 'slotwise.job.completed'),
      { what: 'the job.completed event in the inbox', timeoutMs: 30_000 },
    );
    for (const e of events) {
      expect(e.verified).toBe(true);
      expect(leaks(JSON.stringify(e.body), sigs), JSON.stringify(e.body).slice(0, 200)).toBe(false);
    }

    expect(stack.logger.lines.length).toBeGreaterThan(0);
    for (const line of stack.logger.lines) expect(leaks(line, sigs), line.slice(0, 200)).toBe(false);
  });
});
