/**
 * The package's Azure entry (`package.json` main, built) loaded the way the Functions worker loads it:
 * with `@azure/functions-core` present (here a recording shim), the real `@azure/functions` package
 * registers each function. What it registers must be exactly the function table the dev host serves,
 * with the same triggers — whether the dependencies start, fail, or do not answer at all: on Flex the
 * host gives initialisation a fixed 30 s and syncs the functions registered by then, so the entry point
 * waits for nothing (functions/startup.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
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

let healthy: { name: string; bindings: Record<string, Binding> }[] = [];

describe('Azure entry point', () => {
  it('registers every table entry once with @azure/functions, with the same triggers', async () => {
    const main = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { main: string }).main;
    const registered = (await loadEntryLikeTheWorker(`${root}${main}`, env, root)) as {
      name: string;
      bindings: Record<string, Binding>;
    }[];
    healthy = registered;
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

  it('registers the whole table at once when the dependencies cannot start', async () => {
    // Entra mode (no key) with no identity available on this machine: the start fails.
    const registered = await loadEntryLikeTheWorker(
      `${root}${main()}`,
      { ...env, COSMOS_KEY: '', AZURE_CLIENT_ID: '', AZURE_TENANT_ID: '' },
      root,
    );
    expect(registered.map((r) => r.name)).toEqual(functionTable.map((f) => f.name));
    expect(triggers(registered)).toEqual(triggers(healthy));
  });

  it('registers the whole table at once while a dependency does not answer', async () => {
    // Cosmos accepts connections and never answers: the start cannot finish, registration must not wait.
    const held: Socket[] = [];
    const silent: Server = createServer((socket) => {
      held.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const registered = await loadEntryLikeTheWorker(
        `${root}${main()}`,
        { ...env, COSMOS_ENDPOINT: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` },
        root,
      );
      expect(registered.map((r) => r.name)).toEqual(functionTable.map((f) => f.name));
      expect(triggers(registered)).toEqual(triggers(healthy));
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

const main = () => (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { main: string }).main;

/** Each function's trigger binding, for comparing registrations. */
const triggers = (registered: readonly { name: string; bindings: Record<string, Binding> }[]) =>
  registered.map((r) => ({
    name: r.name,
    trigger: Object.values(r.bindings).find((b) => b.direction === 'in' && b.type.endsWith('Trigger')),
  }));
