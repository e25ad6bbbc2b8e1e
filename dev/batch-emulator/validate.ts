/**
 * Request-body checks with Batch's error codes: ids, required properties, enums (any case), limits
 * (taskSlotsPerNode ≤ min(4 × vCPUs, 256), resizeTimeout ≥ 5 min, …), application packages.
 * Each check throws the EmulatedBatchError Batch would answer with.
 */

import { maxTaskSlotsPerNode, tryGetVmSize } from '../../shared/model/vm-sizes.js';
import { parseDuration } from './command.js';
import { EmulatedBatchError, errors } from './errors.js';
import { checkExitConditions } from './exit-conditions.js';
import type { ApplicationRec, DeallocationOption, JobRec, PoolRec } from './model.js';
import { findSupportedImage } from './supported-images.js';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const FIVE_MINUTES = 5 * 60_000;

type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkId(value: unknown, property = 'id'): string {
  if (value === undefined || value === null) throw errors.missingProperty(property);
  if (typeof value !== 'string' || !ID.test(value))
    throw errors.invalidProperty(
      property,
      'The id can contain any combination of alphanumeric characters including hyphens and underscores, and cannot contain more than 64 characters.',
    );
  return value;
}

function checkInt(
  body: Body,
  property: string,
  min: number,
  max: number,
  path = property,
): number | undefined {
  const v = body[property];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw errors.invalidProperty(path, `The value must be an integer between ${min} and ${max}.`);
  return v;
}

function checkEnum<T extends string>(
  body: Body,
  property: string,
  allowed: readonly T[],
  path = property,
): T | undefined {
  const v = body[property];
  if (v === undefined || v === null) return undefined;
  const found = typeof v === 'string' ? allowed.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
  if (!found) throw errors.invalidProperty(path, `The value must be one of: ${allowed.join(', ')}.`);
  return found;
}

function checkDuration(body: Body, property: string, path = property): number | undefined {
  const v = body[property];
  if (v === undefined || v === null) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined) throw errors.invalidProperty(path, 'The value must be an ISO 8601 duration.');
  return ms;
}

function checkObject(body: Body, property: string, path = property): Body | undefined {
  const v = body[property];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw errors.invalidProperty(path, 'The value must be an object.');
  return v;
}

function checkArray(body: Body, property: string, path = property): unknown[] | undefined {
  const v = body[property];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw errors.invalidProperty(path, 'The value must be an array.');
  return v;
}

function checkDisplayName(body: Body): void {
  const v = body.displayName;
  if (v !== undefined && (typeof v !== 'string' || v.length > 1024))
    throw errors.invalidProperty('displayName', 'The display name can be at most 1024 characters.');
}

/** The application name in a reference: the last segment of a full ARM id, or the id itself. */
export function applicationName(applicationId: string): string {
  const m = /\/applications\/([^/]+)/i.exec(applicationId);
  return (m ? m[1]! : applicationId).toLowerCase();
}

/** Pool-level references name the application by its full ARM id; task-level ones by its name. */
export const applicationResourceIdPattern =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Batch\/batchAccounts\/[^/]+\/applications\/[^/]+$/i;

export function checkPoolPackages(
  refs: unknown[] | undefined,
  apps: ReadonlyMap<string, ApplicationRec>,
): void {
  if (!refs) return;
  if (refs.length > 10)
    throw errors.invalidProperty('applicationPackageReferences', 'A pool can reference at most 10 packages.');
  const bad: { key: string; value: string }[] = [];
  for (const [i, r] of refs.entries()) {
    if (!isObject(r) || typeof r.applicationId !== 'string')
      throw errors.missingProperty(`applicationPackageReferences[${i}].applicationId`);
    const app = apps.get(applicationName(r.applicationId));
    const version = typeof r.version === 'string' ? r.version : undefined;
    if (!applicationResourceIdPattern.test(r.applicationId))
      bad.push({
        key: r.applicationId,
        value:
          'A pool-level reference must be the full resource id /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/{account}/applications/{application}.',
      });
    else if (!app) bad.push({ key: r.applicationId, value: 'The application does not exist.' });
    else if (version ? !app.versions.includes(version) : !app.defaultVersion)
      bad.push({
        key: r.applicationId,
        value: version
          ? `Version ${version} does not exist.`
          : 'No version given and no default version set.',
      });
  }
  if (bad.length > 0)
    throw new EmulatedBatchError(
      409,
      'InvalidApplicationPackageReferences',
      'One or more of the specified application package references are invalid.',
      bad,
    );
}

export interface PoolShape {
  slots: number;
  fill: 'pack' | 'spread';
  vmSize: string;
  containers: boolean;
  autoScale: boolean;
}

/** How the account allocates pool VMs; Batch's default is `BatchService`. */
export type PoolAllocationMode = 'BatchService' | 'UserSubscription';

/**
 * Low-priority nodes were retired for Batch-service accounts on 30 September 2025: Batch no longer
 * provisions them there (Spot nodes exist only in user subscription mode). A request for them is refused
 * as any unsupported property value is, naming the property and why.
 */
function checkLowPriorityAllowed(body: Body, mode: PoolAllocationMode): void {
  if (
    mode === 'BatchService' &&
    typeof body.targetLowPriorityNodes === 'number' &&
    body.targetLowPriorityNodes > 0
  )
    throw errors.invalidProperty(
      'targetLowPriorityNodes',
      'Low-priority nodes are retired for Batch accounts in Batch service pool allocation mode; Spot nodes need an account in user subscription mode.',
    );
}

export function checkPoolCreate(
  body: Body,
  apps: ReadonlyMap<string, ApplicationRec>,
  mode: PoolAllocationMode = 'UserSubscription',
): PoolShape {
  checkId(body.id);
  checkDisplayName(body);
  if (body.vmSize === undefined) throw errors.missingProperty('vmSize');
  const size = typeof body.vmSize === 'string' ? tryGetVmSize(body.vmSize) : undefined;
  if (!size) throw errors.invalidProperty('vmSize', `The VM size '${String(body.vmSize)}' is not supported.`);
  if (body.cloudServiceConfiguration !== undefined)
    throw errors.invalidProperty(
      'cloudServiceConfiguration',
      'Cloud service pools are retired; use virtualMachineConfiguration.',
    );
  const vm = checkObject(body, 'virtualMachineConfiguration');
  if (!vm) throw errors.missingProperty('virtualMachineConfiguration');
  if (!isObject(vm.imageReference))
    throw errors.missingProperty('virtualMachineConfiguration.imageReference');
  if (typeof vm.nodeAgentSKUId !== 'string' || vm.nodeAgentSKUId === '')
    throw errors.missingProperty('virtualMachineConfiguration.nodeAgentSKUId');
  const cc = checkObject(vm, 'containerConfiguration', 'virtualMachineConfiguration.containerConfiguration');
  if (cc) {
    // Batch allows a container configuration only on an image listing DockerCompatible (or a custom image).
    const image = vm.imageReference as Record<string, unknown>;
    const custom = typeof image.virtualMachineImageId === 'string' || typeof image.id === 'string';
    if (!custom && !findSupportedImage(image)?.capabilities?.includes('DockerCompatible'))
      throw errors.invalidProperty(
        'virtualMachineConfiguration.imageReference',
        `The image ${[image.publisher, image.offer, image.sku].map(String).join(':')} does not support containers; use an image whose supported-images entry lists DockerCompatible (e.g. microsoft-dsvm:ubuntu-hpc:2204).`,
      );
    if (cc.type === undefined)
      throw errors.missingProperty('virtualMachineConfiguration.containerConfiguration.type');
    checkEnum(
      cc,
      'type',
      ['dockerCompatible', 'criCompatible'],
      'virtualMachineConfiguration.containerConfiguration.type',
    );
  }
  const maxSlots = maxTaskSlotsPerNode(size);
  const slots = body.taskSlotsPerNode === undefined ? 1 : body.taskSlotsPerNode;
  if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1 || slots > maxSlots)
    throw errors.invalidProperty(
      'taskSlotsPerNode',
      `The value must be between 1 and ${maxSlots} (the smaller of 4 × ${size.vCpus} vCPUs of ${size.name} and 256).`,
    );
  const policy = checkObject(body, 'taskSchedulingPolicy');
  let fill: 'pack' | 'spread' = 'spread';
  if (policy) {
    if (policy.nodeFillType === undefined) throw errors.missingProperty('taskSchedulingPolicy.nodeFillType');
    fill =
      checkEnum(policy, 'nodeFillType', ['spread', 'pack'], 'taskSchedulingPolicy.nodeFillType') ?? 'spread';
  }
  const resize = checkDuration(body, 'resizeTimeout');
  if (resize !== undefined && resize < FIVE_MINUTES)
    throw errors.invalidProperty('resizeTimeout', 'The resize timeout must be at least 5 minutes.');
  const autoScale = body.enableAutoScale === true;
  if (autoScale) {
    if (typeof body.autoScaleFormula !== 'string' || body.autoScaleFormula === '')
      throw errors.missingProperty('autoScaleFormula');
    if (body.autoScaleFormula.length > 8192)
      throw errors.invalidProperty('autoScaleFormula', 'The formula can be at most 8192 characters.');
    for (const p of ['targetDedicatedNodes', 'targetLowPriorityNodes'])
      if (body[p] !== undefined)
        throw errors.invalidProperty(p, 'Target node counts must not be set when enableAutoScale is true.');
    const interval = checkDuration(body, 'autoScaleEvaluationInterval');
    if (interval !== undefined && (interval < FIVE_MINUTES || interval > 168 * 3_600_000))
      throw errors.invalidProperty(
        'autoScaleEvaluationInterval',
        'The interval must be between 5 minutes and 168 hours.',
      );
  } else {
    if (body.autoScaleFormula !== undefined)
      throw errors.invalidProperty(
        'autoScaleFormula',
        'A formula must not be set when enableAutoScale is false.',
      );
    if (body.targetDedicatedNodes === undefined && body.targetLowPriorityNodes === undefined)
      throw errors.missingProperty('targetDedicatedNodes');
    checkInt(body, 'targetDedicatedNodes', 0, 10_000);
    checkInt(body, 'targetLowPriorityNodes', 0, 10_000);
    checkLowPriorityAllowed(body, mode);
  }
  checkArray(body, 'metadata');
  checkPoolPackages(checkArray(body, 'applicationPackageReferences'), apps);
  return { slots, fill, vmSize: size.name, containers: cc !== undefined, autoScale };
}

export function checkResize(
  body: Body,
  mode: PoolAllocationMode = 'UserSubscription',
): {
  dedicated: number;
  lowPriority: number;
  option: DeallocationOption;
  resizeTimeout: string | undefined;
} {
  const dedicated = checkInt(body, 'targetDedicatedNodes', 0, 10_000);
  const lowPriority = checkInt(body, 'targetLowPriorityNodes', 0, 10_000);
  checkLowPriorityAllowed(body, mode);
  const resize = checkDuration(body, 'resizeTimeout');
  if (resize !== undefined && resize < FIVE_MINUTES)
    throw errors.invalidProperty('resizeTimeout', 'The resize timeout must be at least 5 minutes.');
  const option =
    checkEnum(body, 'nodeDeallocationOption', ['requeue', 'terminate', 'taskcompletion', 'retaineddata']) ??
    'requeue';
  return {
    dedicated: dedicated ?? 0,
    lowPriority: lowPriority ?? 0,
    option,
    resizeTimeout: typeof body.resizeTimeout === 'string' ? body.resizeTimeout : undefined,
  };
}

/** Pools_RemoveNodes' body: `nodeList` of 1..100 node ids, and the resize's timeout and option. */
export function checkRemoveNodes(body: Body): {
  nodeList: string[];
  option: DeallocationOption;
  resizeTimeout: string | undefined;
} {
  const list = checkArray(body, 'nodeList');
  if (!list) throw errors.missingProperty('nodeList');
  if (list.length === 0 || list.length > 100 || list.some((id) => typeof id !== 'string'))
    throw errors.invalidProperty('nodeList', 'The list must name between 1 and 100 node ids.');
  const resize = checkDuration(body, 'resizeTimeout');
  if (resize !== undefined && resize < FIVE_MINUTES)
    throw errors.invalidProperty('resizeTimeout', 'The resize timeout must be at least 5 minutes.');
  const option =
    checkEnum(body, 'nodeDeallocationOption', ['requeue', 'terminate', 'taskcompletion', 'retaineddata']) ??
    'requeue';
  return {
    nodeList: list as string[],
    option,
    resizeTimeout: typeof body.resizeTimeout === 'string' ? body.resizeTimeout : undefined,
  };
}

export function checkJobCreate(body: Body): { poolId: string } {
  checkId(body.id);
  checkDisplayName(body);
  const poolInfo = checkObject(body, 'poolInfo');
  if (!poolInfo) throw errors.missingProperty('poolInfo');
  if (poolInfo.autoPoolSpecification !== undefined && poolInfo.poolId !== undefined)
    throw errors.invalidProperty('poolInfo', 'Specify either poolId or autoPoolSpecification, not both.');
  if (poolInfo.autoPoolSpecification !== undefined)
    throw new EmulatedBatchError(400, 'UnsupportedProperty', 'The emulator does not support auto pools.', [
      { key: 'PropertyName', value: 'poolInfo.autoPoolSpecification' },
    ]);
  const poolId = checkId(poolInfo.poolId, 'poolInfo.poolId');
  checkJobMutable(body);
  if (body.usesTaskDependencies !== undefined && typeof body.usesTaskDependencies !== 'boolean')
    throw errors.invalidProperty('usesTaskDependencies', 'The value must be a boolean.');
  checkSideTasks(body);
  return { poolId };
}

/**
 * The job preparation and release tasks (BatchJobPreparationTask, BatchJobReleaseTask): a command
 * line each; a release task only with a preparation task ("A Job Release Task cannot be specified
 * without also specifying a Job Preparation Task"), its maxWallClockTime at most 15 minutes.
 */
function checkSideTasks(body: Body): void {
  const prep = checkObject(body, 'jobPreparationTask');
  const release = checkObject(body, 'jobReleaseTask');
  for (const [name, task] of [
    ['jobPreparationTask', prep],
    ['jobReleaseTask', release],
  ] as const) {
    if (!task) continue;
    if (task.id !== undefined) checkId(task.id, `${name}.id`);
    if (task.commandLine === undefined) throw errors.missingProperty(`${name}.commandLine`);
    if (typeof task.commandLine !== 'string' || task.commandLine === '')
      throw errors.invalidProperty(`${name}.commandLine`, 'The command line must be a non-empty string.');
    checkResourceFiles(task, `${name}.`);
    checkArray(task, 'environmentSettings', `${name}.environmentSettings`);
  }
  if (prep) {
    if (prep.waitForSuccess !== undefined && typeof prep.waitForSuccess !== 'boolean')
      throw errors.invalidProperty('jobPreparationTask.waitForSuccess', 'The value must be a boolean.');
    const constraints = checkObject(prep, 'constraints', 'jobPreparationTask.constraints');
    if (constraints) {
      checkInt(
        constraints,
        'maxTaskRetryCount',
        -1,
        1_000_000,
        'jobPreparationTask.constraints.maxTaskRetryCount',
      );
      checkDuration(constraints, 'maxWallClockTime', 'jobPreparationTask.constraints.maxWallClockTime');
      checkDuration(constraints, 'retentionTime', 'jobPreparationTask.constraints.retentionTime');
    }
  }
  if (release) {
    if (!prep)
      throw errors.invalidProperty(
        'jobReleaseTask',
        'A job release task cannot be specified without also specifying a job preparation task for the job.',
      );
    const wall = checkDuration(release, 'maxWallClockTime', 'jobReleaseTask.maxWallClockTime');
    if (wall !== undefined && wall > 15 * 60_000)
      throw errors.invalidProperty(
        'jobReleaseTask.maxWallClockTime',
        'The value must not exceed 15 minutes.',
      );
    checkDuration(release, 'retentionTime', 'jobReleaseTask.retentionTime');
    const prepId = typeof prep.id === 'string' ? prep.id : 'jobpreparation';
    const releaseId = typeof release.id === 'string' ? release.id : 'jobrelease';
    if (prepId.toLowerCase() === releaseId.toLowerCase())
      throw errors.invalidProperty(
        'jobReleaseTask.id',
        'The id must differ from the job preparation task id.',
      );
  }
}

/**
 * ResourceFile: exactly one of autoStorageContainerName, storageContainerUrl, httpUrl; filePath
 * required with httpUrl and never breaking out of the working directory; blobPrefix only with a
 * container; an identityReference names its identity by `resourceId`.
 */
export function checkResourceFiles(body: Body, prefix = ''): void {
  for (const [i, f] of (checkArray(body, 'resourceFiles', `${prefix}resourceFiles`) ?? []).entries()) {
    const path = `${prefix}resourceFiles[${i}]`;
    if (!isObject(f)) throw errors.invalidProperty(path, 'The value must be an object.');
    const sources = ['autoStorageContainerName', 'storageContainerUrl', 'httpUrl'].filter(
      (k) => f[k] !== undefined,
    );
    if (sources.length !== 1)
      throw errors.invalidProperty(
        path,
        'Exactly one of autoStorageContainerName, storageContainerUrl and httpUrl must be specified.',
      );
    if (f.httpUrl !== undefined && (typeof f.filePath !== 'string' || f.filePath === ''))
      throw errors.missingProperty(`${path}.filePath`);
    if (f.blobPrefix !== undefined && f.httpUrl !== undefined)
      throw errors.invalidProperty(`${path}.blobPrefix`, 'blobPrefix applies only to a storage container.');
    if (
      typeof f.filePath === 'string' &&
      (f.filePath.startsWith('/') || f.filePath.split(/[\\/]/).includes('..'))
    )
      throw errors.invalidProperty(
        `${path}.filePath`,
        "The path cannot break out of the task's working directory.",
      );
    checkIdentityReference(f, path);
  }
}

/** `identityReference`, when given, is `{ resourceId }` (BatchNodeIdentityReference). */
export function checkIdentityReference(owner: Body, path: string): void {
  const ref = owner.identityReference;
  if (ref === undefined || ref === null) return;
  if (!isObject(ref) || typeof ref.resourceId !== 'string' || ref.resourceId === '')
    throw errors.invalidProperty(
      `${path}.identityReference`,
      'An identity reference names a user-assigned identity by its resourceId.',
    );
}

/** OutputFile: filePattern, destination.container.containerUrl and uploadOptions.uploadCondition required. */
function checkOutputFiles(body: Body): void {
  for (const [i, f] of (checkArray(body, 'outputFiles') ?? []).entries()) {
    const path = `outputFiles[${i}]`;
    if (!isObject(f)) throw errors.invalidProperty(path, 'The value must be an object.');
    if (typeof f.filePattern !== 'string' || f.filePattern === '')
      throw errors.missingProperty(`${path}.filePattern`);
    const container =
      isObject(f.destination) && isObject(f.destination.container) ? f.destination.container : undefined;
    if (typeof container?.containerUrl !== 'string')
      throw errors.missingProperty(`${path}.destination.container.containerUrl`);
    checkIdentityReference(container, `${path}.destination.container`);
    if (!isObject(f.uploadOptions) || f.uploadOptions.uploadCondition === undefined)
      throw errors.missingProperty(`${path}.uploadOptions.uploadCondition`);
    checkEnum(
      f.uploadOptions,
      'uploadCondition',
      ['tasksuccess', 'taskfailure', 'taskcompletion'],
      `${path}.uploadOptions.uploadCondition`,
    );
  }
}

/** A task may not take the id of its job's preparation or release task (409, as Batch answers). */
export function checkNotSideTaskId(job: JobRec, id: string): void {
  const prep = job.body.jobPreparationTask as Body | undefined;
  const release = job.body.jobReleaseTask as Body | undefined;
  const lower = id.toLowerCase();
  if (prep && lower === String(prep.id ?? 'jobpreparation').toLowerCase())
    throw errors.conflict(
      'TaskIdSameAsJobPreparationTask',
      'The specified task id is same as the job preparation task.',
    );
  if (release && lower === String(release.id ?? 'jobrelease').toLowerCase())
    throw errors.conflict(
      'TaskIdSameAsJobReleaseTask',
      'The specified task id is same as the job release task.',
    );
}

/** Properties settable both at creation and by patch/update. */
export function checkJobMutable(body: Body): void {
  checkInt(body, 'priority', -1000, 1000);
  checkEnum(body, 'onAllTasksComplete', ['noaction', 'terminatejob']);
  checkEnum(body, 'onTaskFailure', ['noaction', 'performexitoptionsjobaction']);
  const mpt = checkInt(body, 'maxParallelTasks', -1, 1_000_000);
  if (mpt === 0) throw errors.invalidProperty('maxParallelTasks', 'The value must be -1 or greater than 0.');
  const constraints = checkObject(body, 'constraints');
  if (constraints) {
    checkInt(constraints, 'maxTaskRetryCount', -1, 1_000_000, 'constraints.maxTaskRetryCount');
    checkDuration(constraints, 'maxWallClockTime', 'constraints.maxWallClockTime');
  }
  checkArray(body, 'metadata');
}

export function checkTaskCreate(body: Body, job: JobRec, pool: PoolRec | undefined): void {
  checkId(body.id);
  checkDisplayName(body);
  if (body.commandLine === undefined) throw errors.missingProperty('commandLine');
  if (typeof body.commandLine !== 'string' || body.commandLine === '')
    throw errors.invalidProperty('commandLine', 'The command line must be a non-empty string.');
  const slots = checkInt(body, 'requiredSlots', 1, 1_000_000);
  if (body.multiInstanceSettings !== undefined && slots !== undefined && slots !== 1)
    throw errors.invalidProperty('requiredSlots', 'Multi-instance tasks must use 1 slot.');
  const constraints = checkObject(body, 'constraints');
  if (constraints) {
    checkInt(constraints, 'maxTaskRetryCount', -1, 1_000_000, 'constraints.maxTaskRetryCount');
    checkDuration(constraints, 'maxWallClockTime', 'constraints.maxWallClockTime');
    checkDuration(constraints, 'retentionTime', 'constraints.retentionTime');
  }
  const deps = checkObject(body, 'dependsOn');
  if (deps) {
    if (!job.usesTaskDependencies)
      throw new EmulatedBatchError(
        400,
        'TaskDependenciesNotSpecifiedOnJob',
        'The specified task has dependencies but the job does not have usesTaskDependencies set.',
      );
    const ids = checkArray(deps, 'taskIds', 'dependsOn.taskIds') ?? [];
    if (ids.some((i) => typeof i !== 'string'))
      throw errors.invalidProperty('dependsOn.taskIds', 'Task ids must be strings.');
    if ((ids as string[]).reduce((n, i) => n + i.length, 0) > 64_000)
      throw new EmulatedBatchError(
        400,
        'TaskDependencyListTooLong',
        'The dependsOn.taskIds list is longer than 64000 characters.',
      );
    for (const [i, r] of (checkArray(deps, 'taskIdRanges', 'dependsOn.taskIdRanges') ?? []).entries()) {
      if (
        !isObject(r) ||
        !Number.isInteger(r.start) ||
        !Number.isInteger(r.end) ||
        Number(r.start) < 0 ||
        Number(r.end) < Number(r.start) ||
        Number(r.end) - Number(r.start) > 100_000
      )
        throw errors.invalidProperty(
          `dependsOn.taskIdRanges[${i}]`,
          'A range needs integers 0 ≤ start ≤ end.',
        );
    }
  }
  checkExitConditions(body.exitConditions, job);
  checkResourceFiles(body);
  checkOutputFiles(body);
  const container = checkObject(body, 'containerSettings');
  if (container && typeof container.imageName !== 'string')
    throw errors.missingProperty('containerSettings.imageName');
  if (pool?.containers && !container)
    throw errors.invalidProperty(
      'containerSettings',
      'The pool has a container configuration: the task must set containerSettings.',
    );
  if (pool && !pool.containers && container)
    throw errors.invalidProperty(
      'containerSettings',
      'The pool has no container configuration: the task must not set containerSettings.',
    );
}
