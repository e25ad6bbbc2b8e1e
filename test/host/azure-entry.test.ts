/**
 * The package's Azure entry (`package.json` main, built) loaded the way the Functions worker loads it:
 * with `@azure/functions-core` present (here a recording shim), the real `@azure/functions` package
 * registers each function. What it registers must be exactly the function table the dev host serves,
 * once its dependencies start; when they cannot (Entra-mode Cosmos without an identity here), only the
 * HTTP functions are registered, so the host starts no queue listener that would drain messages into
 * poison.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../dev/services/services.js';
import { functionTable } from '../../functions/table.js';
import { BATCH_ACCOUNT, BATCH_KEY, startTestServices } from '../support/stack.js';
import { loadEntryLikeTheWorker } from '../support/worker-entry.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

let services: Services;
let env: Record<string, string>;
beforeAll(async () => {
  services = await startTestServices();
  env = {
    AzureWebJobsStorage: services.storageConnectionString,
    COSMOS_ENDPOINT: services.cosmosEndpoint,
    COSMOS_KEY: services.cosmosKey,
    COSMOS_DATABASE: `e${randomUUID().slice(0, 8)}`,
    BATCH_ENDPOINT: 'http://127.0.0.1:9',
    BATCH_ACCOUNT_NAME: BATCH_ACCOUNT,
    BATCH_ACCOUNT_KEY: BATCH_KEY,
  };
});
afterAll(() => services?.close());

interface Binding {
  type: string;
  direction: string;
  [key: string]: unknown;
}

describe('Azure entry point', () => {
  it('registers every table entry once with @azure/functions, with the same triggers', async () => {
    const main = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { main: string }).main;
    const registered = (await loadEntryLikeTheWorker(`${root}${main}`, env, root)) as {
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

  it('registers only the HTTP functions when the dependencies cannot start, so no queue is drained', async () => {
    const main = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { main: string }).main;
    // Entra mode (no key) with no identity available on this machine: the start fails.
    const registered = await loadEntryLikeTheWorker(
      `${root}${main}`,
      {
        ...env,
        COSMOS_KEY: '',
        AZURE_CLIENT_ID: '',
        AZURE_TENANT_ID: '',
      },
      root,
    );
    const http = functionTable.filter((f) => f.kind === 'http').map((f) => f.name);
    expect(registered.map((r) => r.name)).toEqual(http);
    expect(
      registered
        .flatMap((r) => Object.values(r.bindings))
        .filter((b) => b.type !== 'httpTrigger' && b.type !== 'http'),
    ).toEqual([]);
  });
});
