/**
 * One run of a task, a job preparation task or a job release task on a node: its directory and
 * environment, its resource files, its command (shell.ts) and its output files.
 *
 * Simulated time and real I/O meet here. A run without real transfers is decided at once, inside
 * the event loop. A run with real downloads starts them when it starts, and uploads when its command
 * has ended; when they finish, a `deferred` event at the simulated now carries the outcome back into
 * the loop. Transfers take no simulated time: the run's times stay its simulated start and end (a
 * fast clock would otherwise turn 50 ms of real I/O into a minute), but it is not completed before
 * its transfers are, so its end event comes at max(simulated end, now). Every continuation asks
 * `isCurrent()` first, so a run that was terminated, requeued, preempted or deleted meanwhile is not
 * completed by stale I/O.
 */
import { commandBehaviour } from './command.js';
import { advance } from './events.js';
import type { FailureInfo, JobRec, NodeRec } from './model.js';
import {
  type DirEntry,
  FsError,
  NODE_MOUNTS_DIR,
  NODE_ROOT_DIR,
  NODE_SHARED_DIR,
  NODE_STARTUP_DIR,
  resolvePath,
  taskRootDirectory,
} from './node-fs.js';
import { outputFileWithoutIdentity, poolIdentityIds, resourceFileIdentityFailure } from './pool-features.js';
import { type DockerAccess, runScript } from './shell.js';
import { parseCommandLine, type Script } from './shell-parse.js';
import type { AccountState } from './state.js';
import { findSupportedImage } from './supported-images.js';
import {
  hasRealDownloads,
  outputFilesFor,
  planUploads,
  preProcessingFailure,
  resourceFilesOf,
  scriptedUploadFailure,
} from './task-files.js';
import type { RunKind } from './transfer-stats.js';
import { fetchResourceFiles, putBlobs, uploadFailure } from './transfers.js';

type Body = Record<string, unknown>;

const EMPTY = Buffer.alloc(0);

export interface RunSpec {
  readonly kind: RunKind;
  readonly node: NodeRec;
  readonly job: JobRec;
  /** The directory under `workitems/<job>/job-1/`: the task's id, or the preparation/release task's. */
  readonly dirName: string;
  /** commandLine, resourceFiles, environmentSettings, outputFiles. */
  readonly body: Body;
  /** The run's key in the transfer counters. */
  readonly statsKey: string;
}

export interface RunDirs {
  readonly taskDir: string;
  readonly wd: string;
  readonly env: Readonly<Record<string, string>>;
}

export type RunOutcome =
  | { readonly kind: 'ran'; readonly durationMs: number; readonly exitCode: number }
  | { readonly kind: 'preProcessingError'; readonly failure: FailureInfo };

const DEFAULT_PREP_ID = 'jobpreparation';

/** The job's preparation task id (Batch's default `jobpreparation`), if it has one. */
export function prepTaskId(job: JobRec): string | undefined {
  const prep = job.body.jobPreparationTask as Body | undefined;
  if (!prep) return undefined;
  return typeof prep.id === 'string' ? prep.id : DEFAULT_PREP_ID;
}

/** Batch `environmentSettings` (name/value pairs) into `into`, later ones overriding earlier ones. */
export function settings(list: unknown, into: Record<string, string>): void {
  if (!Array.isArray(list)) return;
  for (const e of list as { name?: unknown; value?: unknown }[])
    if (typeof e.name === 'string') into[e.name] = typeof e.value === 'string' ? e.value : '';
}

/** The variables Batch sets on every node, for tasks and the start task alike. */
export function nodeVariables(s: AccountState, node: NodeRec): Record<string, string> {
  return {
    AZ_BATCH_ACCOUNT_NAME: s.identity.accountName,
    AZ_BATCH_ACCOUNT_URL: s.identity.accountUrl,
    AZ_BATCH_POOL_ID: node.pool.id,
    AZ_BATCH_NODE_ID: node.id,
    AZ_BATCH_NODE_IS_DEDICATED: String(!node.lowPriority),
    AZ_BATCH_NODE_ROOT_DIR: NODE_ROOT_DIR,
    AZ_BATCH_NODE_SHARED_DIR: NODE_SHARED_DIR,
    AZ_BATCH_NODE_STARTUP_DIR: NODE_STARTUP_DIR,
    AZ_BATCH_NODE_MOUNTS_DIR: NODE_MOUNTS_DIR,
  };
}

/**
 * The run's directories and environment: the job's commonEnvironmentSettings, then the run's own
 * environmentSettings (which override them), then the variables Batch sets (learn.microsoft.com
 * /azure/batch/batch-compute-node-environment-variables), which a user cannot override.
 */
export function runDirs(s: AccountState, spec: RunSpec): RunDirs {
  const { node, job } = spec;
  const taskDir = `${NODE_ROOT_DIR}/${taskRootDirectory(job.id, spec.dirName)}`;
  const wd = `${taskDir}/wd`;
  const env: Record<string, string> = {};
  settings(job.body.commonEnvironmentSettings, env);
  settings(spec.body.environmentSettings, env);
  Object.assign(env, nodeVariables(s, node), {
    AZ_BATCH_JOB_ID: job.id,
    AZ_BATCH_TASK_ID: spec.dirName,
    AZ_BATCH_TASK_DIR: taskDir,
    AZ_BATCH_TASK_WORKING_DIR: wd,
  });
  const prepId = prepTaskId(job);
  // Every task of a job with a preparation task sees its directory, except the preparation task.
  if (prepId !== undefined && spec.kind !== 'prep') {
    const prepDir = `${NODE_ROOT_DIR}/${taskRootDirectory(job.id, prepId)}`;
    env.AZ_BATCH_JOB_PREP_DIR = prepDir;
    env.AZ_BATCH_JOB_PREP_WORKING_DIR = `${prepDir}/wd`;
  }
  return { taskDir, wd, env };
}

/** Pushes a step into the event loop at the simulated now and runs the loop. */
export function defer(s: AccountState, run: (at: number) => void): void {
  s.events.push({ at: s.clock.now(), kind: 'deferred', run });
  advance(s);
}

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a run on a node of this pool may use Docker: the node has it when the pool has a container
 * configuration or its image's supported-images entry lists `DockerCompatible` (images with Docker
 * installed), and a run reaches its socket (`/var/run/docker.sock`, group `docker`) only as an admin
 * auto-user (`userIdentity.autoUser.elevationLevel: admin`; Batch's default is a non-admin user).
 */
export function dockerAccess(poolBody: Body, runBody: Body): DockerAccess | undefined {
  const vm = isObject(poolBody.virtualMachineConfiguration) ? poolBody.virtualMachineConfiguration : {};
  const image = isObject(vm.imageReference) ? vm.imageReference : {};
  const installed =
    isObject(vm.containerConfiguration) ||
    findSupportedImage(image)?.capabilities?.includes('DockerCompatible') === true;
  if (!installed) return undefined;
  const user = isObject(runBody.userIdentity) ? runBody.userIdentity : {};
  const auto = isObject(user.autoUser) ? user.autoUser : {};
  return String(auto.elevationLevel ?? '').toLowerCase() === 'admin' ? 'allowed' : 'denied';
}

const parsed = new Map<string, Script | undefined>();

/** A command line's script; lines repeat across a sweep's tasks, so the last ones are kept. */
function scriptOf(commandLine: string): Script | undefined {
  if (parsed.has(commandLine)) return parsed.get(commandLine);
  if (parsed.size >= 1000) parsed.clear();
  const script = parseCommandLine(commandLine);
  parsed.set(commandLine, script);
  return script;
}

/** Runs the command line on the node's disk at `at`, writing stdout.txt and stderr.txt. */
export function execute(spec: RunSpec, dirs: RunDirs, taskEntry: DirEntry, at: number): RunOutcome {
  const commandLine = String(spec.body.commandLine ?? '');
  const script = scriptOf(commandLine);
  if (!script) return { kind: 'ran', ...commandBehaviour(commandLine) };
  const fs = spec.node.fs;
  const docker = dockerAccess(spec.node.pool.body, spec.body);
  const result = runScript(script, {
    fs,
    cwd: dirs.wd,
    env: dirs.env,
    now: at,
    ...(docker ? { docker } : {}),
  });
  if (result.stdout.length > 0) fs.put(taskEntry, 'stdout.txt', result.stdout, at, { append: true });
  if (result.stderr.length > 0) fs.put(taskEntry, 'stderr.txt', result.stderr, at, { append: true });
  return { kind: 'ran', durationMs: result.durationMs, exitCode: result.exitCode };
}

/**
 * Starts a run at `at`: a fresh directory, the resource files, then the command. `done` gets the
 * outcome and the simulated time it was known (`at` itself when no real download was needed).
 */
export function startRun(
  s: AccountState,
  spec: RunSpec,
  at: number,
  isCurrent: () => boolean,
  done: (outcome: RunOutcome, at: number) => void,
): void {
  const dirs = runDirs(s, spec);
  const fs = spec.node.fs;
  s.transfers.started(spec.node.id, spec.kind);
  let taskEntry: DirEntry;
  try {
    taskEntry = fs.taskDir(spec.job.id, spec.dirName, at);
    fs.childDir(taskEntry, 'wd', at);
    // Each attempt starts its logs afresh.
    fs.put(taskEntry, 'stdout.txt', EMPTY, at);
    fs.put(taskEntry, 'stderr.txt', EMPTY, at);
  } catch (e) {
    if (!(e instanceof FsError)) throw e;
    const failure: FailureInfo = {
      category: 'servererror',
      code: 'ResourceDirectoryCreateFailed',
      message: 'Failure encountered creating resource directory for the task',
    };
    done({ kind: 'preProcessingError', failure }, at);
    return;
  }
  // A resource file naming an identity the pool lacks fails as Batch reports it (pool-features.ts).
  const scripted =
    resourceFileIdentityFailure(poolIdentityIds(spec.node.pool.body), spec.body) ??
    preProcessingFailure(spec.body);
  if (scripted) {
    done({ kind: 'preProcessingError', failure: scripted }, at);
    return;
  }
  if (!s.transfersLive || !hasRealDownloads(spec.body)) {
    done(execute(spec, dirs, taskEntry, at), at);
    return;
  }
  void fetchResourceFiles(s.limiter, resourceFilesOf(spec.body)).then((fetched) => {
    if (fetched.ok) {
      const bytes = fetched.files.reduce((n, f) => n + f.data.length, 0);
      s.transfers.downloaded(spec.node.id, spec.statsKey, fetched.files.length, bytes);
    }
    defer(s, (now) => {
      if (!isCurrent()) return;
      if (!fetched.ok) {
        done({ kind: 'preProcessingError', failure: fetched.failure }, now);
        return;
      }
      for (const f of fetched.files) {
        const path = resolvePath(dirs.wd, f.path);
        try {
          if (!path.startsWith(`${dirs.wd}/`)) throw new FsError('ENOENT', f.path);
          spec.node.fs.mkdirp(path.slice(0, path.lastIndexOf('/')), now);
          spec.node.fs.writeFile(path, f.data, now, { mode: f.mode });
        } catch (e) {
          if (!(e instanceof FsError)) throw e;
          done(
            {
              kind: 'preProcessingError',
              failure: {
                category: 'servererror',
                code: 'ResourceFileCreateFailed',
                message: 'Failure encountered creating resource file',
                details: [{ name: 'FilePath', value: f.path }],
              },
            },
            now,
          );
          return;
        }
      }
      done(execute(spec, dirs, taskEntry, now), now);
    });
  });
}

/**
 * Uploads the output files an exit code calls for. `done` gets the file upload error, if any, and
 * the simulated time the uploads were over. Batch's upload logs, `fileuploadout.txt` and
 * `fileuploaderr.txt`, are written to the task directory.
 */
export function startUploads(
  s: AccountState,
  spec: RunSpec,
  exitCode: number,
  at: number,
  isCurrent: () => boolean,
  done: (failure: FailureInfo | undefined, at: number) => void,
): void {
  const files = outputFilesFor(spec.body, exitCode);
  if (files.length === 0) {
    done(undefined, at);
    return;
  }
  const withoutIdentity = outputFileWithoutIdentity(poolIdentityIds(spec.node.pool.body), files);
  const scripted =
    withoutIdentity !== undefined ? uploadFailure(withoutIdentity) : scriptedUploadFailure(files);
  if (scripted) {
    done(scripted, at);
    return;
  }
  const dirs = runDirs(s, spec);
  const fs = spec.node.fs;
  const uploads = s.transfersLive ? planUploads(fs, dirs.wd, dirs.env, files) : [];
  if (uploads.length === 0) {
    done(undefined, at);
    return;
  }
  void putBlobs(s.limiter, uploads).then((r) => {
    s.transfers.uploaded(spec.node.id, spec.statsKey, r.files, r.bytes);
    defer(s, (now) => {
      if (!isCurrent()) return;
      const line = (lines: string[]) => Buffer.from(lines.map((l) => `${l}\n`).join(''));
      if (fs.lookup(dirs.taskDir)?.kind === 'dir') {
        fs.writeFile(`${dirs.taskDir}/fileuploadout.txt`, line(r.log), now, { append: true });
        fs.writeFile(`${dirs.taskDir}/fileuploaderr.txt`, line(r.errors), now, { append: true });
      }
      done(r.failed ? uploadFailure(r.failed.filePattern) : undefined, now);
    });
  });
}
