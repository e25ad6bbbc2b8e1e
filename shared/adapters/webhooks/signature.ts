/**
 * Standard Webhooks signatures (standardwebhooks.com): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 keyed with the base64 bytes after `whsec_`,
 * sent as `webhook-signature: v1,<base64>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SlotwiseError } from '../../core/errors.js';

export class WebhookSecretError extends SlotwiseError {
  constructor() {
    // Never echo the secret itself.
    super('InvalidWebhookSecret', 'A webhook secret must look like whsec_<base64>');
  }
}

export function parseWebhookSecret(secret: string): Buffer {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!match?.[1]) throw new WebhookSecretError();
  const key = Buffer.from(match[1], 'base64');
  if (key.length < 16) throw new WebhookSecretError();
  return key;
}

export interface WebhookHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
}

export function signWebhook(input: {
  secret: string;
  id: string;
  timestamp: number;
  body: string;
}): WebhookHeaders {
  const key = parseWebhookSecret(input.secret);
  const timestamp = String(Math.floor(input.timestamp));
  const signature = createHmac('sha256', key)
    .update(`${input.id}.${timestamp}.${input.body}`)
    .digest('base64');
  return { 'webhook-id': input.id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

/** Verifies any of the space-separated `v1,` signatures; rejects timestamps outside the tolerance. */
export function verifyWebhook(input: {
  secret: string;
  headers: { id: string; timestamp: string; signature: string };
  body: string;
  nowSeconds: number;
  toleranceSeconds?: number;
}): boolean {
  const ts = Number(input.headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(input.nowSeconds - ts) > (input.toleranceSeconds ?? 300))
    return false;
  const expected = Buffer.from(
    signWebhook({ secret: input.secret, id: input.headers.id, timestamp: ts, body: input.body })[
      'webhook-signature'
    ].slice(3),
    'base64',
  );
  return input.headers.signature.split(' ').some((part) => {
    const [version, value] = part.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
