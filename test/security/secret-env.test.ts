/**
 * Task environment secrets end to end, on the real stack with Key Vault (the stand-in, over HTTPS
 * with the fixture certificate and challenge auth, read by the app's real SecretClient): a tenant
 * granted `db-password` and `api-token` runs a job whose tasks, job preparation and job release take
 * them as `{ "secretRef": … }`. Batch (the emulator's data plane) gets the values; a dump of every
 * Cosmos container, every API answer (create, get, list, tasks, dry run, retry), every webhook event
 * and every host log line has none of them, while the stored bodies keep the placeholder. A retry
 * that resubmits sends the values again. A sweep of 2,500 tasks (two rounds in flight) reads its
 * secret from the vault once. A granted secret that was never set fails the job with
 * `SecretNotFound`, saying how to set it. Without Key Vault (the local stack) the values come from
 * the tenants container and stay out of the jobs and chunks containers.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import { CosmosClient } from '@azure/cosmos';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyVault, startKeyVault } from '../../dev/key-vault/key-vault.js';
import { startWebhookInbox, type WebhookInbox } from '../../dev/webhook-inbox/inbox.js';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import {
  createCosmosSecretStore,
  createEnvSecrets,
  envSecretName,
} from '../../shared/adapters/key-vault/env-secrets.js';
import { createKeyVaultSecretStore } from '../../shared/adapters/key-vault/secret-store.js';
import {
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  TEST_WEBHOOK_SECRET,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

const TOKEN = 'secret-env-test-token';
const tls = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));
const credential: TokenCredential = {
  getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const keyVaultClientOptions: SecretClientOptions = {
  agent: new Agent({ ca: tls('localhost.crt') }),
  disableChallengeResourceVerification: true,
};

// Distinctive values; one with characters JSON escapes, so an escaped echo would be caught too.
const DB_PASSWORD = 'Pw-7f3c9e1a-db-secret-value';
const API_TOKEN = 'tok "quoted" \\ 9b2d-api-secret-ünï';
const SWEEP_TOKEN = 'sweep-4e8a-secret-value';
const VALUES = [DB_PASSWORD, API_TOKEN, SWEEP_TOKEN];
/** How each value could appear in text: as is, or escaped inside a JSON string. */
const SPELLINGS = VALUES.flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]);

let vault: KeyVault;
let stack: SlotwiseStack;
let batch: BatchClient;
let inbox: WebhookInbox;
let cosmos: CosmosClient;
/** Every API answer's status, headers and body. */
const answers: string[] = [];

beforeAll(async () => {
  vault = await startKeyVault({
    tls: { key: tls('localhost.key'), cert: tls('localhost.crt') },
    token: TOKEN,
  });
  stack = await startSlotwise({
    env: { KEY_VAULT_URI: vault.url },
    overrides: { credential, keyVaultClientOptions },
  });
  batch = emulatorClient(stack);
  inbox = await startWebhookInbox({ secret: TEST_WEBHOOK_SECRET });
  cosmos = new CosmosClient({
    endpoint: stack.services.cosmosEndpoint,
    key: stack.services.cosmosKey,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  await stack.deps.tenants.updatePolicy('dev', {
    secrets: ['db-password', 'api-token', 'sweep-token', 'not-set'],
    limits: { submissionsPerSecond: 1000, submissionBurst: 1000, maxNodes: 1000 },
  });
  // As the operator does (`npm run tenant:secret`, or az keyvault secret set): straight into the vault.
  const secrets = createEnvSecrets(createKeyVaultSecretStore(vault.url, credential, keyVaultClientOptions));
  await secrets.set('dev', 'db-password', DB_PASSWORD);
  await secrets.set('dev', 'api-token', API_TOKEN);
  await secrets.set('dev', 'sweep-token', SWEEP_TOKEN);
});

afterAll(async () => {
  cosmos?.dispose();
  await inbox?.close();
  await batch?.close();
  await stack?.close();
  await vault?.close();
});

async function call(path: string, init?: RequestInit): Promise<Response> {
  const res = await stack.request(path, init);
  answers.push(`${path} ${res.status} ${[...res.headers].join(' ')} ${await res.clone().text()}`);
  return res;
}

const post = (body: object, query = '') =>
  call(`/jobs${query}`, { method: 'POST', body: JSON.stringify(body) });

/** Vault reads of the tenant's secret `name` that reached it with a token (the SDK's probe draws a 401). */
const vaultReads = (name: string) =>
  vault
    .requests()
    .filter(
      (r) => r.method === 'GET' && r.status !== 401 && r.path === `/secrets/${envSecretName('dev', name)}/`,
    );

type NameValues = { name: string; value: string }[] | undefined;
const envOf = (body: Record<string, unknown> | undefined): Record<string, string> =>
  Object.fromEntries(((body?.environmentSettings as NameValues) ?? []).map((e) => [e.name, e.value]));

async function batchTasks(jobId: string): Promise<Record<string, unknown>[]> {
  const tasks: Record<string, unknown>[] = [];
  for await (const t of batch.tasks.list(jobId)) tasks.push(t);
  return tasks;
}

/** Every document of every container of the stack's database, as text. */
async function dumpCosmos(): Promise<string> {
  const database = cosmos.database(stack.env.COSMOS_DATABASE!);
  const { resources: containers } = await database.containers.readAll().fetchAll();
  expect(containers.map((c) => c.id).sort()).toEqual(['apikeys', 'chunks', 'jobs', 'pools', 'tenants']);
  const parts: string[] = [];
  for (const c of containers) {
    const { resources } = await database.container(c.id).items.readAll().fetchAll();
    parts.push(`${c.id}: ${JSON.stringify(resources)}`);
  }
  return parts.join('\n');
}

const jobRequest = (callbackUrl: string) => ({
  id: 'sec-1',
  pool: { vmSize: 'standard_d2s_v3' },
  keepLogs: 'none',
  callback: { url: callbackUrl, taskEvents: ['failed', 'completed'] },
  jobPreparation: { commandLine: 'prepare', environment: { API_TOKEN: { secretRef: 'api-token' } } },
  jobRelease: { commandLine: 'release', environment: { API_TOKEN: { secretRef: 'api-token' }, MODE: 'end' } },
  tasks: [
    {
      id: 'ok',
      commandLine: 'sleep 1',
      environment: { DB_PASSWORD: { secretRef: 'db-password' }, PLAIN: 'plain-value' },
    },
    // Fails, so the job fails and a retry resubmits it (stored chunks, sent again).
    {
      id: 'bad',
      commandLine: 'sleep 1; exit 3',
      maxRetries: 0,
      environment: { DB_PASSWORD: { secretRef: 'db-password' } },
    },
  ],
});

describe('task environment secrets', () => {
  it('reach Batch, and nothing else: documents, answers, events and logs keep only the reference', async () => {
    const body = jobRequest(`${inbox.url}/hooks/sec-1`);
    expect((await post(body)).status).toBe(202);
    const dry = await post({ ...body, id: 'sec-dry' }, '?dryRun=true');
    expect(dry.status).toBe(200);

    const failed = await waitForJobState(stack, 'sec-1', ['failed', 'completed'], 60_000);
    expect(failed.state).toBe('failed');
    const first = failed.batch!.jobId;

    // Batch got the values: the tasks, the job preparation and release.
    const sentJob = await batch.jobs.get(first);
    expect(envOf(sentJob.jobPreparationTask as Record<string, unknown>)).toEqual({ API_TOKEN: API_TOKEN });
    expect(envOf(sentJob.jobReleaseTask as Record<string, unknown>)).toMatchObject({
      API_TOKEN: API_TOKEN,
      MODE: 'end',
    });
    const tasks = await batchTasks(first);
    expect(tasks).toHaveLength(2);
    for (const t of tasks) expect(envOf(t).DB_PASSWORD).toBe(DB_PASSWORD);
    expect(tasks.map((t) => envOf(t).PLAIN).filter(Boolean)).toEqual(['plain-value']);

    // The first attempt's tasks, as the API shows them.
    for (const path of ['/jobs/sec-1/tasks', '/jobs/sec-1/tasks/ok', '/jobs/sec-1/tasks/bad'])
      expect((await call(path)).status).toBe(200);

    // A retry resubmits the failed task as a new attempt: written as a chunk, sent with the value again.
    expect((await call('/jobs/sec-1/retry', { method: 'POST' })).status).toBe(202);
    const retried = await waitFor(
      async () => {
        const res = await call('/jobs/sec-1');
        return (await res.json()) as { state: string; batch?: { jobId: string } };
      },
      (j) => j.batch?.jobId !== first && j.state === 'failed',
      { what: 'the retried attempt to end', timeoutMs: 60_000 },
    );
    const again = await batchTasks(retried.batch!.jobId);
    expect(again.map((t) => envOf(t).DB_PASSWORD)).toEqual([DB_PASSWORD]);
    expect(
      envOf((await batch.jobs.get(retried.batch!.jobId)).jobPreparationTask as Record<string, unknown>),
    ).toEqual({
      API_TOKEN: API_TOKEN,
    });

    // Every answer the API gives about the job.
    for (const path of ['/jobs/sec-1', '/jobs?limit=50', '/jobs/sec-1/tasks', '/jobs/sec-1/tasks/bad'])
      expect((await call(path)).status).toBe(200);

    // Events: the job's end events of both attempts, and the task events.
    const deliveries = await waitFor(
      () => inbox.deliveries('sec-1'),
      (d) => d.filter((e) => (e.body as { data?: { state?: string } }).data?.state === 'failed').length >= 2,
      { what: 'both attempts to be announced', timeoutMs: 30_000 },
    );
    expect(deliveries.some((d) => (d.body as { type: string }).type === 'slotwise.task.failed')).toBe(true);

    const dump = await dumpCosmos();
    // The dump did see the job and its stored chunk: the placeholders are there, the values are not.
    expect(dump).toContain('slotwise-secret:api-token');
    expect(dump).toMatch(/chunks: \[.*slotwise-secret:db-password/);
    const texts = {
      cosmos: dump,
      answers: answers.join('\n'),
      events: JSON.stringify(inbox.deliveries()),
      logs: stack.logger.lines.join('\n'),
    };
    expect(texts.answers).toMatch(/secretRef|slotwise-secret:/);
    for (const [where, text] of Object.entries(texts))
      for (const value of SPELLINGS)
        expect(text.includes(value), `${where} holds a secret value`).toBe(false);
  });

  it('reads a secret once for a sweep of 2,500 tasks sent in two rounds', async () => {
    const before = vaultReads('sweep-token').length;
    const res = await post({
      id: 'sec-sweep',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 16, maxNodes: 8 },
      keepLogs: 'none',
      sweep: {
        idTemplate: 't-{i}',
        commandLine: 'sleep 1',
        parameters: { i: { from: 0, to: 2499 } },
        environment: { TOKEN: { secretRef: 'sweep-token' }, INDEX: '{i}' },
      },
    });
    expect(res.status).toBe(202);
    const submitted = await waitForJobState(
      stack,
      'sec-sweep',
      ['submitted', 'running', 'completed', 'failed'],
      120_000,
    );
    expect(submitted.state).not.toBe('failed');
    expect(submitted.plan?.chunks).toBeGreaterThan(20);
    const tasks = await batchTasks(submitted.batch!.jobId);
    expect(tasks).toHaveLength(2500);
    for (const t of tasks) expect(envOf(t).TOKEN).toBe(SWEEP_TOKEN);
    const reads = vaultReads('sweep-token').slice(before);
    expect(reads).toHaveLength(1);
    expect(reads[0]?.status).toBe(200);
  });

  it('fails a job whose granted secret was never set, with SecretNotFound and no value', async () => {
    const res = await post({
      id: 'sec-missing',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [
        {
          id: 'a',
          commandLine: 'sleep 1',
          environment: { GONE: { secretRef: 'not-set' }, DB: { secretRef: 'db-password' } },
        },
      ],
    });
    expect(res.status).toBe(202);
    const failed = await waitForJobState(stack, 'sec-missing', ['failed', 'completed', 'running'], 60_000);
    expect(failed.state).toBe('failed');
    expect(failed.failure?.code).toBe('SecretNotFound');
    const message = failed.failure?.message ?? '';
    expect(message).toContain("'not-set'");
    expect(message).toContain('tenant-dev-env-not-set');
    expect(message).toContain('npm run tenant:secret -- dev not-set');
    // Failed at once, not retried: one read of the missing secret, and no task reached Batch.
    expect(vaultReads('not-set')).toHaveLength(1);
    expect(vaultReads('not-set')[0]?.status).toBe(404);
    const answer = await (await call('/jobs/sec-missing')).text();
    for (const value of SPELLINGS) {
      expect(answer).not.toContain(value);
      for (const line of stack.logger.lines) expect(line).not.toContain(value);
    }
    if (failed.batch) expect(await batchTasks(failed.batch.jobId).catch(() => [])).toHaveLength(0);
  });
});

describe('task environment secrets on the local stack (no Key Vault)', () => {
  it('come from the tenants container, and stay out of the jobs and chunks containers', async () => {
    const local = await startSlotwise();
    const client = emulatorClient(local);
    const db = new CosmosClient({
      endpoint: local.services.cosmosEndpoint,
      key: local.services.cosmosKey,
      connectionPolicy: { enableEndpointDiscovery: false },
    }).database(local.env.COSMOS_DATABASE!);
    try {
      const value = 'local-3d1f-secret-value';
      await local.deps.tenants.updatePolicy('dev', { secrets: ['db-password'] });
      await createEnvSecrets(createCosmosSecretStore(db.container('tenants'))).set(
        'dev',
        'db-password',
        value,
      );
      const res = await local.request('/jobs', {
        method: 'POST',
        body: JSON.stringify({
          id: 'sec-local',
          pool: { vmSize: 'standard_d2s_v3' },
          keepLogs: 'none',
          tasks: [
            { id: 'a', commandLine: 'sleep 1', environment: { DB_PASSWORD: { secretRef: 'db-password' } } },
          ],
        }),
      });
      expect(res.status).toBe(202);
      const ended = await waitForJobState(local, 'sec-local', ['completed', 'failed'], 60_000);
      expect(ended.state).toBe('completed');
      const sent: Record<string, unknown>[] = [];
      for await (const t of client.tasks.list(ended.batch!.jobId)) sent.push(t);
      expect(sent.map((t) => envOf(t).DB_PASSWORD)).toEqual([value]);
      for (const id of ['jobs', 'chunks']) {
        const { resources } = await db.container(id).items.readAll().fetchAll();
        expect(JSON.stringify(resources)).not.toContain(value);
      }
      const { resources: tenantDocs } = await db
        .container('tenants')
        .items.readAll<{ id: string }>()
        .fetchAll();
      expect(tenantDocs.find((d) => d.id === 'dev')).not.toHaveProperty('value');
      expect(JSON.stringify(tenantDocs.find((d) => d.id === 'dev'))).not.toContain(value);
      for (const line of local.logger.lines) expect(line).not.toContain(value);
    } finally {
      db.client.dispose();
      await client.close();
      await local.close();
    }
  });
});
