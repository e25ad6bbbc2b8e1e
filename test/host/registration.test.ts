/**
 * What the Azure entry point registers and how each registered handler meets the start
 * (functions/startup.ts): the table never changes with the start; a failed or slow start fails
 * invocations fast with its cause, is tried again later, and a late success is taken. End to end against
 * real Cosmos, Azurite and the dev host: test/deploy/clean-start.test.ts.
 */
import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import {
  NotStartedError,
  releaseDelaySeconds,
  Starter,
  type StartupProblem,
  startupTable,
} from '../../functions/startup.js';
import { functionTable } from '../../functions/table.js';
import type { ReceivedMessage } from '../../shared/adapters/queues/queue-gateway.js';
import type { AppDeps } from '../../shared/app/app.js';
import { SlotwiseError } from '../../shared/core/errors.js';
import { waitFor } from '../support/stack.js';

const quiet = { log: () => undefined };

/** A start the test finishes by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const problemOf = async (p: Promise<unknown>): Promise<StartupProblem> => {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(e).toBeInstanceOf(NotStartedError);
  return (e as NotStartedError).problem;
};

describe('the start-up table', () => {
  it('registers every function of the table with the same triggers, whatever the start does', () => {
    const never = new Starter<AppDeps>(() => new Promise<never>(() => undefined), quiet);
    const table = startupTable(functionTable, never);
    const shape = (fns: readonly { kind: string; name: string }[]) =>
      fns.map(({ kind, name, ...rest }) => ({
        kind,
        name,
        trigger: JSON.stringify(rest, (k, v) => (k === 'handler' ? undefined : v)),
      }));
    expect(shape(table)).toEqual(shape(functionTable));
  });

  it('holds a queue message back with its id and pop receipt, and fails the invocation when it cannot', async () => {
    const starter = new Starter<AppDeps>(
      async () => {
        throw new SlotwiseError('CosmosContainersMissing', "container 'jobs' is missing");
      },
      { ...quiet, retryAfterMs: 60_000 },
    );
    const released: { message: ReceivedMessage; delay: number }[] = [];
    const now = Date.parse('2026-01-01T00:00:00Z');
    const table = startupTable(functionTable, starter, {
      release: async (message, delay) => {
        released.push({ message, delay });
      },
      now: () => now,
    });
    const planner = table.find((f) => f.name === 'planner')!;
    if (planner.kind !== 'storageQueue') throw new Error('planner is a queue function');
    const context = (meta: Record<string, unknown>) =>
      new InvocationContext({ functionName: 'planner', triggerMetadata: meta });
    // Third delivery, far from expiry: 80 minutes, the same message.
    await planner.handler(
      { tenant: 't', jobId: 'j' },
      context({ id: 'm1', popReceipt: 'p1', dequeueCount: 3, expirationTime: '2026-01-08T00:00:00Z' }),
      null,
    );
    expect(released).toEqual([
      { message: { queue: 'slotwise-plan', messageId: 'm1', popReceipt: 'p1' }, delay: 4800 },
    ]);
    // Never hidden past its expiry.
    await planner.handler(
      { tenant: 't', jobId: 'j' },
      context({ id: 'm2', popReceipt: 'p2', dequeueCount: 5, expirationTime: '2026-01-01T00:10:00Z' }),
      null,
    );
    expect(released[1]).toEqual({
      message: { queue: 'slotwise-plan', messageId: 'm2', popReceipt: 'p2' },
      delay: 599,
    });
    // No pop receipt (nothing to hold it back with): the invocation fails with the cause.
    await expect(planner.handler({}, context({ id: 'm3', dequeueCount: 1 }), null)).rejects.toMatchObject({
      problem: { code: 'CosmosContainersMissing' },
    });
    expect(released).toHaveLength(2);
    expect(releaseDelaySeconds(1)).toBe(300);
  });
});

describe('the starter', () => {
  it('fails invocations with the cause, tries again no sooner than retryAfterMs, and keeps a success', async () => {
    let t = 0;
    let attempts = 0;
    let broken = true;
    const starter = new Starter(
      async () => {
        attempts++;
        if (broken)
          throw new SlotwiseError('InvalidConfiguration', 'Invalid settings: COSMOS_ENDPOINT: Invalid URL');
        return { id: attempts };
      },
      { ...quiet, retryAfterMs: 30_000, now: () => t },
    );
    starter.start();
    expect(await problemOf(starter.get())).toEqual({
      code: 'InvalidConfiguration',
      message: 'Invalid settings: COSMOS_ENDPOINT: Invalid URL',
    });
    t += 29_000;
    await problemOf(starter.get());
    expect(attempts).toBe(1);
    broken = false;
    t += 1_000;
    expect(await starter.get()).toEqual({ id: 2 });
    expect(await starter.get()).toEqual({ id: 2 });
    expect(attempts).toBe(2);
    expect(starter.problem()).toBeUndefined();
  });

  it('counts an attempt past timeoutMs as failed, naming its step, and takes its late success', async () => {
    const slow = deferred<{ ok: true }>();
    const starter = new Starter(
      async (onStep) => {
        onStep('checking the Cosmos DB database and containers');
        return slow.promise;
      },
      { ...quiet, timeoutMs: 20, waitMs: 5, retryAfterMs: 3_600_000 },
    );
    starter.start();
    expect((await problemOf(starter.get())).code).toBe('StartupPending');
    const timedOut = await waitFor(
      () => starter.problem(),
      (p) => p?.code === 'StartupTimedOut',
    );
    expect(timedOut!.message).toContain('checking the Cosmos DB database and containers');
    expect(await problemOf(starter.get())).toEqual(timedOut);
    slow.resolve({ ok: true });
    await waitFor(
      () => starter.problem(),
      (p) => p === undefined,
    );
    expect(await starter.get()).toEqual({ ok: true });
  });

  it('shows an SDK error by its code only (its message may quote URLs or tokens)', async () => {
    const starter = new Starter(async () => {
      throw Object.assign(new Error('GET https://x.documents.azure.com/?sig=secret failed'), { code: 403 });
    }, quiet);
    starter.start();
    const problem = await problemOf(starter.get());
    expect(problem.code).toBe('403');
    expect(problem.message).not.toContain('secret');
  });
});
