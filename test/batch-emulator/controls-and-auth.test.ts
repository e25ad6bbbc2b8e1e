/**
 * The REST surface's edges: api-version, Shared Key and bearer auth, conditional requests,
 * OData filters, request ids, body limits; and the /_emulator/ controls (faults, counters, clock,
 * applications, reset).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { ACCOUNT, call, control, KEY, poolBody, start } from './helpers.js';

let emulator: BatchEmulator;

beforeAll(async () => {
  emulator = await start({ clockFactor: 0 });
  await call(emulator, 'POST', '/pools', poolBody('p'));
  for (const id of ['alpha-1', 'alpha-2', 'beta-1'])
    await call(emulator, 'POST', '/jobs', { id, poolInfo: { poolId: 'p' } });
});

afterAll(async () => {
  await emulator?.close();
});

const code = (r: { json: unknown }) => (r.json as { code?: string }).code;

describe('versions and authentication', () => {
  it('requires a known api-version', async () => {
    const missing = await call(emulator, 'GET', '/jobs', undefined, { apiVersion: null });
    expect([missing.status, code(missing)]).toEqual([400, 'MissingRequiredQueryParameter']);
    const unknown = await call(emulator, 'GET', '/jobs', undefined, { apiVersion: '2099-01-01.99.0' });
    expect([unknown.status, code(unknown)]).toEqual([400, 'UnsupportedRequestVersion']);
    expect((await call(emulator, 'GET', '/jobs', undefined, { apiVersion: '2022-10-01.16.0' })).status).toBe(
      200,
    );
  });

  it('checks Shared Key signatures, their form and their time, and takes bearer tokens', async () => {
    const wrong = await call(emulator, 'GET', '/jobs', undefined, {
      key: Buffer.from('nope').toString('base64'),
    });
    expect([wrong.status, code(wrong)]).toEqual([403, 'AuthenticationFailed']);
    const malformed = await call(emulator, 'GET', '/jobs', undefined, { auth: 'SharedKey no-colon-here' });
    expect([malformed.status, code(malformed)]).toEqual([400, 'InvalidAuthenticationInfo']);
    const stale = await call(emulator, 'GET', '/jobs', undefined, {
      headers: { 'ocp-date': new Date(Date.now() - 20 * 60_000).toUTCString() },
    });
    expect([stale.status, code(stale)]).toEqual([403, 'AuthenticationFailed']);
    const none = await call(emulator, 'GET', '/jobs', undefined, { auth: 'none' });
    expect(none.status).toBe(401);
    expect((await call(emulator, 'GET', '/jobs', undefined, { auth: 'Bearer any.token.here' })).status).toBe(
      200,
    );
    const noBearer = await startBatchEmulator({
      port: 0,
      accountName: ACCOUNT,
      accountKey: KEY,
      allowBearer: false,
    });
    try {
      const denied = await call(noBearer, 'GET', '/jobs', undefined, { auth: 'Bearer any.token.here' });
      expect([denied.status, code(denied)]).toEqual([403, 'AuthenticationFailed']);
    } finally {
      await noBearer.close();
    }
  });

  it('signs POSTs without a body with an empty or a zero content length', async () => {
    for (const length of ['0', undefined]) {
      const r = await call(emulator, 'POST', '/pools/p/stopresize', undefined, {
        headers: length === undefined ? {} : { 'content-length': length },
      });
      expect(r.status).toBe(202);
    }
  });
});

describe('protocol details', () => {
  it('echoes client-request-id on request and always sends a request-id', async () => {
    const r = await call(emulator, 'GET', '/jobs/alpha-1', undefined, {
      headers: {
        'client-request-id': '9c4d50ee-2d56-4cd3-8152-34347dc9f2b0',
        'return-client-request-id': 'true',
      },
    });
    expect(r.headers.get('client-request-id')).toBe('9c4d50ee-2d56-4cd3-8152-34347dc9f2b0');
    expect(r.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(emulator, 'GET', '/jobs/alpha-1')).headers.get('client-request-id')).toBeNull();
  });

  it('honours If-Match and If-None-Match', async () => {
    const got = await call(emulator, 'GET', '/jobs/alpha-1');
    const etag = got.headers.get('etag') ?? '';
    expect(
      (await call(emulator, 'GET', '/jobs/alpha-1', undefined, { headers: { 'if-none-match': etag } }))
        .status,
    ).toBe(304);
    const stale = await call(
      emulator,
      'PATCH',
      '/jobs/alpha-1',
      { priority: 3 },
      { headers: { 'if-match': '0x8D0000000000000' } },
    );
    expect([stale.status, code(stale)]).toEqual([412, 'ConditionNotMet']);
    const fresh = await call(
      emulator,
      'PATCH',
      '/jobs/alpha-1',
      { priority: 3 },
      { headers: { 'if-match': etag } },
    );
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('etag')).not.toBe(etag);
  });

  it('filters lists with and/or, startswith and parentheses, and pages them', async () => {
    const ids = async (filter: string) =>
      (
        (await call(emulator, 'GET', `/jobs?$filter=${encodeURIComponent(filter)}`)).json as {
          value: { id: string }[];
        }
      ).value.map((j) => j.id);
    expect(await ids("startswith(id,'alpha')")).toEqual(['alpha-1', 'alpha-2']);
    expect(await ids("id eq 'BETA-1' or (startswith(id,'alpha') and priority eq 3)")).toEqual([
      'alpha-1',
      'beta-1',
    ]);
    expect(await ids("state eq 'active' and priority gt 0")).toEqual(['alpha-1']);
    const bad = await call(emulator, 'GET', `/jobs?$filter=${encodeURIComponent("state eq 'active' and")}`);
    expect([bad.status, code(bad)]).toEqual([400, 'InvalidQueryParameterValue']);
    expect((bad.json as { values: { key: string }[] }).values.map((v) => v.key)).toEqual([
      'QueryParameterName',
      'QueryParameterValue',
      'Reason',
    ]);
    const page = (await call(emulator, 'GET', '/jobs?maxresults=2')).json as {
      value: unknown[];
      'odata.nextLink': string;
    };
    expect(page.value).toHaveLength(2);
    const rest = (await call(emulator, 'GET', page['odata.nextLink'])).json as { value: { id: string }[] };
    expect(rest.value.map((j) => j.id)).toEqual(['beta-1']);
    const zero = await call(emulator, 'GET', '/jobs?maxresults=0');
    expect([zero.status, code(zero)]).toEqual([400, 'OutOfRangeQueryParameterValue']);
  });

  it('limits task collections to 100 tasks, unique ids and a body under 1 MB', async () => {
    const tasks = (n: number, pad = '') =>
      Array.from({ length: n }, (_, i) => ({ id: `t${i}`, commandLine: `echo ${pad}` }));
    const tooMany = await call(emulator, 'POST', '/jobs/beta-1/addtaskcollection', { value: tasks(101) });
    expect([tooMany.status, code(tooMany)]).toEqual([400, 'InvalidPropertyValue']);
    const dup = await call(emulator, 'POST', '/jobs/beta-1/addtaskcollection', {
      value: [
        { id: 'same', commandLine: 'echo' },
        { id: 'SAME', commandLine: 'echo' },
      ],
    });
    expect(dup.status).toBe(400);
    const big = await call(emulator, 'POST', '/jobs/beta-1/addtaskcollection', {
      value: tasks(100, 'x'.repeat(10_500)),
    });
    expect([big.status, code(big)]).toEqual([413, 'RequestBodyTooLarge']);
    const missing = await call(emulator, 'POST', '/jobs/beta-1/tasks', { id: 'nocmd' });
    expect([missing.status, code(missing)]).toEqual([400, 'MissingRequiredProperty']);
    const badId = await call(emulator, 'POST', '/jobs/beta-1/tasks', {
      id: 'has space',
      commandLine: 'echo',
    });
    expect([badId.status, code(badId)]).toEqual([400, 'InvalidPropertyValue']);
  });

  it('validates pools as Batch does', async () => {
    const cases: [Record<string, unknown>, number, string, string][] = [
      [
        poolBody('v1', { vmSize: 'standard_d2s_v3', taskSlotsPerNode: 9 }),
        400,
        'InvalidPropertyValue',
        'taskSlotsPerNode',
      ],
      [poolBody('v2', { vmSize: 'standard_unknown' }), 400, 'InvalidPropertyValue', 'vmSize'],
      [poolBody('v3', { resizeTimeout: 'PT4M' }), 400, 'InvalidPropertyValue', 'resizeTimeout'],
      [
        { id: 'v4', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 1 },
        400,
        'MissingRequiredProperty',
        'virtualMachineConfiguration',
      ],
      [
        poolBody('v5', { enableAutoScale: true, autoScaleFormula: '$TargetDedicatedNodes = 1;' }),
        400,
        'InvalidPropertyValue',
        'targetDedicatedNodes',
      ],
      [
        poolBody('v6', { applicationPackageReferences: [{ applicationId: 'nosuchapp' }] }),
        409,
        'InvalidApplicationPackageReferences',
        'nosuchapp',
      ],
    ];
    for (const [body, status, expectedCode, mention] of cases) {
      const r = await call(emulator, 'POST', '/pools', body);
      expect([r.status, code(r)], JSON.stringify(body)).toEqual([status, expectedCode]);
      expect(JSON.stringify((r.json as { values?: unknown }).values)).toContain(mention);
    }
  });
});

describe('controls', () => {
  it('injects an exact number of faults on a path prefix, with Retry-After, and counts them', async () => {
    const set = await control(emulator, 'PUT', 'faults', {
      rate503: 1,
      count: 2,
      retryAfterSeconds: 7,
      pathPrefix: '/jobs/alpha',
    });
    expect(set.status).toBe(200);
    const before = (await control(emulator, 'GET', 'counters')).json as { requests: Record<string, number> };
    expect((await call(emulator, 'GET', '/jobs/beta-1')).status).toBe(200);
    const first = await call(emulator, 'GET', '/jobs/alpha-1');
    expect([first.status, code(first), first.headers.get('retry-after')]).toEqual([503, 'ServerBusy', '7']);
    expect((await call(emulator, 'GET', '/jobs/alpha-2')).status).toBe(503);
    expect((await call(emulator, 'GET', '/jobs/alpha-2')).status).toBe(200);
    const after = (await control(emulator, 'GET', 'counters')).json as { requests: Record<string, number> };
    expect((after.requests['fault:503'] ?? 0) - (before.requests['fault:503'] ?? 0)).toBe(2);
    await control(emulator, 'PUT', 'faults', { rate429: 1, count: 1 });
    const throttled = await call(emulator, 'GET', '/jobs');
    expect([throttled.status, throttled.headers.get('retry-after')]).toEqual([429, '1']);
    await control(emulator, 'PUT', 'faults', { rateDrop: 1, count: 1 });
    await expect(call(emulator, 'GET', '/jobs')).rejects.toThrow();
    expect((await control(emulator, 'GET', 'health')).status).toBe(200);
    expect((await call(emulator, 'GET', '/jobs')).status).toBe(200);
  });

  it('draws the same faults for the same seed', async () => {
    const run = async () => {
      await control(emulator, 'PUT', 'faults', { rate500: 0.5, seed: 42 });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await call(emulator, 'GET', '/pools/p')).status);
      await control(emulator, 'DELETE', 'faults');
      return statuses;
    };
    const a = await run();
    expect(a).toContain(500);
    expect(a).toContain(200);
    expect(await run()).toEqual(a);
  });

  it('counts adds per task id, including TaskExists rejections', async () => {
    await call(emulator, 'POST', '/jobs/beta-1/tasks', { id: 'counted', commandLine: 'echo' });
    const again = await call(emulator, 'POST', '/jobs/beta-1/tasks', { id: 'counted', commandLine: 'echo' });
    expect([again.status, code(again)]).toEqual([409, 'TaskExists']);
    await call(emulator, 'POST', '/jobs/beta-1/addtaskcollection', {
      value: [{ id: 'counted', commandLine: 'echo' }],
    });
    const counters = (await control(emulator, 'GET', 'counters')).json as {
      taskAdds: Record<string, number>;
    };
    expect(counters.taskAdds['beta-1/counted']).toBe(3);
  });

  it('moves the clock, seeds applications, sets quotas and resets', async () => {
    const before = (await control(emulator, 'GET', 'clock')).json as { now: string; factor: number };
    expect(before.factor).toBe(0);
    const after = (await control(emulator, 'POST', 'clock', { advanceSeconds: 3600 })).json as {
      now: string;
    };
    expect(Date.parse(after.now) - Date.parse(before.now)).toBeGreaterThanOrEqual(3_600_000);
    await control(emulator, 'PUT', 'applications', { applications: [{ id: 'Blender', versions: ['4.2'] }] });
    const app = await call(emulator, 'GET', '/applications/blender');
    expect(app.json).toMatchObject({ id: 'Blender', versions: ['4.2'] });
    expect((await control(emulator, 'PUT', 'quotas', { pools: 1 })).json).toMatchObject({ pools: 1 });
    const quota = await call(emulator, 'POST', '/pools', poolBody('second'));
    expect([quota.status, code(quota)]).toEqual([409, 'PoolQuotaReached']);
    expect((await control(emulator, 'PUT', 'faults', { rate500: 2 })).status).toBe(400);
    expect((await control(emulator, 'POST', 'reset')).status).toBe(204);
    expect(((await call(emulator, 'GET', '/jobs')).json as { value: unknown[] }).value).toEqual([]);
    expect((await control(emulator, 'GET', 'counters')).json).toMatchObject({ taskAdds: {} });
  });
});
