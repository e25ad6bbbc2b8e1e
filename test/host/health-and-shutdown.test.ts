import { afterAll, describe, expect, it } from 'vitest';
import { parseHostJson } from '../../dev/host/config.js';
import { startHost } from '../../dev/host/host.js';
import { memoryLogger, type SlotwiseStack, startSlotwise } from '../support/stack.js';

describe('health', () => {
  let stack: SlotwiseStack | undefined;
  afterAll(async () => {
    await stack?.close();
  });

  it('reports each dependency with latency: 200 when all are up, 503 naming the one that is down', async () => {
    stack = await startSlotwise();
    const up = await stack.request('/health', { key: null });
    expect(up.status).toBe(200);
    const report = (await up.json()) as {
      status: string;
      dependencies: { name: string; status: string; latencyMs: number }[];
    };
    expect(report.status).toBe('up');
    expect(report.dependencies.every((d) => d.status === 'up' && d.latencyMs >= 0)).toBe(true);
    await stack.services.stopCosmos();
    const down = await stack.request('/health', { key: null });
    expect(down.status).toBe(503);
    const after = (await down.json()) as {
      status: string;
      dependencies: { name: string; status: string; error?: string }[];
    };
    expect(after.status).toBe('down');
    expect(after.dependencies.find((d) => d.name === 'cosmos')?.status).toBe('down');
    expect(after.dependencies.find((d) => d.name === 'queues')?.status).toBe('up');
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
