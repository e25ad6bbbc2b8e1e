/**
 * An Azure Batch emulator: the data-plane REST API over real HTTP, with Shared Key and bearer auth,
 * Batch's JSON shapes, headers and error codes, and a simulation of pools, nodes, slots and time.
 * Standalone: it depends on nothing of Slotwise but the VM size table.
 *
 * Test controls live under `/_emulator/` (no auth): faults, clock, counters, reset, applications,
 * quotas. Faults apply to the REST surface only.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { maxTaskSlotsPerNode, tryGetVmSize } from '../../shared/vm-sizes.js';
import { authenticate } from './auth.js';
import { EmulatedBatchError, errors } from './errors.js';
import { applySelect, parseFilter } from './odata.js';
import {
  Account,
  createSimClock,
  type JobRec,
  newEtag,
  type PoolRec,
  parseDuration,
  type TaskRec,
} from './simulation.js';
import { jobToWire, poolToWire, rfc1123, taskToWire } from './wire.js';

export const SUPPORTED_API_VERSIONS = new Set([
  '2025-06-01.21.0',
  '2024-07-01.20.0',
  '2024-02-01.19.0',
  '2023-05-01.17.0',
  '2022-10-01.16.0',
]);
export const MAX_COLLECTION_BODY_BYTES = 1_000_000;

export interface BatchEmulatorOptions {
  /** 0 = a free port. Default 7070. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly accountName: string;
  /** Base64 account key for Shared Key. */
  readonly accountKey: string;
  /** Simulated seconds per real second. Default 60. */
  readonly clockFactor?: number;
  /** Accept bearer tokens (not verifiable offline). Default true. */
  readonly allowBearer?: boolean;
  /** Simulated seconds a pool takes to allocate nodes. Default 30. */
  readonly allocationSeconds?: number;
}

export interface BatchEmulator {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

interface Faults {
  rate429: number;
  retryAfterSeconds: number;
  rate503: number;
  rate500: number;
  rateDrop: number;
  latencyMs: number;
  count: number | undefined;
  pathPrefix: string | undefined;
  random: () => number;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const idPattern = /^[A-Za-z0-9_-]{1,64}$/;

export async function startBatchEmulator(options: BatchEmulatorOptions): Promise<BatchEmulator> {
  const clock = createSimClock(options.clockFactor ?? 60);
  const account = new Account(clock, { allocationSeconds: options.allocationSeconds ?? 30 });
  const counters = { requests: {} as Record<string, number>, taskAdds: {} as Record<string, number> };
  let faults: Faults | undefined;
  let base = '';

  const count = (op: string) => {
    counters.requests[op] = (counters.requests[op] ?? 0) + 1;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const requestId = randomUUID();
      const error =
        e instanceof EmulatedBatchError
          ? e
          : new EmulatedBatchError(500, 'InternalError', 'Server encountered an internal error.');
      if (!res.headersSent) {
        res.writeHead(error.status, {
          'content-type': 'application/json;odata=minimalmetadata',
          'request-id': requestId,
        });
      }
      res.end(JSON.stringify(error.body(base, requestId)));
    });
  });
  server.keepAliveTimeout = 30_000;

  // Advance the simulation regularly so jobs progress without requests.
  const ticker = setInterval(() => account.advance(), 50);
  ticker.unref();

  async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'tooLarge'> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > limit) return 'tooLarge';
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base || 'http://127.0.0.1');
    if (url.pathname.startsWith('/_emulator/')) {
      await control(req, res, url);
      return;
    }
    const requestId = randomUUID();
    const clientRequestId = req.headers['client-request-id'];
    const common: Record<string, string> = { 'request-id': requestId };
    if (typeof clientRequestId === 'string' && req.headers['return-client-request-id'] === 'true') {
      common['client-request-id'] = clientRequestId;
    }
    const fail = (e: EmulatedBatchError) => {
      res.writeHead(e.status, {
        ...common,
        'content-type': 'application/json;odata=minimalmetadata',
        ...(e.status === 429 || e.status === 503
          ? { 'retry-after': String(faults?.retryAfterSeconds ?? 1) }
          : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(e.body(base, requestId)));
    };
    if (
      faults &&
      (!faults.pathPrefix || url.pathname.startsWith(faults.pathPrefix)) &&
      (faults.count === undefined || faults.count > 0)
    ) {
      if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults!.latencyMs));
      const roll = faults.random();
      // Consecutive bands of [0, 1): drop, then 429, then 503, then 500.
      const bands: ['drop' | 429 | 503 | 500, number][] = [
        ['drop', faults.rateDrop],
        [429, faults.rate429],
        [503, faults.rate503],
        [500, faults.rate500],
      ];
      let injected: 'drop' | 429 | 503 | 500 | undefined;
      let edge = 0;
      for (const [kind, rate] of bands) {
        edge += rate;
        if (roll < edge) {
          injected = kind;
          break;
        }
      }
      if (injected !== undefined) {
        if (faults.count !== undefined) faults.count--;
        count(`fault:${injected}`);
        if (injected === 'drop') {
          req.socket.destroy();
          return;
        }
        req.resume();
        fail(
          injected === 429
            ? new EmulatedBatchError(429, 'TooManyRequests', 'The server is receiving too many requests.')
            : injected === 503
              ? new EmulatedBatchError(
                  503,
                  'ServerBusy',
                  'The server is currently unable to receive requests. Please retry your request.',
                )
              : new EmulatedBatchError(
                  500,
                  'InternalError',
                  'Server encountered an internal error. Please try again after some time.',
                ),
        );
        return;
      }
    }
    try {
      const version = url.searchParams.get('api-version');
      if (!version)
        throw new EmulatedBatchError(
          400,
          'MissingRequiredQueryParameter',
          "A query parameter that's mandatory for this request is not specified.",
          [{ key: 'QueryParameterName', value: 'api-version' }],
        );
      if (!SUPPORTED_API_VERSIONS.has(version))
        throw new EmulatedBatchError(
          400,
          'UnsupportedRequestVersion',
          'The specified Request Version is not supported.',
          [
            { key: 'QueryParameterName', value: 'api-version' },
            { key: 'QueryParameterValue', value: version },
          ],
        );
      authenticate(
        req.method ?? 'GET',
        url,
        req.headers,
        { name: options.accountName, key: options.accountKey, allowBearer: options.allowBearer ?? true },
        Date.now(),
      );
      const body = await readBody(req, 4 * MAX_COLLECTION_BODY_BYTES);
      account.advance();
      const result = route(req.method ?? 'GET', url, body, req);
      account.advance();
      res.writeHead(result.status, {
        ...common,
        ...(result.headers ?? {}),
        ...(result.json !== undefined ? { 'content-type': 'application/json;odata=minimalmetadata' } : {}),
      });
      res.end(result.json !== undefined && req.method !== 'HEAD' ? JSON.stringify(result.json) : undefined);
    } catch (e) {
      if (e instanceof EmulatedBatchError) {
        fail(e);
        return;
      }
      throw e;
    }
  }

  interface Result {
    status: number;
    json?: unknown;
    headers?: Record<string, string>;
  }

  function parse(body: Buffer | 'tooLarge', required = true): Record<string, unknown> {
    if (body === 'tooLarge')
      throw new EmulatedBatchError(
        413,
        'RequestBodyTooLarge',
        'The request body is too large and exceeds the maximum permissible limit.',
      );
    if (body.length === 0) {
      if (required) throw errors.invalidBody('The request body is empty.');
      return {};
    }
    try {
      const value = JSON.parse(body.toString('utf8'));
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new Error('not an object');
      return value as Record<string, unknown>;
    } catch (e) {
      throw errors.invalidBody((e as Error).message);
    }
  }

  const created = (url: string, etag: string, lastModified: number, status = 201): Result => ({
    status,
    headers: { dataserviceid: url, etag, 'last-modified': rfc1123(lastModified) },
  });

  function conditional(req: IncomingMessage, etag: string, write: boolean): void {
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    if (
      (ifMatch && ifMatch !== '*' && ifMatch !== etag) ||
      (ifNoneMatch && (ifNoneMatch === '*' || ifNoneMatch === etag))
    ) {
      if (write || ifMatch)
        throw new EmulatedBatchError(
          412,
          'ConditionNotMet',
          'The condition specified using HTTP conditional header(s) is not met.',
        );
      throw new EmulatedBatchError(304, 'ConditionNotMet', 'Not modified.');
    }
  }

  function page(items: Record<string, unknown>[], url: URL, kind: string): Result {
    const filter = parseFilter(url.searchParams.get('$filter'));
    const maxText = url.searchParams.get('maxresults');
    const max = maxText === null ? 1000 : Number(maxText);
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new EmulatedBatchError(
        400,
        'OutOfRangeQueryParameterValue',
        'One of the query parameters specified in the request URI is outside the permissible range.',
        [
          { key: 'QueryParameterName', value: 'maxresults' },
          { key: 'QueryParameterValue', value: String(maxText) },
        ],
      );
    }
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
    const matching = filter ? items.filter(filter) : items;
    const slice = matching
      .slice(skip, skip + max)
      .map((i) => applySelect(i, url.searchParams.get('$select')));
    const next = new URL(url.toString());
    next.searchParams.set('$skiptoken', String(skip + max));
    return {
      status: 200,
      json: {
        'odata.metadata': `${base}/$metadata#${kind}`,
        value: slice,
        ...(skip + max < matching.length
          ? { 'odata.nextLink': `${base}${next.pathname}${next.search}` }
          : {}),
      },
    };
  }

  function getPool(id: string): PoolRec {
    const pool = account.pools.get(id.toLowerCase());
    if (!pool) throw errors.notFound('Pool', id);
    return pool;
  }
  function getJob(id: string): JobRec {
    const job = account.jobs.get(id.toLowerCase());
    if (!job) throw errors.notFound('Job', id);
    return job;
  }
  function getTask(job: JobRec, id: string): TaskRec {
    const task = job.tasks.get(id.toLowerCase());
    if (!task) throw errors.notFound('Task', id);
    return task;
  }

  function validatePackages(refs: unknown, property: string): void {
    if (refs === undefined) return;
    if (!Array.isArray(refs)) throw errors.invalidProperty(property, 'must be an array');
    if (property.startsWith('applicationPackageReferences') && refs.length > 10)
      throw errors.invalidProperty(property, 'at most 10');
    for (const r of refs as { applicationId?: string; version?: string }[]) {
      const name = String(r.applicationId ?? '')
        .split('/')
        .pop()!
        .toLowerCase();
      const app = account.applications.get(name);
      if (!app || (r.version ? !app.versions.includes(r.version) : !app.defaultVersion)) {
        throw new EmulatedBatchError(
          409,
          'InvalidApplicationPackageReferences',
          'One or more of the specified application package references are invalid.',
          [
            {
              key: r.applicationId ?? '',
              value: r.version ? 'The specified version does not exist' : 'No version and no default version',
            },
          ],
        );
      }
    }
  }

  function validateTask(job: JobRec, t: Record<string, unknown>): void {
    if (t.id === undefined) throw errors.missingProperty('id');
    if (typeof t.id !== 'string' || !idPattern.test(t.id))
      throw errors.invalidProperty('id', 'letters, digits, hyphens and underscores, at most 64');
    if (typeof t.commandLine !== 'string' || t.commandLine.length === 0)
      throw errors.missingProperty('commandLine');
    if (
      t.requiredSlots !== undefined &&
      (!Number.isInteger(t.requiredSlots) || Number(t.requiredSlots) < 1)
    ) {
      throw errors.invalidProperty('requiredSlots', 'must be at least 1');
    }
    if (t.dependsOn && !job.usesTaskDependencies) {
      throw new EmulatedBatchError(
        400,
        'TaskDependenciesNotSpecifiedOnJob',
        'The specified job does not have task dependencies enabled.',
      );
    }
    const pool = account.pools.get(job.poolId.toLowerCase());
    const containerPool = Boolean(
      (pool?.body.virtualMachineConfiguration as { containerConfiguration?: unknown } | undefined)
        ?.containerConfiguration,
    );
    if (pool && containerPool && !t.containerSettings)
      throw errors.invalidProperty('containerSettings', 'required: the pool runs containers');
    if (pool && !containerPool && t.containerSettings)
      throw errors.invalidProperty('containerSettings', 'the pool has no container configuration');
    validatePackages(t.applicationPackageReferences, 'applicationPackageReferences');
  }

  function requireActiveJob(job: JobRec): void {
    if (job.state === 'completed')
      throw errors.conflict('JobCompleted', 'The specified job is already in a completed state.');
    if (job.state === 'deleting')
      throw errors.conflict(
        'JobBeingDeleted',
        'The specified job has been marked for deletion and is being garbage collected.',
      );
    if (job.state === 'terminating')
      throw errors.conflict('JobBeingTerminated', 'The specified job is being terminated.');
  }

  function route(method: string, url: URL, raw: Buffer | 'tooLarge', req: IncomingMessage): Result {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const [root, id, sub, subId, action] = parts;
    const op = `${method} /${[root, id && '{id}', sub, subId && '{id}', action].filter(Boolean).join('/')}`;
    count(op);

    if (root === 'applications' && method === 'GET') {
      const apps = [...account.applications.values()].map((a) => ({
        id: a.id,
        displayName: a.displayName,
        versions: a.versions,
      }));
      if (id) {
        const app = apps.find((a) => a.id.toLowerCase() === id.toLowerCase());
        if (!app) throw errors.notFound('Application', id);
        return { status: 200, json: app };
      }
      return page(apps, url, 'applications');
    }

    if (root === 'pools') {
      if (!id) {
        if (method === 'GET')
          return page(
            [...account.pools.values()].map((p) => poolToWire(p, base)),
            url,
            'pools',
          );
        if (method !== 'POST')
          throw new EmulatedBatchError(
            405,
            'UnsupportedHttpVerb',
            "The resource doesn't support the specified HTTP verb.",
          );
        const body = parse(raw);
        if (body.id === undefined) throw errors.missingProperty('id');
        if (typeof body.id !== 'string' || !idPattern.test(body.id))
          throw errors.invalidProperty('id', 'letters, digits, hyphens and underscores, at most 64');
        if (account.pools.has(body.id.toLowerCase())) throw errors.exists('Pool', body.id);
        if (body.vmSize === undefined) throw errors.missingProperty('vmSize');
        const size = tryGetVmSize(String(body.vmSize));
        if (!size)
          throw errors.invalidProperty('vmSize', `The VM size '${String(body.vmSize)}' is not supported`);
        const vm = body.virtualMachineConfiguration as
          | { imageReference?: unknown; nodeAgentSKUId?: unknown }
          | undefined;
        if (!vm) throw errors.missingProperty('virtualMachineConfiguration');
        if (!vm.imageReference) throw errors.missingProperty('virtualMachineConfiguration.imageReference');
        if (!vm.nodeAgentSKUId) throw errors.missingProperty('virtualMachineConfiguration.nodeAgentSKUId');
        const slots = body.taskSlotsPerNode === undefined ? 1 : Number(body.taskSlotsPerNode);
        if (!Number.isInteger(slots) || slots < 1 || slots > maxTaskSlotsPerNode(size)) {
          throw errors.invalidProperty(
            'taskSlotsPerNode',
            `must be between 1 and ${maxTaskSlotsPerNode(size)} (4 × ${size.vCpus} vCPUs, at most 256)`,
          );
        }
        const resize = body.resizeTimeout === undefined ? 15 * 60_000 : parseDuration(body.resizeTimeout);
        if (resize === undefined || resize < 5 * 60_000)
          throw errors.invalidProperty('resizeTimeout', 'must be at least 5 minutes');
        if (body.enableAutoScale === true) {
          if (!body.autoScaleFormula) throw errors.missingProperty('autoScaleFormula');
          if (body.targetDedicatedNodes !== undefined || body.targetLowPriorityNodes !== undefined) {
            throw errors.invalidProperty('targetDedicatedNodes', 'must not be set when autoscale is enabled');
          }
        } else if (body.targetDedicatedNodes === undefined && body.targetLowPriorityNodes === undefined) {
          throw errors.missingProperty('targetDedicatedNodes');
        }
        validatePackages(body.applicationPackageReferences, 'applicationPackageReferences');
        const fillRaw = String(
          (body.taskSchedulingPolicy as { nodeFillType?: string } | undefined)?.nodeFillType ?? 'spread',
        ).toLowerCase();
        const pool = account.addPool(body, slots, fillRaw === 'pack' ? 'pack' : 'spread');
        return created(`${base}/pools/${pool.id}`, pool.etag, pool.lastModified);
      }
      const pool = getPool(id);
      if (!sub) {
        if (method === 'GET' || method === 'HEAD') {
          conditional(req, pool.etag, false);
          return {
            status: 200,
            json: applySelect(poolToWire(pool, base), url.searchParams.get('$select')),
            headers: { etag: pool.etag, 'last-modified': rfc1123(pool.lastModified) },
          };
        }
        if (pool.state === 'deleting')
          throw errors.conflict(
            'PoolBeingDeleted',
            'The specified pool has been marked for deletion and is being reclaimed.',
          );
        conditional(req, pool.etag, true);
        if (method === 'DELETE') {
          account.deletePool(pool);
          return { status: 202 };
        }
        if (method === 'PATCH' || method === 'PUT') {
          const body = parse(raw);
          for (const key of ['applicationPackageReferences', 'metadata', 'startTask'])
            if (key in body) pool.body[key] = body[key];
          pool.etag = newEtag();
          pool.lastModified = clock.now();
          return created(`${base}/pools/${pool.id}`, pool.etag, pool.lastModified, 200);
        }
      }
      if (sub === 'resize' && method === 'POST') {
        if (pool.state === 'deleting')
          throw errors.conflict(
            'PoolBeingDeleted',
            'The specified pool has been marked for deletion and is being reclaimed.',
          );
        if (pool.allocationState !== 'steady')
          throw errors.conflict('PoolNotSteady', 'The specified pool is not in steady allocation state.');
        const body = parse(raw);
        account.resize(
          pool,
          Number(body.targetDedicatedNodes ?? 0),
          Number(body.targetLowPriorityNodes ?? 0),
        );
        return created(`${base}/pools/${pool.id}`, pool.etag, pool.lastModified, 202);
      }
      if (sub === 'stopresize' && method === 'POST') {
        account.stopResize(pool);
        return created(`${base}/pools/${pool.id}`, pool.etag, pool.lastModified, 202);
      }
      if (sub === 'nodes' && method === 'GET') {
        const nodes = pool.nodes.map((n) => ({
          id: n.id,
          url: `${base}/pools/${pool.id}/nodes/${n.id}`,
          state: n.running.size > 0 ? 'running' : 'idle',
          schedulingState: 'enabled',
          vmSize: String(pool.body.vmSize).toLowerCase(),
          isDedicated: !n.lowPriority,
          runningTasksCount: n.running.size,
          runningTaskSlotsCount: pool.slots - n.free,
          totalTasksRun: 0,
        }));
        return page(nodes, url, 'nodes');
      }
    }

    if (root === 'jobs') {
      if (!id) {
        if (method === 'GET')
          return page(
            [...account.jobs.values()].map((j) => jobToWire(j, base)),
            url,
            'jobs',
          );
        if (method !== 'POST')
          throw new EmulatedBatchError(
            405,
            'UnsupportedHttpVerb',
            "The resource doesn't support the specified HTTP verb.",
          );
        const body = parse(raw);
        if (body.id === undefined) throw errors.missingProperty('id');
        if (typeof body.id !== 'string' || !idPattern.test(body.id))
          throw errors.invalidProperty('id', 'letters, digits, hyphens and underscores, at most 64');
        const existing = account.jobs.get(body.id.toLowerCase());
        if (existing)
          throw existing.state === 'deleting'
            ? errors.conflict(
                'JobBeingDeleted',
                'The specified job has been marked for deletion and is being garbage collected.',
              )
            : errors.exists('Job', body.id);
        const poolInfo = body.poolInfo as { poolId?: string; autoPoolSpecification?: unknown } | undefined;
        if (!poolInfo) throw errors.missingProperty('poolInfo');
        if (!poolInfo.poolId)
          throw errors.invalidProperty('poolInfo', 'poolId is required (auto pools are not emulated)');
        for (const [name, allowed] of [
          ['onAllTasksComplete', ['noaction', 'terminatejob']],
          ['onTaskFailure', ['noaction', 'performexitoptionsjobaction']],
        ] as const) {
          if (
            body[name] !== undefined &&
            !(allowed as readonly string[]).includes(String(body[name]).toLowerCase())
          )
            throw errors.invalidProperty(name, `must be one of ${allowed.join(', ')}`);
        }
        if (
          body.priority !== undefined &&
          (!Number.isInteger(body.priority) || Math.abs(Number(body.priority)) > 1000)
        )
          throw errors.invalidProperty('priority', 'must be between -1000 and 1000');
        const job = account.addJob(body, poolInfo.poolId);
        return created(`${base}/jobs/${job.id}`, job.etag, job.lastModified);
      }
      const job = getJob(id);
      if (!sub) {
        if (method === 'GET') {
          conditional(req, job.etag, false);
          return {
            status: 200,
            json: applySelect(jobToWire(job, base), url.searchParams.get('$select')),
            headers: { etag: job.etag, 'last-modified': rfc1123(job.lastModified) },
          };
        }
        if (method === 'DELETE') {
          if (job.state === 'deleting')
            throw errors.conflict(
              'JobBeingDeleted',
              'The specified job has been marked for deletion and is being garbage collected.',
            );
          conditional(req, job.etag, true);
          account.deleteJob(job);
          return { status: 202 };
        }
        if (method === 'PATCH' || method === 'PUT') {
          if (job.state === 'deleting')
            throw errors.conflict(
              'JobBeingDeleted',
              'The specified job has been marked for deletion and is being garbage collected.',
            );
          conditional(req, job.etag, true);
          const body = parse(raw);
          if (body.onAllTasksComplete !== undefined) {
            const v = String(body.onAllTasksComplete).toLowerCase();
            if (v !== 'noaction' && v !== 'terminatejob')
              throw errors.invalidProperty('onAllTasksComplete', 'must be noaction or terminatejob');
            if (job.state === 'completed') requireActiveJob(job);
            job.onAllTasksComplete = v;
          }
          if (body.priority !== undefined) job.priority = Number(body.priority);
          if (body.metadata !== undefined) job.body.metadata = body.metadata;
          if (body.constraints !== undefined) job.body.constraints = body.constraints;
          job.etag = newEtag();
          job.lastModified = clock.now();
          account.checkAllComplete(job, clock.now());
          return created(`${base}/jobs/${job.id}`, job.etag, job.lastModified, 200);
        }
      }
      if (sub === 'terminate' && method === 'POST') {
        requireActiveJob(job);
        const body = parse(raw, false);
        account.terminateJob(
          job,
          typeof body.terminateReason === 'string' ? body.terminateReason : 'UserTerminate',
        );
        return created(`${base}/jobs/${job.id}`, job.etag, job.lastModified, 202);
      }
      if (sub === 'taskcounts' && method === 'GET') {
        const c = job.counts;
        const s = job.slotCounts;
        return {
          status: 200,
          json: {
            taskCounts: {
              active: c.active,
              running: c.running,
              completed: c.succeeded + c.failed,
              succeeded: c.succeeded,
              failed: c.failed,
            },
            taskSlotCounts: {
              active: s.active,
              running: s.running,
              completed: s.succeeded + s.failed,
              succeeded: s.succeeded,
              failed: s.failed,
            },
          },
        };
      }
      if (sub === 'addtaskcollection' && method === 'POST') {
        if (raw !== 'tooLarge' && raw.length >= MAX_COLLECTION_BODY_BYTES) raw = 'tooLarge';
        const body = parse(raw);
        const value = body.value;
        if (!Array.isArray(value)) throw errors.missingProperty('value');
        if (value.length > 100)
          throw errors.invalidProperty('value', 'A task collection may hold at most 100 tasks');
        requireActiveJob(job);
        const seen = new Set<string>();
        for (const t of value as Record<string, unknown>[]) {
          const key = String(t.id ?? '').toLowerCase();
          if (seen.has(key))
            throw errors.invalidProperty('value', `duplicate task id '${String(t.id)}' in the collection`);
          seen.add(key);
        }
        const results = (value as Record<string, unknown>[]).map((t) => {
          const taskKey = `${job.id}/${String(t.id)}`;
          counters.taskAdds[taskKey] = (counters.taskAdds[taskKey] ?? 0) + 1;
          try {
            validateTask(job, t);
            if (job.tasks.has(String(t.id).toLowerCase())) throw errors.exists('Task', String(t.id));
            const task = account.addTask(job, t);
            return {
              status: 'success',
              taskId: task.id,
              eTag: task.etag,
              lastModified: new Date(task.lastModified).toISOString(),
              location: `${base}/jobs/${job.id}/tasks/${task.id}`,
            };
          } catch (e) {
            if (!(e instanceof EmulatedBatchError)) throw e;
            return {
              status: e.status >= 500 ? 'servererror' : 'clienterror',
              taskId: String(t.id ?? ''),
              error: {
                code: e.code,
                message: { lang: 'en-US', value: e.message },
                ...(e.values.length ? { values: e.values } : {}),
              },
            };
          }
        });
        return { status: 200, json: { 'odata.metadata': `${base}/$metadata#taskaddresult`, value: results } };
      }
      if (sub === 'tasks') {
        if (!subId) {
          if (method === 'GET')
            return page(
              job.order.map((t) => taskToWire(t, base)),
              url,
              'tasks',
            );
          if (method === 'POST') {
            const body = parse(raw);
            const key = `${job.id}/${String(body.id)}`;
            counters.taskAdds[key] = (counters.taskAdds[key] ?? 0) + 1;
            requireActiveJob(job);
            validateTask(job, body);
            if (job.tasks.has(String(body.id).toLowerCase())) throw errors.exists('Task', String(body.id));
            const task = account.addTask(job, body);
            return created(`${base}/jobs/${job.id}/tasks/${task.id}`, task.etag, task.lastModified);
          }
        }
        if (subId) {
          const task = getTask(job, subId);
          if (!action && method === 'GET')
            return {
              status: 200,
              json: applySelect(taskToWire(task, base), url.searchParams.get('$select')),
              headers: { etag: task.etag },
            };
          if (!action && method === 'DELETE') {
            job.tasks.delete(task.id.toLowerCase());
            job.order = job.order.filter((t) => t !== task);
            job.queue = job.queue.filter((t) => t !== task);
            return { status: 200 };
          }
          if (action === 'terminate' && method === 'POST') {
            requireActiveJob(job);
            account.terminateTask(task);
            return { status: 204, headers: { dataserviceid: `${base}/jobs/${job.id}/tasks/${task.id}` } };
          }
          if (action === 'reactivate' && method === 'POST') {
            requireActiveJob(job);
            if (task.state !== 'completed')
              throw errors.conflict('TaskNotCompleted', 'The specified task is not in completed state.');
            account.reactivate(task);
            return { status: 204, headers: { dataserviceid: `${base}/jobs/${job.id}/tasks/${task.id}` } };
          }
        }
      }
    }
    throw new EmulatedBatchError(404, 'ResourceNotFound', `The specified resource does not exist: ${op}`);
  }

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const raw = await readBody(req, 1_000_000);
    const body =
      raw === 'tooLarge' || raw.length === 0
        ? {}
        : (JSON.parse(raw.toString('utf8')) as Record<string, unknown>);
    const reply = (status: number, json?: unknown) => {
      res.writeHead(status, json === undefined ? {} : { 'content-type': 'application/json' });
      res.end(json === undefined ? undefined : JSON.stringify(json));
    };
    const path = url.pathname.replace(/^\/_emulator\//, '');
    const method = req.method ?? 'GET';
    account.advance();
    if (path === 'health') return reply(200, { status: 'up' });
    if (path === 'faults' && method === 'PUT') {
      const n = (k: string) => Number(body[k] ?? 0);
      faults = {
        rate429: n('rate429'),
        retryAfterSeconds: Number(body.retryAfterSeconds ?? 1),
        rate503: n('rate503'),
        rate500: n('rate500'),
        rateDrop: n('rateDrop'),
        latencyMs: n('latencyMs'),
        count: body.count === undefined ? undefined : Number(body.count),
        pathPrefix: typeof body.pathPrefix === 'string' ? body.pathPrefix : undefined,
        random: seeded(Number(body.seed ?? 1)),
      };
      return reply(204);
    }
    if (path === 'faults' && method === 'DELETE') {
      faults = undefined;
      return reply(204);
    }
    if (path === 'clock' && method === 'GET')
      return reply(200, { now: new Date(clock.now()).toISOString(), factor: clock.factor });
    if (path === 'clock' && method === 'POST') {
      if (body.factor !== undefined) clock.setFactor(Number(body.factor));
      if (body.advanceSeconds !== undefined) clock.advance(Number(body.advanceSeconds) * 1000);
      account.advance();
      return reply(200, { now: new Date(clock.now()).toISOString(), factor: clock.factor });
    }
    if (path === 'counters' && method === 'GET') return reply(200, counters);
    if (path === 'reset' && method === 'POST') {
      account.reset();
      counters.requests = {};
      counters.taskAdds = {};
      faults = undefined;
      return reply(204);
    }
    if (path === 'applications' && method === 'PUT') {
      for (const a of (body.applications ?? []) as {
        id: string;
        versions: string[];
        defaultVersion?: string;
      }[]) {
        account.applications.set(a.id.toLowerCase(), {
          id: a.id,
          displayName: a.id,
          versions: a.versions,
          ...(a.defaultVersion ? { defaultVersion: a.defaultVersion } : {}),
        });
      }
      return reply(204);
    }
    if (path === 'quotas' && method === 'PUT') {
      if (body.activeJobs !== undefined) account.quotas.activeJobs = Number(body.activeJobs);
      if (body.pools !== undefined) account.quotas.pools = Number(body.pools);
      return reply(204);
    }
    const poolFail = /^pools\/([^/]+)$/.exec(path);
    if (poolFail && method === 'DELETE') {
      // Out-of-band deletion, as if done in the portal.
      const pool = account.pools.get(decodeURIComponent(poolFail[1]!).toLowerCase());
      if (pool) account.deletePool(pool);
      return reply(204);
    }
    const jobGone = /^jobs\/([^/]+)$/.exec(path);
    if (jobGone && method === 'DELETE') {
      account.jobs.delete(decodeURIComponent(jobGone[1]!).toLowerCase());
      return reply(204);
    }
    reply(404, { error: `unknown control ${method} ${url.pathname}` });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7070, options.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url: base,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(ticker);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
