import { describe, expect, it } from 'vitest';
import {
  type HostConfigError,
  parseHostJson,
  parseLocalSettings,
  parseTimeSpan,
} from '../../dev/host/config.js';
import { validateFunctions } from '../../dev/host/host.js';
import { poisonQueueName, pollDelayMs } from '../../dev/host/queue-listener.js';
import { compileRoute } from '../../dev/host/route-template.js';
import type { FunctionDefinition } from '../../functions/definition.js';

const fail = (run: () => unknown) => {
  try {
    run();
  } catch (e) {
    return e as HostConfigError;
  }
  throw new Error('expected a failure');
};

describe('dev host configuration', () => {
  it('reads host.json with the real defaults', () => {
    const opts = parseHostJson('{"version":"2.0"}');
    expect(opts.routePrefix).toBe('api');
    expect(opts.queues).toEqual({
      maxPollingIntervalMs: 2000,
      visibilityTimeoutMs: 0,
      batchSize: 16,
      newBatchThreshold: 8,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
    });
    expect(parseTimeSpan('1.02:03:04.5')).toBe(((26 * 60 + 3) * 60 + 4) * 1000 + 500);
  });

  it('stops start-up on a malformed host.json, naming the file and the key', () => {
    expect(fail(() => parseHostJson('{"version":"2.0",', 'host.json'))).toMatchObject({
      file: 'host.json',
      key: '',
    });
    expect(
      fail(() => parseHostJson('{"version":"2.0","extensions":{"queues":{"batchSize":64}}}')),
    ).toMatchObject({
      key: 'extensions.queues.batchSize',
    });
    expect(
      fail(() => parseHostJson('{"version":"2.0","extensions":{"queues":{"visibilityTimeout":"30s"}}}'))
        .message,
    ).toContain('extensions.queues.visibilityTimeout');
    expect(
      fail(() => parseHostJson('{"version":"2.0","extensions":{"queues":{"maxDequeue":3}}}')).message,
    ).toContain('maxDequeue');
    expect(fail(() => parseHostJson('{"version":"1.0"}'))).toMatchObject({ key: 'version' });
  });

  it('stops start-up on a bad local.settings.json, naming the key', () => {
    expect(fail(() => parseLocalSettings('{"Values":{"PORT":7071}}'))).toMatchObject({
      file: 'local.settings.json',
      key: 'Values.PORT',
    });
    // `__` names are identity-based connection settings, accepted as the host accepts them.
    expect(parseLocalSettings('{"Values":{"A__B":"x"}}').values).toEqual({ A__B: 'x' });
    expect(parseLocalSettings('{"Values":{"A":"1"},"Host":{"LocalHttpPort":7999}}')).toMatchObject({
      values: { A: '1' },
      port: 7999,
    });
  });

  it('refuses functions with missing or bad trigger options before anything starts', () => {
    const handler = async () => undefined;
    const check = (fn: Record<string, unknown>, env: Record<string, string> = { AzureWebJobsStorage: 'x' }) =>
      fail(() => validateFunctions([fn as unknown as FunctionDefinition<unknown>], env));
    expect(check({ kind: 'timer', name: 't', schedule: 'every minute', handler })).toMatchObject({
      key: 't.schedule',
    });
    expect(check({ kind: 'timer', name: 't', schedule: '%MISSING%', handler })).toMatchObject({
      key: 'Values.MISSING',
    });
    expect(check({ kind: 'storageQueue', name: 'q', queueName: 'Bad_Name', handler })).toMatchObject({
      key: 'functions.q.queueName',
    });
    expect(check({ kind: 'storageQueue', name: 'q', queueName: 'ok-name', handler }, {})).toMatchObject({
      key: 'Values.AzureWebJobsStorage',
    });
    expect(check({ kind: 'http', name: 'h', route: 'a/{id:nonsense}', handler })).toMatchObject({
      key: 'functions.h.route',
    });
    expect(check({ kind: 'blob', name: 'b', handler })).toMatchObject({ key: 'functions.b' });
    expect(
      fail(() =>
        validateFunctions(
          [
            { kind: 'http', name: 'x', handler } as unknown as FunctionDefinition<unknown>,
            { kind: 'http', name: 'X', handler } as unknown as FunctionDefinition<unknown>,
          ],
          {},
        ),
      ).message,
    ).toContain('duplicate');
  });
});

describe('dev host: polling and routing rules', () => {
  it('backs off like the host: 100 ms, then randomized doubling, capped', () => {
    const mid = () => 0.5; // rand factor 1.0
    expect([1, 2, 3, 4, 5, 6].map((n) => pollDelayMs(n, 60_000, mid))).toEqual([
      100, 200, 300, 500, 900, 1700,
    ]);
    expect(pollDelayMs(20, 2000, mid)).toBe(2000);
    expect(pollDelayMs(3, 60_000, () => 0)).toBe(100 + 0.8 * 200);
  });

  it('names poison queues as the host does', () => {
    expect(poisonQueueName('jobs')).toBe('jobs-poison');
    expect(poisonQueueName('jobs-poison')).toBeUndefined();
    expect(poisonQueueName('a'.repeat(60))).toBeUndefined();
  });

  it('matches route templates', () => {
    expect(compileRoute('items/{id:guid}').match('/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301')).toEqual({
      id: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
    });
    expect(compileRoute('items/{id:length(3)}').match('/items/abcd')).toBeUndefined();
    expect(compileRoute('items/{page=1}').match('/items')).toEqual({ page: '1' });
    expect(compileRoute('items/{n:range(1,5)}').match('/items/9')).toBeUndefined();
  });
});
