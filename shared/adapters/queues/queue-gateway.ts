/**
 * Sends pipeline messages. Bodies are JSON, base64-encoded: the encoding the Functions host expects by
 * default (`messageEncoding: base64`), so the same messages work in Azure and on the dev host.
 * `send` adds the current W3C trace context (`traceparent`) to object messages that carry none: queues
 * have no headers, and this is how one job's trace continues in the function the message wakes.
 */
import type { TokenCredential } from '@azure/core-auth';
import { QueueServiceClient } from '@azure/storage-queue';
import { withTraceparent } from '../telemetry/trace-context.js';
import { type QueueName, queueNames } from './names.js';

export interface QueueGateway {
  /** `delaySeconds` keeps the message invisible that long (Storage allows up to 7 days). */
  send(queue: QueueName, message: unknown, options?: { delaySeconds?: number }): Promise<void>;
  /** Sends a text message as is (base64 of its UTF-8), to any queue: used for poison moves. */
  sendRaw(queue: string, text: string): Promise<void>;
  /** Cheap round trip to the queue service, for health checks. */
  ping(signal?: AbortSignal): Promise<void>;
}

export const MAX_VISIBILITY_DELAY_SECONDS = 7 * 24 * 3600 - 1;

export function encodeQueueMessage(message: unknown): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

/** A connection string (Azurite, or a keyed account), or the queue endpoint and an Entra credential. */
export type QueueConnection =
  | string
  | { readonly queueServiceUri: string; readonly credential: TokenCredential };

function queueService(connection: QueueConnection): QueueServiceClient {
  return typeof connection === 'string'
    ? QueueServiceClient.fromConnectionString(connection)
    : new QueueServiceClient(connection.queueServiceUri, connection.credential);
}

export function createQueueGateway(connection: QueueConnection): QueueGateway {
  const keyed = typeof connection === 'string';
  const service = queueService(connection);
  const ensured = new Map<string, Promise<unknown>>();
  const ensure = (name: string) => {
    let p = ensured.get(name);
    if (!p) {
      p = service.getQueueClient(name).createIfNotExists();
      // A failed create must not be cached: the next send tries again.
      p.catch(() => ensured.delete(name));
      ensured.set(name, p);
    }
    return p;
  };
  return {
    async send(queue, message, options = {}) {
      await ensure(queue);
      const delay = Math.min(Math.max(0, Math.ceil(options.delaySeconds ?? 0)), MAX_VISIBILITY_DELAY_SECONDS);
      await service
        .getQueueClient(queue)
        .sendMessage(
          encodeQueueMessage(withTraceparent(message)),
          delay > 0 ? { visibilityTimeout: delay } : {},
        );
    },
    async sendRaw(queue, text) {
      await ensure(queue);
      await service.getQueueClient(queue).sendMessage(Buffer.from(text, 'utf8').toString('base64'));
    },
    async ping(signal) {
      const options = signal ? { abortSignal: signal } : {};
      // Service properties need an account-level permission the data roles do not grant; with an
      // identity, peeking the intake queue proves both the endpoint and the role.
      if (keyed) await service.getProperties(options);
      else
        await service
          .getQueueClient(queueNames.jobRequests)
          .peekMessages({ ...options, numberOfMessages: 1 });
    },
  };
}

/** A received message, by what Storage needs to change it: its id and the pop receipt of this delivery. */
export interface ReceivedMessage {
  readonly queue: string;
  readonly messageId: string;
  readonly popReceipt: string;
}

/**
 * Hides a message being processed for `delaySeconds` (Update Message with its pop receipt): the same
 * message, with its id, body and insertion time, comes back after the delay. The Functions host's own
 * delete of it then meets a pop receipt mismatch, which it expects ("the function has modified the
 * message") and ignores. Start-up uses it to abandon a message with a delay while the app cannot start.
 */
export interface MessageReleaser {
  release(message: ReceivedMessage, delaySeconds: number): Promise<void>;
}

export function createMessageReleaser(connection: QueueConnection): MessageReleaser {
  const service = queueService(connection);
  return {
    async release(message, delaySeconds) {
      const delay = Math.min(Math.max(0, Math.ceil(delaySeconds)), MAX_VISIBILITY_DELAY_SECONDS);
      await service
        .getQueueClient(message.queue)
        .updateMessage(message.messageId, message.popReceipt, undefined, delay);
    },
  };
}
