/**
 * From a task of the request to the Batch body the plan sends, and the job's preparation and release
 * tasks. Pure: the same request gives the same bodies, which is what lets the submitter rebuild
 * chunks instead of storing them.
 *
 * - Outputs: to the caller's container as given, or to the tenant's results store (RESULTS_STORE_URL,
 *   resolved by the submitter) under the job's folder: `<job>/<task>/<file name>` by default (the
 *   pattern's last segment; `<job>/<task>/` for a pattern with wildcards), or `<job>/<path>` for a
 *   given `results.path`, which is relative to the job's folder so a merge task can write
 *   `<job>/merged/...`. Logs go to `<job>/<task>/$TaskLog/` unless the job says `keepLogs: none`.
 *   Paths always use the caller's task id, whatever id Batch knows the task by.
 * - Fan-in (`dependsOn.sweep`): the sweep's tasks get their index as Batch id, keep the caller's id
 *   as display name (unless the template gives one) and in `SLOTWISE_TASK_ID`; a task depending on
 *   the sweep gets `taskIdRanges` 0..N-1.
 * - Keyless files: `identity: true` on a resource file or an output to the caller's container becomes
 *   `identityReference` to the pool's identity (validation has checked the pool has one).
 * - Secrets: an environment value `{ secretRef: name }` becomes `secretPlaceholder(name)`, resolved
 *   only when the body is sent; chunks count each at MAX_SECRET_VALUE_LENGTH (SECRET_VALUE_GROWTH).
 */

import {
  type ApplicationPackageReference,
  type AutoUserIdentity,
  type IdentityReference,
  type JobPreparationTaskBody,
  type JobReleaseTaskBody,
  MAX_RESULTS_URL_LENGTH,
  MAX_SECRET_VALUE_LENGTH,
  type NameValue,
  type OutputFileBody,
  RESULTS_STORE_URL,
  type ResourceFileBody,
  secretNameOf,
  secretPlaceholder,
  type TaskBody,
} from '../model/batch-bodies.js';
import { baseName, hasWildcard } from '../model/output-rules.js';
import {
  type EnvironmentSpec,
  isExistingPool,
  type JobRequest,
  type KeepLogs,
  type OutputFileSpec,
  type ResourceFileSpec,
  type TaskSpec,
} from '../model/request-schema.js';
import { taskLogPath, taskResultsPrefix } from '../model/results-paths.js';
import { sweepSize } from '../model/sweep.js';
import { usesSweepIndexIds } from '../model/task-ids.js';

/** What every task body of one job shares. */
export interface TaskBodyContext {
  /** Slotwise's (the caller's) job id: the results store's folder. */
  readonly jobId: string;
  readonly keepLogs: KeepLogs;
  /** Job-level packages placed on the tasks (see decidePackagePlacement). */
  readonly jobPackages: readonly ApplicationPackageReference[];
  readonly explicitTasks: number;
  /** The sweep's tasks carry their index as Batch id (the job fans in over its sweep). */
  readonly sweepIndexIds: boolean;
  readonly sweepTasks: number;
  /** The managed pool's identity (`pool.identity`), for `identity: true` on files. */
  readonly poolIdentity: string | undefined;
}

export function taskBodyContext(
  request: JobRequest,
  jobId: string,
  jobPackages: readonly ApplicationPackageReference[],
): TaskBodyContext {
  return {
    jobId,
    keepLogs: request.keepLogs ?? 'taskCompletion',
    jobPackages,
    explicitTasks: request.tasks?.length ?? 0,
    sweepIndexIds: usesSweepIndexIds(request),
    sweepTasks: request.sweep ? sweepSize(request.sweep) : 0,
    poolIdentity: poolIdentityOf(request),
  };
}

/** The managed pool's identity, if it has one (an existing pool's identities are not known). */
export function poolIdentityOf(request: JobRequest): string | undefined {
  return isExistingPool(request.pool) ? undefined : request.pool.identity;
}

/** `identityReference` to the pool's identity when a file asks for it. */
const identityReference = (
  asked: boolean | undefined,
  poolIdentity: string | undefined,
): { identityReference?: IdentityReference } =>
  asked === true && poolIdentity !== undefined ? { identityReference: { resourceId: poolIdentity } } : {};

/** An environment as Batch's name/value list: a secret reference becomes its placeholder. */
export function toEnvironmentSettings(environment: EnvironmentSpec | undefined): NameValue[] {
  return Object.entries(environment ?? {}).map(([name, value]) => ({
    name,
    value: typeof value === 'string' ? value : secretPlaceholder(value.secretRef),
  }));
}

/**
 * Bytes a body's secret placeholders may add once resolved: each placeholder is counted at
 * MAX_SECRET_VALUE_LENGTH, the longest value the resolver puts in.
 */
export function secretGrowth(body: Pick<TaskBody, 'environmentSettings'>): number {
  let n = 0;
  for (const { value } of body.environmentSettings ?? [])
    if (secretNameOf(value) !== undefined) n += Math.max(0, MAX_SECRET_VALUE_LENGTH - value.length);
  return n;
}

/**
 * Bytes one results store reference adds once the submitter puts the store's URL and SAS in place of
 * the placeholder. Chunks are cut with every reference counted at that size.
 */
export const RESULTS_URL_GROWTH = MAX_RESULTS_URL_LENGTH - RESULTS_STORE_URL.length;

/** References to the results store in a body (outputs and resource files): each grows when resolved. */
export function resultsReferenceCount(body: TaskBody): number {
  let n = 0;
  for (const o of body.outputFiles ?? []) if (o.destination.container.containerUrl === RESULTS_STORE_URL) n++;
  for (const f of body.resourceFiles ?? []) if (f.storageContainerUrl === RESULTS_STORE_URL) n++;
  return n;
}

/** Every task the planner writes runs as a task-scoped auto-user; admin only when asked and granted. */
const autoUser = (elevationLevel: 'nonadmin' | 'admin'): AutoUserIdentity => ({
  autoUser: { scope: 'task', elevationLevel },
});

/** The body of the job's task number `index` (explicit tasks first, then the sweep's, in order). */
export function toTaskBody(task: TaskSpec, index: number, slots: number, ctx: TaskBodyContext): TaskBody {
  const packages = [...ctx.jobPackages, ...(task.applicationPackages ?? []).map(toPackageRef)];
  const environment = toEnvironmentSettings(task.environment);
  const sweepIndex = index - ctx.explicitTasks;
  const indexed = ctx.sweepIndexIds && sweepIndex >= 0;
  if (indexed) environment.push({ name: 'SLOTWISE_TASK_ID', value: task.id });
  const displayName = task.displayName || (indexed ? task.id : undefined);
  const outputs = [
    ...(task.outputFiles ?? []).map((o) => toOutputBody(o, ctx.jobId, task.id, ctx.poolIdentity)),
    ...logOutputs(ctx.jobId, task.id, ctx.keepLogs),
  ];
  const deps = task.dependsOn;
  const ranges = [
    ...(deps?.ranges ?? []),
    ...(deps?.sweep === true && ctx.sweepTasks > 0 ? [{ start: 0, end: ctx.sweepTasks - 1 }] : []),
  ];
  return {
    id: indexed ? String(sweepIndex) : task.id,
    ...(displayName ? { displayName } : {}),
    commandLine: task.commandLine,
    requiredSlots: slots,
    ...(environment.length > 0 ? { environmentSettings: environment } : {}),
    ...(task.resourceFiles
      ? {
          resourceFiles: task.resourceFiles.map((f) =>
            toResourceFileBody(f, ctx.jobId, undefined, ctx.poolIdentity),
          ),
        }
      : {}),
    ...(outputs.length > 0 ? { outputFiles: outputs } : {}),
    ...(task.container
      ? {
          containerSettings: {
            imageName: task.container.image,
            ...(task.container.runOptions ? { containerRunOptions: task.container.runOptions } : {}),
          },
        }
      : {}),
    ...(packages.length > 0 ? { applicationPackageReferences: packages } : {}),
    ...(task.maxWallClockTime || task.maxRetries !== undefined
      ? {
          constraints: {
            ...(task.maxWallClockTime ? { maxWallClockTime: task.maxWallClockTime } : {}),
            ...(task.maxRetries !== undefined ? { maxTaskRetryCount: task.maxRetries } : {}),
          },
        }
      : {}),
    ...(deps?.taskIds || ranges.length > 0
      ? {
          dependsOn: {
            ...(deps?.taskIds ? { taskIds: deps.taskIds } : {}),
            ...(ranges.length > 0 ? { taskIdRanges: ranges } : {}),
          },
        }
      : {}),
    ...(task.exitConditions ? { exitConditions: task.exitConditions } : {}),
    // Always explicit, never Batch's default (pool scope): a task-scoped user cannot read or change
    // files of other tasks on the node. Admin only when asked for; validation has checked the grant.
    userIdentity: autoUser(task.elevationLevel ?? 'nonadmin'),
  };
}

export function toPackageRef(p: {
  applicationId: string;
  version?: string | undefined;
}): ApplicationPackageReference {
  return p.version
    ? { applicationId: p.applicationId, version: p.version }
    : { applicationId: p.applicationId };
}

type UploadCondition = OutputFileBody['uploadOptions']['uploadCondition'];

const condition = (c: OutputFileSpec['uploadCondition'] | KeepLogs): UploadCondition =>
  (c ?? 'taskCompletion').toLowerCase() as UploadCondition;

export function toOutputBody(
  o: OutputFileSpec,
  jobId: string,
  callerTaskId: string,
  poolIdentity?: string,
): OutputFileBody {
  const d = o.destination;
  const uploadOptions = { uploadCondition: condition(o.uploadCondition) };
  if (d && 'containerUrl' in d) {
    return {
      filePattern: o.filePattern,
      destination: {
        container: {
          containerUrl: d.containerUrl,
          ...(d.path ? { path: d.path } : {}),
          ...identityReference(d.identity, poolIdentity),
        },
      },
      uploadOptions,
    };
  }
  const folder = taskResultsPrefix(jobId, callerTaskId);
  const path =
    d?.results.path !== undefined
      ? `${jobId}/${d.results.path}`
      : hasWildcard(o.filePattern)
        ? folder
        : `${folder}/${baseName(o.filePattern)}`;
  return {
    filePattern: o.filePattern,
    destination: { container: { containerUrl: RESULTS_STORE_URL, path } },
    uploadOptions,
  };
}

/** The task's stdout.txt and stderr.txt (in the task's directory, one up from its working directory). */
export function logOutputs(jobId: string, callerTaskId: string, keepLogs: KeepLogs): OutputFileBody[] {
  if (keepLogs === 'none') return [];
  return (['stdout.txt', 'stderr.txt'] as const).map((file) => ({
    filePattern: `../${file}`,
    destination: {
      container: { containerUrl: RESULTS_STORE_URL, path: taskLogPath(jobId, callerTaskId, file) },
    },
    uploadOptions: { uploadCondition: condition(keepLogs) },
  }));
}

export function toResourceFileBody(
  f: ResourceFileSpec,
  jobId: string,
  defaultMode?: string,
  poolIdentity?: string,
): ResourceFileBody {
  const fileMode = f.fileMode ?? defaultMode;
  if ('fromResults' in f) {
    return {
      storageContainerUrl: RESULTS_STORE_URL,
      blobPrefix: `${f.fromResults.job ?? jobId}/${f.fromResults.prefix}`,
      ...(f.filePath !== undefined ? { filePath: f.filePath } : {}),
      ...(fileMode ? { fileMode } : {}),
    };
  }
  const { identity, ...file } = f;
  return { ...file, ...(fileMode ? { fileMode } : {}), ...identityReference(identity, poolIdentity) };
}

/** Batch requires a command line on a preparation task: this one does nothing (Linux nodes). */
export const NO_OP_COMMAND_LINE = '/bin/sh -c true';
/**
 * Retries of a failed preparation (Batch `maxTaskRetryCount`) before the node is given up for the
 * job: a transient failure of the command gets two more tries; a preparation that keeps failing is
 * most likely broken, and retrying it longer only holds the node's tasks back. (Resource files that
 * cannot be downloaded are not retried by Batch at all.)
 */
export const PREPARATION_RETRIES = 2;
/**
 * Mode of the preparation's resource files when the request gives none: readable by every user of the
 * node, because the job's tasks run as their own task-scoped users, not as the preparation's user
 * (Batch's Linux default, 0770, would leave them to the owner and its group).
 */
export const PREPARATION_FILE_MODE = '0755';

/** The Batch job's preparation and release tasks from the request (Batch refuses a release alone). */
export function jobPreparationBodies(
  request: JobRequest,
  jobId: string,
): { jobPreparationTask?: JobPreparationTaskBody; jobReleaseTask?: JobReleaseTaskBody } {
  const prep = request.jobPreparation;
  const release = request.jobRelease;
  if (!prep && !release) return {};
  const env = (e: EnvironmentSpec | undefined): { environmentSettings?: NameValue[] } => {
    const settings = toEnvironmentSettings(e);
    return settings.length > 0 ? { environmentSettings: settings } : {};
  };
  const poolIdentity = poolIdentityOf(request);
  const jobPreparationTask: JobPreparationTaskBody = {
    id: 'jobpreparation',
    commandLine: prep?.commandLine ?? NO_OP_COMMAND_LINE,
    ...(prep?.resourceFiles?.length
      ? {
          resourceFiles: prep.resourceFiles.map((f) =>
            toResourceFileBody(f, jobId, PREPARATION_FILE_MODE, poolIdentity),
          ),
        }
      : {}),
    ...env(prep?.environment),
    constraints: { maxTaskRetryCount: PREPARATION_RETRIES },
    waitForSuccess: prep?.waitForSuccess ?? true,
    userIdentity: autoUser('nonadmin'),
  };
  return {
    jobPreparationTask,
    ...(release
      ? {
          jobReleaseTask: {
            id: 'jobrelease',
            commandLine: release.commandLine,
            ...(release.maxWallClockTime ? { maxWallClockTime: release.maxWallClockTime } : {}),
            ...env(release.environment),
            userIdentity: autoUser('nonadmin'),
          },
        }
      : {}),
  };
}
