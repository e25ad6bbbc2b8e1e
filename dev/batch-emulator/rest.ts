/**
 * The Batch data-plane operations: routing, conditional headers, OData lists, and the per-operation
 * status codes and headers of the spec (201 + DataServiceId/ETag/Last-Modified on create, 202 on
 * actions, 200 with per-task results on addtaskcollection, 204 on task terminate/reactivate).
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { Account } from './account.js';
import { EmulatedBatchError, errors } from './errors.js';
import type { JobRec, PoolRec, TaskRec } from './model.js';
import { applySelect, type Item, listPage } from './odata.js';
import { checkPoolFeatures, checkStartTask, ENUMS, poolIdentityIds } from './pool-features.js';
import { createFileRoutes } from './rest-files.js';
import { newEtag } from './state.js';
import { type SupportedImage, supportedImages } from './supported-images.js';
import {
  checkId,
  checkJobCreate,
  checkJobMutable,
  checkNotSideTaskId,
  checkPoolCreate,
  checkPoolPackages,
  checkRemoveNodes,
  checkResize,
  checkTaskCreate,
  type PoolAllocationMode,
} from './validate.js';
import { applicationToWire, jobToWire, nodeToWire, poolToWire, rfc1123, taskToWire } from './wire.js';

/** A request body over this size (bytes) on addtaskcollection is refused with 413. */
export const MAX_COLLECTION_BODY_BYTES = 1_000_000;
/** Most tasks one addtaskcollection call may carry. */
export const MAX_COLLECTION_TASKS = 100;

export interface RestRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RestResult {
  status: number;
  json?: unknown;
  headers?: Record<string, string>;
  /** Raw bytes (a node file) instead of JSON; the headers carry its type and length. */
  body?: Buffer;
}

export interface RestContext {
  readonly account: Account;
  /** The account's pool allocation mode: Batch-service accounts have no low-priority nodes any more. */
  readonly poolAllocationMode: PoolAllocationMode;
  /** Public base URL, e.g. http://127.0.0.1:7070. */
  base(): string;
  countRequest(op: string): void;
  countTaskAdd(jobId: string, taskId: string): void;
}

type Body = Record<string, unknown>;

function parseBody(raw: Buffer, required: boolean): Body {
  if (raw.length === 0) {
    if (required) throw errors.invalidBody('The request body is missing.');
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw errors.invalidBody(e instanceof Error ? e.message : 'Invalid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw errors.invalidBody('The request body must be a JSON object.');
  return value as Body;
}

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** If-Match / If-None-Match / If-(Un)Modified-Since: 412 ConditionNotMet for writes, 304 for reads. */
function conditional(h: IncomingHttpHeaders, etag: string, lastModified: number, write: boolean): void {
  const ifMatch = header(h, 'if-match');
  const ifNoneMatch = header(h, 'if-none-match');
  const ifModifiedSince = header(h, 'if-modified-since');
  const ifUnmodifiedSince = header(h, 'if-unmodified-since');
  const seconds = Math.floor(lastModified / 1000) * 1000;
  const failed = () =>
    new EmulatedBatchError(
      412,
      'ConditionNotMet',
      'The condition specified using HTTP conditional header(s) is not met.',
    );
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag) throw failed();
  if (ifUnmodifiedSince !== undefined && seconds > Date.parse(ifUnmodifiedSince)) throw failed();
  const notModified =
    (ifNoneMatch !== undefined && (ifNoneMatch === '*' || ifNoneMatch === etag)) ||
    (ifModifiedSince !== undefined && seconds <= Date.parse(ifModifiedSince));
  if (notModified) {
    if (write) throw failed();
    throw new EmulatedBatchError(304, 'ConditionNotMet', 'Not modified.');
  }
}

const resourceHeaders = (url: string, etag: string, lastModified: number): Record<string, string> => ({
  dataserviceid: url,
  etag,
  'last-modified': rfc1123(lastModified),
});

export function createRestHandler(ctx: RestContext): (req: RestRequest) => RestResult {
  const { account } = ctx;
  const fileRoutes = createFileRoutes(ctx);

  const list = (items: Iterable<unknown>, toWire: (x: never) => Item, req: RestRequest, kind: string) =>
    listPage(items, toWire as (x: unknown) => Item, req.url, kind, ctx.base());

  const single = (
    wire: Item,
    req: RestRequest,
    kind: string,
    etag: string,
    lastModified: number,
  ): RestResult => ({
    status: 200,
    json: {
      'odata.metadata': `${ctx.base()}/$metadata#${kind}/@Element`,
      ...applySelect(wire, req.url.searchParams.get('$select')),
    },
    headers: { etag, 'last-modified': rfc1123(lastModified) },
  });

  const getPool = (id: string): PoolRec => {
    const pool = account.pools.get(id.toLowerCase());
    if (!pool) throw errors.notFound('Pool', id);
    return pool;
  };
  const getJob = (id: string): JobRec => {
    const job = account.jobs.get(id.toLowerCase());
    if (!job) throw errors.notFound('Job', id);
    return job;
  };
  const getTask = (job: JobRec, id: string): TaskRec => {
    const task = job.tasks.get(id.toLowerCase());
    if (!task) throw errors.notFound('Task', id);
    return task;
  };

  const poolNotDeleting = (pool: PoolRec) => {
    if (pool.state === 'deleting')
      throw errors.conflict(
        'PoolBeingDeleted',
        'The specified pool has been marked for deletion and is being reclaimed.',
      );
  };
  const jobNotDeleting = (job: JobRec) => {
    if (job.state === 'deleting')
      throw errors.conflict(
        'JobBeingDeleted',
        'The specified job has been marked for deletion and is being garbage collected.',
      );
  };
  const jobAcceptsTasks = (job: JobRec) => {
    jobNotDeleting(job);
    if (job.state === 'completed')
      throw errors.conflict('JobCompleted', 'The specified job is already in a completed state.');
    if (job.state === 'terminating')
      throw errors.conflict('JobBeingTerminated', 'The specified job is being terminated.');
  };

  function addOneTask(job: JobRec, t: Body): TaskRec {
    checkTaskCreate(t, job, account.pools.get(job.poolKey));
    if (job.tasks.has(String(t.id).toLowerCase())) throw errors.exists('Task', String(t.id));
    checkNotSideTaskId(job, String(t.id));
    return account.addTask(job, t);
  }

  function pools(req: RestRequest, parts: string[]): RestResult {
    const { method } = req;
    const [, id, sub] = parts;
    if (!id) {
      if (method === 'GET')
        return list(account.pools.values(), (p: PoolRec) => poolToWire(p, ctx.base()), req, 'pools');
      if (method !== 'POST') throw errors.verb();
      // The data plane's pool has no writable identity (only the management plane sets one).
      const { identity: _readOnly, ...body } = parseBody(req.body, true);
      const shape = checkPoolCreate(body, account.applications, ctx.poolAllocationMode);
      checkPoolFeatures(body);
      const existing = account.pools.get(String(body.id).toLowerCase());
      if (existing) {
        if (existing.state === 'deleting') poolNotDeleting(existing);
        throw errors.exists('Pool', String(body.id));
      }
      const pool = account.addPool(body, shape);
      return {
        status: 201,
        headers: resourceHeaders(`${ctx.base()}/pools/${pool.id}`, pool.etag, pool.lastModified),
      };
    }
    const pool = getPool(id);
    const self = `${ctx.base()}/pools/${pool.id}`;
    if (!sub) {
      if (method === 'GET' || method === 'HEAD') {
        conditional(req.headers, pool.etag, pool.lastModified, false);
        return single(poolToWire(pool, ctx.base()), req, 'pools', pool.etag, pool.lastModified);
      }
      poolNotDeleting(pool);
      conditional(req.headers, pool.etag, pool.lastModified, true);
      if (method === 'DELETE') {
        account.deletePool(pool);
        return { status: 202, headers: { dataserviceid: self } };
      }
      if (method === 'PATCH') {
        const body = parseBody(req.body, true);
        if (body.applicationPackageReferences !== undefined) {
          if (!Array.isArray(body.applicationPackageReferences))
            throw errors.invalidProperty('applicationPackageReferences', 'The value must be an array.');
          checkPoolPackages(body.applicationPackageReferences, account.applications);
        }
        checkPoolUpdate(pool, body);
        for (const key of [
          'applicationPackageReferences',
          'metadata',
          'startTask',
          'targetNodeCommunicationMode',
        ])
          if (body[key] !== undefined) pool.body = { ...pool.body, [key]: body[key] };
        account.touchPool(pool);
        return { status: 200, headers: resourceHeaders(self, pool.etag, pool.lastModified) };
      }
      throw errors.verb();
    }
    if (method !== 'POST') throw errors.verb();
    if (sub === 'resize' || sub === 'stopresize' || sub === 'updateproperties' || sub === 'removenodes') {
      poolNotDeleting(pool);
      conditional(req.headers, pool.etag, pool.lastModified, true);
    }
    if (sub === 'resize') {
      if (pool.autoScale)
        throw errors.conflict(
          'AutoScalingEnabled',
          'The specified pool has automatic scaling enabled; it cannot be resized manually.',
        );
      if (pool.allocationState !== 'steady')
        throw errors.conflict(
          'PoolBeingResized',
          'The specified pool is already being resized (its allocation state is not steady).',
        );
      const r = checkResize(parseBody(req.body, true), ctx.poolAllocationMode);
      account.resize(pool, r.dedicated, r.lowPriority, r.option, r.resizeTimeout ?? pool.resizeTimeout);
      return { status: 202, headers: resourceHeaders(self, pool.etag, pool.lastModified) };
    }
    if (sub === 'removenodes') {
      // Like a resize, only from a steady pool; every node named must be the pool's (else nothing is done).
      if (pool.allocationState !== 'steady')
        throw errors.conflict(
          'PoolBeingResized',
          'The specified pool is already being resized (its allocation state is not steady).',
        );
      const r = checkRemoveNodes(parseBody(req.body, true));
      const named = r.nodeList.map((nodeId) => {
        const node = pool.nodes.get(nodeId);
        if (!node) throw errors.notFound('Node', nodeId);
        return node;
      });
      account.removeNodes(pool, named, r.option, r.resizeTimeout ?? pool.resizeTimeout);
      return { status: 202, headers: resourceHeaders(self, pool.etag, pool.lastModified) };
    }
    if (sub === 'stopresize') {
      account.stopResize(pool);
      return { status: 202, headers: resourceHeaders(self, pool.etag, pool.lastModified) };
    }
    if (sub === 'updateproperties') {
      const body = parseBody(req.body, true);
      for (const key of ['applicationPackageReferences', 'metadata'])
        if (body[key] === undefined) throw errors.missingProperty(key);
      checkPoolPackages(body.applicationPackageReferences as unknown[], account.applications);
      checkPoolUpdate(pool, body);
      // updateproperties replaces: a start task not given is removed (BatchPoolReplaceContent).
      const { startTask: _old, ...kept } = pool.body;
      pool.body = { ...kept, ...body };
      account.touchPool(pool);
      return { status: 204, headers: resourceHeaders(self, pool.etag, pool.lastModified) };
    }
    throw errors.resource(req);
  }

  function nodes(req: RestRequest, pool: PoolRec, nodeId: string | undefined): RestResult {
    if (req.method !== 'GET') throw errors.verb();
    if (!nodeId) return list(pool.nodes.values(), (n: never) => nodeToWire(n, ctx.base()), req, 'nodes');
    const node = pool.nodes.get(nodeId);
    if (!node) throw errors.notFound('Node', nodeId);
    return {
      status: 200,
      json: {
        'odata.metadata': `${ctx.base()}/$metadata#nodes/@Element`,
        ...applySelect(nodeToWire(node, ctx.base()), req.url.searchParams.get('$select')),
      },
    };
  }

  function jobs(req: RestRequest, parts: string[]): RestResult {
    const { method } = req;
    const [, id, sub, subId, action] = parts;
    if (!id) {
      if (method === 'GET')
        return list(account.jobs.values(), (j: JobRec) => jobToWire(j, ctx.base()), req, 'jobs');
      if (method !== 'POST') throw errors.verb();
      const body = parseBody(req.body, true);
      const { poolId } = checkJobCreate(body);
      const existing = account.jobs.get(String(body.id).toLowerCase());
      if (existing) {
        jobNotDeleting(existing);
        throw errors.exists('Job', String(body.id));
      }
      const job = account.addJob(body, poolId);
      return {
        status: 201,
        headers: resourceHeaders(`${ctx.base()}/jobs/${job.id}`, job.etag, job.lastModified),
      };
    }
    const job = getJob(id);
    const self = `${ctx.base()}/jobs/${job.id}`;
    if (!sub) {
      if (method === 'GET') {
        conditional(req.headers, job.etag, job.lastModified, false);
        return single(jobToWire(job, ctx.base()), req, 'jobs', job.etag, job.lastModified);
      }
      jobNotDeleting(job);
      conditional(req.headers, job.etag, job.lastModified, true);
      if (method === 'DELETE') {
        account.deleteJob(job);
        return { status: 202, headers: { dataserviceid: self } };
      }
      if (method === 'PATCH' || method === 'PUT') {
        const body = parseBody(req.body, true);
        checkJobMutable(body);
        if (method === 'PUT' && body.poolInfo === undefined) throw errors.missingProperty('poolInfo');
        const poolInfo = body.poolInfo as { poolId?: string } | undefined;
        if (poolInfo?.poolId !== undefined && String(poolInfo.poolId).toLowerCase() !== job.poolKey)
          throw errors.invalidProperty('poolInfo', 'The emulator cannot move a job to another pool.');
        if (job.state === 'completed')
          throw errors.conflict('JobCompleted', 'The specified job is already in a completed state.');
        if (body.priority !== undefined || method === 'PUT')
          account.setJobPriority(job, Number(body.priority ?? 0));
        const constraints = body.constraints as Body | undefined;
        if (constraints !== undefined || method === 'PUT') {
          job.maxTaskRetryCount = Number(constraints?.maxTaskRetryCount ?? 0);
          job.maxWallClockTime =
            typeof constraints?.maxWallClockTime === 'string' ? constraints.maxWallClockTime : undefined;
          account.armJobWallClock(job);
        }
        if (body.onAllTasksComplete !== undefined || method === 'PUT')
          job.onAllTasksComplete = String(
            body.onAllTasksComplete ?? 'noaction',
          ).toLowerCase() as JobRec['onAllTasksComplete'];
        if (body.onTaskFailure !== undefined)
          job.onTaskFailure = String(body.onTaskFailure).toLowerCase() as JobRec['onTaskFailure'];
        const next = { ...job.body };
        for (const key of [
          'metadata',
          'maxParallelTasks',
          'allowTaskPreemption',
          'constraints',
          'priority',
          'onAllTasksComplete',
          'onTaskFailure',
        ])
          if (body[key] !== undefined) next[key] = body[key];
        job.body = next;
        account.touchJob(job);
        account.checkAllComplete(job, account.clock.now());
        return { status: 200, headers: resourceHeaders(self, job.etag, job.lastModified) };
      }
      throw errors.verb();
    }
    if (sub === 'taskcounts') {
      if (method !== 'GET') throw errors.verb();
      // Batch documents these counts as possibly behind; the emulator lags them on request.
      const { counts: c, slotCounts: s } = account.taskCounts.read(job, account.clock.now());
      return {
        status: 200,
        json: {
          'odata.metadata': `${ctx.base()}/$metadata#taskcounts/@Element`,
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
    if (sub === 'terminate' || sub === 'disable' || sub === 'enable') {
      if (method !== 'POST') throw errors.verb();
      jobNotDeleting(job);
      conditional(req.headers, job.etag, job.lastModified, true);
      const body = parseBody(req.body, sub === 'disable');
      if (sub === 'terminate') {
        if (job.state === 'completed')
          throw errors.conflict('JobCompleted', 'The specified job is already in a completed state.');
        if (job.state === 'terminating')
          throw errors.conflict('JobBeingTerminated', 'The specified job is being terminated.');
        account.terminateJob(
          job,
          typeof body.terminateReason === 'string' ? body.terminateReason : 'UserTerminate',
        );
      } else if (sub === 'disable') {
        if (job.state !== 'active')
          throw errors.conflict('JobNotActive', 'The specified job is not in an active state.');
        const mode = String(body.disableTasks ?? '').toLowerCase();
        if (body.disableTasks === undefined) throw errors.missingProperty('disableTasks');
        if (mode !== 'requeue' && mode !== 'terminate' && mode !== 'wait')
          throw errors.invalidProperty('disableTasks', 'The value must be one of: requeue, terminate, wait.');
        account.disableJob(job, mode);
      } else {
        if (job.state !== 'disabled')
          throw errors.conflict('JobNotDisabled', 'The specified job is not in a disabled state.');
        account.enableJob(job);
      }
      return { status: 202, headers: resourceHeaders(self, job.etag, job.lastModified) };
    }
    if (sub === 'addtaskcollection') {
      if (method !== 'POST') throw errors.verb();
      if (req.body.length >= MAX_COLLECTION_BODY_BYTES) throw errors.tooLarge();
      const body = parseBody(req.body, true);
      if (body.value === undefined) throw errors.missingProperty('value');
      if (!Array.isArray(body.value))
        throw errors.invalidProperty('value', 'The value must be an array of tasks.');
      if (body.value.length > MAX_COLLECTION_TASKS)
        throw errors.invalidProperty(
          'value',
          `A task collection can hold at most ${MAX_COLLECTION_TASKS} tasks.`,
        );
      const seen = new Set<string>();
      for (const t of body.value as unknown[]) {
        const tid = typeof t === 'object' && t !== null ? (t as Body).id : undefined;
        if (typeof tid !== 'string') continue;
        if (seen.has(tid.toLowerCase()))
          throw new EmulatedBatchError(
            400,
            'InvalidPropertyValue',
            'The value provided for one of the properties in the request body is invalid.',
            [
              { key: 'PropertyName', value: 'value' },
              { key: 'Reason', value: `The task id '${tid}' appears more than once in the collection.` },
            ],
          );
        seen.add(tid.toLowerCase());
      }
      jobAcceptsTasks(job);
      const value = (body.value as unknown[]).map((raw) => {
        const t = (typeof raw === 'object' && raw !== null ? raw : {}) as Body;
        const taskId = typeof t.id === 'string' ? t.id : '';
        ctx.countTaskAdd(job.id, taskId);
        try {
          const task = addOneTask(job, t);
          return {
            status: 'success',
            taskId: task.id,
            eTag: task.etag,
            lastModified: new Date(task.lastModified).toISOString(),
            location: `${self}/tasks/${task.id}`,
          };
        } catch (e) {
          if (!(e instanceof EmulatedBatchError)) throw e;
          return {
            status: e.status >= 500 ? 'servererror' : 'clienterror',
            taskId,
            error: {
              code: e.code,
              message: { lang: 'en-US', value: e.message },
              ...(e.values.length ? { values: e.values } : {}),
            },
          };
        }
      });
      return { status: 200, json: { 'odata.metadata': `${ctx.base()}/$metadata#taskaddresult`, value } };
    }
    if (sub === 'tasks') {
      if (!subId) {
        if (method === 'GET')
          return list(job.tasks.values(), (t: TaskRec) => taskToWire(t, ctx.base()), req, 'tasks');
        if (method !== 'POST') throw errors.verb();
        const body = parseBody(req.body, true);
        ctx.countTaskAdd(job.id, typeof body.id === 'string' ? body.id : '');
        jobAcceptsTasks(job);
        const task = addOneTask(job, body);
        return {
          status: 201,
          headers: resourceHeaders(`${self}/tasks/${task.id}`, task.etag, task.lastModified),
        };
      }
      const task = getTask(job, subId);
      const taskUrl = `${self}/tasks/${task.id}`;
      if (!action) {
        if (method === 'GET') {
          conditional(req.headers, task.etag, task.lastModified, false);
          return single(taskToWire(task, ctx.base()), req, 'tasks', task.etag, task.lastModified);
        }
        conditional(req.headers, task.etag, task.lastModified, true);
        if (method === 'DELETE') {
          account.deleteTask(task);
          return { status: 200, headers: { dataserviceid: taskUrl } };
        }
        if (method === 'PUT') {
          const body = parseBody(req.body, false);
          const constraints = body.constraints as Body | undefined;
          if (constraints?.maxTaskRetryCount !== undefined)
            task.maxRetries = Number(constraints.maxTaskRetryCount);
          if (constraints)
            task.body = {
              ...task.body,
              constraints: { ...(task.body.constraints as Body | undefined), ...constraints },
            };
          task.lastModified = account.clock.now();
          task.etag = newEtag(task.lastModified);
          return { status: 200, headers: resourceHeaders(taskUrl, task.etag, task.lastModified) };
        }
        throw errors.verb();
      }
      if (method !== 'POST') throw errors.verb();
      conditional(req.headers, task.etag, task.lastModified, true);
      if (action === 'terminate') {
        jobNotDeleting(job);
        account.terminateTask(task);
        return { status: 204, headers: resourceHeaders(taskUrl, task.etag, task.lastModified) };
      }
      if (action === 'reactivate') {
        jobAcceptsTasks(job);
        if (task.state !== 'completed')
          throw errors.conflict('TaskNotCompleted', 'The specified task is not in the completed state.');
        account.reactivateTask(task);
        return { status: 204, headers: resourceHeaders(taskUrl, task.etag, task.lastModified) };
      }
    }
    throw errors.resource(req);
  }

  function applications(req: RestRequest, id: string | undefined): RestResult {
    if (req.method !== 'GET') throw errors.verb();
    if (!id)
      return list(account.applications.values(), (a: never) => applicationToWire(a), req, 'applications');
    const app = account.applications.get(id.toLowerCase());
    if (!app) throw errors.notFound('Application', id);
    return {
      status: 200,
      json: { 'odata.metadata': `${ctx.base()}/$metadata#applications/@Element`, ...applicationToWire(app) },
    };
  }

  return (req) => {
    let parts: string[];
    try {
      parts = req.url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw errors.resource(req);
    }
    const [root, id, sub, subId, action] = parts;
    const op = `${req.method} /${[root, id && '{id}', sub, subId && '{id}', action].filter(Boolean).join('/')}`;
    ctx.countRequest(op);
    const files = fileRoutes(req, parts);
    if (files) return files;
    if (root === 'pools') {
      if (sub === 'nodes') return nodes(req, getPool(checkPathId(id)), subId);
      return pools(req, parts);
    }
    if (root === 'jobs') return jobs(req, parts);
    if (root === 'applications' && !sub) return applications(req, id);
    if (root === 'supportedimages' && !id) {
      if (req.method !== 'GET') throw errors.verb();
      return list(supportedImages, (i: SupportedImage) => ({ ...i }), req, 'supportedimages');
    }
    throw errors.resource(req);
  };
}

/** A pool update's start task and communication mode, checked as at creation (against the pool's identity). */
function checkPoolUpdate(pool: PoolRec, body: Body): void {
  checkStartTask(body.startTask, poolIdentityIds(pool.body));
  const mode = body.targetNodeCommunicationMode;
  if (
    mode !== undefined &&
    !ENUMS.communicationMode.values.some(
      (v) => typeof mode === 'string' && v.toLowerCase() === mode.toLowerCase(),
    )
  )
    throw errors.invalidProperty(
      'targetNodeCommunicationMode',
      'The value must be one of: default, classic, simplified.',
    );
  if (mode !== undefined) checkPoolFeatures({ ...pool.body, targetNodeCommunicationMode: mode });
}

function checkPathId(id: string | undefined): string {
  return checkId(id, 'poolId');
}
