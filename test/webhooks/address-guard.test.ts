/**
 * The callback address guard: Azure's platform address and non-443 ports are refused, at submit time
 * and at send time; the local stack's loopback receivers (any port) work only under its switch; the
 * IPv6 documentation and SRv6 blocks, and IPv4 hidden in IPv6 however it is written, are refused.
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

  // Review 3, finding 18: ranges the guard missed, and an IPv4-compatible address written out in full.
  it.each([
    ['3fff::1', '3fff::1'], // IPv6 documentation (RFC 9637)
    ['3fff:0fff:ffff::1', '3fff:fff:ffff::1'], // the top of 3fff::/20
    ['5f00::1', '5f00::1'], // SRv6 segment identifiers (RFC 9602)
    ['5f00:ffff:1:2::3', '5f00:ffff:1:2::3'],
    ['0:0:0:0:0:0:7f00:1', '127.0.0.1'], // IPv4-compatible loopback, uncompressed
    ['0:0:0:0:0:0:a00:7', '10.0.0.7'],
    ['0000:0000:0000:0000:0000:0000:a9fe:a9fe', '169.254.169.254'],
    ['0:0:0:0:0:ffff:7f00:1', '127.0.0.1'], // IPv4-mapped, uncompressed
    ['0:0:0:0:0:FFFF:A83F:8110', '168.63.129.16'],
    ['0:0:0:0:ffff:0:7f00:1', '127.0.0.1'], // IPv4-translated, uncompressed
    ['::7F00:1', '127.0.0.1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::2', '::2'], // the rest of the deprecated IPv4-compatible block
  ])('refuses the resolved address %s (%s)', (address, shown) => {
    expect(forbiddenAddressReason(address, strict)).toBe(`resolves to a non-public address (${shown})`);
  });

  it('still allows public IPv6 just outside the new blocks, and the local switch still opens only loopback', () => {
    for (const address of ['3ffe:ffff::1', '3fff:1000::1', '5eff:ffff::1', '5f01::1', '2606:4700::1111'])
      expect(forbiddenAddressReason(address, strict)).toBeUndefined();
    expect(forbiddenAddressReason('0:0:0:0:0:0:7f00:1', local)).toBeUndefined();
    expect(forbiddenAddressReason('0:0:0:0:0:0:a00:7', local)).toBe(
      'resolves to a non-public address (10.0.0.7)',
    );
    expect(forbiddenAddressReason('3fff::1', local)).toBeDefined();
  });

  it('refuses the new ranges as callback URL hosts', () => {
    expect(validateCallbackUrl('https://[3fff::1]/hook', strict)).toBe(
      'host is a non-public address (3fff::1)',
    );
    expect(validateCallbackUrl('https://[5f00::1]/hook', strict)).toBe(
      'host is a non-public address (5f00::1)',
    );
    expect(validateCallbackUrl('https://[0:0:0:0:0:0:7f00:1]/hook', strict)).toBe(
      'host is a non-public address (127.0.0.1)',
    );
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
