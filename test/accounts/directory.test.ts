/**
 * What routing counts between two usage sums (pipeline/account-routing.ts, account-upkeep.ts), with
 * the account documents in memory: cores this instance routed count on top of a sum taken before
 * them and no longer once a sum counts them; the spec's pool is found by its recent routes before its
 * record exists; and the account upkeep dates its sum from before its probes, or from the pool
 * controller pass it follows, so a job routed meanwhile is neither lost nor counted twice.
 */
import { describe, expect, it } from 'vitest';
import { createAccountGuard } from '../../shared/adapters/batch/account-guard.js';
import { type BatchAccounts, batchAccounts } from '../../shared/adapters/batch/accounts.js';
import type { BatchGateway } from '../../shared/adapters/batch/batch-gateway.js';
import type { AccountDoc, AccountStore } from '../../shared/adapters/cosmos/account-store.js';
import type { ManagedPoolDoc } from '../../shared/adapters/cosmos/pool-store.js';
import type { BatchAccountInfo } from '../../shared/model/accounts.js';
import { vmFamilyOf } from '../../shared/model/vm-sizes.js';
import { createAccountDirectory } from '../../shared/pipeline/account-routing.js';
import { upkeepAccounts } from '../../shared/pipeline/account-upkeep.js';

const D2 = 'standard_d2s_v3';
const DS = vmFamilyOf(D2);

function info(name: string, primary = false): BatchAccountInfo {
  return {
    name,
    endpoint: `https://${name}.example.batch.azure.com`,
    region: 'r',
    allocationMode: 'BatchService',
    weight: 1,
    subscriptionId: 'sub',
    resourceGroup: 'rg',
    managementEndpoint: 'https://management.azure.com',
    primary,
  };
}

function accounts(now: () => number, ping: () => Promise<void> = async () => {}): BatchAccounts {
  return batchAccounts(
    ['a', 'b'].map((name, i) => ({
      info: info(name, i === 0),
      // Only the probe (a pool read) is called here.
      gateway: {
        getPool: async () => {
          await ping();
          return undefined;
        },
      } as unknown as BatchGateway,
      guard: createAccountGuard({ now }),
    })),
  );
}

/** The account documents in memory, with the store's read-modify-write contract. */
function memoryStore(): Pick<AccountStore, 'get' | 'list' | 'update'> & { docs: Map<string, AccountDoc> } {
  const docs = new Map<string, AccountDoc>();
  return {
    docs,
    get: async (name) => structuredClone(docs.get(name)),
    list: async (names) => names.flatMap((n) => (docs.has(n) ? [structuredClone(docs.get(n)!)] : [])),
    update: async (name, mutate) => {
      const base = docs.get(name) ?? { id: `~account:${name}`, tenant: '~' as const, name };
      const next = mutate(structuredClone(base));
      if (!next) return { doc: base, changed: false };
      docs.set(name, next);
      return { doc: next, changed: true };
    },
  };
}

const usageAt = (at: number, cores: number): AccountDoc['usage'] => ({
  dedicatedCores: cores,
  lowPriorityCores: 0,
  perFamily: { [DS]: cores },
  pools: 1,
  at: new Date(at).toISOString(),
});

describe('the account directory between usage sums', () => {
  it('counts routed cores until a sum taken after them, and finds the routed pool meanwhile', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const store = memoryStore();
    const directory = createAccountDirectory({
      accounts: accounts(() => t),
      store,
      now: () => t,
      cacheMs: 0,
    });
    await store.update('b', (d) => ({ ...d, usage: usageAt(t - 1000, 4) }));
    directory.reserve('b', D2, 8, false, 'swp_x_pool');
    const cores = async () => (await directory.pictures()).find((p) => p.info.name === 'b')!.usage;
    expect((await cores()).perFamily[DS]).toBe(12);
    expect(directory.routed('SWP_X_POOL')).toBe(true);
    expect(directory.routed('swp_other')).toBe(false);

    // A sum dated from before the route (the pass began before the job was planned) does not count it.
    t += 1000;
    await store.update('b', (d) => ({ ...d, usage: usageAt(t - 2000, 6) }));
    expect((await cores()).perFamily[DS]).toBe(14);
    // One dated after it does.
    await store.update('b', (d) => ({ ...d, usage: usageAt(t + 1, 12) }));
    t += 10;
    expect((await cores()).perFamily[DS]).toBe(12);
    // The route is remembered for the reservation time (default 2 minutes), then forgotten.
    expect(directory.routed('swp_x_pool')).toBe(true);
    t += 121_000;
    expect(directory.routed('swp_x_pool')).toBe(false);
  });
});

describe('the account upkeep’s usage sum', () => {
  const pool = (account: string | undefined, target: number): ManagedPoolDoc =>
    ({
      id: `swp_t_${account ?? 'primary'}`,
      tenant: 't',
      ...(account ? { account } : {}),
      target,
      body: { id: 'x', vmSize: D2 },
    }) as unknown as ManagedPoolDoc;

  it('is dated from before the probes, or from the pass it follows', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const started = t;
    const store = memoryStore();
    // A slow probe: the clock moves on while it runs.
    const ping = async () => {
      t += 5000;
    };
    const deps = {
      accounts: accounts(() => t, ping),
      accountStore: store,
      pools: { list: async () => [pool(undefined, 2), pool('b', 3)] },
      clock: { now: () => new Date(t), monotonicMs: () => t },
      readQuotas: async () => ({ perFamilyEnforced: true, dedicatedCores: 100 }),
    };
    await upkeepAccounts(deps);
    expect(store.docs.get('a')?.usage).toMatchObject({
      dedicatedCores: 4,
      at: new Date(started).toISOString(),
    });
    expect(store.docs.get('b')?.usage).toMatchObject({ perFamily: { [DS]: 6 }, pools: 1 });
    expect(Date.parse(store.docs.get('b')!.usage!.at)).toBe(started);

    // The pass's start, when given, dates the sum.
    const pass = new Date(t - 60_000);
    deps.pools.list = async () => [pool(undefined, 5)];
    await upkeepAccounts(deps, { countedSince: pass });
    expect(store.docs.get('a')?.usage).toMatchObject({ dedicatedCores: 10, at: pass.toISOString() });
  });
});
