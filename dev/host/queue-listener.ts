/**
 * The Storage queue trigger, following the Functions host's listener:
 * - poll with Get Messages (`batchSize`, a 10-minute lease renewed while the handler runs);
 * - when a poll finds messages, poll again as soon as in-flight work drops to `newBatchThreshold`;
 *   when it finds none, back off: 100 ms, then 100 ms + rand(0.8..1.2) × 2^(n−1) × 100 ms, capped at
 *   `maxPollingInterval` (a missing queue is an empty poll, not an error);
 * - before invoking, a message dequeued more than `maxDequeueCount` times goes to `<queue>-poison`;
 *   undecodable base64 goes there at once, without an invocation;
 * - success deletes the message; failure either releases it after `visibilityTimeout` or, on the
 *   last allowed attempt, copies it byte-for-byte to `<queue>-poison` and deletes it.
 */
import { randomUUID } from 'node:crypto';
import azureFunctions from '@azure/functions';
import type { DequeuedMessageItem, QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { StorageQueueFunction } from '../../functions/definition.js';
import type { HostOptions } from './config.js';
import type { Worker } from './invoke.js';
import { type HostLogger, invocationLogHandler } from './logger.js';

export interface QueueListenerOptions<D> {
  readonly fn: StorageQueueFunction<D>;
  readonly queueName: string;
  readonly service: QueueServiceClient;
  readonly settings: HostOptions['queues'];
  readonly worker: Worker<D>;
  /** Lease while a handler runs. Default 10 minutes, as in the host. */
  readonly leaseSeconds: number;
  readonly logger: HostLogger;
  readonly random?: () => number;
  readonly inFlight: { add(p: Promise<unknown>): void };
}

export interface QueueListener {
  start(): void;
  /** Stops polling; resolves when in-flight messages are finished. */
  stop(): Promise<void>;
}

/** The host's randomized exponential back-off, as a pure function of the empty-poll streak. */
export function pollDelayMs(emptyPolls: number, maxMs: number, random: () => number): number {
  if (emptyPolls <= 1) return Math.min(100, maxMs);
  const delay = 100 + (0.8 + 0.4 * random()) * 2 ** (emptyPolls - 2) * 100;
  return Math.min(delay, maxMs);
}

export function poisonQueueName(queue: string): string | undefined {
  if (queue.endsWith('-poison')) return undefined;
  const name = `${queue}-poison`;
  return name.length <= 63 ? name : undefined;
}

export function createQueueListener<D>(options: QueueListenerOptions<D>): QueueListener {
  const { fn, settings, logger } = options;
  const random = options.random ?? Math.random;
  const queue: QueueClient = options.service.getQueueClient(options.queueName);
  const poisonName = poisonQueueName(options.queueName);
  const poison = poisonName ? options.service.getQueueClient(poisonName) : undefined;
  let running = false;
  let inFlight = 0;
  const active = new Set<Promise<void>>();
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function toPoison(message: DequeuedMessageItem, reason: string): Promise<void> {
    if (!poison) return;
    logger.log('warning', `Function.${fn.name}`, reason);
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
  }

  // As the host's QueueProcessor: a message gone (404), or changed by the function itself (a new pop
  // receipt, 400 PopReceiptMismatch: "may be expected"), is left alone.
  const leftAlone = (e: unknown) =>
    (e as { statusCode?: number }).statusCode === 404 ||
    (e as { code?: string }).code === 'PopReceiptMismatch' ||
    (e as { details?: { errorCode?: string } }).details?.errorCode === 'PopReceiptMismatch';

  async function deleteQuietly(message: DequeuedMessageItem, popReceipt: string): Promise<void> {
    try {
      await queue.deleteMessage(message.messageId, popReceipt);
    } catch (e) {
      if (!leftAlone(e)) throw e;
    }
  }

  function decode(text: string): string | undefined {
    if (settings.messageEncoding === 'none') return text;
    const trimmed = text.trim();
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length % 4 === 1) return undefined;
    return Buffer.from(trimmed, 'base64').toString('utf8');
  }

  async function process(message: DequeuedMessageItem): Promise<void> {
    let popReceipt = message.popReceipt;
    if (message.dequeueCount > settings.maxDequeueCount) {
      await toPoison(
        message,
        `Message has reached MaxDequeueCount of ${settings.maxDequeueCount}. Moving message to queue '${poisonName}'.`,
      );
      await deleteQuietly(message, popReceipt);
      return;
    }
    const text = decode(message.messageText);
    if (text === undefined) {
      await toPoison(
        message,
        `Message decoding has failed! Check MessageEncoding settings. Moving message ${message.messageId} to '${poisonName}'.`,
      );
      await deleteQuietly(message, popReceipt);
      return;
    }
    let payload: unknown = text;
    try {
      payload = JSON.parse(text);
    } catch {
      // Not JSON: the handler gets the string, as the v4 library does.
    }
    // Renew the lease at half its length while the handler runs, so long work never loses the message.
    const renew = setInterval(
      () => {
        queue
          .updateMessage(message.messageId, popReceipt, undefined, options.leaseSeconds)
          .then((r) => {
            if (r.popReceipt) popReceipt = r.popReceipt;
          })
          .catch(() => undefined);
      },
      (options.leaseSeconds * 1000) / 2,
    );
    const invocationId = randomUUID();
    let done = false;
    const context = new azureFunctions.InvocationContext({
      invocationId,
      functionName: fn.name,
      logHandler: invocationLogHandler(logger, fn.name, invocationId, () => done),
      triggerMetadata: {
        queueTrigger: text,
        dequeueCount: message.dequeueCount,
        id: message.messageId,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        popReceipt: message.popReceipt,
      },
    });
    logger.log(
      'information',
      `Function.${fn.name}`,
      `Executing (Reason='New queue message detected on '${options.queueName}'.', Id=${invocationId})`,
    );
    let failure: unknown;
    try {
      await options.worker.invoke(fn.name, (deps) => fn.handler(payload, context, deps));
    } catch (e) {
      failure = e;
    } finally {
      done = true;
      clearInterval(renew);
    }
    if (failure === undefined) {
      logger.log('information', `Function.${fn.name}`, `Executed (Succeeded, Id=${invocationId})`);
      await deleteQuietly(message, popReceipt);
      return;
    }
    logger.log(
      'error',
      `Function.${fn.name}`,
      `Executed (Failed, Id=${invocationId}, DequeueCount=${message.dequeueCount}): ${(failure as Error).stack ?? String(failure)}`,
    );
    if (message.dequeueCount >= settings.maxDequeueCount && poison) {
      await toPoison(
        message,
        `Message has reached MaxDequeueCount of ${settings.maxDequeueCount}. Moving message to queue '${poisonName}'.`,
      );
      await deleteQuietly(message, popReceipt);
      return;
    }
    if (!poison) return; // No poison queue: the message stays leased until the lease ends.
    try {
      await queue.updateMessage(
        message.messageId,
        popReceipt,
        undefined,
        Math.floor(settings.visibilityTimeoutMs / 1000),
      );
    } catch (e) {
      if (!leftAlone(e)) throw e;
    }
  }

  async function run(): Promise<void> {
    let emptyPolls = 0;
    while (running) {
      if (inFlight > settings.newBatchThreshold) {
        await sleep(50);
        continue;
      }
      let messages: DequeuedMessageItem[] = [];
      try {
        const response = await queue.receiveMessages({
          numberOfMessages: settings.batchSize,
          visibilityTimeout: options.leaseSeconds,
        });
        messages = response.receivedMessageItems;
      } catch (e) {
        const status = (e as { statusCode?: number }).statusCode;
        if (status !== 404 && status !== 409 && !(status && status >= 500)) {
          logger.log(
            'warning',
            `Host.Queues`,
            `Polling '${options.queueName}' failed: ${(e as Error).message}`,
          );
        }
      }
      if (!running) {
        // Stopped while polling: give the messages back at once.
        await Promise.all(
          messages.map((m) =>
            queue.updateMessage(m.messageId, m.popReceipt, undefined, 0).catch(() => undefined),
          ),
        );
        break;
      }
      if (messages.length === 0) {
        emptyPolls++;
        await sleep(pollDelayMs(emptyPolls, settings.maxPollingIntervalMs, random));
        continue;
      }
      emptyPolls = 0;
      for (const message of messages) {
        inFlight++;
        const work = process(message)
          .catch((e: unknown) =>
            logger.log('error', `Function.${fn.name}`, `Message handling failed: ${(e as Error).message}`),
          )
          .finally(() => {
            inFlight--;
            active.delete(work);
            wake?.();
          });
        active.add(work);
        options.inFlight.add(work);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      await Promise.all([...active]);
    },
  };
}
