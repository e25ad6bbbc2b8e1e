/**
 * TES task documents for the executor tests, and a run of a generated body on one emulated node's
 * disk without Batch around it (the resource files put in place as Batch would, then the command).
 */
import { NodeFs } from '../../../dev/batch-emulator/node-fs.js';
import { type DockerAccess, runScript } from '../../../dev/batch-emulator/shell.js';
import { parseCommandLine } from '../../../dev/batch-emulator/shell-parse.js';
import type { TaskBody } from '../../../shared/model/batch-bodies.js';
import type { TesExecutor, TesInput, TesOutput, TesTaskDoc } from '../../../shared/model/tes-task.js';

export const WD = '/mnt/batch/tasks/workitems/lane/job-1/task-1/wd';

export interface TaskParts {
  readonly id?: string;
  readonly inputs?: readonly TesInput[];
  readonly outputs?: readonly TesOutput[];
  readonly executors: readonly TesExecutor[];
  readonly volumes?: readonly string[];
}

export function tesDoc(parts: TaskParts): TesTaskDoc {
  return {
    id: parts.id ?? 'task-1',
    tenant: 'tenant-a',
    type: 'tes-task',
    state: 'QUEUED',
    creationTime: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    sortKey: `2026-01-01T00:00:00Z|${parts.id ?? 'task-1'}`,
    request: {
      inputs: parts.inputs ?? [],
      outputs: parts.outputs ?? [],
      executors: parts.executors,
      volumes: parts.volumes ?? [],
      tags: {},
    },
    tagKeys: [],
    tagPairs: [],
    placement: {
      laneKey: 'k',
      vmSize: 'standard_d2s_v3',
      taskSlotsPerNode: 4,
      requiredSlots: 2,
      lowPriority: false,
      maxNodes: 2,
    },
    logs: [],
    systemLogs: [],
  };
}

/**
 * Runs a body's command line on a fresh node disk: `files` are what Batch's resource files would
 * have put in the working directory (relative path → content).
 */
export function runLocally(
  body: TaskBody,
  files: Record<string, string> = {},
  docker: DockerAccess | undefined = 'allowed',
  node: {
    /** More of the task's environment (AZ_BATCH_NODE_MOUNTS_DIR, …). */
    readonly env?: Record<string, string>;
    /** Files elsewhere on the node's disk (absolute path → content); a path ending in '/' is a folder. */
    readonly files?: Record<string, string>;
  } = {},
) {
  const fs = new NodeFs(0);
  fs.mkdirp(WD, 0);
  const put = (abs: string, text: string) => {
    if (abs.endsWith('/')) {
      fs.mkdirp(abs.slice(0, -1), 0);
      return;
    }
    fs.mkdirp(abs.slice(0, abs.lastIndexOf('/')), 0);
    fs.writeFile(abs, Buffer.from(text), 0, { mode: '0770' });
  };
  for (const [path, text] of Object.entries(files)) put(`${WD}/${path}`, text);
  for (const [path, text] of Object.entries(node.files ?? {})) put(path, text);
  const script = parseCommandLine(body.commandLine);
  if (!script) throw new Error('the wrapper is outside the emulator shell grammar');
  const result = runScript(script, {
    fs,
    cwd: WD,
    env: { AZ_BATCH_TASK_WORKING_DIR: WD, ...node.env },
    now: Date.UTC(2026, 0, 1),
    ...(docker ? { docker } : {}),
  });
  const read = (path: string): string | undefined => {
    const entry = fs.lookup(path.startsWith('/') ? path : `${WD}/${path}`);
    return entry?.kind === 'file' ? entry.data.toString() : undefined;
  };
  return { ...result, fs, read, report: read('tes/run/report.txt') };
}
