/**
 * Which Batch account a managed pool's job goes to (planner/route-account.ts), pure: headroom for the
 * job's VM family times the account's weight, sticky to the account holding the spec's pool while it
 * has room, the tenant's accounts and regions, low-priority nodes only where the pool allocation mode
 * has them, drain and health.
 */
import { describe, expect, it } from 'vitest';
import {
  type AccountQuotas,
  type AccountUsage,
  type BatchAccountInfo,
  emptyUsage,
  type PoolAllocationMode,
} from '../../shared/model/accounts.js';
import { vmFamilyOf } from '../../shared/model/vm-sizes.js';
import {
  type AccountPicture,
  coresNeeded,
  headroomFor,
  type RouteNeed,
  routeAccount,
} from '../../shared/planner/route-account.js';

const D = 'standard_d2s_v3'; // standardDSv3Family, 2 vCPUs
const E = 'standard_e2s_v3'; // standardESv3Family, 2 vCPUs
const DS = vmFamilyOf(D);
const ES = vmFamilyOf(E);

function info(name: string, over: Partial<BatchAccountInfo> = {}): BatchAccountInfo {
  return {
    name,
    endpoint: `https://${name}.example.batch.azure.com`,
    region: `region-${name}`,
    allocationMode: 'BatchService',
    weight: 1,
    subscriptionId: 'sub',
    resourceGroup: 'rg',
    managementEndpoint: 'https://management.azure.com',
    primary: name === 'a',
    ...over,
  };
}

function picture(
  name: string,
  over: Partial<Omit<AccountPicture, 'info'>> & {
    info?: Partial<BatchAccountInfo>;
    mode?: PoolAllocationMode;
  } = {},
): AccountPicture {
  const { info: infoOver, mode, ...rest } = over;
  return {
    info: info(name, { ...infoOver, ...(mode ? { allocationMode: mode } : {}) }),
    usage: emptyUsage,
    health: 'healthy',
    draining: false,
    holdsSpec: false,
    ...rest,
  };
}

/** A BatchService account's quotas: a total and enforced per-family dedicated quotas. */
const quotas = (perFamily: Record<string, number>, over: Partial<AccountQuotas> = {}): AccountQuotas => ({
  dedicatedCores: 1000,
  lowPriorityCores: 100,
  perFamily,
  perFamilyEnforced: true,
  ...over,
});

const used = (perFamily: Record<string, number>, lowPriorityCores = 0): AccountUsage => ({
  dedicatedCores: Object.values(perFamily).reduce((n, c) => n + c, 0),
  lowPriorityCores,
  perFamily,
  pools: Object.keys(perFamily).length,
});

const need = (over: Partial<RouteNeed> = {}): RouteNeed => ({
  vmSize: D,
  nodes: 2,
  lowPriority: false,
  ...over,
});

const chosen = (decision: ReturnType<typeof routeAccount>) =>
  decision.ok ? decision.account : decision.code;

describe('headroom', () => {
  it('is the tighter of the total and the enforced family quota, less what Slotwise holds', () => {
    expect(headroomFor(quotas({ [DS]: 40 }), used({ [DS]: 10 }), D, false)).toBe(30);
    expect(headroomFor(quotas({ [DS]: 40 }, { dedicatedCores: 15 }), used({ [DS]: 10 }), D, false)).toBe(5);
    // Never negative: a pool above the quota (lowered meanwhile) leaves none.
    expect(headroomFor(quotas({ [DS]: 4 }), used({ [DS]: 10 }), D, false)).toBe(0);
    expect(coresNeeded(need({ vmSize: 'standard_d8s_v3', nodes: 3 }))).toBe(24);
  });

  it('gives an unlisted family nothing when the family quota is enforced, and everything when it is not', () => {
    expect(headroomFor(quotas({ [DS]: 40 }), emptyUsage, E, false)).toBe(0);
    expect(headroomFor(quotas({ [DS]: 40 }, { perFamilyEnforced: false }), emptyUsage, E, false)).toBe(1000);
    // ARM's family names matched without regard to case.
    expect(headroomFor(quotas({ [DS.toLowerCase()]: 40 }), emptyUsage, D, false)).toBe(40);
    // A list that names no family at all states no family quota (the emulator's default): the total binds.
    expect(headroomFor(quotas({}), emptyUsage, E, false)).toBe(1000);
  });

  it('is unbounded when the account resource states no core quota (UserSubscription)', () => {
    expect(headroomFor({ perFamilyEnforced: true }, emptyUsage, D, false)).toBeUndefined();
    expect(headroomFor(undefined, emptyUsage, D, false)).toBeUndefined();
    expect(headroomFor({ perFamilyEnforced: false }, emptyUsage, D, true)).toBeUndefined();
  });

  it('counts low-priority cores against the low-priority quota only', () => {
    expect(headroomFor(quotas({ [DS]: 0 }, { lowPriorityCores: 50 }), used({}, 20), D, true)).toBe(30);
  });
});

describe('routeAccount', () => {
  it('picks the account with the most headroom for the job’s family', () => {
    const pictures = [
      picture('a', { quotas: quotas({ [DS]: 8, [ES]: 40 }) }),
      picture('b', { quotas: quotas({ [DS]: 40, [ES]: 8 }) }),
      picture('c', { quotas: quotas({ [DS]: 20, [ES]: 20 }) }),
    ];
    const d = routeAccount(pictures, need());
    expect(d).toMatchObject({ ok: true, account: 'b', region: 'region-b' });
    expect(d.ok && d.reason).toMatch(/most headroom/);
    expect(d.considered.map((c) => [c.account, c.headroomCores, c.eligible])).toEqual([
      ['a', 8, true],
      ['b', 40, true],
      ['c', 20, true],
    ]);
    // Another family goes where that family has room.
    expect(chosen(routeAccount(pictures, need({ vmSize: E })))).toBe('a');
  });

  it('counts what Slotwise’s pools hold there', () => {
    const pictures = [
      picture('a', { quotas: quotas({ [DS]: 40 }), usage: used({ [DS]: 30 }) }),
      picture('b', { quotas: quotas({ [DS]: 20 }) }),
    ];
    expect(chosen(routeAccount(pictures, need()))).toBe('b');
  });

  it('weighs headroom by the account’s weight; ties go to the order of the settings', () => {
    const pictures = [
      picture('a', { quotas: quotas({ [DS]: 30 }) }),
      picture('b', { quotas: quotas({ [DS]: 20 }), info: { weight: 2 } }),
    ];
    expect(chosen(routeAccount(pictures, need()))).toBe('b');
    const even = [
      picture('a', { quotas: quotas({ [DS]: 20 }) }),
      picture('b', { quotas: quotas({ [DS]: 20 }) }),
    ];
    expect(chosen(routeAccount(even, need()))).toBe('a');
    expect(chosen(routeAccount([...even].reverse(), need()))).toBe('b');
  });

  it('sticks to the account holding the spec’s pool while it has room, then overflows', () => {
    const roomy = picture('b', { quotas: quotas({ [DS]: 100 }) });
    const holding = (cores: number) =>
      picture('a', { quotas: quotas({ [DS]: 10 }), usage: used({ [DS]: cores }), holdsSpec: true });
    const stays = routeAccount([holding(6), roomy], need());
    expect(stays).toMatchObject({ ok: true, account: 'a' });
    expect(stays.ok && stays.reason).toMatch(/already holds this pool spec/);
    // Full (its pools hold the quota): a second pool in the account with room.
    const moves = routeAccount([holding(10), roomy], need());
    expect(moves).toMatchObject({ ok: true, account: 'b' });
    expect(moves.ok && moves.reason).toMatch(/a second pool in b/);
    // Exactly the room the job needs still fits.
    expect(chosen(routeAccount([holding(6), roomy], need({ nodes: 2 })))).toBe('a');
    expect(chosen(routeAccount([holding(7), roomy], need({ nodes: 2 })))).toBe('b');
  });

  it('keeps to the tenant’s accounts and regions even when another has more room', () => {
    const pictures = [
      picture('a', { quotas: quotas({ [DS]: 4 }) }),
      picture('b', { quotas: quotas({ [DS]: 400 }) }),
      picture('c', { quotas: quotas({ [DS]: 40 }) }),
    ];
    expect(chosen(routeAccount(pictures, need(), { accounts: ['a', 'c'] }))).toBe('c');
    expect(chosen(routeAccount(pictures, need(), { regions: ['region-a'] }))).toBe('a');
    const none = routeAccount(pictures, need(), { regions: ['elsewhere'] });
    expect(none).toMatchObject({ ok: false, code: 'NoBatchAccount' });
    expect(none.reason).toMatch(/no Batch account is open/);
    expect(none.considered.every((c) => !c.eligible && /region/.test(c.note))).toBe(true);
  });

  it('places low-priority (Spot) nodes only in UserSubscription accounts', () => {
    // learn.microsoft.com/azure/batch/batch-spot-vms: Batch-managed accounts had low-priority nodes
    // only, retired after 30 September 2025; user-subscription accounts get Spot.
    const pictures = [
      picture('a', { quotas: quotas({ [DS]: 400 }) }),
      picture('b', { mode: 'UserSubscription', quotas: { perFamilyEnforced: false } }),
    ];
    const spot = routeAccount(pictures, need({ lowPriority: true }));
    expect(spot).toMatchObject({ ok: true, account: 'b' });
    expect(spot.considered.find((c) => c.account === 'a')).toMatchObject({ eligible: false });
    const nowhere = routeAccount([pictures[0]!], need({ lowPriority: true }));
    expect(nowhere).toMatchObject({ ok: false, code: 'NoBatchAccount' });
  });

  it('counts a UserSubscription account without core quotas as unbounded', () => {
    const pictures = [
      picture('a', { quotas: quotas({ [DS]: 400 }) }),
      picture('b', { mode: 'UserSubscription', quotas: { perFamilyEnforced: true } }),
    ];
    const d = routeAccount(pictures, need({ nodes: 1000 }));
    expect(d).toMatchObject({ ok: true, account: 'b' });
    expect(d.ok && d.reason).toMatch(/no core quota stated/);
    expect(d.considered.find((c) => c.account === 'b')?.headroomCores).toBeUndefined();
    // An account whose quotas have not been read yet is unbounded too.
    expect(chosen(routeAccount([picture('a', { quotas: quotas({ [DS]: 4 }) }), picture('c')], need()))).toBe(
      'c',
    );
  });

  it('waits in the sticky account, else the roomiest, when none has room', () => {
    const pictures = [
      picture('a', { quotas: quotas({ [DS]: 2 }) }),
      picture('b', { quotas: quotas({ [DS]: 3 }) }),
    ];
    const d = routeAccount(pictures, need({ nodes: 10 }));
    expect(d).toMatchObject({ ok: true, account: 'b' });
    expect(d.ok && d.reason).toMatch(/waits for cores in b/);
    const sticky = routeAccount([{ ...pictures[0]!, holdsSpec: true }, pictures[1]!], need({ nodes: 10 }));
    expect(chosen(sticky)).toBe('a');
  });

  it('sends no new job to a draining or unhealthy account', () => {
    const pictures = [
      picture('a', { quotas: quotas({ [DS]: 400 }), draining: true, holdsSpec: true }),
      picture('b', { quotas: quotas({ [DS]: 400 }), health: 'unhealthy' }),
      picture('c', { quotas: quotas({ [DS]: 4 }) }),
    ];
    const d = routeAccount(pictures, need());
    expect(d).toMatchObject({ ok: true, account: 'c' });
    expect(d.considered.map((c) => [c.account, c.eligible, c.note])).toEqual([
      ['a', false, 'draining'],
      ['b', false, 'unhealthy'],
      ['c', true, expect.stringContaining('4 free cores')],
    ]);
    // Degraded is still routed to.
    expect(chosen(routeAccount([{ ...pictures[1]!, health: 'degraded' }, pictures[2]!], need()))).toBe('b');
  });

  it('falls back to an unhealthy account when nothing else is open, and to none when all drain', () => {
    const sick = picture('b', { quotas: quotas({ [DS]: 400 }), health: 'unhealthy' });
    const draining = picture('a', { quotas: quotas({ [DS]: 400 }), draining: true });
    const d = routeAccount([draining, sick], need());
    expect(d).toMatchObject({ ok: true, account: 'b' });
    expect(d.ok && d.reason).toMatch(/unhealthy or draining/);
    const none = routeAccount([draining, { ...sick, draining: true }], need());
    expect(none).toMatchObject({ ok: false, code: 'NoBatchAccount' });
    expect(none.reason).toMatch(/draining/);
    // A draining unhealthy account is still draining: not the fallback.
    expect(chosen(routeAccount([{ ...sick, draining: true }], need()))).toBe('NoBatchAccount');
  });
});
