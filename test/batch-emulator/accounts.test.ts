/**
 * The emulator as several Batch accounts: the account resource on the management plane (read with
 * the official `@azure/arm-batch` client) stating the quotas the emulator enforces, an account that
 * goes away and comes back (`suspend` / `resume`), and several accounts in one process, each with
 * its own name, key, region, quotas and clock.
 */
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BatchAccount } from '@azure/arm-batch';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BatchEmulator,
  type BatchEmulatorAccounts,
  BatchEmulatorAccountsError,
  startBatchEmulator,
  startBatchEmulatorAccounts,
} from '../../dev/batch-emulator/index.js';
import { localArmClient } from '../support/arm.js';
import { ACCOUNT, call, control, KEY, poolBody, sign } from './helpers.js';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'rg-batch';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((x) => x.close()));
});

async function emulatorWith(options: Partial<Parameters<typeof startBatchEmulator>[0]> = {}) {
  const e = await startBatchEmulator({
    port: 0,
    accountName: ACCOUNT,
    accountKey: KEY,
    clockFactor: 0,
    allocationSeconds: 0,
    nodeStartSeconds: 0,
    ...options,
  });
  opened.push(e);
  return e;
}

async function accounts(specs: Parameters<typeof startBatchEmulatorAccounts>[0]) {
  const set = await startBatchEmulatorAccounts(specs);
  opened.push(set);
  return set;
}

const accountPath = (account = ACCOUNT) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${account}`;

/** A raw management-plane call (no SDK), for what the SDK would not send. */
async function rawArm(
  emulator: BatchEmulator,
  method: string,
  path: string,
  options: { apiVersion?: string | null; auth?: string | null } = {},
) {
  const url = new URL(path, emulator.url);
  if (options.apiVersion !== null) url.searchParams.set('api-version', options.apiVersion ?? '2025-06-01');
  const headers: Record<string, string> = {};
  if (options.auth !== null) headers.authorization = options.auth ?? 'Bearer local-token';
  const res = await fetch(url, { method, headers });
  const text = await res.text();
  return {
    status: res.status,
    json: (text ? JSON.parse(text) : undefined) as { error?: { code: string } } | undefined,
  };
}

/**
 * What a new connection to the emulator meets: the health control's HTTP status, or the socket
 * error's code (a fresh connection each time, so no pooled socket of an earlier call is reused).
 */
function reach(emulator: { url: string }): Promise<number | string> {
  return new Promise((resolve) => {
    const req = get(`${emulator.url}/_emulator/health`, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe('the account resource on the management plane', () => {
  it('states a BatchService account with the quotas it enforces, as BatchAccount_Get does', async () => {
    const emulator = await emulatorWith({ poolAllocationMode: 'BatchService', location: 'westeurope' });
    const arm = localArmClient(emulator.url, SUB);
    const before: BatchAccount = await arm.batchAccountOperations.get(RG, ACCOUNT);
    expect(before).toMatchObject({
      id: accountPath(),
      name: ACCOUNT,
      type: 'Microsoft.Batch/batchAccounts',
      location: 'westeurope',
      accountEndpoint: new URL(emulator.url).host,
      provisioningState: 'Succeeded',
      poolAllocationMode: 'BatchService',
      dedicatedCoreQuota: 1_000_000,
      lowPriorityCoreQuota: 1_000_000,
      dedicatedCoreQuotaPerVMFamily: [],
      dedicatedCoreQuotaPerVMFamilyEnforced: true,
      poolQuota: 1000,
      activeJobAndJobScheduleQuota: 10_000,
    });

    const set = await control(emulator, 'PUT', 'quotas', {
      activeJobs: 7,
      pools: 3,
      dedicatedCoreQuota: 40,
      lowPriorityCoreQuota: 12,
      dedicatedCoreQuotaPerVMFamily: [{ name: 'standardDSv3Family', coreQuota: 4 }],
      dedicatedCoreQuotaPerVMFamilyEnforced: false,
    });
    expect(set.status).toBe(200);
    const after = await arm.batchAccountOperations.get(RG, ACCOUNT);
    expect(after).toMatchObject({
      dedicatedCoreQuota: 40,
      lowPriorityCoreQuota: 12,
      dedicatedCoreQuotaPerVMFamily: [{ name: 'standardDSv3Family', coreQuota: 4 }],
      dedicatedCoreQuotaPerVMFamilyEnforced: false,
      poolQuota: 3,
      activeJobAndJobScheduleQuota: 7,
    });

    // The numbers stated are the ones that bind: the family quota is not enforced, the total is.
    await control(emulator, 'PUT', 'quotas', { dedicatedCoreQuotaPerVMFamilyEnforced: true });
    expect((await call(emulator, 'POST', '/pools', poolBody('p', { targetDedicatedNodes: 3 }))).status).toBe(
      201,
    );
    await control(emulator, 'POST', 'clock', { advanceSeconds: 1 });
    const pool = (await call(emulator, 'GET', '/pools/p')).json as { currentDedicatedNodes: number };
    // standard_d2s_v3: 2 cores, 4 in the family quota → 2 nodes.
    expect(pool.currentDedicatedNodes).toBe(2);
  });

  it('leaves out the core quotas of a UserSubscription account, which are the subscription’s', async () => {
    const emulator = await emulatorWith({ poolAllocationMode: 'UserSubscription' });
    const got = await rawArm(emulator, 'GET', accountPath());
    expect(got.status).toBe(200);
    const properties = (got.json as unknown as { location: string; properties: Record<string, unknown> })
      .properties;
    expect((got.json as unknown as { location: string }).location).toBe('local');
    expect(properties).toMatchObject({
      poolAllocationMode: 'UserSubscription',
      poolQuota: 1000,
      activeJobAndJobScheduleQuota: 10_000,
      dedicatedCoreQuotaPerVMFamilyEnforced: true,
    });
    expect(properties).not.toHaveProperty('dedicatedCoreQuota');
    expect(properties).not.toHaveProperty('lowPriorityCoreQuota');
    expect(properties).not.toHaveProperty('dedicatedCoreQuotaPerVMFamily');
  });

  it('answers as ARM does without a token, without or with an unknown api-version, for another account or verb', async () => {
    const emulator = await emulatorWith({ location: 'region-x', subscriptionId: SUB });
    expect(await rawArm(emulator, 'GET', accountPath(), { auth: null })).toMatchObject({
      status: 401,
      json: { error: { code: 'AuthenticationFailed' } },
    });
    expect(await rawArm(emulator, 'GET', accountPath(), { apiVersion: null })).toMatchObject({
      status: 400,
      json: { error: { code: 'MissingApiVersionParameter' } },
    });
    const old = await rawArm(emulator, 'GET', accountPath(), { apiVersion: '2017-01-01' });
    expect(old).toMatchObject({ status: 400, json: { error: { code: 'NoRegisteredProviderFound' } } });
    expect(JSON.stringify(old.json)).toContain("location 'region-x'");
    expect(await rawArm(emulator, 'GET', accountPath('otheracct'))).toMatchObject({
      status: 404,
      json: { error: { code: 'ResourceNotFound' } },
    });
    expect(
      await rawArm(
        emulator,
        'GET',
        `/subscriptions/99999999-1111-2222-3333-444444444444/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${ACCOUNT}`,
      ),
    ).toMatchObject({ status: 404, json: { error: { code: 'SubscriptionNotFound' } } });
    expect((await rawArm(emulator, 'DELETE', accountPath())).status).toBe(405);
  });
});

describe('an account that goes away', () => {
  it('refuses connections while suspended, drops open ones, and comes back on its port with its state', async () => {
    const emulator = await emulatorWith();
    expect(
      (await call(emulator, 'POST', '/pools', poolBody('kept', { targetDedicatedNodes: 1 }))).status,
    ).toBe(201);

    // A request the emulator holds open (scripted latency) when the account goes away is cut off.
    await control(emulator, 'PUT', 'faults', { latencyMs: 30_000, pathPrefix: '/jobs' });
    let connected!: () => void;
    const isConnected = new Promise<void>((r) => {
      connected = r;
    });
    const held = new Promise<string>((resolve) => {
      const req = get(`${emulator.url}/jobs?api-version=2025-06-01.21.0`, (res) => {
        res.resume();
        resolve(`answered ${res.statusCode}`);
      });
      req.on('socket', (socket) => socket.once('connect', connected));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    await isConnected;
    await emulator.suspend();
    await emulator.suspend();
    expect(await held).toBe('ECONNRESET');
    expect(await reach(emulator)).toBe('ECONNREFUSED');

    await emulator.resume();
    await emulator.resume();
    await control(emulator, 'DELETE', 'faults');
    expect(await reach(emulator)).toBe(200);
    const pool = await call(emulator, 'GET', '/pools/kept');
    expect(pool.status).toBe(200);
    expect(new URL(emulator.url).port).toBe(String(emulator.port));
  });

  it('keeps its simulated clock running while away', async () => {
    const emulator = await emulatorWith({ clockFactor: 0 });
    const before = (await control(emulator, 'GET', 'clock')).json as { now: string };
    await emulator.suspend();
    await emulator.resume();
    await control(emulator, 'POST', 'clock', { advanceSeconds: 60 });
    const after = (await control(emulator, 'GET', 'clock')).json as { now: string };
    expect(Date.parse(after.now) - Date.parse(before.now)).toBe(60_000);
  });

  it('closes while suspended, and resume after close changes nothing', async () => {
    const emulator = await emulatorWith();
    await emulator.suspend();
    await emulator.close();
    await emulator.resume();
    expect(await reach(emulator)).toBe('ECONNREFUSED');
  });

  it('rejects a resume when something else took its port meanwhile', async () => {
    const emulator = await emulatorWith();
    await emulator.suspend();
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(emulator.port, '127.0.0.1', () => r()));
    try {
      expect((squatter.address() as AddressInfo).port).toBe(emulator.port);
      await expect(emulator.resume()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
    await emulator.resume();
    expect(await reach(emulator)).toBe(200);
  });
});

describe('several accounts in one process', () => {
  const keyOf = (name: string) => Buffer.from(`key-of-${name}-0123456789`).toString('base64');

  it('gives each its own name, key, region, quotas, faults and clock', async () => {
    const set: BatchEmulatorAccounts = await accounts([
      { accountName: 'accounta', accountKey: keyOf('accounta'), location: 'region-a', clockFactor: 0 },
      {
        accountName: 'accountb',
        accountKey: keyOf('accountb'),
        location: 'region-b',
        clockFactor: 0,
        poolAllocationMode: 'BatchService',
      },
    ]);
    expect(set.list.map((e) => [e.accountName, e.location])).toEqual([
      ['accounta', 'region-a'],
      ['accountb', 'region-b'],
    ]);
    const a = set.byName.accounta!;
    const b = set.byName.accountb!;
    expect(a.port).not.toBe(b.port);

    // Each signs with its own name and key; the other's key is refused.
    const signed = async (e: BatchEmulator, name: string, key: string) => {
      const url = new URL('/pools?api-version=2025-06-01.21.0', e.url);
      const headers = { 'ocp-date': new Date().toUTCString() };
      const res = await fetch(url, {
        headers: { ...headers, authorization: `SharedKey ${name}:${sign('GET', url, headers, name, key)}` },
      });
      await res.arrayBuffer();
      return res.status;
    };
    expect(await signed(a, 'accounta', keyOf('accounta'))).toBe(200);
    expect(await signed(b, 'accountb', keyOf('accountb'))).toBe(200);
    expect(await signed(b, 'accountb', keyOf('accounta'))).toBe(403);
    expect(await signed(b, 'accounta', keyOf('accounta'))).toBe(403);

    // Quotas, faults and clocks are per account.
    await control(a, 'PUT', 'quotas', { pools: 1 });
    await control(a, 'PUT', 'faults', { rate503: 1 });
    await control(b, 'POST', 'clock', { advanceSeconds: 3600 });
    const clockA = (await control(a, 'GET', 'clock')).json as { now: string };
    const clockB = (await control(b, 'GET', 'clock')).json as { now: string };
    expect(Date.parse(clockB.now) - Date.parse(clockA.now)).toBeGreaterThanOrEqual(3_599_000);
    expect(await signed(a, 'accounta', keyOf('accounta'))).toBe(503);
    expect(await signed(b, 'accountb', keyOf('accountb'))).toBe(200);
    const armA = localArmClient(a.url, SUB);
    const armB = localArmClient(b.url, SUB);
    expect(await armA.batchAccountOperations.get(RG, 'accounta')).toMatchObject({
      location: 'region-a',
      poolQuota: 1,
      poolAllocationMode: 'UserSubscription',
    });
    expect(await armB.batchAccountOperations.get(RG, 'accountb')).toMatchObject({
      location: 'region-b',
      poolQuota: 1000,
      poolAllocationMode: 'BatchService',
    });

    // One account going away leaves the other answering.
    await a.suspend();
    expect(await signed(b, 'accountb', keyOf('accountb'))).toBe(200);
    await set.close();
    await set.close();
    expect(await reach(b)).toBe('ECONNREFUSED');
  });

  it('refuses an account named twice or a port given twice, and starts none', async () => {
    await expect(
      startBatchEmulatorAccounts([
        { accountName: 'same', accountKey: KEY },
        { accountName: 'SAME', accountKey: KEY },
      ]),
    ).rejects.toBeInstanceOf(BatchEmulatorAccountsError);
    await expect(
      startBatchEmulatorAccounts([
        { accountName: 'one', accountKey: KEY, port: 7999 },
        { accountName: 'two', accountKey: KEY, port: 7999 },
      ]),
    ).rejects.toMatchObject({ code: 'InvalidEmulatorAccounts' });
  });

  it('closes those started when one cannot start', async () => {
    const first = await emulatorWith();
    // A port free now, for the account that starts, so that it can be looked at afterwards.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const freePort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const failed = startBatchEmulatorAccounts([
      { accountName: 'fine', accountKey: KEY, port: freePort },
      { accountName: 'clash', accountKey: KEY, port: first.port },
    ]);
    await expect(failed).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(await reach({ url: `http://127.0.0.1:${freePort}` })).toBe('ECONNREFUSED');
    expect(await reach(first)).toBe(200);
  });
});
