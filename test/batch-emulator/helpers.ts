/**
 * Test helpers for the Batch emulator: a small Shared Key signer written from the public
 * string-to-sign description (independent of the emulator's verifier), raw REST calls, control
 * calls and polling with a deadline.
 */
import { createHmac } from 'node:crypto';
import { type BatchEmulator, startBatchEmulator } from '../../dev/batch-emulator/index.js';

export const ACCOUNT = 'emuacct';
export const KEY = Buffer.from('emulator-test-key-0123456789abcdef').toString('base64');
export const API_VERSION = '2025-06-01.21.0';

export function start(
  options: { clockFactor?: number; allocationSeconds?: number; nodeStartSeconds?: number } = {},
) {
  return startBatchEmulator({ port: 0, accountName: ACCOUNT, accountKey: KEY, clockFactor: 0, ...options });
}

export function sign(
  method: string,
  url: URL,
  headers: Record<string, string>,
  account = ACCOUNT,
  key = KEY,
): string {
  const h = (n: string) => headers[n] ?? '';
  const ocp = Object.keys(headers)
    .filter((k) => k.startsWith('ocp-'))
    .sort()
    .map((k) => `${k}:${headers[k]}\n`)
    .join('');
  const params = [...url.searchParams.keys()].sort();
  const resource = `/${account}${url.pathname}${params.map((p) => `\n${p}:${url.searchParams.get(p)}`).join('')}`;
  const text = `${method}\n${h('content-encoding')}\n${h('content-language')}\n${h('content-length')}\n${h('content-md5')}\n${h('content-type')}\n${h('date')}\n${h('if-modified-since')}\n${h('if-match')}\n${h('if-none-match')}\n${h('if-unmodified-since')}\n${h('range')}\n${ocp}${resource}`;
  return createHmac('sha256', Buffer.from(key, 'base64')).update(text, 'utf8').digest('base64');
}

export interface CallOptions {
  readonly headers?: Record<string, string>;
  readonly apiVersion?: string | null;
  readonly key?: string;
  readonly auth?: 'sharedkey' | 'none' | string;
}

export interface CallResult {
  status: number;
  headers: Headers;
  json: unknown;
  /** The body as text (node files are not JSON). */
  raw: string;
}

/** A signed REST call; `path` may carry a query (api-version is added unless given). */
export async function call(
  emulator: BatchEmulator,
  method: string,
  path: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<CallResult> {
  const url = new URL(path, emulator.url);
  if (options.apiVersion !== null && !url.searchParams.has('api-version'))
    url.searchParams.set('api-version', options.apiVersion ?? API_VERSION);
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = {
    'ocp-date': new Date().toUTCString(),
    ...(text !== undefined
      ? {
          'content-type': 'application/json; odata=minimalmetadata',
          'content-length': String(Buffer.byteLength(text)),
        }
      : {}),
    ...options.headers,
  };
  const auth = options.auth ?? 'sharedkey';
  if (auth === 'sharedkey')
    headers.authorization = `SharedKey ${ACCOUNT}:${sign(method, url, headers, ACCOUNT, options.key ?? KEY)}`;
  else if (auth !== 'none') headers.authorization = auth;
  const res = await fetch(url, { method, headers, ...(text !== undefined ? { body: text } : {}) });
  const raw = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, headers: res.headers, json: raw && isJson ? JSON.parse(raw) : undefined, raw };
}

export async function control(emulator: BatchEmulator, method: string, path: string, body?: unknown) {
  const res = await fetch(`${emulator.url}/_emulator/${path}`, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  const raw = await res.text();
  return { status: res.status, json: raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined };
}

/** Moves simulated time forward by `seconds` (the emulator runs its events up to then). */
export async function advance(emulator: BatchEmulator, seconds: number): Promise<void> {
  const r = await control(emulator, 'POST', 'clock', { advanceSeconds: seconds });
  if (r.status !== 200) throw new Error(`clock advance failed: ${r.status}`);
}

export async function until<T>(
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met before the deadline: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const vmConfig = {
  imageReference: {
    publisher: 'canonical',
    offer: '0001-com-ubuntu-server-jammy',
    sku: '22_04-lts',
    version: 'latest',
  },
  nodeAgentSKUId: 'batch.node.ubuntu 22.04',
};

export function poolBody(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    vmSize: 'standard_d2s_v3',
    virtualMachineConfiguration: vmConfig,
    targetDedicatedNodes: 1,
    ...extra,
  };
}
