/**
 * Where callbacks may go. A callback URL must be https on port 443 and must never reach loopback,
 * private, link-local, metadata, Azure platform (168.63.129.16) or otherwise special addresses. The
 * local stack may allow loopback receivers by an explicit setting (refused in Azure): then
 * `http(s)://127.0.0.1`, `localhost` and `[::1]` on any port (its receivers listen on their own ports).
 * The URL is checked when the job is submitted and again at every send, and every resolved IP is
 * checked when connecting (see deliver.ts), so DNS cannot swap in a forbidden address later.
 */
import { BlockList, isIP } from 'node:net';

export interface CallbackPolicy {
  /** Local stack only: permit `http(s)://127.0.0.1`, `localhost` and `[::1]`, on any port. */
  readonly allowHttpLoopback: boolean;
}

const forbidden = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  forbidden.addSubnet(net, prefix, 'ipv4');
}
// Azure's platform address (wire server: DNS, health probes, instance metadata of the host): public
// by its numbers, but reachable from every Azure VM and function instance, so never a callback target.
forbidden.addAddress('168.63.129.16', 'ipv4');
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated); those that embed an address are judged as IPv4 first
  ['64:ff9b::', 96], // NAT64 (embeds IPv4)
  ['64:ff9b:1::', 48],
  ['100::', 64], // discard
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 (embeds IPv4)
  ['3fff::', 20], // documentation (RFC 9637)
  ['5f00::', 16], // SRv6 segment identifiers (RFC 9602)
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  forbidden.addSubnet(net, prefix, 'ipv6');
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * The WHATWG canonical form of an IPv6 address (lower case, zeros compressed, no dotted tail), so
 * that `0:0:0:0:0:0:7f00:1`, `::7F00:1` and `::127.0.0.1` all read `::7f00:1` before any check.
 */
function canonicalIpv6(address: string): string {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address.toLowerCase();
  }
}

/**
 * An IPv4 address hidden in an IPv6 one: mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d` or
 * compatible `::a.b.c.d` (all in canonical form, where the IPv4 part is two hex groups).
 */
function embeddedIpv4(address: string): string | undefined {
  const hex = /^::(?:ffff:(?:0:)?)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonicalIpv6(address));
  if (hex?.[1] && hex[2]) {
    const hi = Number.parseInt(hex[1], 16);
    const lo = Number.parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

export function isLoopbackAddress(address: string): boolean {
  const v4 = isIP(address) === 6 ? embeddedIpv4(address) : address;
  if (v4 && isIP(v4) === 4) return loopback.check(v4, 'ipv4');
  return isIP(address) === 6 && loopback.check(address, 'ipv6');
}

/** Why an address may not receive callbacks, or undefined when it may. */
export function forbiddenAddressReason(address: string, policy: CallbackPolicy): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return 'is not an IP address';
  if (policy.allowHttpLoopback && isLoopbackAddress(bare)) return undefined;
  const v4 = family === 6 ? embeddedIpv4(bare) : bare;
  if (v4 && isIP(v4) === 4)
    return forbidden.check(v4, 'ipv4') ? `resolves to a non-public address (${v4})` : undefined;
  const v6 = canonicalIpv6(bare);
  return forbidden.check(v6, 'ipv6') ? `resolves to a non-public address (${v6})` : undefined;
}

/** Static check of a callback URL, at submit time. Returns why it is refused, or undefined. */
export function validateCallbackUrl(raw: string, policy: CallbackPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not carry credentials';
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  const isLoopbackName = host === 'localhost' || host.endsWith('.localhost');
  const loopbackTarget = isLoopbackName || (isIP(host) !== 0 && isLoopbackAddress(host));
  if (url.protocol === 'http:') {
    if (!(policy.allowHttpLoopback && loopbackTarget)) return 'must be an https URL';
    return undefined;
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (policy.allowHttpLoopback && loopbackTarget) return undefined;
  // WHATWG URL drops the default port, so an explicit one here is never 443.
  if (url.port !== '') return 'must use port 443';
  if (isLoopbackName) return 'must not point at this machine';
  // WHATWG URL parsing already normalises numeric forms such as 0x7f.1 or 2130706433 to dotted IPv4.
  if (isIP(host) !== 0) {
    const why = forbiddenAddressReason(host, policy);
    if (why) return `host ${why.replace('resolves to', 'is')}`;
  }
  return undefined;
}
