/**
 * An account's quotas from the management plane: the mapping of ARM's BatchAccount, and the read
 * against the emulator's account resource, whose numbers are the ones `/_emulator/quotas` sets (and
 * the emulator enforces).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { BatchError } from '../../shared/adapters/batch/batch-error.js';
import {
  ACCOUNT_API_VERSION,
  readAccountQuotas,
  toAccountQuotas,
} from '../../shared/adapters/batch-management/account-resource.js';
import { LOCAL_MANAGEMENT_TOKEN } from '../../shared/adapters/batch-management/local-auth.js';
import { SlotwiseError } from '../../shared/core/errors.js';

const subscriptionId = '11111111-2222-3333-4444-555555555555';
const resourceGroup = 'rg-quotas';
const key = Buffer.from('account-resource-test-key').toString('base64');

let batchService: BatchEmulator;
let userSubscription: BatchEmulator;

const control = async (emulator: BatchEmulator, path: string, method = 'GET', body?: unknown) => {
  const response = await fetch(`${emulator.url}/_emulator/${path}`, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  expect(response.ok).toBe(true);
  return (await response.json()) as Record<string, unknown>;
};

const read = (emulator: BatchEmulator, accountName: string, extra: { maxRetries?: number } = {}) =>
  readAccountQuotas({ endpoint: emulator.url, subscriptionId, resourceGroup, accountName, ...extra });

beforeAll(async () => {
  [batchService, userSubscription] = await Promise.all([
    startBatchEmulator({
      port: 0,
      accountName: 'quotaservice',
      accountKey: key,
      subscriptionId,
      resourceGroup,
      poolAllocationMode: 'BatchService',
    }),
    startBatchEmulator({
      port: 0,
      accountName: 'quotauser',
      accountKey: key,
      subscriptionId,
      resourceGroup,
      poolAllocationMode: 'UserSubscription',
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([batchService?.close(), userSubscription?.close()]);
});

describe('ARM BatchAccount → AccountQuotas', () => {
  it('maps a BatchService account (BatchManagement.json example BatchAccountGet)', () => {
    expect(
      toAccountQuotas({
        properties: {
          accountEndpoint: 'sampleacct.japaneast.batch.azure.com',
          activeJobAndJobScheduleQuota: 20,
          dedicatedCoreQuota: 20,
          lowPriorityCoreQuota: 20,
          poolAllocationMode: 'BatchService',
          poolQuota: 20,
          dedicatedCoreQuotaPerVMFamily: [
            { name: 'standardA0_A7Family', coreQuota: 0 },
            { name: 'standardDSv3Family', coreQuota: 24 },
          ],
          dedicatedCoreQuotaPerVMFamilyEnforced: true,
        },
      }),
    ).toEqual({
      dedicatedCores: 20,
      lowPriorityCores: 20,
      perFamily: { standardA0_A7Family: 0, standardDSv3Family: 24 },
      perFamilyEnforced: true,
      pools: 20,
      activeJobs: 20,
    });
  });

  it('leaves the core quotas of a UserSubscription account absent, and a missing family flag false', () => {
    expect(
      toAccountQuotas({
        properties: {
          poolAllocationMode: 'UserSubscription',
          poolQuota: 100,
          activeJobAndJobScheduleQuota: 300,
        },
      }),
    ).toEqual({ perFamilyEnforced: false, pools: 100, activeJobs: 300 });
  });
});

describe('readAccountQuotas against the emulator', () => {
  it('reads the quotas /_emulator/quotas set, and reads them again after a change', async () => {
    const set = await control(batchService, 'quotas', 'PUT', {
      activeJobs: 7,
      pools: 5,
      dedicatedCoreQuota: 48,
      lowPriorityCoreQuota: 16,
      dedicatedCoreQuotaPerVMFamily: [
        { name: 'standardDSv3Family', coreQuota: 24 },
        { name: 'standardEv5Family', coreQuota: 0 },
      ],
      dedicatedCoreQuotaPerVMFamilyEnforced: true,
    });
    const expected = {
      dedicatedCores: 48,
      lowPriorityCores: 16,
      perFamily: { standardDSv3Family: 24, standardEv5Family: 0 },
      perFamilyEnforced: true,
      pools: 5,
      activeJobs: 7,
    };
    // The control reports what the emulator now enforces; the management plane states the same.
    expect(set).toMatchObject({ activeJobs: 7, pools: 5, dedicatedCoreQuota: 48, lowPriorityCoreQuota: 16 });
    expect(await read(batchService, 'quotaservice')).toEqual(expected);

    await control(batchService, 'quotas', 'PUT', {
      dedicatedCoreQuota: 96,
      dedicatedCoreQuotaPerVMFamilyEnforced: false,
    });
    expect(await read(batchService, 'quotaservice')).toEqual({
      ...expected,
      dedicatedCores: 96,
      perFamilyEnforced: false,
    });
  });

  it('gives no core quotas for a UserSubscription account, its pool and job quotas all the same', async () => {
    await control(userSubscription, 'quotas', 'PUT', { activeJobs: 30, pools: 12, dedicatedCoreQuota: 8 });
    const quotas = await read(userSubscription, 'quotauser');
    expect(quotas).toMatchObject({ pools: 12, activeJobs: 30 });
    expect(quotas.dedicatedCores).toBeUndefined();
    expect(quotas.lowPriorityCores).toBeUndefined();
    expect(quotas.perFamily).toBeUndefined();
  });

  it('fails as the pools adapter does: ARM’s 404 for another account, not retryable', async () => {
    const error = await read(batchService, 'someoneelse').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchError);
    expect(error).toMatchObject({ status: 404, code: 'ResourceNotFound', retryable: false });
  });

  it('fails retryable on ARM throttling, with its Retry-After', async () => {
    await control(batchService, 'faults', 'PUT', {
      rate503: 1,
      count: 1,
      retryAfterSeconds: 7,
      pathPrefix: '/subscriptions',
    });
    const error = await read(batchService, 'quotaservice', { maxRetries: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchError);
    expect(error).toMatchObject({
      status: 503,
      code: 'ServiceUnavailable',
      retryable: true,
      retryAfterMs: 7000,
    });
    // The fault is spent: the next read goes through.
    expect((await read(batchService, 'quotaservice')).pools).toBeGreaterThan(0);
  });
});

describe('readAccountQuotas on the wire', () => {
  let server: Server;
  let url = '';
  let answer: unknown;
  const seen: { url?: string; authorization?: string }[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends BatchAccount_Get at api-version 2024-07-01 with the local token', async () => {
    answer = { name: 'acct', properties: { poolQuota: 3, activeJobAndJobScheduleQuota: 4 } };
    seen.length = 0;
    const quotas = await readAccountQuotas({
      endpoint: url,
      subscriptionId: 's',
      resourceGroup: 'rg',
      accountName: 'acct',
    });
    expect(quotas).toEqual({ perFamilyEnforced: false, pools: 3, activeJobs: 4 });
    expect(ACCOUNT_API_VERSION).toBe('2024-07-01');
    expect(seen).toEqual([
      {
        url: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct?api-version=2024-07-01',
        authorization: `Bearer ${LOCAL_MANAGEMENT_TOKEN}`,
      },
    ]);
  });

  it('refuses an answer of another shape as InvalidResponse', async () => {
    answer = { properties: { poolQuota: 'lots', dedicatedCoreQuotaPerVMFamily: [{ name: 'x' }] } };
    const error = await readAccountQuotas({
      endpoint: url,
      subscriptionId: 's',
      resourceGroup: 'rg',
      accountName: 'acct',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchError);
    expect(error).toMatchObject({ code: 'InvalidResponse', retryable: false });
    expect((error as BatchError).message).toContain('properties.poolQuota');
  });

  it('needs a credential for an https endpoint', async () => {
    const error = await readAccountQuotas({
      endpoint: 'https://management.azure.com',
      subscriptionId: 's',
      resourceGroup: 'rg',
      accountName: 'acct',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlotwiseError);
    expect(error).toMatchObject({ code: 'InvalidConfiguration' });
  });
});
