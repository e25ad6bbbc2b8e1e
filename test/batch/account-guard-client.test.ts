/**
 * The Batch client with an account guard, against the emulator over real HTTP with its faults. Time
 * is virtual: the client's backoff and the guard's waits move a clock both read, so a 30 s recovery
 * or a 5 s Retry-After costs nothing and no assertion depends on how fast the machine is.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { type AccountGuard, createAccountGuard } from '../../shared/adapters/batch/account-guard.js';
import { type BatchClient, BatchError, createBatchClient } from '../../shared/adapters/batch/client.js';
import { BATCH_ACCOUNT, BATCH_KEY, startTestEmulator } from '../support/stack.js';

let emulator: BatchEmulator;
const open: BatchClient[] = [];

const control = async (path: string, method = 'GET', body?: unknown) => {
  const response = await fetch(`${emulator.url}/_emulator/${path}`, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  expect(response.ok).toBe(true);
  return response.status === 204 ? undefined : ((await response.json()) as unknown);
};
const setFaults = (faults: Record<string, unknown>) => control('faults', 'PUT', faults);
/** Requests the emulator has seen, served or faulted. */
const requestsSeen = async () =>
  Object.values(((await control('counters')) as { requests: Record<string, number> }).requests).reduce(
    (a, b) => a + b,
    0,
  );

/** A GET with a body: Batch's error codes come in it. */
async function listPools(client: BatchClient): Promise<unknown[]> {
  const pools: unknown[] = [];
  for await (const pool of client.pools.list()) pools.push(pool);
  return pools;
}

/** One virtual clock for a guard and the clients that use it. */
function virtualTime() {
  let offset = 0;
  const waits: number[] = [];
  return {
    now: () => Date.now() + offset,
    advance: (ms: number) => {
      offset += ms;
    },
    /** A wait that only moves the clock (the guard's and the client's). */
    sleep: async (ms: number) => {
      waits.push(ms);
      offset += ms;
    },
    waits,
  };
}

function setup(maxAttempts: number, maxWaitMs = 2_000) {
  const time = virtualTime();
  const guard = createAccountGuard({ now: time.now, sleep: time.sleep, maxWaitMs });
  const client = clientFor(guard, time, maxAttempts);
  return { time, guard, client };
}

function clientFor(guard: AccountGuard, time: ReturnType<typeof virtualTime>, maxAttempts: number) {
  const client = createBatchClient({
    endpoint: emulator.url,
    accountName: BATCH_ACCOUNT,
    accountKey: BATCH_KEY,
    guard,
    now: time.now,
    sleep: time.sleep,
    random: () => 0.5,
    requestTimeoutMs: 5_000,
    retry: { maxAttempts, baseDelayMs: 100, maxDelayMs: 1_000 },
  });
  open.push(client);
  return client;
}

beforeAll(async () => {
  emulator = await startTestEmulator();
});

beforeEach(async () => {
  await control('reset', 'POST');
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await emulator?.close();
});

describe('a guarded client against the emulator', () => {
  it('turns the account unhealthy on a run of 503s, then healthy once calls succeed for long enough', async () => {
    const { time, guard, client } = setup(8);
    await setFaults({ rate503: 1, count: 6, retryAfterSeconds: 1 });

    // Six 503s, each retried after its Retry-After, then the (empty) list.
    expect(await listPools(client)).toEqual([]);
    expect(guard.stats()).toEqual({ attempts: 7, refused: 0, failures: 6 });
    expect(guard.health()).toMatchObject({
      state: 'unhealthy',
      reason: '6 calls in a row failed (last: 503 ServerBusy)',
    });
    // Every retry waited out Batch's Retry-After.
    expect(time.waits.filter((ms) => ms >= 1_000)).toHaveLength(6);

    // Calls that succeed at once do not make it well.
    for (let i = 0; i < 3; i++) expect(await listPools(client)).toEqual([]);
    expect(guard.health().state).toBe('unhealthy');

    // 30 s clean and 3 successes: degraded while the failures are still in the minute's window…
    time.advance(30_000);
    for (let i = 0; i < 3; i++) expect(await listPools(client)).toEqual([]);
    expect(guard.health().state).toBe('degraded');
    // …and healthy once they have left it.
    time.advance(31_000);
    await listPools(client);
    expect(guard.health()).toMatchObject({ state: 'healthy' });
    expect(guard.health().reason).toBeUndefined();
  });

  it('marks the account degraded on a 429 and holds every caller until its Retry-After has passed', async () => {
    const { time, guard, client } = setup(1);
    await setFaults({ rate429: 1, count: 1, retryAfterSeconds: 1 });
    const asked = time.now();
    const thrown = await listPools(client).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(BatchError);
    expect(thrown).toMatchObject({ status: 429, code: 'TooManyRequests' });
    expect(guard.health()).toMatchObject({
      state: 'degraded',
      reason: '1 of the last 1 calls in 60 s were throttled (last: 429 TooManyRequests)',
    });
    expect(guard.available()).toBe(false);

    // Another caller of the same account (another client over the same guard) waits out the pause.
    const other = clientFor(guard, time, 1);
    expect(await listPools(other)).toEqual([]);
    // It waited once, until past the pause, which began after `asked`.
    expect(time.waits).toHaveLength(1);
    expect(time.now()).toBeGreaterThanOrEqual(asked + 1_000);
    expect(guard.available()).toBe(true);
  });

  it('refuses a call at once, without asking Batch and without retrying, while the pause outlasts its wait', async () => {
    const { time, guard, client } = setup(8);
    const single = clientFor(guard, time, 1);
    await setFaults({ rate429: 1, count: 1, retryAfterSeconds: 5 });
    await listPools(single).catch(() => undefined);
    const seen = await requestsSeen();

    // A client that retries 8 times still gives the refusal straight back.
    const refused = await listPools(client).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BatchError);
    const error = refused as BatchError;
    expect(error.code).toBe('AccountThrottled');
    expect(error.status).toBe(429);
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBeGreaterThan(2_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(5_000);
    expect(await requestsSeen()).toBe(seen);
    expect(guard.stats()).toMatchObject({ attempts: 1, refused: 1 });
  });

  it('counts dropped connections as the account failing', async () => {
    const { guard, client } = setup(8);
    await setFaults({ rateDrop: 1, count: 5 });
    expect(await listPools(client)).toEqual([]);
    expect(guard.health()).toMatchObject({
      state: 'unhealthy',
      reason: '5 calls in a row failed (last: network)',
    });
  });
});
