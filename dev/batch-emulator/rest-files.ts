/**
 * Files on the simulated nodes and the job preparation/release status, as the data-plane spec has
 * them:
 *
 * - `GET /jobs/{jobId}/tasks/{taskId}/files` (Tasks_ListTaskFiles: `recursive`, `$filter` such as
 *   `startswith(name,'wd/')`, `maxresults`, `odata.nextLink` paging), names relative to the task
 *   directory (`stdout.txt`, `wd/out.txt`);
 * - `GET` / `HEAD /jobs/{jobId}/tasks/{taskId}/files/{filePath}` (Tasks_GetTaskFile,
 *   Tasks_GetTaskFileProperties): the bytes, `ocp-range: bytes=a-b` honoured (200, as the spec
 *   declares, with the slice), headers `ocp-creation-time`, `ocp-batch-file-isdirectory`,
 *   `ocp-batch-file-url`, `ocp-batch-file-mode`, `content-length`, `last-modified`;
 * - the same under `/pools/{poolId}/nodes/{nodeId}/files`, relative to the node's root directory;
 * - `GET /jobs/{jobId}/jobpreparationandreleasetaskstatus` (Jobs_ListJobPreparationAndReleaseTaskStatus).
 *
 * Errors use the codes of Batch's error-code table ("Batch Status and Error Codes"): a task that never
 * ran, or whose node left the pool (its disk went with it), → 409 TaskFilesUnavailable; a task past
 * its `retentionTime` → 409 TaskFilesCleanedup; a missing path → 404 FileNotFound; a range outside
 * the file → 416 InvalidRange; a job without a preparation task → 409 JobPreparationTaskNotSpecified.
 */
import { parseDuration } from './command.js';
import { EmulatedBatchError, errors } from './errors.js';
import type { JobRec, NodeRec, PrepExec, SideRun, TaskRec } from './model.js';
import {
  type Entry,
  fileSize,
  NODE_ROOT_DIR,
  type NodeFs,
  resolvePath,
  taskRootDirectory,
} from './node-fs.js';
import { listPage } from './odata.js';
import type { RestContext, RestRequest, RestResult } from './rest.js';
import { prepTaskId } from './runs.js';
import { batchTime, rfc1123 } from './wire.js';

const DEFAULT_RETENTION_MS = 7 * 86_400_000;

const unavailable = () =>
  new EmulatedBatchError(409, 'TaskFilesUnavailable', 'The files of the specified task are unavailable.');

/** The directory a listing or a file path is relative to, and the URL its names hang from. */
interface FileRoot {
  readonly fs: NodeFs;
  readonly dir: string;
  readonly url: string;
}

const header = (req: RestRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

function fileMode(entry: Entry): string {
  return entry.kind === 'file' ? entry.mode : '0755';
}

export function createFileRoutes(
  ctx: RestContext,
): (req: RestRequest, parts: string[]) => RestResult | undefined {
  const { account } = ctx;

  const nodeInService = (node: NodeRec) =>
    account.pools.get(node.pool.key) === node.pool && node.pool.nodes.get(node.id) === node;

  function taskRoot(job: JobRec, task: TaskRec): FileRoot {
    const node = task.ranOn;
    if (!node || !nodeInService(node)) throw unavailable();
    const dir = `${NODE_ROOT_DIR}/${taskRootDirectory(job.id, task.id)}`;
    const constraints = (task.body.constraints ?? {}) as Record<string, unknown>;
    const retention = parseDuration(constraints.retentionTime) ?? DEFAULT_RETENTION_MS;
    if (
      task.state === 'completed' &&
      task.endTime !== undefined &&
      account.clock.now() > task.endTime + retention
    ) {
      // Past its retention time Batch may delete the directory; the emulator does when asked.
      node.fs.remove(dir, account.clock.now());
      throw new EmulatedBatchError(
        409,
        'TaskFilesCleanedup',
        'The files of the specified task are cleanedup.',
      );
    }
    if (node.fs.lookup(dir)?.kind !== 'dir') throw unavailable();
    return { fs: node.fs, dir, url: `${ctx.base()}/jobs/${job.id}/tasks/${task.id}/files` };
  }

  function nodeRoot(poolId: string, nodeId: string): FileRoot {
    const pool = account.pools.get(poolId.toLowerCase());
    if (!pool) throw errors.notFound('Pool', poolId);
    const node = pool.nodes.get(nodeId);
    if (!node) throw errors.notFound('Node', nodeId);
    return { fs: node.fs, dir: NODE_ROOT_DIR, url: `${ctx.base()}/pools/${pool.id}/nodes/${node.id}/files` };
  }

  function listFiles(req: RestRequest, root: FileRoot): RestResult {
    if (req.method !== 'GET') throw errors.verb();
    const recursive = req.url.searchParams.get('recursive')?.toLowerCase() === 'true';
    const entries = root.fs.list(root.dir, recursive);
    return listPage(
      entries,
      (x) => {
        const { path, entry } = x as { path: string; entry: Entry };
        return {
          name: path,
          url: `${root.url}/${encodePath(path)}`,
          isDirectory: entry.kind === 'dir',
          // FileProperties: creationTime is not returned for files on Linux nodes.
          properties: {
            lastModified: batchTime(entry.modified),
            contentLength: String(entry.kind === 'file' ? fileSize(entry) : 0),
            ...(entry.kind === 'file' ? { contentType: 'application/octet-stream' } : {}),
            fileMode: fileMode(entry),
          },
        };
      },
      req.url,
      'files',
      ctx.base(),
    );
  }

  function getFile(req: RestRequest, root: FileRoot, relative: string): RestResult {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw errors.verb();
    const path = resolvePath(root.dir, relative.replace(/\\/g, '/'));
    if (path !== root.dir && !path.startsWith(`${root.dir}/`))
      throw new EmulatedBatchError(
        400,
        'InvalidUri',
        'The requested URI does not represent any resource on the server.',
      );
    const entry = root.fs.lookup(path);
    if (!entry)
      throw new EmulatedBatchError(404, 'FileNotFound', 'The specified file does not exist.', [
        { key: 'FilePath', value: relative },
      ]);
    const seconds = Math.floor(entry.modified / 1000) * 1000;
    const ifModifiedSince = header(req, 'if-modified-since');
    const ifUnmodifiedSince = header(req, 'if-unmodified-since');
    if (ifUnmodifiedSince !== undefined && seconds > Date.parse(ifUnmodifiedSince))
      throw new EmulatedBatchError(
        412,
        'ConditionNotMet',
        'The condition specified using HTTP conditional header(s) is not met.',
      );
    if (ifModifiedSince !== undefined && seconds <= Date.parse(ifModifiedSince))
      throw new EmulatedBatchError(304, 'ConditionNotMet', 'Not modified.');
    const data = entry.kind === 'file' ? entry.data : Buffer.alloc(0);
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'last-modified': rfc1123(entry.modified),
      etag: `0x8D${entry.modified.toString(16).toUpperCase()}${data.length.toString(16).toUpperCase()}`,
      'ocp-creation-time': rfc1123(entry.created),
      'ocp-batch-file-isdirectory': String(entry.kind === 'dir'),
      'ocp-batch-file-url': `${root.url}/${encodePath(path.slice(root.dir.length + 1))}`,
      'ocp-batch-file-mode': fileMode(entry),
    };
    let body = data;
    const range = header(req, 'ocp-range') ?? header(req, 'range');
    if (range !== undefined && req.method === 'GET' && data.length > 0) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      let start = m?.[1] ? Number(m[1]) : Number.NaN;
      let end = m?.[2] ? Number(m[2]) : data.length - 1;
      if (m && !m[1] && m[2]) {
        start = Math.max(0, data.length - Number(m[2]));
        end = data.length - 1;
      }
      end = Math.min(end, data.length - 1);
      if (!m || !Number.isInteger(start) || start > end || start >= data.length)
        throw new EmulatedBatchError(
          416,
          'InvalidRange',
          'The range specified is invalid for the current size of the resource.',
        );
      body = data.subarray(start, end + 1);
      headers['content-range'] = `bytes ${start}-${end}/${data.length}`;
    }
    headers['content-length'] = String(body.length);
    return { status: 200, headers, body };
  }

  function sideRunToWire(run: SideRun, root: string, url: string, prep: boolean): Record<string, unknown> {
    return {
      startTime: batchTime(run.startTime),
      ...(run.endTime !== undefined ? { endTime: batchTime(run.endTime) } : {}),
      state: run.state,
      taskRootDirectory: root,
      taskRootDirectoryUrl: url,
      ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
      ...(run.failureInfo ? { failureInfo: run.failureInfo } : {}),
      ...(prep ? { retryCount: run.retryCount } : {}),
      ...(prep && run.lastRetryTime !== undefined ? { lastRetryTime: batchTime(run.lastRetryTime) } : {}),
      ...(run.result ? { result: run.result } : {}),
    };
  }

  function prepStatus(req: RestRequest, job: JobRec): RestResult {
    if (req.method !== 'GET') throw errors.verb();
    if (!job.prep)
      throw new EmulatedBatchError(
        409,
        'JobPreparationTaskNotSpecified',
        'The specified job does not have job preparation task.',
      );
    const prepId = prepTaskId(job) as string;
    const release = job.body.jobReleaseTask as { id?: unknown } | undefined;
    const releaseId = typeof release?.id === 'string' ? release.id : 'jobrelease';
    return listPage(
      job.prep.runs.values(),
      (x) => {
        const exec = x as PrepExec;
        const nodeUrl = `${ctx.base()}/pools/${exec.node.pool.id}/nodes/${exec.node.id}`;
        const dir = (id: string) => taskRootDirectory(job.id, id);
        return {
          poolId: exec.node.pool.id,
          nodeId: exec.node.id,
          nodeUrl,
          jobPreparationTaskExecutionInfo: sideRunToWire(
            exec,
            dir(prepId),
            `${nodeUrl}/files/${dir(prepId)}`,
            true,
          ),
          ...(exec.release
            ? {
                jobReleaseTaskExecutionInfo: sideRunToWire(
                  exec.release,
                  dir(releaseId),
                  `${nodeUrl}/files/${dir(releaseId)}`,
                  false,
                ),
              }
            : {}),
        };
      },
      req.url,
      'jobpreparationandreleasetaskstatus',
      ctx.base(),
    );
  }

  return (req, parts) => {
    const [root, id, sub, subId, action, ...rest] = parts;
    if (root === 'jobs' && id && sub === 'jobpreparationandreleasetaskstatus' && !subId) {
      const job = account.jobs.get(id.toLowerCase());
      if (!job) throw errors.notFound('Job', id);
      return prepStatus(req, job);
    }
    if (root === 'jobs' && id && sub === 'tasks' && subId && action === 'files') {
      const job = account.jobs.get(id.toLowerCase());
      if (!job) throw errors.notFound('Job', id);
      const task = job.tasks.get(subId.toLowerCase());
      if (!task) throw errors.notFound('Task', subId);
      const fileRoot = taskRoot(job, task);
      return rest.length === 0 ? listFiles(req, fileRoot) : getFile(req, fileRoot, rest.join('/'));
    }
    if (root === 'pools' && id && sub === 'nodes' && subId && action === 'files') {
      const fileRoot = nodeRoot(id, subId);
      return rest.length === 0 ? listFiles(req, fileRoot) : getFile(req, fileRoot, rest.join('/'));
    }
    return undefined;
  };
}
