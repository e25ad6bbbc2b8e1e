/**
 * The account guard on a fake clock: its budget, the `Retry-After` pause, the refusal, and health
 * with its thresholds and hysteresis both ways.
 */
import { describe, expect, it } from 'vitest';
import {
  type AccountGuardOptions,
  type AttemptOutcome,
  classifyAttempt,
  createAccountGuard,
} from '../../shared/adapters/batch/account-guard.js';
import { BatchError } from '../../shared/adapters/batch/batch-error.js';

const start = Date.parse('2026-03-01T12:00:00.000Z');

/** A clock that moves only when told, and sleeps that end when it reaches them. */
function fakeTime() {
  let t = start;
  const sleepers: { until: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const slept: number[] = [];
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    now: () => t,
    slept,
    sleep: (ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        slept.push(ms);
        const entry = { until: t + ms, resolve, reject };
        sleepers.push(entry);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    /** Moves the clock and wakes every sleeper whose time has come. */
    async advance(ms: number) {
      t += ms;
      for (const s of [...sleepers]) {
        if (s.until <= t) {
          sleepers.splice(sleepers.indexOf(s), 1);
          s.resolve();
        }
      }
      await flush();
    },
    flush,
  };
}

function guardOn(time: ReturnType<typeof fakeTime>, extra: Partial<AccountGuardOptions> = {}) {
  return createAccountGuard({ now: time.now, sleep: time.sleep, ...extra });
}

const ok: AttemptOutcome = { status: 200 };
const busy: AttemptOutcome = { status: 503, code: 'ServerBusy' };
const throttled: AttemptOutcome = { status: 429, code: 'TooManyRequests' };

async function refusal(promise: Promise<unknown>): Promise<BatchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BatchError);
  return error as BatchError;
}

describe('the account budget', () => {
  it('lets a burst through at once, then spaces calls at the refill rate', async () => {
    const time = fakeTime();
    const guard = guardOn(time, { budget: { perSecond: 2, burst: 3 } });
    for (let i = 0; i < 3; i++) await guard.beforeRequest();
    expect(time.slept).toEqual([]);
    expect(guard.available()).toBe(false);

    const fourth = guard.beforeRequest();
    await time.flush();
    expect(time.slept).toEqual([500]);
    await time.advance(500);
    await fourth;
    await time.advance(500);
    expect(guard.available()).toBe(true);
  });

  it('serves waiters in the order they came, each at its own token', async () => {
    const time = fakeTime();
    const guard = guardOn(time, { budget: { perSecond: 10, burst: 1 } });
    await guard.beforeRequest();
    const done: number[] = [];
    const waiters = [1, 2, 3].map((i) => guard.beforeRequest().then(() => done.push(i)));
    await time.flush();
    expect(time.slept).toEqual([100, 200, 300]);
    await time.advance(100);
    expect(done).toEqual([1]);
    await time.advance(200);
    await Promise.all(waiters);
    expect(done).toEqual([1, 2, 3]);
  });

  it('refuses at once, without waiting, when the next token is further off than maxWaitMs', async () => {
    const time = fakeTime();
    const guard = guardOn(time, { budget: { perSecond: 1, burst: 1 }, maxWaitMs: 400 });
    await guard.beforeRequest();
    const error = await refusal(guard.beforeRequest());
    expect(error).toMatchObject({
      code: 'AccountThrottled',
      status: 429,
      retryable: true,
      retryAfterMs: 1000,
    });
    expect(time.slept).toEqual([]);
    // A caller may allow itself longer than the guard's default.
    const patient = guard.beforeRequest({ maxWaitMs: 1500 });
    await time.advance(1000);
    await patient;
    expect(guard.stats()).toEqual({ attempts: 0, refused: 1, failures: 0 });
  });

  it('gives the token back when the caller gives up while it waits', async () => {
    const time = fakeTime();
    const guard = guardOn(time, { budget: { perSecond: 1, burst: 1 } });
    await guard.beforeRequest();
    const controller = new AbortController();
    const waiting = guard.beforeRequest({ signal: controller.signal });
    await time.flush();
    controller.abort();
    expect(await refusal(waiting)).toMatchObject({ code: 'Aborted', retryable: false });
    // The abandoned reservation does not delay the next caller.
    const next = guard.beforeRequest();
    await time.flush();
    expect(time.slept).toEqual([1000, 1000]);
    await time.advance(1000);
    await next;
  });
});

describe('Retry-After pauses the whole account', () => {
  it('makes every caller wait out a 503 Retry-After, then lets them go', async () => {
    const time = fakeTime();
    const guard = guardOn(time);
    guard.afterAttempt({ ...busy, retryAfterMs: 1500 });
    expect(guard.available()).toBe(false);
    const a = guard.beforeRequest();
    const b = guard.beforeRequest();
    await time.flush();
    expect(time.slept).toEqual([1500, 1500]);
    await time.advance(1500);
    await Promise.all([a, b]);
    expect(guard.available()).toBe(true);
  });

  it('refuses without waiting when the pause outlasts maxWaitMs, naming when to come back', async () => {
    const time = fakeTime();
    const guard = guardOn(time, { maxWaitMs: 2000 });
    guard.afterAttempt({ ...throttled, retryAfterMs: 5000 });
    await time.advance(1000);
    const error = await refusal(guard.beforeRequest());
    expect(error).toMatchObject({ code: 'AccountThrottled', status: 429, retryAfterMs: 4000 });
    expect(time.slept).toEqual([]);
    await time.advance(2000);
    const waited = guard.beforeRequest();
    await time.flush();
    expect(time.slept).toEqual([2000]);
    await time.advance(2000);
    await waited;
  });

  it('keeps a caller already waiting for its token from going during a pause that began meanwhile', async () => {
    const time = fakeTime();
    const guard = guardOn(time, { budget: { perSecond: 10, burst: 1 } });
    await guard.beforeRequest();
    let through = false;
    const waiting = guard.beforeRequest().then(() => {
      through = true;
    });
    await time.flush();
    guard.afterAttempt({ status: 429, retryAfterMs: 1000 });
    await time.advance(100);
    expect(through).toBe(false);
    await time.advance(900);
    await waiting;
    expect(through).toBe(true);
  });

  it('pauses only on 429 or 503 with Retry-After, and no longer than maxPauseMs', async () => {
    const time = fakeTime();
    const guard = guardOn(time, { maxPauseMs: 10_000, maxWaitMs: 20_000 });
    guard.afterAttempt({ status: 429 });
    guard.afterAttempt({ status: 500, retryAfterMs: 3000 });
    expect(guard.available()).toBe(true);
    guard.afterAttempt({ status: 503, retryAfterMs: 3_600_000 });
    const waiting = guard.beforeRequest();
    await time.flush();
    expect(time.slept).toEqual([10_000]);
    await time.advance(10_000);
    await waiting;
  });
});

describe('account health', () => {
  it('classifies outcomes: the caller’s 4xx are answers, auth failures and 5xx are the account’s', () => {
    const verdict = (o: AttemptOutcome) => classifyAttempt(o).verdict;
    expect([200, 201, 202, 400, 404, 409, 412].map((status) => verdict({ status }))).toEqual(
      Array(7).fill('success'),
    );
    expect([401, 403, 408, 500, 502, 503, 504].map((status) => verdict({ status }))).toEqual(
      Array(7).fill('failure'),
    );
    expect(verdict({ failure: 'network' })).toBe('failure');
    expect(verdict({ failure: 'timeout' })).toBe('failure');
    expect(verdict({ status: 429 })).toBe('throttled');
  });

  it('turns unhealthy at 5 failures in a row, degraded before that', () => {
    const time = fakeTime();
    const guard = guardOn(time);
    guard.afterAttempt(busy);
    expect(guard.health().state).toBe('healthy');
    guard.afterAttempt(busy);
    expect(guard.health()).toMatchObject({
      state: 'degraded',
      reason: '2 of the last 2 calls in 60 s failed (last: 503 ServerBusy)',
    });
    guard.afterAttempt(busy);
    guard.afterAttempt({ failure: 'timeout' });
    expect(guard.health().state).toBe('degraded');
    guard.afterAttempt({ status: 403, code: 'AuthenticationFailed' });
    expect(guard.health()).toEqual({
      state: 'unhealthy',
      since: new Date(start).toISOString(),
      reason: '5 calls in a row failed (last: 403 AuthenticationFailed)',
    });
    expect(guard.stats()).toEqual({ attempts: 5, refused: 0, failures: 5 });
  });

  it('turns unhealthy when half of at least 10 recent calls failed, though never 5 in a row', async () => {
    const time = fakeTime();
    const guard = guardOn(time);
    for (let i = 0; i < 9; i++) {
      guard.afterAttempt(i % 2 === 0 ? ok : { failure: 'network' });
      await time.advance(1000);
    }
    expect(guard.health().state).toBe('degraded');
    guard.afterAttempt({ failure: 'network' });
    expect(guard.health()).toMatchObject({
      state: 'unhealthy',
      reason: '5 of the last 10 calls in 60 s failed (last: network)',
    });
  });

  it('counts a caller’s 404 as an answer: it breaks a run of failures', () => {
    const time = fakeTime();
    const guard = guardOn(time);
    for (let i = 0; i < 4; i++) guard.afterAttempt(busy);
    guard.afterAttempt({ status: 404, code: 'JobNotFound' });
    for (let i = 0; i < 4; i++) guard.afterAttempt(busy);
    expect(guard.health().state).toBe('degraded');
    expect(guard.stats().failures).toBe(8);
  });

  it('is degraded, never unhealthy, while Batch only throttles', () => {
    const time = fakeTime();
    const guard = guardOn(time);
    guard.afterAttempt(throttled);
    expect(guard.health()).toMatchObject({
      state: 'degraded',
      reason: '1 of the last 1 calls in 60 s were throttled (last: 429 TooManyRequests)',
    });
    for (let i = 0; i < 30; i++) guard.afterAttempt(throttled);
    expect(guard.health().state).toBe('degraded');
    expect(guard.stats().failures).toBe(0);
  });

  it('comes back from unhealthy only after 30 s clean and 3 successes, through degraded', async () => {
    const time = fakeTime();
    const guard = guardOn(time);
    for (let i = 0; i < 5; i++) guard.afterAttempt(busy);
    expect(guard.health().state).toBe('unhealthy');
    const unhealthySince = guard.health().since;

    // Successes at once are not enough.
    for (let i = 0; i < 5; i++) guard.afterAttempt(ok);
    expect(guard.health().state).toBe('unhealthy');
    // Nor is time without the successes after it.
    await time.advance(29_000);
    guard.afterAttempt(ok);
    expect(guard.health().state).toBe('unhealthy');
    await time.advance(1_000);
    guard.afterAttempt(ok);
    // 30 s since the last failure with successes in a row: the failures still in the window leave it degraded.
    expect(guard.health()).toMatchObject({ state: 'degraded', since: new Date(time.now()).toISOString() });
    expect(guard.health().since).not.toBe(unhealthySince);

    // Once the failures leave the 60 s window it is healthy, even without another call.
    await time.advance(30_001);
    expect(guard.health()).toEqual({ state: 'healthy', since: new Date(time.now()).toISOString() });
  });

  it('needs the successes, not only the time: silence after failures proves nothing', async () => {
    const time = fakeTime();
    const guard = guardOn(time);
    for (let i = 0; i < 5; i++) guard.afterAttempt(busy);
    await time.advance(61_000);
    // The failures have left the window, but nothing has succeeded since.
    expect(guard.health().state).toBe('unhealthy');
    guard.afterAttempt(ok);
    guard.afterAttempt(ok);
    expect(guard.health().state).toBe('unhealthy');
    guard.afterAttempt(ok);
    expect(guard.health().state).toBe('healthy');
  });

  it('does not recover while a failure or a 429 keeps coming back', async () => {
    const time = fakeTime();
    const guard = guardOn(time);
    guard.afterAttempt(throttled);
    for (let s = 0; s < 4; s++) {
      await time.advance(20_000);
      for (let i = 0; i < 5; i++) guard.afterAttempt(ok);
      expect(guard.health().state).toBe('degraded');
      guard.afterAttempt(s % 2 === 0 ? busy : throttled);
    }
  });

  it('does not flap when every other call fails', async () => {
    const time = fakeTime();
    const guard = guardOn(time);
    const states: string[] = [];
    for (let i = 0; i < 240; i++) {
      guard.afterAttempt(i % 2 === 0 ? ok : busy);
      const state = guard.health().state;
      if (states[states.length - 1] !== state) states.push(state);
      await time.advance(500);
    }
    expect(states).toEqual(['healthy', 'degraded', 'unhealthy']);
  });

  it('takes its thresholds as options: degraded back to healthy once clean and the window is clear', async () => {
    const time = fakeTime();
    const guard = guardOn(time, {
      health: { recoverAfterMs: 10_000, windowMs: 20_000, recoverSuccesses: 2 },
    });
    guard.afterAttempt(throttled);
    expect(guard.health().state).toBe('degraded');
    await time.advance(10_000);
    guard.afterAttempt(ok);
    guard.afterAttempt(ok);
    // Thresholds are options: 10 s clean and 2 successes, but the 429 is still in the 20 s window.
    expect(guard.health().state).toBe('degraded');
    await time.advance(10_001);
    expect(guard.health().state).toBe('healthy');
  });

  it('never quotes more than a status and a plain code', () => {
    const time = fakeTime();
    const guard = guardOn(time);
    for (let i = 0; i < 5; i++)
      guard.afterAttempt({ status: 500, code: 'https://x.blob.core.windows.net/c?sig=SECRET&se=1' });
    const { reason } = guard.health();
    expect(reason).toBe('5 calls in a row failed (last: 500)');
  });
});
