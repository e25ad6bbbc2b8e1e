import { afterAll, describe, expect, it } from 'vitest';
import { parseHostJson } from '../../dev/host/config.js';
import { startHost } from '../../dev/host/host.js';
import { memoryLogger, type SlotwiseStack, startSlotwise } from '../support/stack.js';

describe('health', () => {
  let stack: SlotwiseStack | undefined;
  /** Added to the app's monotonic clock: ages the instance's cached health result. */
  let offsetMs = 0;
  const start = () =>
    startSlotwise({
      overrides: { clock: { now: () => new Date(), monotonicMs: () => performance.now() + offsetMs } },
    });
  afterAll(async () => {
    await stack?.close();
  });

  interface Details {
    status: string;
    dependencies?: { name: string; status: string; latencyMs: number; error?: string }[];
    localSwitches?: { runsInAzure: boolean; refused: string[] };
  }

  it('says only up/down without a key, each dependency with a tenant key, and 401 for a bad key', async () => {
    stack = await start();
    const anonymous = await stack.request('/health', { key: null });
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: 'up' });

    const withKey = await stack.request('/health');
    expect(withKey.status).toBe(200);
    const report = (await withKey.json()) as Details;
    expect(report.status).toBe('up');
    expect(report.dependencies?.map((d) => d.name).sort()).toEqual(['batch', 'cosmos', 'queues']);
    expect(report.dependencies?.every((d) => d.status === 'up' && d.latencyMs >= 0)).toBe(true);
    expect(report.localSwitches).toEqual({ runsInAzure: false, refused: [] });

    const badKey = await stack.request('/health', { key: 'not-a-key-of-anyone' });
    expect(badKey.status).toBe(401);
    expect(JSON.stringify(await badKey.json())).not.toContain('dependencies');
  });

  it('503 when a dependency is down: anonymous still only "down", a key verified before names it', async () => {
    stack ??= await start();
    expect((await stack.request('/health')).status).toBe(200); // the key is verified while Cosmos is up
    await stack.services.stopCosmos();
    // Anonymous callers get a result up to 10 s old: past that, the outage shows.
    offsetMs += 10_001;
    const anonymous = await stack.request('/health', { key: null });
    expect(anonymous.status).toBe(503);
    expect(await anonymous.json()).toEqual({ status: 'down' });
    // A key never seen before cannot be checked while the key store is down: no details.
    const unchecked = await stack.request('/health', { key: 'never-seen-key-123' });
    expect(unchecked.status).toBe(503);
    expect(await unchecked.json()).toEqual({ status: 'down' });
    const down = await stack.request('/health');
    expect(down.status).toBe(503);
    const after = (await down.json()) as Details;
    expect(after.status).toBe('down');
    expect(after.dependencies?.find((d) => d.name === 'cosmos')?.status).toBe('down');
    expect(after.dependencies?.find((d) => d.name === 'queues')?.status).toBe('up');
    // No secrets in the report.
    expect(JSON.stringify(after)).not.toContain(stack.env.COSMOS_KEY);
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight invocations, refuses new work, then closes', async () => {
    let started = false;
    const host = await startHost({
      functions: [
        {
          kind: 'http',
          name: 'slow',
          handler: async () => {
            started = true;
            await new Promise((r) => setTimeout(r, 500));
            return { body: 'finished' };
          },
        },
      ],
      deps: async () => undefined,
      host: parseHostJson('{"version":"2.0"}'),
      env: {},
      port: 0,
      logger: memoryLogger(),
    });
    const inFlight = fetch(`${host.url}/api/slow`);
    while (!started) await new Promise((r) => setTimeout(r, 10));
    const closing = host.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('finished');
    await closing;
    await expect(fetch(`${host.url}/api/slow`)).rejects.toThrow();
  });
});
