/**
 * Batch's management plane (Azure Resource Manager) for the account and its pools, on the emulator's
 * own port:
 *
 *   /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Batch/batchAccounts/{account}
 *   /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Batch/batchAccounts/{account}/pools[/{pool}]
 *
 * GET of the account answers the BatchAccount resource with the quotas the emulator enforces
 * (arm-account.ts).
 *
 * as BatchManagement.json (2023-11-01 … 2025-06-01, the operations `@azure/arm-batch` sends) has it:
 * PUT creates (200 with the Pool and its ETag; `If-None-Match: *` refuses to touch an existing pool,
 * `If-Match` updates only the version named) or updates an existing pool; GET reads one (ETag header
 * and `etag` property) or lists them (`value` / `nextLink`, `maxresults`, `$filter`, `$select`);
 * PATCH updates (a fixed-scale target resizes); DELETE answers 202 with a `Location` the client polls
 * (`…/poolOperationResults/delete-{pool}-{etag}`, as the PoolDelete example shows) until the pool is
 * gone; POST `stopResize` and `disableAutoScale`.
 *
 * Answers are ARM's: `{ "error": { code, message, target?, details? } }`. What ARM itself refuses
 * (no bearer token: 401 AuthenticationFailed; no or an unknown `api-version`: 400
 * MissingApiVersionParameter / NoRegisteredProviderFound; another account: 404 ResourceNotFound) has
 * ARM's wording; what Batch refuses carries Batch's code, its message with the request id and time, the
 * target `BatchAccount` and the property as details, as Batch's resource provider answers (for example
 * Azure/AzureRMR#22: InvalidRequestBody, target BatchAccount, details Reason and PropertyPath).
 * Bearer tokens are not validated (there is no Entra offline). The fault injector applies here when
 * its `pathPrefix` starts with `/subscriptions`, with ARM's throttling and authorization answers.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Account } from './account.js';
import { accountToArm } from './arm-account.js';
import {
  type ArmNames,
  accountResourceId,
  armEtag,
  armPath,
  createPool,
  poolToArm,
  updatePool,
} from './arm-pools.js';
import type { SimClock } from './clock.js';
import type { Counters } from './controls.js';
import { EmulatedBatchError, errors } from './errors.js';
import type { FaultInjector } from './faults.js';
import type { PoolRec } from './model.js';
import { type Item, parseFilter } from './odata.js';
import type { PoolAllocationMode } from './validate.js';
import { checkId } from './validate.js';

/** The management api-versions served (BatchManagement.json stable versions). */
export const ARM_API_VERSIONS: readonly string[] = ['2023-11-01', '2024-02-01', '2024-07-01', '2025-06-01'];

export interface ArmContext {
  readonly account: Account;
  readonly clock: SimClock;
  readonly faults: FaultInjector;
  readonly counters: Counters;
  readonly accountName: string;
  /** When set, another subscription or resource group is answered 404 as ARM does. */
  readonly subscriptionId?: string;
  readonly resourceGroup?: string;
  readonly poolAllocationMode: PoolAllocationMode;
  /** The account's region (its resource's `location`). */
  readonly location: string;
  base(): string;
  now(): number;
  readBody(req: IncomingMessage): Promise<Buffer | 'tooLarge'>;
}

/** An answer of ARM itself (authentication, api-version, routing): no Batch target or details. */
class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function isArmPath(pathname: string): boolean {
  return /^\/subscriptions\//i.test(pathname);
}

const ROUTE =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Batch\/batchAccounts\/([^/]+)(?:\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?)?\/?$/i;

type Body = Record<string, unknown>;

interface ArmResult {
  readonly status: number;
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Whether an If-Match value names the pool's current version (`*`, `W/"0x…"`, `"0x…"` or `0x…`). */
function etagMatches(value: string, pool: PoolRec): boolean {
  return value
    .split(',')
    .map((v) => v.trim())
    .some((v) => v === '*' || v.replace(/^W\//, '').replace(/^"|"$/g, '') === pool.etag);
}

const conditionNotMet = () =>
  new EmulatedBatchError(
    412,
    'ConditionNotMet',
    'The condition specified using HTTP conditional header(s) is not met.',
  );

const poolNotFound = (name: string) => errors.notFound('Pool', name);

const poolBeingDeleted = () =>
  errors.conflict(
    'PoolBeingDeleted',
    'The specified pool has been marked for deletion and is being reclaimed.',
  );

/** `$select=properties/allocationState,properties/lastModified`: the resource's own members and those paths. */
function selectPaths(item: Item, select: string | null): Item {
  if (!select) return item;
  const out: Item = { id: item.id, name: item.name, type: item.type, etag: item.etag };
  for (const path of select
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const parts = path.split('/');
    let from: unknown = item;
    let to: Item = out;
    for (const [i, part] of parts.entries()) {
      if (typeof from !== 'object' || from === null) break;
      const value = (from as Item)[part];
      if (value === undefined) break;
      if (i === parts.length - 1) to[part] = value;
      else {
        to[part] = typeof to[part] === 'object' && to[part] !== null ? to[part] : {};
        to = to[part] as Item;
      }
      from = value;
    }
  }
  return out;
}

function parseJson(raw: Buffer): Body {
  if (raw.length === 0)
    throw new ArmError(
      400,
      'InvalidRequestContent',
      'The request content was invalid and could not be deserialized: the body is empty.',
    );
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ArmError(
      400,
      'InvalidRequestContent',
      `The request content was invalid and could not be deserialized: ${e instanceof Error ? e.message : 'invalid JSON'}.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ArmError(
      400,
      'InvalidRequestContent',
      'The request content was invalid and could not be deserialized: the body is not a JSON object.',
    );
  return value as Body;
}

export function createArmHandler(
  ctx: ArmContext,
): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  const { account } = ctx;
  const versions = new Set(ARM_API_VERSIONS);
  /** Delete operations by id (lowercase): the pool record they wait to see gone. */
  const operations = new Map<string, PoolRec>();
  const operationOf = new WeakMap<PoolRec, string>();

  /**
   * Seconds to the end of a pool's deletion on the simulated clock, as Retry-After: 1..15 (Batch
   * answers 15). A stopped clock only moves when a test advances it, so then soon: 1.
   */
  function retryAfter(pool: PoolRec): string {
    const factor = ctx.clock.factor;
    if (factor <= 0) return '1';
    const remaining = pool.stateTransitionTime + account.timings.deleteSeconds * 1000 - ctx.clock.now();
    return String(Math.min(15, Math.max(1, Math.ceil(remaining / factor / 1000))));
  }

  function handle(
    req: IncomingMessage,
    url: URL,
    body: Buffer,
    m: RegExpExecArray,
    version: string,
  ): ArmResult {
    const [, subscriptionId, resourceGroup, , collection, name, action] = m.map((p) =>
      p === undefined ? p : decodeURIComponent(p),
    ) as (string | undefined)[];
    const method = req.method ?? 'GET';
    const names: ArmNames = {
      subscriptionId: subscriptionId!,
      resourceGroup: resourceGroup!,
      accountName: ctx.accountName,
    };
    const accountPath = accountResourceId(names);
    const write = { account, poolAllocationMode: ctx.poolAllocationMode };
    const single = (pool: PoolRec): ArmResult => ({
      status: 200,
      json: poolToArm(pool, names),
      headers: { etag: armEtag(pool) },
    });
    const count = (op: string) => {
      ctx.counters.requests[op] = (ctx.counters.requests[op] ?? 0) + 1;
    };

    if (collection === undefined) {
      count(`ARM ${method} /batchAccounts/{account}`);
      // Creating, updating or deleting the account itself is not emulated: it is given.
      if (method !== 'GET') throw errors.verb();
      return {
        status: 200,
        json: accountToArm({
          account,
          names,
          location: ctx.location,
          poolAllocationMode: ctx.poolAllocationMode,
          base: ctx.base(),
        }),
      };
    }
    if (collection.toLowerCase() === 'pooloperationresults' && name && !action) {
      count(`ARM ${method} /poolOperationResults/{id}`);
      if (method !== 'GET') throw errors.verb();
      const pool = operations.get(name.toLowerCase());
      if (!pool) throw new ArmError(404, 'ResourceNotFound', `The operation '${name}' was not found.`);
      if (account.pools.get(pool.key) === pool)
        return {
          status: 202,
          headers: {
            location: `${ctx.base()}${accountPath}/poolOperationResults/${name}?api-version=${version}`,
            'retry-after': retryAfter(pool),
          },
        };
      return { status: 200 };
    }
    if (collection.toLowerCase() !== 'pools')
      throw new ArmError(
        400,
        'InvalidResourceType',
        `The resource type '${collection}' could not be found in the namespace 'Microsoft.Batch' for api version '${version}'.`,
      );
    count(`ARM ${method} /pools${name ? '/{id}' : ''}${action ? `/${action}` : ''}`);

    if (!name) {
      if (method !== 'GET') throw errors.verb();
      const q = url.searchParams;
      const filter = parseFilter(q.get('$filter'));
      const maxText = q.get('maxresults');
      const max = maxText === null ? 1000 : Number(maxText);
      if (!Number.isInteger(max) || max < 1 || max > 1000)
        throw errors.invalidQuery('maxresults', String(maxText), 'The value must be between 1 and 1000.');
      const tokenText = q.get('$skiptoken');
      const skip = tokenText === null ? 0 : Number(/^p(\d+)$/.exec(tokenText)?.[1] ?? Number.NaN);
      if (!Number.isInteger(skip) || skip < 0)
        throw errors.invalidQuery('$skiptoken', String(tokenText), 'Malformed skip token.');
      const all = [...account.pools.values()]
        .map((p) => poolToArm(p, names))
        .filter((p) => !filter || filter(p));
      const value = all.slice(skip, skip + max).map((p) => selectPaths(p, q.get('$select')));
      const out: Body = { value };
      if (skip + max < all.length) {
        const next = new URL(url.toString());
        next.searchParams.set('$skiptoken', `p${skip + max}`);
        if (!next.searchParams.has('api-version')) next.searchParams.set('api-version', version);
        out.nextLink = `${ctx.base()}${next.pathname}${next.search}`;
      }
      return { status: 200, json: out };
    }

    checkId(name, 'poolName');
    const pool = account.pools.get(name.toLowerCase());

    if (action) {
      if (method !== 'POST') throw errors.verb();
      if (!pool) throw poolNotFound(name);
      if (pool.state === 'deleting') throw poolBeingDeleted();
      if (action.toLowerCase() === 'stopresize') {
        account.stopResize(pool);
        return single(pool);
      }
      if (action.toLowerCase() === 'disableautoscale') {
        if (pool.autoScale) {
          pool.autoScale = false;
          const { autoScaleFormula: _f, autoScaleEvaluationInterval: _i, ...rest } = pool.body;
          pool.body = {
            ...rest,
            enableAutoScale: false,
            targetDedicatedNodes: pool.targetDedicated,
            targetLowPriorityNodes: pool.targetLowPriority,
          };
          account.touchPool(pool);
        }
        return single(pool);
      }
      throw new ArmError(404, 'ResourceNotFound', `The action '${action}' is not supported on pools.`);
    }

    if (method === 'GET') {
      if (!pool) throw poolNotFound(name);
      return single(pool);
    }
    if (method === 'PUT') {
      const request = parseJson(body);
      const ifMatch = header(req, 'if-match');
      const ifNoneMatch = header(req, 'if-none-match');
      if (pool) {
        // A pool being deleted cannot be created again until it is gone: the caller waits.
        if (pool.state === 'deleting') throw poolBeingDeleted();
        if (ifNoneMatch?.trim() === '*') throw conditionNotMet();
        if (ifMatch !== undefined && !etagMatches(ifMatch, pool)) throw conditionNotMet();
        updatePool(write, pool, request);
        return single(pool);
      }
      // "If-Match: * … apply the operation only if the pool already exists."
      if (ifMatch !== undefined) throw conditionNotMet();
      return single(createPool(write, name, request));
    }
    if (method === 'PATCH') {
      if (!pool) throw poolNotFound(name);
      if (pool.state === 'deleting') throw poolBeingDeleted();
      const ifMatch = header(req, 'if-match');
      if (ifMatch !== undefined && !etagMatches(ifMatch, pool)) throw conditionNotMet();
      updatePool(write, pool, parseJson(body));
      return single(pool);
    }
    if (method === 'DELETE') {
      // Pool_Delete's responses are 200, 202 and 204 (the 2024-07-01 spec, examples/PoolDelete.json):
      // as ARM answers a DELETE of a resource that is not there, 204.
      if (!pool) return { status: 204 };
      let opId = operationOf.get(pool);
      if (!opId) {
        opId = `delete-${pool.id}-${pool.etag.replace(/^0x/i, '')}`;
        operationOf.set(pool, opId);
        operations.set(opId.toLowerCase(), pool);
      }
      account.deletePool(pool);
      return {
        status: 202,
        headers: {
          location: `${ctx.base()}${accountPath}/poolOperationResults/${opId}?api-version=${version}`,
          'retry-after': retryAfter(pool),
        },
      };
    }
    throw errors.verb();
  }

  return async (req, res, url) => {
    const requestId = randomUUID();
    const correlation = header(req, 'x-ms-correlation-request-id') ?? requestId;
    const send = (status: number, headers: Record<string, string>, json?: unknown) => {
      const text = json === undefined ? undefined : JSON.stringify(json);
      res.writeHead(status, {
        'x-ms-request-id': requestId,
        'x-ms-correlation-request-id': correlation,
        ...(text !== undefined
          ? { 'content-type': 'application/json; charset=utf-8' }
          : { 'content-length': '0' }),
        ...headers,
      });
      res.end(text);
    };
    const fail = (e: unknown) => {
      if (!req.readableEnded) req.resume();
      if (e instanceof ArmError) {
        send(e.status, e.headers, { error: { code: e.code, message: e.message } });
        return;
      }
      if (e instanceof EmulatedBatchError) {
        const time = new Date(ctx.now()).toISOString();
        send(
          e.status,
          e.status === 429 || e.status === 503 ? { 'retry-after': String(ctx.faults.retryAfterSeconds) } : {},
          {
            error: {
              code: e.code,
              message: `${e.message}\nRequestId:${requestId}\nTime:${time}`,
              target: 'BatchAccount',
              ...(e.values.length > 0
                ? {
                    details: e.values.map((v) => ({
                      code: v.key,
                      message: v.key === 'PropertyName' ? armPath(v.value) : v.value,
                    })),
                  }
                : {}),
            },
          },
        );
        return;
      }
      throw e;
    };

    // Faults reach the management plane only when their pathPrefix names it, so a fault count meant
    // for data-plane calls is not spent here.
    const armFaults = ctx.faults.describe()?.pathPrefix?.toLowerCase().startsWith('/subscriptions') === true;
    const latency = armFaults ? ctx.faults.latencyFor(url.pathname) : 0;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const fault = armFaults ? ctx.faults.draw(url.pathname) : undefined;
    if (fault !== undefined) {
      ctx.counters.requests[`fault:${fault}`] = (ctx.counters.requests[`fault:${fault}`] ?? 0) + 1;
      if (fault === 'drop') {
        req.socket.destroy();
        return;
      }
      const retry = { 'retry-after': String(ctx.faults.retryAfterSeconds) };
      fail(
        fault === 429
          ? new ArmError(429, 'TooManyRequests', 'The request is being throttled.', retry)
          : fault === 503
            ? new ArmError(
                503,
                'ServiceUnavailable',
                'The service is currently unavailable. Please retry the request.',
                retry,
              )
            : fault === 403
              ? new ArmError(
                  403,
                  'AuthorizationFailed',
                  `The client does not have authorization to perform action 'Microsoft.Batch/batchAccounts/pools/write' over scope '${url.pathname}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
                )
              : new ArmError(
                  500,
                  'InternalServerError',
                  'Encountered internal server error. Please try again later.',
                ),
      );
      return;
    }

    try {
      const authorization = header(req, 'authorization');
      if (!authorization)
        throw new ArmError(
          401,
          'AuthenticationFailed',
          "Authentication failed. The 'Authorization' header is missing.",
          {
            'www-authenticate':
              'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
          },
        );
      if (!/^Bearer\s+\S+$/i.test(authorization))
        throw new ArmError(
          401,
          'AuthenticationFailed',
          "Authentication failed. The 'Authorization' header is provided in an invalid format.",
          {
            'www-authenticate':
              'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"',
          },
        );
      const version = url.searchParams.get('api-version');
      if (!version)
        throw new ArmError(
          400,
          'MissingApiVersionParameter',
          'The api-version query parameter (?api-version=) is required for all requests.',
        );
      const m = ROUTE.exec(url.pathname);
      if (!m)
        throw new ArmError(
          404,
          'NotFound',
          `No HTTP resource was found that matches the request URI '${url.pathname}'.`,
        );
      if (!versions.has(version))
        throw new ArmError(
          400,
          'NoRegisteredProviderFound',
          `No registered resource provider found for location '${ctx.location}' and API version '${version}' for type 'batchAccounts'. The supported api-versions are '${ARM_API_VERSIONS.join(', ')}'.`,
        );
      const [, subscriptionId, resourceGroup, accountName] = m.map((p) =>
        p === undefined ? p : decodeURIComponent(p),
      );
      if (
        ctx.subscriptionId !== undefined &&
        subscriptionId!.toLowerCase() !== ctx.subscriptionId.toLowerCase()
      )
        throw new ArmError(
          404,
          'SubscriptionNotFound',
          `The subscription '${subscriptionId}' could not be found.`,
        );
      if (ctx.resourceGroup !== undefined && resourceGroup!.toLowerCase() !== ctx.resourceGroup.toLowerCase())
        throw new ArmError(
          404,
          'ResourceGroupNotFound',
          `Resource group '${resourceGroup}' could not be found.`,
        );
      if (accountName!.toLowerCase() !== ctx.accountName.toLowerCase())
        throw new ArmError(
          404,
          'ResourceNotFound',
          `The Resource 'Microsoft.Batch/batchAccounts/${accountName}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
        );
      const raw = await ctx.readBody(req);
      if (raw === 'tooLarge')
        throw new ArmError(
          413,
          'RequestEntityTooLarge',
          'The request content size exceeds the maximum permissible limit.',
        );
      account.advance();
      const result = handle(req, url, raw, m, version);
      account.advance();
      send(result.status, result.headers ?? {}, result.json);
    } catch (e) {
      fail(e);
    }
  };
}
