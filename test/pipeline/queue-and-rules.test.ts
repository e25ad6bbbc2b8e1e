import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import { encodeQueueMessage } from '../../shared/adapters/queues/queue-gateway.js';
import { taskCallbackToken } from '../../shared/model/callback-token.js';
import { reconcileJob } from '../../shared/pipeline/reconcile.js';
import { signedIntakeText } from '../support/intake.js';
import {
  BATCH_ACCOUNT,
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise();
  batch = emulatorClient(stack);
  // Existing pools are usable only when the operator grants them to the tenant.
  await stack.deps.tenants.updatePolicy('dev', { allowedPools: ['shared-pool', 'no-such-pool'] });
  await stack.emulatorControl('applications', {
    method: 'PUT',
    body: JSON.stringify({
      applications: [
        { id: 'ffmpeg', versions: ['6.1'], defaultVersion: '6.1' },
        { id: 'blender', versions: ['4.2'] },
      ],
    }),
  });
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const waitForState = (id: string, states: string[]) => waitForJobState(stack, id, states);
const post = (body: unknown) => stack.request('/jobs', { method: 'POST', body: JSON.stringify(body) });
const sendRaw = async (queue: string, text: string) => {
  const q = stack.queue(queue);
  await q.createIfNotExists();
  await q.sendMessage(text);
};

describe('queue intake', () => {
  it('accepts a signed job from job-requests (base64 JSON) and runs it', async () => {
    await sendRaw(
      queueNames.jobRequests,
      signedIntakeText({
        id: 'q-1',
        pool: { vmSize: 'standard_d2s_v3' },
        tasks: [{ id: 't', commandLine: 'sleep 1' }],
      }),
    );
    expect((await waitForState('q-1', ['completed'])).state).toBe('completed');
  });

  it('stores an invalid job as rejected, with its errors, and does not retry it', async () => {
    await sendRaw(
      queueNames.jobRequests,
      signedIntakeText({ id: 'q-bad', pool: { vmSize: 'nope' }, tasks: [] }),
    );
    const job = await waitForState('q-bad', ['rejected']);
    expect(job.errors?.map((e) => e.field)).toEqual(expect.arrayContaining(['pool.vmSize']));
  });

  it('moves an undecodable message or an unknown tenant to the poison queue, body unchanged', async () => {
    await sendRaw(queueNames.jobRequests, 'this is not base64!');
    const unknownTenant = encodeQueueMessage({ tenant: 'nobody', job: {} });
    await sendRaw(queueNames.jobRequests, unknownTenant);
    const poison = stack.queue(`${queueNames.jobRequests}-poison`);
    const texts = await waitFor(
      async () => {
        if (!(await poison.exists())) return [] as string[];
        return (await poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map(
          (m) => m.messageText,
        );
      },
      (t) => t.length >= 2,
      { what: 'two poison messages' },
    );
    // Both are the original message text, byte for byte.
    expect(texts).toEqual(expect.arrayContaining(['this is not base64!', unknownTenant]));
  });
});

describe('exactly once, whatever is redelivered', () => {
  it('adds each task exactly once when plan and submit messages arrive 50 times', async () => {
    const tasks = Array.from({ length: 250 }, (_, i) => ({ id: `t${i}`, commandLine: 'sleep 1000' }));
    const res = await post({ id: 'dup-1', pool: { vmSize: 'standard_d8s_v3' }, tasks });
    expect(res.status).toBe(202);
    const message = encodeQueueMessage({ tenant: 'dev', jobId: 'dup-1' });
    await Promise.all(
      Array.from({ length: 50 }, () => [
        sendRaw(queueNames.plan, message),
        sendRaw(queueNames.submit, message),
      ]).flat(),
    );
    const job = await waitForState('dup-1', ['submitted', 'running']);
    // Redeliveries after the submission too.
    await Promise.all(Array.from({ length: 50 }, () => sendRaw(queueNames.submit, message)));
    await waitFor(
      async () => (await stack.queue(queueNames.submit).getProperties()).approximateMessagesCount ?? 0,
      (n) => n === 0,
      { what: 'submit queue drained' },
    );
    const counters = (await (await stack.emulatorControl('counters')).json()) as {
      taskAdds: Record<string, number>;
    };
    const adds = Object.entries(counters.taskAdds).filter(([k]) => k.startsWith(`${job.batch!.jobId}/`));
    expect(adds).toHaveLength(250);
    expect(adds.every(([, n]) => n === 1)).toBe(true);
    await stack.request('/jobs/dup-1', { method: 'DELETE' });
  });
});

describe('domain rules in the Batch bodies', () => {
  it('sets taskSlotsPerNode and pack, and sizes the pool by packing (not by task count)', async () => {
    const tasks = [8, 8, 4, 4, 4, 4, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1].map((s, i) => ({
      id: `s${i}`,
      commandLine: 'sleep 1',
      requiredSlots: s,
    }));
    await post({ id: 'slots-1', pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 16 }, tasks });
    const job = await waitForState('slots-1', ['completed']);
    expect(job.plan).toMatchObject({ nodes: 3, lowerBound: 3, taskSlotsPerNode: 16 });
    const pool = await batch.pools.get(job.batch!.poolId);
    expect(pool).toMatchObject({
      taskSlotsPerNode: 16,
      taskSchedulingPolicy: { nodeFillType: 'pack' },
      targetDedicatedNodes: 3,
    });
  });

  it('derives slots from cpus and memory against the VM size', async () => {
    await post({
      id: 'res-1',
      pool: { vmSize: 'standard_e4s_v5', taskSlotsPerNode: 8 },
      tasks: [{ id: 'mem', commandLine: 'sleep 1', resources: { cpus: 1, memoryGiB: 16 } }],
    });
    const job = await waitForState('res-1', ['completed']);
    const tasks: Record<string, unknown>[] = [];
    for await (const t of batch.tasks.list(job.batch!.jobId)) tasks.push(t);
    // 1 of 4 vCPUs → 2 slots; 16 of 32 GiB → 4 slots: the larger wins.
    expect(tasks[0]?.requiredSlots).toBe(4);
  });

  it('prefetches every container image on a container pool', async () => {
    await post({
      id: 'ctr-1',
      pool: { vmSize: 'standard_d4s_v3' },
      tasks: [
        { id: 'a', commandLine: 'sleep 1', container: { image: 'myacr.azurecr.io/render:2' } },
        {
          id: 'b',
          commandLine: 'sleep 1',
          container: { image: 'myacr.azurecr.io/encode:1', runOptions: '--rm' },
        },
        { id: 'c', commandLine: 'sleep 1', container: { image: 'myacr.azurecr.io/render:2' } },
      ],
    });
    const job = await waitForState('ctr-1', ['completed']);
    const pool = await batch.pools.get(job.batch!.poolId);
    expect(
      (pool.virtualMachineConfiguration as { containerConfiguration: unknown }).containerConfiguration,
    ).toEqual({
      type: 'dockerCompatible',
      containerImageNames: ['myacr.azurecr.io/encode:1', 'myacr.azurecr.io/render:2'],
    });
    expect(job.plan?.containerImages).toEqual(['myacr.azurecr.io/encode:1', 'myacr.azurecr.io/render:2']);
    const b = await batch.tasks.get(job.batch!.jobId, 'b');
    expect(b.containerSettings).toEqual({
      imageName: 'myacr.azurecr.io/encode:1',
      containerRunOptions: '--rm',
    });
  });

  it('puts job packages on a new pool, and on the tasks of an existing pool', async () => {
    await post({
      id: 'pkg-pool',
      pool: { vmSize: 'standard_d2s_v3' },
      applicationPackages: [{ applicationId: 'ffmpeg' }],
      tasks: [
        { id: 'a', commandLine: 'sleep 1', requiredSlots: 2 },
        { id: 'b', commandLine: 'sleep 1', requiredSlots: 2 },
      ],
    });
    const onPool = await waitForState('pkg-pool', ['completed']);
    expect(onPool.plan?.applicationPackages.placement).toBe('pool');
    // Pool level: the application's full ARM id, built from the settings (local defaults here).
    expect((await batch.pools.get(onPool.batch!.poolId)).applicationPackageReferences).toEqual([
      {
        applicationId: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/slotwise-local/providers/Microsoft.Batch/batchAccounts/${BATCH_ACCOUNT}/applications/ffmpeg`,
      },
    ]);
    expect((await batch.tasks.get(onPool.batch!.jobId, 'a')).applicationPackageReferences).toBeUndefined();

    await batch.pools.add({
      id: 'shared-pool',
      vmSize: 'standard_d4s_v3',
      virtualMachineConfiguration: {
        imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
      },
      taskSlotsPerNode: 4,
      targetDedicatedNodes: 3,
    });
    await post({
      id: 'pkg-task',
      pool: { id: 'shared-pool' },
      applicationPackages: [{ applicationId: 'blender', version: '4.2' }],
      tasks: [{ id: 'a', commandLine: 'sleep 1', requiredSlots: 3 }],
    });
    const onTasks = await waitForState('pkg-task', ['completed']);
    expect(onTasks.plan).toMatchObject({ taskSlotsPerNode: 4, applicationPackages: { placement: 'task' } });
    expect((await batch.tasks.get(onTasks.batch!.jobId, 'a')).applicationPackageReferences).toEqual([
      { applicationId: 'blender', version: '4.2' },
    ]);
    expect((await batch.pools.get('shared-pool')).applicationPackageReferences).toBeUndefined();
  });

  it('rejects a job whose task cannot fit the existing pool, naming the task', async () => {
    await post({
      id: 'fit-1',
      pool: { id: 'shared-pool' },
      tasks: [{ id: 'big', commandLine: 'x', requiredSlots: 9 }],
    });
    const job = await waitForState('fit-1', ['rejected']);
    expect(job.errors?.[0]?.message).toContain("task 'big' needs 9 slots");
    await post({ id: 'fit-2', pool: { id: 'no-such-pool' }, tasks: [{ id: 'a', commandLine: 'x' }] });
    expect((await waitForState('fit-2', ['rejected'])).errors?.[0]).toMatchObject({ field: 'pool.id' });
  });

  it('expands a sweep at plan time', async () => {
    await post({
      id: 'sweep-1',
      pool: { vmSize: 'standard_d8s_v3' },
      sweep: {
        idTemplate: 'f-{frame}',
        commandLine: 'render {frame}',
        requiredSlots: 2,
        parameters: { frame: { from: 1, to: 450 } },
      },
    });
    const job = await waitForState('sweep-1', ['completed']);
    expect(job.plan).toMatchObject({ tasks: 450, chunks: 5, nodes: 113, lowerBound: 113 });
    expect((await batch.tasks.get(job.batch!.jobId, 'f-450')).commandLine).toBe('render 450');
  });
});

describe('reconciliation and lifecycle', () => {
  it('fails a job whose Batch job was deleted outside Slotwise', async () => {
    await post({
      id: 'oob-1',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'sleep 100000' }],
    });
    const running = await waitForState('oob-1', ['running']);
    await stack.emulatorControl(`jobs/${running.batch!.jobId}`, { method: 'DELETE' });
    const failed = await waitForState('oob-1', ['failed']);
    expect(failed.failure).toMatchObject({ code: 'BatchJobDeleted' });
  });

  it('never loses an update when two reconcilers race', async () => {
    await post({
      id: 'race-1',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'sleep 3' }],
    });
    await waitForState('race-1', ['submitted', 'running', 'completed']);
    // Two more reconcilers besides the timer, all at once, until the job ends.
    for (;;) {
      const doc = await stack.deps.jobs.get('dev', 'race-1');
      if (!doc || doc.state === 'completed') break;
      await Promise.all([
        reconcileJob(doc, { ...stack.deps, jobStateEvery: 1 }),
        reconcileJob(doc, { ...stack.deps, jobStateEvery: 1 }),
      ]);
    }
    const job = await waitForState('race-1', ['completed']);
    expect(job.history.map((h) => h.state)).toEqual([
      'accepted',
      'planned',
      'submitting',
      'submitted',
      'running',
      'completed',
    ]);
    expect(job.taskCounts).toEqual({ active: 0, running: 0, succeeded: 1, failed: 0 });
  });

  it('retries the failed tasks of a failed job as a new attempt', async () => {
    await post({
      id: 'retry-1',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [
        { id: 'ok', commandLine: 'echo' },
        { id: 'bad', commandLine: 'exit 2' },
      ],
    });
    const failed = await waitForState('retry-1', ['failed']);
    const res = await stack.request('/jobs/retry-1/retry', { method: 'POST' });
    expect(res.status).toBe(202);
    // Answered at once; the retry stage resubmits in the background (see retry-background.test.ts).
    expect(((await res.json()) as { retry: { status: string } }).retry.status).toBe('queued');
    const resubmitted = await waitFor(
      () => stack.deps.jobs.get('dev', 'retry-1'),
      (j) => j?.retry?.status === 'done',
      { what: 'the retry done' },
    );
    const newBatchJobId = resubmitted!.batch!.jobId;
    expect(newBatchJobId).not.toBe(failed.batch!.jobId);
    const again = await waitForState('retry-1', ['failed']);
    expect(again.history.filter((h) => h.state === 'submitting')).toHaveLength(2);
    const tasks: string[] = [];
    for await (const t of batch.tasks.list(newBatchJobId)) tasks.push(String(t.id));
    expect(tasks).toEqual(['bad']);
    expect((await stack.request('/jobs/q-1/retry', { method: 'POST' })).status).toBe(409);
  });

  it('lets a task report back with its job token, which triggers a reconcile', async () => {
    await post({
      id: 'cb-1',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 't', commandLine: 'sleep 2' }],
    });
    const job = await waitForState('cb-1', ['submitted', 'running', 'completed']);
    const env = ((await batch.jobs.get(job.batch!.jobId)).commonEnvironmentSettings ?? []) as {
      name: string;
      value: string;
    }[];
    expect(env.map((e) => e.name)).toContain('SLOTWISE_JOB_ID');
    const { callbackKey } = (await stack.deps.tenants.get('dev'))!;
    const token = taskCallbackToken({
      tenant: 'dev',
      jobId: 'cb-1',
      callbackKey: callbackKey!,
      expiresAt: Date.now() / 1000 + 3600,
    });
    const ok = await stack.request('/jobs/cb-1/callbacks', {
      method: 'POST',
      key: token,
      body: JSON.stringify({ taskId: 't', status: 'completed', exitCode: 0 }),
    });
    expect(ok.status).toBe(202);
    const wrongJob = await stack.request('/jobs/other/callbacks', { method: 'POST', key: token, body: '{}' });
    expect(wrongJob.status).toBe(401);
    const apiKey = await stack.request('/jobs/cb-1/callbacks', { method: 'POST', body: '{}' });
    expect(apiKey.status).toBe(401);
    expect((await waitForState('cb-1', ['completed'])).state).toBe('completed');
  });
});
