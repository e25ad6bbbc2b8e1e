/**
 * The package's Azure entry (`package.json` main, built) loaded the way the Functions worker loads it:
 * with `@azure/functions-core` present (here a recording shim), the real `@azure/functions` package
 * registers each function. What it registers must be exactly the function table the dev host serves.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { functionTable } from '../../functions/table.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Binding {
  type: string;
  direction: string;
  [key: string]: unknown;
}

describe('Azure entry point', () => {
  it('registers every table entry once with @azure/functions, with the same triggers', () => {
    const main = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { main: string }).main;
    const out = execFileSync(
      process.execPath,
      [
        '--require',
        fileURLToPath(new URL('../fixtures/functions-core-preload.cjs', import.meta.url)),
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(`${root}${main}`)}); console.log(JSON.stringify(globalThis.__registrations));`,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    const registered = JSON.parse(out.trim().split('\n').at(-1)!) as {
      name: string;
      bindings: Record<string, Binding>;
    }[];
    expect(registered.map((r) => r.name)).toEqual(functionTable.map((f) => f.name));
    for (const fn of functionTable) {
      const meta = registered.find((r) => r.name === fn.name)!;
      const trigger = Object.values(meta.bindings).find(
        (b) => b.direction === 'in' && b.type.endsWith('Trigger'),
      )!;
      switch (fn.kind) {
        case 'http':
          expect(trigger).toMatchObject({
            type: 'httpTrigger',
            route: fn.route ?? fn.name,
            methods: [...(fn.methods ?? ['GET', 'POST'])],
            authLevel: 'anonymous',
          });
          break;
        case 'storageQueue':
          expect(trigger).toMatchObject({
            type: 'queueTrigger',
            queueName: fn.queueName,
            connection: 'AzureWebJobsStorage',
          });
          break;
        case 'timer':
          expect(trigger).toMatchObject({ type: 'timerTrigger', schedule: fn.schedule });
          break;
      }
    }
  });
});
