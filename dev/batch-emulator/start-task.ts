/**
 * What a node does as it joins its pool, before it takes tasks (BatchStartTask in the data-plane spec):
 *
 * - its mounts appear under AZ_BATCH_NODE_MOUNTS_DIR, one directory per `relativeMountPath`; every
 *   node mounting the same share or container sees the same files (a host directory for an Azure
 *   Files share the emulator maps, file-shares.ts);
 * - the pool's start task runs in AZ_BATCH_NODE_STARTUP_DIR (working directory `wd`, its resource files
 *   fetched there as a task's are, `stdout.txt` and `stderr.txt` beside it) with the emulator's shell.
 *   With `waitForSuccess` (the default) the node waits in `waitingforstarttask`; a non-zero exit is
 *   retried up to `maxTaskRetryCount` times (pre-processing errors are not); success puts the node in
 *   service (`idle`), failure leaves it `starttaskfailed`, taking no tasks. Without `waitForSuccess` the
 *   node takes tasks at once, whatever the start task does. The node shows both as `startTask` and
 *   `startTaskInfo`. A node that comes back from a preemption (a new disk) runs it again; a pool
 *   update of the start task applies to nodes that join afterwards, as in Batch.
 *
 * `/_emulator/pools/{id}/start-task-failures { count }` makes the start task of the pool's next
 * `count` nodes exit 1 on every attempt.
 */
import { commandBehaviour } from './command.js';
import { attachMounts } from './file-shares.js';
import { settle } from './job-prep.js';
import type { FailureInfo, NodeRec, StartTaskRun } from './model.js';
import { type DirEntry, FsError, NODE_STARTUP_DIR, resolvePath } from './node-fs.js';
import { poolIdentityIds, resourceFileIdentityFailure } from './pool-features.js';
import { armPreemption, rebucket } from './pools.js';
import { defer, dockerAccess, nodeVariables, type RunOutcome, settings } from './runs.js';
import { runScript } from './shell.js';
import { parseCommandLine } from './shell-parse.js';
import { type AccountState, markDirty, ms } from './state.js';
import { hasRealDownloads, preProcessingFailure, resourceFilesOf } from './task-files.js';
import { fetchResourceFiles } from './transfers.js';

type Body = Record<string, unknown>;

const EMPTY = Buffer.alloc(0);
const START_WD = `${NODE_STARTUP_DIR}/wd`;
/** Simulated seconds before a failed start task is tried again (Batch does not retry in the same instant). */
const RETRY_DELAY_SECONDS = 1;
/** Simulated seconds a scripted start task failure takes. */
const SCRIPTED_FAILURE_SECONDS = 1;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A node has finished starting (a new one, or one back from a preemption): mounts, then the start task. */
export function nodeJoined(s: AccountState, node: NodeRec, at: number): void {
  attachMounts(s, node, at);
  const body = node.pool.body.startTask;
  if (!isObject(body) || typeof body.commandLine !== 'string' || body.commandLine === '') {
    node.startTaskRun = undefined;
    intoService(s, node, at);
    return;
  }
  const pool = node.pool;
  const scriptedFailure = (pool.startTaskFailures ?? 0) > 0;
  if (scriptedFailure) pool.startTaskFailures = (pool.startTaskFailures ?? 0) - 1;
  const run: StartTaskRun = {
    body,
    waitForSuccess: body.waitForSuccess !== false,
    incarnation: node.incarnation,
    scriptedFailure,
    state: 'running',
    startTime: at,
    retryCount: 0,
    attempt: 0,
  };
  node.startTaskRun = run;
  if (run.waitForSuccess) {
    node.state = 'waitingforstarttask';
    node.stateTransitionTime = at;
  } else intoService(s, node, at);
  attempt(s, node, run, at);
}

function intoService(s: AccountState, node: NodeRec, at: number): void {
  node.state = 'idle';
  node.stateTransitionTime = at;
  rebucket(node);
  markDirty(s, node.pool.key);
  armPreemption(s, node, at);
}

function startEnv(s: AccountState, node: NodeRec, body: Body): Record<string, string> {
  const env: Record<string, string> = {};
  settings(body.environmentSettings, env);
  // The variables Batch sets for a start task, which its settings cannot override.
  return Object.assign(env, nodeVariables(s, node), {
    AZ_BATCH_TASK_DIR: NODE_STARTUP_DIR,
    AZ_BATCH_TASK_WORKING_DIR: START_WD,
  });
}

function execute(
  node: NodeRec,
  run: StartTaskRun,
  dir: DirEntry,
  env: Record<string, string>,
  at: number,
): RunOutcome {
  const commandLine = String(run.body.commandLine);
  const script = parseCommandLine(commandLine);
  if (!script) return { kind: 'ran', ...commandBehaviour(commandLine) };
  const docker = dockerAccess(node.pool.body, run.body);
  const result = runScript(script, {
    fs: node.fs,
    cwd: START_WD,
    env,
    now: at,
    ...(docker ? { docker } : {}),
  });
  if (result.stdout.length > 0) node.fs.put(dir, 'stdout.txt', result.stdout, at, { append: true });
  if (result.stderr.length > 0) node.fs.put(dir, 'stderr.txt', result.stderr, at, { append: true });
  return { kind: 'ran', durationMs: result.durationMs, exitCode: result.exitCode };
}

function attempt(s: AccountState, node: NodeRec, run: StartTaskRun, at: number): void {
  run.attempt++;
  const n = run.attempt;
  run.state = 'running';
  run.startTime = at;
  run.endTime = undefined;
  run.exitCode = undefined;
  run.failureInfo = undefined;
  run.result = undefined;
  const current = () =>
    node.startTaskRun === run &&
    run.attempt === n &&
    node.incarnation === run.incarnation &&
    !node.leaving &&
    node.pool.nodes.get(node.id) === node &&
    s.pools.get(node.pool.key) === node.pool;
  const finish = (outcome: RunOutcome, known: number) => {
    const end = run.startTime + (outcome.kind === 'ran' ? outcome.durationMs : 0);
    s.events.push({
      at: Math.max(end, known),
      kind: 'deferred',
      run: (now) => {
        if (current()) complete(s, node, run, outcome, end, now);
      },
    });
  };
  const fs = node.fs;
  let dir: DirEntry;
  try {
    dir = fs.mkdirp(NODE_STARTUP_DIR, at);
    fs.mkdirp(START_WD, at);
    // Each attempt starts its logs afresh.
    fs.put(dir, 'stdout.txt', EMPTY, at);
    fs.put(dir, 'stderr.txt', EMPTY, at);
  } catch (e) {
    if (!(e instanceof FsError)) throw e;
    finish(
      {
        kind: 'preProcessingError',
        failure: {
          category: 'servererror',
          code: 'ResourceDirectoryCreateFailed',
          message: 'Failure encountered creating resource directory for the task',
        },
      },
      at,
    );
    return;
  }
  if (run.scriptedFailure) {
    fs.put(dir, 'stderr.txt', Buffer.from('start task failed (scripted: exit 1)\n'), at, { append: true });
    finish({ kind: 'ran', durationMs: ms(SCRIPTED_FAILURE_SECONDS), exitCode: 1 }, at);
    return;
  }
  const env = startEnv(s, node, run.body);
  const refused =
    resourceFileIdentityFailure(poolIdentityIds(node.pool.body), run.body) ?? preProcessingFailure(run.body);
  if (refused) {
    finish({ kind: 'preProcessingError', failure: refused }, at);
    return;
  }
  if (!s.transfersLive || !hasRealDownloads(run.body)) {
    finish(execute(node, run, dir, env, at), at);
    return;
  }
  void fetchResourceFiles(s.limiter, resourceFilesOf(run.body)).then((fetched) => {
    if (fetched.ok)
      s.transfers.downloaded(
        node.id,
        `${node.pool.id}/starttask@${node.id}`,
        fetched.files.length,
        fetched.files.reduce((sum, f) => sum + f.data.length, 0),
      );
    defer(s, (now) => {
      if (!current()) return;
      if (!fetched.ok) {
        finish({ kind: 'preProcessingError', failure: fetched.failure }, now);
        return;
      }
      for (const f of fetched.files) {
        const path = resolvePath(START_WD, f.path);
        try {
          if (!path.startsWith(`${START_WD}/`)) throw new FsError('ENOENT', f.path);
          fs.mkdirp(path.slice(0, path.lastIndexOf('/')), now);
          fs.writeFile(path, f.data, now, { mode: f.mode });
        } catch (e) {
          if (!(e instanceof FsError)) throw e;
          const failure: FailureInfo = {
            category: 'servererror',
            code: 'ResourceFileCreateFailed',
            message: 'Failure encountered creating resource file',
            details: [{ name: 'FilePath', value: f.path }],
          };
          finish({ kind: 'preProcessingError', failure }, now);
          return;
        }
      }
      finish(execute(node, run, dir, env, now), now);
    });
  });
}

function complete(
  s: AccountState,
  node: NodeRec,
  run: StartTaskRun,
  outcome: RunOutcome,
  end: number,
  at: number,
): void {
  settle(run, outcome, undefined, end);
  const max = Number(run.body.maxTaskRetryCount ?? 0);
  // A non-zero exit is retried; a pre-processing error is not (the same files would fail again).
  if (outcome.kind === 'ran' && run.result === 'failure' && (max === -1 || run.retryCount < max)) {
    run.retryCount++;
    const retryAt = at + ms(RETRY_DELAY_SECONDS);
    run.lastRetryTime = retryAt;
    const n = run.attempt;
    s.events.push({
      at: retryAt,
      kind: 'deferred',
      run: (now) => {
        if (
          node.startTaskRun === run &&
          run.attempt === n &&
          node.incarnation === run.incarnation &&
          !node.leaving &&
          node.pool.nodes.get(node.id) === node
        )
          attempt(s, node, run, now);
      },
    });
    return;
  }
  // Without waitForSuccess the node has been taking tasks all along.
  if (node.state !== 'waitingforstarttask') return;
  if (run.result === 'success') {
    intoService(s, node, at);
    return;
  }
  node.state = 'starttaskfailed';
  node.stateTransitionTime = at;
  markDirty(s, node.pool.key);
}
