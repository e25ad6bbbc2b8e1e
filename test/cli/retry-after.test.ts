/**
 * The API client's bounded patience with "later" answers, in process with the sleep and the clock
 * passed in (no real waiting), against a real HTTP server: the waits Retry-After names, the HTTP-date
 * form, and the 5-try and 60-second bounds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CliError, createApiClient } from '../../shared/interfaces/cli/api-client.js';
import { decideRetry, parseRetryAfter } from '../../shared/interfaces/cli/retry-after.js';
import { FAKE_KEY, type FakeTaskApi, jobView, startFakeTaskApi } from './fake-task-api.js';

let fake: FakeTaskApi;
const NOW = Date.parse('2026-03-01T12:00:00Z');

beforeAll(async () => {
  fake = await startFakeTaskApi();
  fake.jobs.set('j', { view: jobView('j', 'running'), tasks: [], files: new Map(), outputs: [] });
});

afterAll(() => fake?.close());

beforeEach(() => {
  fake.seen.length = 0;
});

function client() {
  const waits: number[] = [];
  const api = createApiClient({
    baseUrl: fake.api,
    apiKey: FAKE_KEY,
    now: () => NOW + waits.reduce((a, b) => a + b, 0),
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  return { api, waits };
}

/** Answers each request with the next of `answers` (status, Retry-After), then lets it through. */
function script(answers: [number, string | undefined][]) {
  let i = 0;
  fake.intercept = () => {
    const next = answers[i++];
    if (!next) return undefined;
    const [status, retryAfter] = next;
    return {
      status,
      headers: {
        'content-type': 'application/problem+json',
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      },
      body: JSON.stringify({ title: 'Later', status }),
    };
  };
}

describe('the API client and Retry-After', () => {
  it('waits as each answer says, seconds or a date, then returns the answer', async () => {
    script([
      [429, '2'],
      [503, new Date(NOW + 2000 + 7000).toUTCString()],
      [409, '3'],
    ]);
    const { api, waits } = client();
    expect((await api.tasks('j', {})).value).toEqual([]);
    expect(waits).toEqual([2000, 7000, 3000]);
    expect(fake.seen).toHaveLength(4);
  });

  it('a 429 without Retry-After waits a second', async () => {
    script([[429, undefined]]);
    const { api, waits } = client();
    await api.get('j');
    expect(waits).toEqual([1000]);
  });

  it('stops after 5 tries, and before a wait that would pass 60 s in all', async () => {
    script(Array.from({ length: 10 }, () => [429, '1'] as [number, string]));
    const tries = client();
    const error = await tries.api.get('j').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('Api429');
    expect((error as CliError).message).toBe('429 Later (gave up after 5 tries)');
    expect(tries.waits).toEqual([1000, 1000, 1000, 1000]);
    expect(fake.seen).toHaveLength(5);

    fake.seen.length = 0;
    script(Array.from({ length: 10 }, () => [409, '25'] as [number, string]));
    const time = client();
    const late = (await time.api.get('j').catch((e: unknown) => e)) as CliError;
    expect(time.waits).toEqual([25_000, 25_000]);
    expect(fake.seen).toHaveLength(3);
    expect(late.message).toBe(
      '409 Later (gave up: the API asked to wait 25 s, past the 60 s the CLI waits in all (50 s waited already))',
    );
  });

  it('never retries a 409 or 503 that names no wait, nor other errors', async () => {
    for (const status of [409, 503, 500, 404, 400]) {
      fake.seen.length = 0;
      script([[status, undefined]]);
      const { api, waits } = client();
      await expect(api.get('j')).rejects.toBeInstanceOf(CliError);
      expect(waits).toEqual([]);
      expect(fake.seen, String(status)).toHaveLength(1);
    }
  });
});

describe('parseRetryAfter and decideRetry', () => {
  it('reads delay-seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', NOW)).toBe(0);
    for (const bad of ['-3', '1.5', '', 'soon', null, undefined])
      expect(parseRetryAfter(bad, NOW)).toBeUndefined();
  });

  it('retries only 429, and 409 or 503 with Retry-After', () => {
    const at = { tries: 1, waitedMs: 0, now: NOW };
    expect(decideRetry(429, null, at)).toEqual({ retry: true, waitMs: 1000 });
    expect(decideRetry(409, '4', at)).toEqual({ retry: true, waitMs: 4000 });
    expect(decideRetry(503, '4', at)).toEqual({ retry: true, waitMs: 4000 });
    expect(decideRetry(409, null, at)).toEqual({ retry: false });
    expect(decideRetry(500, '4', at)).toEqual({ retry: false });
    expect(decideRetry(429, '1', { ...at, tries: 5 })).toEqual({
      retry: false,
      why: 'gave up after 5 tries',
    });
  });
});
