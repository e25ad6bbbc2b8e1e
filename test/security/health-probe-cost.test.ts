/**
 * Anonymous `GET /api/health` costs the shared dependencies almost nothing: callers without a key are
 * answered from a probe result this instance keeps for 10 s, so a flood of them makes at most one round
 * of calls to Batch, Cosmos and Storage. A tenant key gets a result at most 2 s old. Counted at the Batch
 * emulator (`GET /applications` is the health probe's call, and nothing else makes it); time moves
 * through the app's injected clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlotwiseStack, startSlotwise } from '../support/stack.js';

let stack: SlotwiseStack;
/** Added to the app's monotonic clock: lets the test age the cached result. */
let offsetMs = 0;

beforeAll(async () => {
  stack = await startSlotwise({
    overrides: {
      clock: { now: () => new Date(), monotonicMs: () => performance.now() + offsetMs },
    },
  });
});

afterAll(async () => {
  await stack?.close();
});

/** How many health probes reached Batch so far. */
async function batchProbes(): Promise<number> {
  const counters = (await (await stack.emulatorControl('counters')).json()) as {
    requests: Record<string, number>;
  };
  return counters.requests['GET /applications'] ?? 0;
}

const anonymous = () => stack.request('/health', { key: null });

describe('health checks are cached per instance', () => {
  it('answers 50 anonymous requests with at most one round of dependency calls', async () => {
    offsetMs += 60_000; // whatever ran before (the stack's own start) is older than any cache
    const before = await batchProbes();
    // 25 at once (one probe round shared while it runs), then 25 one after another (served from it).
    const together = await Promise.all(Array.from({ length: 25 }, anonymous));
    const inTurn: Response[] = [];
    for (let i = 0; i < 25; i++) inTurn.push(await anonymous());
    for (const res of [...together, ...inTurn]) {
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'up' });
    }
    // One round: the first caller's, which every other caller shared or was answered from.
    expect((await batchProbes()) - before).toBe(1);
  });

  it('checks again once the cached result is older than 10 s', async () => {
    offsetMs += 60_000;
    expect((await anonymous()).status).toBe(200); // a fresh round: the last is a minute old
    const before = await batchProbes();
    offsetMs += 8_000;
    expect((await anonymous()).status).toBe(200);
    expect(await batchProbes()).toBe(before);
    offsetMs += 2_500;
    expect((await anonymous()).status).toBe(200);
    expect(await batchProbes()).toBe(before + 1);
  });

  it('gives a tenant key a result at most 2 s old, which anonymous callers then share', async () => {
    offsetMs += 60_000;
    const before = await batchProbes();
    expect((await stack.request('/health')).status).toBe(200); // fresh: nothing cached is young enough
    expect(await batchProbes()).toBe(before + 1);
    offsetMs += 500;
    const keyed = (await (await stack.request('/health')).json()) as { dependencies?: unknown[] };
    expect(keyed.dependencies).toHaveLength(3);
    expect(await batchProbes()).toBe(before + 1); // half a second old: fresh enough
    offsetMs += 2_000;
    expect((await stack.request('/health')).status).toBe(200);
    expect(await batchProbes()).toBe(before + 2); // 2.5 s old: checked again
    for (let i = 0; i < 10; i++) expect((await anonymous()).status).toBe(200);
    expect(await batchProbes()).toBe(before + 2);
  });
});
