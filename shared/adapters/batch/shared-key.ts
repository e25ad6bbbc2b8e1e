/**
 * Batch Shared Key signing: `Authorization: SharedKey <account>:<base64 HMAC-SHA256(key, StringToSign)>`.
 * StringToSign = VERB, Content-Encoding, Content-Language, Content-Length, Content-MD5, Content-Type,
 * Date, If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range (one per line, empty
 * when absent), then the `ocp-*` headers (lowercased, sorted, `name:value\n`), then the canonicalized
 * resource `/<account><path>` and, per query parameter sorted by name, `\n<name>:<decoded value>`.
 */
import { createHmac } from 'node:crypto';

export interface SignableRequest {
  readonly method: string;
  /** Path and query as sent, e.g. `/jobs/j1/tasks?api-version=...&$filter=...`. */
  readonly pathAndQuery: string;
  readonly headers: Readonly<Record<string, string>>;
}

const standardHeaders = [
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
] as const;

export function stringToSign(account: string, request: SignableRequest): string {
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const lines = [request.method.toUpperCase()];
  for (const name of standardHeaders) {
    let value = headers[name] ?? '';
    // Batch treats an empty body's length as absent.
    if (name === 'content-length' && value === '0') value = '';
    lines.push(value);
  }
  const ocp = Object.keys(headers)
    .filter((k) => k.startsWith('ocp-'))
    .sort()
    .map((k) => `${k}:${headers[k]!.trim()}\n`)
    .join('');
  const url = new URL(request.pathAndQuery, 'http://x');
  const params = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) {
    const key = k.toLowerCase();
    params.set(key, [...(params.get(key) ?? []), v]);
  }
  let resource = `/${account}${url.pathname}`;
  for (const key of [...params.keys()].sort()) resource += `\n${key}:${params.get(key)!.sort().join(',')}`;
  return `${lines.join('\n')}\n${ocp}${resource}`;
}

export function sharedKeyAuthorization(account: string, base64Key: string, request: SignableRequest): string {
  const signature = createHmac('sha256', Buffer.from(base64Key, 'base64'))
    .update(stringToSign(account, request), 'utf8')
    .digest('base64');
  return `SharedKey ${account}:${signature}`;
}
