import type { app as azureApp } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { lazy, registerFunctions } from '../../functions/register.js';
import { functionTable } from '../../functions/table.js';

describe('registration with @azure/functions', () => {
  it('declares every table entry exactly once, the ordinary v4 way, with the same triggers', () => {
    const calls: { kind: string; name: string; options: Record<string, unknown> }[] = [];
    const fake = {
      http: (name: string, options: Record<string, unknown>) => calls.push({ kind: 'http', name, options }),
      storageQueue: (name: string, options: Record<string, unknown>) =>
        calls.push({ kind: 'storageQueue', name, options }),
      timer: (name: string, options: Record<string, unknown>) => calls.push({ kind: 'timer', name, options }),
    } as unknown as typeof azureApp;
    registerFunctions(fake, functionTable, async () => ({}) as never);
    expect(calls.map((c) => c.name)).toEqual(functionTable.map((f) => f.name));
    expect(new Set(calls.map((c) => c.name.toLowerCase())).size).toBe(calls.length);
    for (const [i, fn] of functionTable.entries()) {
      const call = calls[i]!;
      expect(call.kind).toBe(fn.kind);
      if (fn.kind === 'http')
        expect(call.options).toMatchObject({
          route: fn.route ?? fn.name,
          methods: [...(fn.methods ?? ['GET', 'POST'])],
          authLevel: 'anonymous',
        });
      if (fn.kind === 'storageQueue')
        expect(call.options).toMatchObject({ queueName: fn.queueName, connection: 'AzureWebJobsStorage' });
      if (fn.kind === 'timer') expect(call.options).toMatchObject({ schedule: fn.schedule });
      expect(typeof call.options.handler).toBe('function');
    }
  });

  it('creates the dependencies once, and again only after a failure', async () => {
    let created = 0;
    let fail = true;
    const get = lazy(async () => {
      created++;
      if (fail) throw new Error('not yet');
      return created;
    });
    await expect(get()).rejects.toThrow('not yet');
    fail = false;
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
    expect(created).toBe(2);
  });
});
