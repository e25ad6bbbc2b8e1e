import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostJson } from '../../dev/host/config.js';
import { type DevHost, startHost } from '../../dev/host/host.js';
import type { Services } from '../../dev/services/services.js';
import type { FunctionDefinition } from '../../functions/definition.js';
import { memoryLogger, startTestServices, waitFor } from '../support/stack.js';

interface Seen {
  message: unknown;
  meta: Record<string, unknown>;
  at: number;
}
const seen: Record<string, Seen[]> = {};
let inFlight = 0;
let maxInFlight = 0;
/** One gate per running slow message, opened by the test. */
const gates: (() => void)[] = [];
let open = false;

const record = (name: string, message: unknown, meta: unknown) => {
  seen[name] ??= [];
  seen[name].push({ message, meta: meta as Record<string, unknown>, at: Date.now() });
};

const functions: FunctionDefinition<unknown>[] = [
  {
    kind: 'storageQueue',
    name: 'ok',
    queueName: 'q-ok',
    handler: async (message, ctx) => record('ok', message, ctx.triggerMetadata),
  },
  {
    kind: 'storageQueue',
    name: 'fails',
    queueName: 'q-fails',
    handler: async (message, ctx) => {
      record('fails', message, ctx.triggerMetadata);
      throw new Error('always fails');
    },
  },
  {
    kind: 'storageQueue',
    name: 'slow',
    queueName: 'q-slow',
    handler: async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (!open) await new Promise<void>((r) => gates.push(r));
      inFlight--;
    },
  },
];

let services: Services;
let host: DevHost;
let queues: QueueServiceClient;
const logger = memoryLogger();

beforeAll(async () => {
  services = await startTestServices();
  queues = QueueServiceClient.fromConnectionString(services.storageConnectionString);
  for (const q of ['q-ok', 'q-fails', 'q-slow']) await queues.getQueueClient(q).createIfNotExists();
  host = await startHost({
    functions,
    deps: async () => undefined,
    host: parseHostJson(
      JSON.stringify({
        version: '2.0',
        extensions: {
          queues: {
            maxPollingInterval: '00:00:00.200',
            visibilityTimeout: '00:00:01',
            batchSize: 4,
            newBatchThreshold: 2,
            maxDequeueCount: 3,
          },
        },
      }),
    ),
    env: { AzureWebJobsStorage: services.storageConnectionString },
    port: 0,
    logger,
    queueLeaseSeconds: 60,
  });
});

afterAll(async () => {
  open = true;
  for (const g of gates.splice(0)) g();
  await host?.close();
  await services?.close();
});

const send = (queue: string, text: string) => queues.getQueueClient(queue).sendMessage(text);
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('dev host: Storage queue trigger against Azurite', () => {
  it('decodes base64, parses JSON (falling back to the string) and passes trigger metadata; success deletes', async () => {
    await send('q-ok', b64('{"hello":"world"}'));
    await send('q-ok', b64('plain text'));
    const got = await waitFor(
      () => seen.ok ?? [],
      (s) => s.length === 2,
      { what: 'two messages' },
    );
    expect(got.map((s) => s.message)).toEqual(expect.arrayContaining([{ hello: 'world' }, 'plain text']));
    expect(got[0]?.meta).toMatchObject({
      dequeueCount: 1,
      queueTrigger: expect.any(String),
      id: expect.any(String),
      popReceipt: expect.any(String),
    });
    expect(
      Date.parse(String(got[0]?.meta.expirationTime)) - Date.parse(String(got[0]?.meta.insertionTime)),
    ).toBe(7 * 24 * 3600 * 1000);
    await waitFor(
      async () => (await queues.getQueueClient('q-ok').getProperties()).approximateMessagesCount,
      (n) => n === 0,
    );
  });

  it('retries a failing message with a growing dequeueCount after visibilityTimeout, then moves it to poison unchanged', async () => {
    const body = b64('{"n":1,"payload":"keep me"}');
    await send('q-fails', body);
    const poison = queues.getQueueClient('q-fails-poison');
    const texts = await waitFor(
      async () =>
        (await poison.exists())
          ? (await poison.peekMessages()).peekedMessageItems.map((m) => m.messageText)
          : [],
      (t) => t.length === 1,
      { what: 'poison message', timeoutMs: 30_000 },
    );
    expect(texts).toEqual([body]);
    const attempts = seen.fails ?? [];
    expect(attempts.map((a) => a.meta.dequeueCount)).toEqual([1, 2, 3]);
    // visibilityTimeout of 1 s between attempts.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(900);
    expect(logger.lines.some((l) => l.includes("Moving message to queue 'q-fails-poison'"))).toBe(true);
  });

  it('moves an undecodable message straight to poison without invoking the function', async () => {
    const before = (seen.ok ?? []).length;
    await send('q-ok', 'not base64 %%%');
    const poison = queues.getQueueClient('q-ok-poison');
    const texts = await waitFor(
      async () =>
        (await poison.exists())
          ? (await poison.peekMessages()).peekedMessageItems.map((m) => m.messageText)
          : [],
      (t) => t.length === 1,
    );
    expect(texts).toEqual(['not base64 %%%']);
    expect((seen.ok ?? []).length).toBe(before);
  });

  it('runs at most batchSize + newBatchThreshold messages at once', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => send('q-slow', b64(String(i)))));
    // A full batch blocks: 4 in flight, above the threshold of 2, so no new poll.
    await waitFor(
      () => inFlight,
      (n) => n === 4,
      { what: 'a batch in flight' },
    );
    // Two finish: in-flight drops to the threshold, the listener fetches another batch of 4 → 6.
    for (const g of gates.splice(0, 2)) g();
    await waitFor(
      () => inFlight,
      (n) => n === 6,
      { what: 'six in flight' },
    );
    // With 6 > threshold no further batch comes, while 12 messages still wait in the queue.
    const waiting = await waitFor(
      async () =>
        (await queues.getQueueClient('q-slow').peekMessages({ numberOfMessages: 32 })).peekedMessageItems
          .length,
      (n) => n === 12,
    );
    expect(waiting).toBe(12);
    expect(maxInFlight).toBe(6);
    open = true;
    for (const g of gates.splice(0)) g();
    await waitFor(
      async () => (await queues.getQueueClient('q-slow').getProperties()).approximateMessagesCount,
      (n) => n === 0,
      { what: 'drained' },
    );
    expect(maxInFlight).toBe(6);
  });
});
