/**
 * A small typed client for the Azure Batch data-plane REST API, on one keep-alive undici pool.
 *
 * Auth: Shared Key when an account key is given, else Microsoft Entra bearer tokens
 * (scope `https://batch.core.windows.net//.default`, cached, refreshed 5 minutes before expiry,
 * one token request shared by concurrent calls).
 *
 * Retries: capped, jittered exponential backoff that honours `Retry-After`, only where a retry is
 * safe (see `retryPolicy`): reads, deletes, creates (the caller treats `...Exists` as done), task
 * collections (resent with the same ids) and terminate. Updates are retried only on answers that
 * prove the request was not processed (429, 503).
 *
 * Telemetry: each call (its retries included) is one client span and one latency measurement, and
 * each failed attempt counts as an error by Batch's code (`call` below, the one place all requests pass).
 *
 * Guard: with an account guard every attempt first waits for the account's budget and `Retry-After`
 * pause, and then reports its outcome, so one instance's callers share what each learns of the account.
 * With `retryWhileUnhealthy: false`, a call to an account the guard judges unhealthy is not retried.
 */

import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { Pool } from 'undici';
import { redactSas } from '../../core/redact-sas.js';
import { type BatchCallMetrics, createBatchCallMetrics } from '../telemetry/metrics.js';
import { inSpan, SpanKind } from '../telemetry/spans.js';
import type { AccountGuard, AttemptOutcome } from './account-guard.js';
import { BatchError, retryableStatuses } from './batch-error.js';
import { sharedKeyAuthorization } from './shared-key.js';

export { BatchError } from './batch-error.js';

export const DEFAULT_API_VERSION = '2025-06-01.21.0';
export const BATCH_SCOPE = 'https://batch.core.windows.net//.default';

/** How an operation may be retried. */
export type RetryClass = 'safe' | 'throttleOnly';

/** Which operations are safe to resend after an ambiguous failure (the request may have been applied). */
export const retryPolicy: Readonly<Record<string, RetryClass>> = {
  read: 'safe',
  delete: 'safe',
  create: 'safe',
  addCollection: 'safe',
  terminate: 'safe',
  update: 'throttleOnly',
};

export interface RetryOptions {
  /** Attempts in all, including the first. Default 8. */
  readonly maxAttempts: number;
  /** First backoff in ms. Default 500. */
  readonly baseDelayMs: number;
  /** Cap on one backoff in ms. Default 60,000 (with 8 attempts the window spans over 5 minutes when Retry-After says so). */
  readonly maxDelayMs: number;
}

export const defaultRetry: RetryOptions = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000 };

/** Delay before retry number `attempt` (1-based): full jitter over an exponential ceiling, at least Retry-After. */
export function backoffDelay(
  attempt: number,
  options: RetryOptions,
  random: () => number,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}

/** With a guard and `retryWhileUnhealthy: false`, a longer `Retry-After` ends the call at once. */
const GUARDED_RETRY_AFTER_MS = 2_000;

export interface BatchClientOptions {
  readonly endpoint: string;
  readonly accountName: string;
  /** Base64 account key; empty or absent → Microsoft Entra. */
  readonly accountKey?: string;
  readonly credential?: TokenCredential;
  readonly apiVersion?: string;
  readonly retry?: Partial<RetryOptions>;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Per-request timeout (headers and body). Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Sockets to the endpoint. Default 16. */
  readonly connections?: number;
  /** Where call latency and errors are recorded. Default: instruments on the global meter at creation. */
  readonly metrics?: BatchCallMetrics;
  /**
   * The account's guard (account-guard.ts): asked before every attempt, told how each went. Its
   * `AccountThrottled` refusal reaches the caller at once, never retried here: the guard has already
   * waited as long as it may. Default none.
   */
  readonly guard?: AccountGuard;
  /**
   * Whether a failed attempt is retried while the guard judges the account unhealthy. `false` gives
   * such an account one attempt per call: minutes of retries into its outage would hold the caller (a
   * pool controller or reconcile pass over every account) and with it every other account's work;
   * the caller's own schedule tries again. Default true.
   */
  readonly retryWhileUnhealthy?: boolean;
}

export interface ListOptions {
  readonly filter?: string;
  readonly select?: string;
  readonly maxResults?: number;
  /** Batch's `$skiptoken` from an earlier page's `odata.nextLink`: this list goes on from there. */
  readonly skipToken?: string;
  readonly signal?: AbortSignal;
}

/** One page of a list: its items and, when there are more, the link to the next page. */
export interface ListPage {
  readonly value: readonly Record<string, unknown>[];
  readonly nextLink?: string;
}

export interface TaskCountsResult {
  readonly taskCounts: {
    active: number;
    running: number;
    completed: number;
    succeeded: number;
    failed: number;
  };
  readonly taskSlotCounts?: {
    active: number;
    running: number;
    completed: number;
    succeeded: number;
    failed: number;
  };
}

/** Tasks_GetTaskFileProperties: what Batch says of a file in a task's directory. */
export interface TaskFileHead {
  readonly contentLength: number;
  readonly isDirectory: boolean;
  readonly lastModified?: string;
}

export interface AddCollectionItem {
  readonly status: 'success' | 'clienterror' | 'servererror';
  readonly taskId: string;
  readonly error?: { code: string; message?: { value?: string } };
}

export interface BatchClient {
  readonly pools: {
    add(pool: object): Promise<void>;
    get(poolId: string, options?: { select?: string }): Promise<Record<string, unknown>>;
    exists(poolId: string): Promise<boolean>;
    patch(poolId: string, body: object): Promise<void>;
    resize(poolId: string, body: object): Promise<void>;
    /** Pools_RemoveNodes: `{ nodeList, nodeDeallocationOption?, resizeTimeout? }`. */
    removeNodes(poolId: string, body: object): Promise<void>;
    delete(poolId: string): Promise<void>;
    list(options?: ListOptions): AsyncIterable<Record<string, unknown>>;
  };
  readonly jobs: {
    add(job: object): Promise<void>;
    get(jobId: string, options?: { select?: string }): Promise<Record<string, unknown>>;
    patch(jobId: string, body: object): Promise<void>;
    terminate(jobId: string, reason?: string): Promise<void>;
    delete(jobId: string): Promise<void>;
    getTaskCounts(jobId: string): Promise<TaskCountsResult>;
    /** Jobs_ListJobPreparationAndReleaseTaskStatus: one item per node that ran the job's preparation. */
    listPreparationStatus(jobId: string, options?: ListOptions): AsyncIterable<Record<string, unknown>>;
    list(options?: ListOptions): AsyncIterable<Record<string, unknown>>;
  };
  readonly tasks: {
    add(jobId: string, task: object): Promise<void>;
    /** One add-collection call (≤ 100 tasks). `body` may be pre-serialised JSON `{"value":[...]}`. */
    addCollection(jobId: string, body: string | readonly object[]): Promise<AddCollectionItem[]>;
    /**
     * The same call, answering the raw response text, or `undefined` when every task succeeded (the
     * common case is then recognised without parsing the 100 per-task results).
     */
    addCollectionFast(jobId: string, body: string): Promise<AddCollectionItem[] | undefined>;
    get(jobId: string, taskId: string, options?: { select?: string }): Promise<Record<string, unknown>>;
    list(jobId: string, options?: ListOptions): AsyncIterable<Record<string, unknown>>;
    /**
     * One page of the task list: the first (with `options`), or the one `nextLink` names (a link a
     * previous page gave; its path must be this job's task list, and it is sent to this endpoint).
     */
    listPage(jobId: string, options: ListOptions, nextLink?: string): Promise<ListPage>;
    terminate(jobId: string, taskId: string): Promise<void>;
    reactivate(jobId: string, taskId: string): Promise<void>;
    /** HEAD of a file in the task's directory (`filePath` relative to it, e.g. `stdout.txt`). */
    fileProperties(jobId: string, taskId: string, filePath: string): Promise<TaskFileHead>;
    /** The file's bytes, or those `range` names (`ocp-range: bytes=start-end`, both ends included). */
    getFile(
      jobId: string,
      taskId: string,
      filePath: string,
      range?: { start: number; end: number },
    ): Promise<Uint8Array>;
  };
  readonly applications: { list(options?: ListOptions): AsyncIterable<Record<string, unknown>> };
  readonly nodes: { list(poolId: string, options?: ListOptions): AsyncIterable<Record<string, unknown>> };
  close(): Promise<void>;
}

interface CallInit {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly query?: Record<string, string | undefined>;
  readonly body?: string;
  readonly kind: keyof typeof retryPolicy;
  readonly signal?: AbortSignal;
  /** A full nextLink URL, followed verbatim. */
  readonly url?: string;
  /** Skip parsing a 2xx body that passes this test (its content is then not needed). */
  readonly skipParse?: (text: string) => boolean;
  /** More request headers (`ocp-*` ones are signed with the rest). */
  readonly headers?: Record<string, string>;
  /** Keep a 2xx body as bytes (a task file), not JSON. */
  readonly raw?: boolean;
}

interface CallResult {
  readonly status: number;
  readonly json: unknown;
  /** The body when `raw` was asked for. */
  readonly bytes?: Uint8Array;
  readonly headers?: Record<string, string | string[] | undefined>;
}

export function createBatchClient(options: BatchClientOptions): BatchClient {
  const base = new URL(options.endpoint);
  const apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
  const retry: RetryOptions = { ...defaultRetry, ...options.retry };
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const timeout = options.requestTimeoutMs ?? 30_000;
  const metrics = options.metrics ?? createBatchCallMetrics();
  const guard = options.guard;
  const pool = new Pool(base.origin, {
    connections: options.connections ?? 16,
    keepAliveTimeout: 30_000,
    headersTimeout: timeout,
    bodyTimeout: timeout,
  });
  const authorize = options.accountKey
    ? async (method: string, pathAndQuery: string, headers: Record<string, string>) =>
        sharedKeyAuthorization(options.accountName, options.accountKey!, { method, pathAndQuery, headers })
    : bearer(options.credential, now);

  async function attempt(init: CallInit, clientRequestId: string): Promise<CallResult> {
    let pathAndQuery: string;
    if (init.url) {
      const next = new URL(init.url);
      pathAndQuery = `${next.pathname}${next.search}`;
    } else {
      const params = new URLSearchParams({ 'api-version': apiVersion });
      for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) params.set(k, v);
      pathAndQuery = `${base.pathname.replace(/\/$/, '')}${init.path}?${params.toString().replaceAll('+', '%20')}`;
    }
    const headers: Record<string, string> = {
      'ocp-date': new Date(now()).toUTCString(),
      'client-request-id': clientRequestId,
      'return-client-request-id': 'true',
      accept: 'application/json',
      ...init.headers,
    };
    if (init.body !== undefined) {
      headers['content-type'] = 'application/json; odata=minimalmetadata';
      headers['content-length'] = String(Buffer.byteLength(init.body));
    } else if (init.method === 'POST' || init.method === 'PUT' || init.method === 'PATCH') {
      headers['content-length'] = '0';
    }
    headers.authorization = await authorize(init.method, pathAndQuery, headers);
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await pool.request({
        method: init.method,
        path: pathAndQuery,
        headers,
        ...(init.body !== undefined ? { body: init.body } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (e) {
      throw transportError(e, clientRequestId);
    }
    const requestId = header(response.headers, 'request-id');
    if (init.raw && response.statusCode < 400) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await response.body.arrayBuffer());
      } catch (e) {
        throw transportError(e, clientRequestId);
      }
      return { status: response.statusCode, json: undefined, bytes, headers: response.headers };
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (e) {
      throw transportError(e, clientRequestId);
    }
    if (response.statusCode >= 400) {
      throw errorFromResponse(response.statusCode, text, response.headers, requestId, clientRequestId, now);
    }
    if (text.length === 0 || init.skipParse?.(text)) return { status: response.statusCode, json: undefined };
    try {
      return { status: response.statusCode, json: JSON.parse(text) };
    } catch (e) {
      throw new BatchError({
        code: 'InvalidResponse',
        message: `Batch answered ${response.statusCode} with a body that is not JSON`,
        status: response.statusCode,
        ...(requestId ? { requestId } : {}),
        clientRequestId,
        retryable: false,
        cause: e,
      });
    }
  }

  async function call(init: CallInit): Promise<CallResult> {
    const clientRequestId = randomUUID();
    // A nextLink page keeps its list's path, so pages count as that list.
    const operation = `${init.method} ${operationPath(init.path)}`;
    const started = performance.now();
    return inSpan(
      `Batch ${operation}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'batch.operation': operation,
          'http.request.method': init.method,
          'server.address': base.hostname,
          'batch.client_request_id': clientRequestId,
        },
      },
      async (span) => {
        for (let n = 1; ; n++) {
          let refused = false;
          try {
            if (guard) {
              refused = true;
              await guard.beforeRequest(init.signal ? { signal: init.signal } : {});
              refused = false;
            }
            const result = await attempt(init, clientRequestId);
            guard?.afterAttempt({ status: result.status });
            span.setAttributes({ 'http.response.status_code': result.status, 'batch.attempts': n });
            metrics.call(operation, (performance.now() - started) / 1000);
            return result;
          } catch (e) {
            const error = e as BatchError;
            if (guard && !refused) {
              const outcome = attemptOutcome(error);
              if (outcome) guard.afterAttempt(outcome);
            }
            const final =
              refused ||
              n >= retry.maxAttempts ||
              !mayRetry(init.kind, error) ||
              init.signal?.aborted === true ||
              (options.retryWhileUnhealthy === false && guard?.health().state === 'unhealthy') ||
              // The guard holds every call to the account for this long: sleeping it out here would hold
              // the caller too (a pass over every account); the caller's schedule tries again.
              (options.retryWhileUnhealthy === false &&
                guard !== undefined &&
                (error.retryAfterMs ?? 0) > GUARDED_RETRY_AFTER_MS);
            metrics.attemptFailed(
              operation,
              { code: error.code, ...(error.status !== undefined ? { status: error.status } : {}) },
              !final,
            );
            if (final) {
              span.setAttributes({
                'batch.attempts': n,
                ...(error.status !== undefined ? { 'http.response.status_code': error.status } : {}),
              });
              metrics.call(operation, (performance.now() - started) / 1000, { code: error.code });
              throw error;
            }
            span.addEvent('retry', { 'batch.attempt': n, 'error.type': error.code });
            await sleep(backoffDelay(n, retry, random, error.retryAfterMs));
          }
        }
      },
    );
  }

  const firstPage = (path: string, opts: ListOptions): CallInit => ({
    method: 'GET',
    path,
    kind: 'read',
    query: {
      ...(opts.filter ? { $filter: opts.filter } : {}),
      ...(opts.select ? { $select: opts.select } : {}),
      ...(opts.maxResults ? { maxresults: String(opts.maxResults) } : {}),
      ...(opts.skipToken ? { $skiptoken: opts.skipToken } : {}),
    },
    ...(opts.signal ? { signal: opts.signal } : {}),
  });

  async function page(init: CallInit): Promise<ListPage> {
    const json = (await call(init)).json as { value?: Record<string, unknown>[]; 'odata.nextLink'?: string };
    const link = json['odata.nextLink'];
    return { value: json.value ?? [], ...(link ? { nextLink: link } : {}) };
  }

  async function* list(path: string, opts: ListOptions = {}): AsyncIterable<Record<string, unknown>> {
    let next: CallInit | undefined = firstPage(path, opts);
    while (next) {
      const { value, nextLink } = await page(next);
      for (const item of value) yield item;
      next = nextLink ? { method: 'GET', path, kind: 'read', url: nextLink } : undefined;
    }
  }

  /** A stored link is followed only on this list's own path (its origin is ignored: see `attempt`). */
  function listPage(path: string, opts: ListOptions, nextLink: string | undefined): Promise<ListPage> {
    if (nextLink === undefined) return page(firstPage(path, opts));
    const expected = `${base.pathname.replace(/\/$/, '')}${path}`;
    let linkPath: string | undefined;
    try {
      linkPath = new URL(nextLink).pathname;
    } catch {
      linkPath = undefined;
    }
    if (linkPath !== expected)
      throw new BatchError({
        code: 'InvalidContinuation',
        message: `A list continuation must name ${path}`,
        retryable: false,
      });
    return page({
      method: 'GET',
      path,
      kind: 'read',
      url: nextLink,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  const json = (body: unknown) => JSON.stringify(body);
  const enc = encodeURIComponent;
  const get = async (path: string, select?: string) =>
    (await call({ method: 'GET', path, kind: 'read', query: select ? { $select: select } : {} }))
      .json as Record<string, unknown>;

  return {
    pools: {
      add: async (p) => void (await call({ method: 'POST', path: '/pools', body: json(p), kind: 'create' })),
      get: (id, o) => get(`/pools/${enc(id)}`, o?.select),
      exists: async (id) => {
        try {
          await call({ method: 'HEAD', path: `/pools/${enc(id)}`, kind: 'read' });
          return true;
        } catch (e) {
          if (e instanceof BatchError && e.status === 404) return false;
          throw e;
        }
      },
      patch: async (id, b) =>
        void (await call({ method: 'PATCH', path: `/pools/${enc(id)}`, body: json(b), kind: 'update' })),
      resize: async (id, b) =>
        void (await call({
          method: 'POST',
          path: `/pools/${enc(id)}/resize`,
          body: json(b),
          kind: 'update',
        })),
      removeNodes: async (id, b) =>
        void (await call({
          method: 'POST',
          path: `/pools/${enc(id)}/removenodes`,
          body: json(b),
          kind: 'update',
        })),
      delete: async (id) =>
        void (await call({ method: 'DELETE', path: `/pools/${enc(id)}`, kind: 'delete' })),
      list: (o) => list('/pools', o),
    },
    jobs: {
      add: async (j) => void (await call({ method: 'POST', path: '/jobs', body: json(j), kind: 'create' })),
      get: (id, o) => get(`/jobs/${enc(id)}`, o?.select),
      patch: async (id, b) =>
        void (await call({ method: 'PATCH', path: `/jobs/${enc(id)}`, body: json(b), kind: 'update' })),
      terminate: async (id, reason) =>
        void (await call({
          method: 'POST',
          path: `/jobs/${enc(id)}/terminate`,
          ...(reason ? { body: json({ terminateReason: reason }) } : {}),
          kind: 'terminate',
        })),
      delete: async (id) => void (await call({ method: 'DELETE', path: `/jobs/${enc(id)}`, kind: 'delete' })),
      getTaskCounts: async (id) => (await get(`/jobs/${enc(id)}/taskcounts`)) as unknown as TaskCountsResult,
      listPreparationStatus: (id, o) => list(`/jobs/${enc(id)}/jobpreparationandreleasetaskstatus`, o),
      list: (o) => list('/jobs', o),
    },
    tasks: {
      add: async (jobId, t) =>
        void (await call({
          method: 'POST',
          path: `/jobs/${enc(jobId)}/tasks`,
          body: json(t),
          kind: 'create',
        })),
      addCollection: async (jobId, body) => {
        const text = typeof body === 'string' ? body : json({ value: body });
        const result = await call({
          method: 'POST',
          path: `/jobs/${enc(jobId)}/addtaskcollection`,
          body: text,
          kind: 'addCollection',
        });
        return ((result.json as { value?: AddCollectionItem[] } | undefined)?.value ??
          []) as AddCollectionItem[];
      },
      addCollectionFast: async (jobId, body) => {
        const result = await call({
          method: 'POST',
          path: `/jobs/${enc(jobId)}/addtaskcollection`,
          body,
          kind: 'addCollection',
          // Per-task statuses are "success", "clienterror" or "servererror".
          skipParse: (text) => !text.includes('error"'),
        });
        return result.json === undefined
          ? undefined
          : ((result.json as { value?: AddCollectionItem[] }).value ?? []);
      },
      get: (jobId, taskId, o) => get(`/jobs/${enc(jobId)}/tasks/${enc(taskId)}`, o?.select),
      list: (jobId, o) => list(`/jobs/${enc(jobId)}/tasks`, o),
      listPage: (jobId, o, nextLink) => listPage(`/jobs/${enc(jobId)}/tasks`, o, nextLink),
      terminate: async (jobId, taskId) =>
        void (await call({
          method: 'POST',
          path: `/jobs/${enc(jobId)}/tasks/${enc(taskId)}/terminate`,
          kind: 'terminate',
        })),
      reactivate: async (jobId, taskId) =>
        void (await call({
          method: 'POST',
          path: `/jobs/${enc(jobId)}/tasks/${enc(taskId)}/reactivate`,
          kind: 'update',
        })),
      // The file path is one path parameter, encoded whole (`wd%2Fout.txt`), as Batch's SDKs send it.
      fileProperties: async (jobId, taskId, filePath) => {
        const { headers = {} } = await call({
          method: 'HEAD',
          path: `/jobs/${enc(jobId)}/tasks/${enc(taskId)}/files/${enc(filePath)}`,
          kind: 'read',
          raw: true,
        });
        const modified = header(headers, 'last-modified');
        return {
          contentLength: Number(header(headers, 'content-length') ?? 0),
          isDirectory: header(headers, 'ocp-batch-file-isdirectory')?.toLowerCase() === 'true',
          ...(modified ? { lastModified: modified } : {}),
        };
      },
      getFile: async (jobId, taskId, filePath, range) =>
        (
          await call({
            method: 'GET',
            path: `/jobs/${enc(jobId)}/tasks/${enc(taskId)}/files/${enc(filePath)}`,
            kind: 'read',
            raw: true,
            ...(range ? { headers: { 'ocp-range': `bytes=${range.start}-${range.end}` } } : {}),
          })
        ).bytes ?? new Uint8Array(),
    },
    applications: { list: (o) => list('/applications', o) },
    nodes: { list: (poolId, o) => list(`/pools/${enc(poolId)}/nodes`, o) },
    close: () => pool.close(),
  };
}

/**
 * The path with ids replaced, for a span name and metric attribute of few values: Batch paths
 * alternate collection and id (`/jobs/{id}/tasks/{id}/terminate`), so every second segment is an id.
 */
export function operationPath(path: string): string {
  const segments = path.split('/').filter((s) => s !== '');
  return `/${segments.map((s, i) => (i % 2 === 1 ? '{id}' : s)).join('/')}`;
}

/**
 * What a failed attempt tells the account's guard, or nothing when Batch was never asked (the caller
 * gave up, or no token came from Microsoft Entra): those say nothing of the account.
 */
export function attemptOutcome(error: BatchError): AttemptOutcome | undefined {
  if (error.status !== undefined)
    return {
      status: error.status,
      code: error.code,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    };
  if (error.code === 'RequestTimeout') return { failure: 'timeout' };
  if (error.code === 'ConnectionFailed') return { failure: 'network' };
  return undefined;
}

function mayRetry(kind: CallInit['kind'], error: BatchError): boolean {
  if (!error.retryable) return false;
  if (retryPolicy[kind] === 'safe') return true;
  // Only answers proving the request was not processed.
  return error.status === 429 || error.status === 503;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseRetryAfter(value: string | undefined, now: () => number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

function errorFromResponse(
  status: number,
  text: string,
  headers: Record<string, string | string[] | undefined>,
  requestId: string | undefined,
  clientRequestId: string,
  now: () => number,
): BatchError {
  let body: {
    code?: string;
    message?: { value?: string } | string;
    values?: { key: string; value: string }[];
  } = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    // Non-JSON error bodies (gateways, proxies) keep the status as the only fact.
  }
  // Batch's messages and values can quote a request's URLs (a resource file's, an output
  // container's), SAS and all: the signature never leaves this function.
  const message = redactSas(
    typeof body.message === 'string'
      ? body.message
      : (body.message?.value ?? `Batch answered HTTP ${status}`),
  );
  const retryAfterMs = parseRetryAfter(header(headers, 'retry-after'), now);
  return new BatchError({
    code: body.code ?? `Http${status}`,
    message,
    status,
    values: (body.values ?? []).map((v) => ({ key: v.key, value: redactSas(String(v.value)) })),
    ...(requestId ? { requestId } : {}),
    clientRequestId,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    retryable: retryableStatuses.has(status),
  });
}

function transportError(e: unknown, clientRequestId: string): BatchError {
  const code = (e as { code?: string }).code ?? '';
  const timeout =
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT';
  const aborted = (e as Error).name === 'AbortError' || code === 'UND_ERR_ABORTED';
  return new BatchError({
    code: timeout ? 'RequestTimeout' : aborted ? 'Aborted' : 'ConnectionFailed',
    message: `Batch request failed before an answer: ${code || (e as Error).name}`,
    clientRequestId,
    retryable: !aborted,
    cause: e,
  });
}

/** Bearer tokens, cached until 5 minutes before expiry; concurrent callers share one request. */
function bearer(credential: TokenCredential | undefined, now: () => number) {
  let source = credential;
  let token: AccessToken | undefined;
  let pending: Promise<AccessToken> | undefined;
  return async (): Promise<string> => {
    if (!token || token.expiresOnTimestamp - 5 * 60_000 <= now()) {
      source ??= new DefaultAzureCredential();
      pending ??= source.getToken(BATCH_SCOPE).then((t) => {
        if (!t)
          throw new BatchError({
            code: 'AuthenticationFailed',
            message: 'No token for Azure Batch',
            retryable: false,
          });
        return t;
      });
      try {
        token = await pending;
      } catch (e) {
        throw e instanceof BatchError
          ? e
          : new BatchError({
              code: 'AuthenticationFailed',
              message: 'Could not get a token for Azure Batch',
              retryable: true,
              cause: e,
            });
      } finally {
        pending = undefined;
      }
    }
    return `Bearer ${token.token}`;
  };
}
