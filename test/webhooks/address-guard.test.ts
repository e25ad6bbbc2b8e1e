/**
 * The callback address guard: Azure's platform address and non-443 ports are refused, at submit time
 * and at send time; the local stack's loopback receivers (any port) work only under its switch.
 */
import { describe, expect, it } from 'vitest';
import { forbiddenAddressReason, validateCallbackUrl } from '../../shared/adapters/webhooks/address-guard.js';
import { createWebhookDispatcher, deliverWebhook } from '../../shared/adapters/webhooks/deliver.js';

const strict = { allowHttpLoopback: false };
const local = { allowHttpLoopback: true };

describe('callback address guard', () => {
  it.each([
    ['https://168.63.129.16/', 'host is a non-public address (168.63.129.16)'],
    ['https://168.63.129.16:443/x', 'host is a non-public address (168.63.129.16)'],
    ['https://[::ffff:168.63.129.16]/', 'host is a non-public address (168.63.129.16)'],
    ['https://[::ffff:a83f:8110]/', 'host is a non-public address (168.63.129.16)'],
    ['https://2822734096/', 'host is a non-public address (168.63.129.16)'],
    ['https://hooks.example.com:8443/x', 'must use port 443'],
    ['https://hooks.example.com:80/x', 'must use port 443'],
    ['https://93.184.216.34:22/', 'must use port 443'],
    ['https://hooks.example.com:443/x', undefined],
  ])('%s → %s', (url, reason) => {
    expect(validateCallbackUrl(url, strict)).toBe(reason);
    // The local switch opens loopback only, never these.
    expect(validateCallbackUrl(url, local)).toBe(reason);
  });

  it('refuses 168.63.129.16 as a resolved address, however it is written', () => {
    expect(forbiddenAddressReason('168.63.129.16', strict)).toBeDefined();
    expect(forbiddenAddressReason('::ffff:168.63.129.16', local)).toBeDefined();
    expect(forbiddenAddressReason('168.63.129.17', strict)).toBeUndefined();
  });

  it('allows loopback receivers on any port only under the local switch', () => {
    for (const url of [
      'http://127.0.0.1:54321/hook',
      'http://localhost:7072/hook',
      'https://127.0.0.1:8443/hook',
    ]) {
      expect(validateCallbackUrl(url, local)).toBeUndefined();
      expect(validateCallbackUrl(url, strict)).toBeDefined();
    }
  });

  it('refuses at send time a name that resolves to the platform address, and a non-443 port', async () => {
    const platform = async () => [{ address: '168.63.129.16', family: 4 }];
    const send = (url: string) =>
      deliverWebhook(
        { url, body: '{}', headers: {} },
        { policy: strict, dispatcher: createWebhookDispatcher(strict, platform) },
      );
    expect(await send('https://wire.example.com/hook')).toEqual({
      kind: 'rejected',
      reason: 'the callback host resolves to a non-public address (168.63.129.16)',
    });
    expect(await send('https://hooks.example.com:8080/hook')).toMatchObject({ kind: 'rejected' });
  });
});
