/**
 * The pool controller's claim on a tenant's pools (issue 18): short, renewed only by its holder, and
 * once it lapses (the holder died) another controller takes it; the old holder's renewal then fails,
 * so it stops before its next resize, and its release cannot free the new holder's claim.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlotwiseStack, startSlotwise } from '../support/stack.js';

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise({ functions: [] });
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe("the controller's tenant lease", () => {
  it('is renewed by its holder only, taken over once it lapses, and never released by a former holder', async () => {
    const pools = stack.deps.pools;
    const t0 = new Date('2026-01-01T00:00:00Z');
    const at = (ms: number) => new Date(t0.getTime() + ms);
    expect(await pools.claimTenant('leased', 'a', t0, 30_000)).toBe(true);
    expect(await pools.claimTenant('leased', 'b', at(10_000), 30_000)).toBe(false);
    // The holder renews: still held past the first lease's end.
    expect(await pools.renewTenant('leased', 'a', at(20_000), 30_000)).toBe(true);
    expect(await pools.claimTenant('leased', 'b', at(40_000), 30_000)).toBe(false);
    // Another cannot renew what it does not hold.
    expect(await pools.renewTenant('leased', 'b', at(40_000), 30_000)).toBe(false);
    // The holder dies: its lease lapses and b takes over.
    expect(await pools.claimTenant('leased', 'b', at(50_001), 30_000)).toBe(true);
    expect(await pools.renewTenant('leased', 'a', at(50_002), 30_000)).toBe(false);
    await pools.releaseTenant('leased', 'a');
    expect(await pools.claimTenant('leased', 'c', at(50_003), 30_000)).toBe(false);
    await pools.releaseTenant('leased', 'b');
    expect(await pools.claimTenant('leased', 'c', at(50_004), 30_000)).toBe(true);
  });
});
