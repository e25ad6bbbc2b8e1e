/**
 * Request authentication as Batch does it: Shared Key (the exact string-to-sign, an `ocp-date` or
 * `date` within 15 minutes) or a bearer token. Offline, bearer tokens cannot be verified; any
 * well-formed one is accepted when bearer auth is on.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { EmulatedBatchError } from './errors.js';

const standard = [
  'content-encoding',
  'content-language',
  'content-length',
  'content-md5',
  'content-type',
  'date',
  'if-modified-since',
  'if-match',
  'if-none-match',
  'if-unmodified-since',
  'range',
];

function value(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v.join(',') : v) ?? '';
}

export function canonicalString(
  method: string,
  url: URL,
  headers: IncomingHttpHeaders,
  account: string,
  emptyLengthAsZero: boolean,
): string {
  const lines = [method.toUpperCase()];
  for (const name of standard) {
    let v = value(headers, name);
    if (name === 'content-length' && v === '0' && !emptyLengthAsZero) v = '';
    lines.push(v);
  }
  const ocp = Object.keys(headers)
    .filter((k) => k.startsWith('ocp-'))
    .sort()
    .map((k) => `${k}:${value(headers, k).trim()}\n`)
    .join('');
  const params = new Map<string, string[]>();
  for (const [k, v] of url.searchParams)
    params.set(k.toLowerCase(), [...(params.get(k.toLowerCase()) ?? []), v]);
  let resource = `/${account}${url.pathname}`;
  for (const k of [...params.keys()].sort()) resource += `\n${k}:${params.get(k)!.sort().join(',')}`;
  return `${lines.join('\n')}\n${ocp}${resource}`;
}

export function authenticate(
  method: string,
  url: URL,
  headers: IncomingHttpHeaders,
  account: { name: string; key: string; allowBearer: boolean },
  now: number,
): void {
  const authorization = value(headers, 'authorization');
  if (!authorization) {
    throw new EmulatedBatchError(401, 'AuthenticationFailed', 'Server failed to authenticate the request.', [
      { key: 'AuthenticationErrorDetail', value: 'The Authorization header is missing.' },
    ]);
  }
  if (/^Bearer\s+\S+$/i.test(authorization)) {
    if (account.allowBearer) return;
    throw new EmulatedBatchError(403, 'AuthenticationFailed', 'Server failed to authenticate the request.', [
      {
        key: 'AuthenticationErrorDetail',
        value: 'Bearer tokens are not accepted by this emulator instance.',
      },
    ]);
  }
  const m = /^SharedKey ([^:]+):(.+)$/.exec(authorization);
  if (!m) {
    throw new EmulatedBatchError(
      400,
      'InvalidAuthenticationInfo',
      'Authentication information is not given in the correct format.',
    );
  }
  if (m[1] !== account.name)
    throw new EmulatedBatchError(403, 'AuthenticationFailed', 'Server failed to authenticate the request.', [
      { key: 'AuthenticationErrorDetail', value: 'The account name does not match.' },
    ]);
  const when = Date.parse(value(headers, 'ocp-date') || value(headers, 'date'));
  if (Number.isNaN(when) || Math.abs(now - when) > 15 * 60_000) {
    throw new EmulatedBatchError(403, 'AuthenticationFailed', 'Server failed to authenticate the request.', [
      { key: 'AuthenticationErrorDetail', value: 'The request time is missing or more than 15 minutes off.' },
    ]);
  }
  const given = Buffer.from(m[2]!, 'base64');
  const key = Buffer.from(account.key, 'base64');
  const matches = [false, true].some((zero) => {
    const expected = createHmac('sha256', key)
      .update(canonicalString(method, url, headers, account.name, zero), 'utf8')
      .digest();
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!matches) {
    throw new EmulatedBatchError(
      403,
      'AuthenticationFailed',
      'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
      [
        {
          key: 'AuthenticationErrorDetail',
          value: 'The MAC signature found in the HTTP request is not the same as any computed signature.',
        },
      ],
    );
  }
}
