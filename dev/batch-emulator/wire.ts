/** Batch's JSON shapes for pools, nodes, jobs, tasks and applications (lowercase enums, 7-digit times). */
import { UNLIMITED_DURATION } from './command.js';
import type { ApplicationRec, JobRec, NodeRec, PoolRec, StartTaskRun, TaskRec } from './model.js';
import { recasePool, withoutSecrets } from './pool-features.js';

/** ISO 8601 UTC with seven fractional digits, as Batch writes times. */
export function batchTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}0000Z`;
}

/** RFC 1123, for Last-Modified. */
export function rfc1123(ms: number): string {
  return new Date(ms).toUTCString();
}

const pick = (b: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (b[k] !== undefined) out[k] = b[k];
  return out;
};

const lower = (v: unknown): unknown => (typeof v === 'string' ? v.toLowerCase() : v);

function normalizedVmConfig(vm: unknown): unknown {
  if (!vm || typeof vm !== 'object') return vm;
  const c = { ...(vm as Record<string, unknown>) };
  const cc = c.containerConfiguration as Record<string, unknown> | undefined;
  if (cc && typeof cc.type === 'string') {
    const t = cc.type.toLowerCase();
    c.containerConfiguration = {
      ...cc,
      type: t === 'dockercompatible' ? 'dockerCompatible' : t === 'cricompatible' ? 'criCompatible' : cc.type,
    };
  }
  return c;
}

export function poolToWire(pool: PoolRec, base: string): Record<string, unknown> {
  // The data plane's casing, and nothing secret: Batch returns no mount key, SAS or password.
  const b = withoutSecrets(recasePool(pool.body, 'data'));
  const mode = typeof b.targetNodeCommunicationMode === 'string' ? b.targetNodeCommunicationMode : undefined;
  let dedicated = 0;
  for (const n of pool.nodes.values()) if (!n.lowPriority) dedicated++;
  return {
    id: pool.id,
    ...pick(b, ['displayName']),
    url: `${base}/pools/${pool.id}`,
    eTag: pool.etag,
    lastModified: batchTime(pool.lastModified),
    creationTime: batchTime(pool.creationTime),
    state: pool.state,
    stateTransitionTime: batchTime(pool.stateTransitionTime),
    allocationState: pool.allocationState,
    allocationStateTransitionTime: batchTime(pool.allocationStateTransitionTime),
    vmSize: pool.vmSize,
    virtualMachineConfiguration: normalizedVmConfig(b.virtualMachineConfiguration),
    resizeTimeout: pool.resizeTimeout,
    ...(pool.resizeErrors.length > 0 && pool.allocationState === 'steady'
      ? { resizeErrors: pool.resizeErrors }
      : {}),
    currentDedicatedNodes: dedicated,
    currentLowPriorityNodes: pool.nodes.size - dedicated,
    targetDedicatedNodes: pool.targetDedicated,
    targetLowPriorityNodes: pool.targetLowPriority,
    enableAutoScale: pool.autoScale,
    ...(pool.autoScale
      ? {
          autoScaleFormula: b.autoScaleFormula,
          autoScaleEvaluationInterval: b.autoScaleEvaluationInterval ?? 'PT15M',
        }
      : {}),
    enableInterNodeCommunication: b.enableInterNodeCommunication === true,
    ...pick(b, [
      'networkConfiguration',
      'startTask',
      'certificateReferences',
      'userAccounts',
      'mountConfiguration',
      'resourceTags',
    ]),
    ...(b.applicationPackageReferences
      ? { applicationPackageReferences: b.applicationPackageReferences }
      : {}),
    taskSlotsPerNode: pool.slots,
    taskSchedulingPolicy: { nodeFillType: pool.fill },
    ...(b.metadata ? { metadata: b.metadata } : {}),
    // Read-only here: only the management plane gives a pool an identity.
    ...(b.identity ? { identity: b.identity } : {}),
    ...(mode !== undefined ? { targetNodeCommunicationMode: mode } : {}),
    currentNodeCommunicationMode: mode === 'classic' ? 'classic' : 'simplified',
    ...(b.upgradePolicy ? { upgradePolicy: b.upgradePolicy } : {}),
  };
}

export function nodeToWire(node: NodeRec, base: string): Record<string, unknown> {
  let slotsInUse = 0;
  for (const t of node.running) slotsInUse += t.requiredSlots;
  return {
    id: node.id,
    url: `${base}/pools/${node.pool.id}/nodes/${node.id}`,
    state: node.state,
    schedulingState: 'enabled',
    stateTransitionTime: batchTime(node.stateTransitionTime),
    allocationTime: batchTime(node.allocationTime),
    lastBootTime: batchTime(node.allocationTime),
    ipAddress: '10.0.0.4',
    affinityId: `TVM:${node.id}`,
    vmSize: node.pool.vmSize,
    totalTasksRun: node.totalTasksRun,
    totalTasksSucceeded: node.totalTasksSucceeded,
    runningTasksCount: node.running.size,
    runningTaskSlotsCount: slotsInUse,
    isDedicated: !node.lowPriority,
    // Batch: "the Tasks whose state has recently changed" on the node (BatchService.json
    // TaskInformation); here the last 20 that started, ended or were requeued on it, latest change
    // first, each with its current state (a preempted node's show the tasks it lost).
    recentTasks: (node.recent ?? [])
      .filter((t) => t.job.tasks.get(t.key) === t)
      .map((t) => ({
        taskUrl: `${base}/jobs/${t.job.id}/tasks/${t.id}`,
        jobId: t.job.id,
        taskId: t.id,
        taskState: t.state,
        executionInfo: executionInfo(t),
      })),
    ...(node.startTaskRun ? startTaskToWire(node.startTaskRun) : {}),
    nodeAgentInfo: { version: '1.11.0', lastUpdateTime: batchTime(node.allocationTime) },
  };
}

/** The node's `startTask` (as it ran there) and `startTaskInfo` (BatchStartTaskInfo). */
function startTaskToWire(run: StartTaskRun): Record<string, unknown> {
  const st = withoutSecrets(recasePool({ startTask: run.body }, 'data')).startTask as Record<string, unknown>;
  return {
    startTask: {
      ...st,
      userIdentity: normalizedUserIdentity(st.userIdentity),
      maxTaskRetryCount: Number(st.maxTaskRetryCount ?? 0),
      waitForSuccess: run.waitForSuccess,
    },
    startTaskInfo: {
      state: run.state,
      startTime: batchTime(run.startTime),
      ...(run.endTime !== undefined ? { endTime: batchTime(run.endTime) } : {}),
      ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
      ...(run.failureInfo ? { failureInfo: run.failureInfo } : {}),
      retryCount: run.retryCount,
      ...(run.lastRetryTime !== undefined ? { lastRetryTime: batchTime(run.lastRetryTime) } : {}),
      ...(run.result ? { result: run.result } : {}),
    },
  };
}

export function jobToWire(job: JobRec, base: string): Record<string, unknown> {
  const b = job.body;
  return {
    id: job.id,
    ...pick(b, ['displayName']),
    usesTaskDependencies: job.usesTaskDependencies,
    url: `${base}/jobs/${job.id}`,
    eTag: job.etag,
    lastModified: batchTime(job.lastModified),
    creationTime: batchTime(job.creationTime),
    state: job.state,
    stateTransitionTime: batchTime(job.stateTransitionTime),
    ...(job.previousState
      ? {
          previousState: job.previousState,
          previousStateTransitionTime: batchTime(job.previousStateTransitionTime ?? job.creationTime),
        }
      : {}),
    priority: job.priority,
    maxParallelTasks: Number(b.maxParallelTasks ?? -1),
    allowTaskPreemption: b.allowTaskPreemption === true,
    constraints: {
      maxWallClockTime: job.maxWallClockTime ?? UNLIMITED_DURATION,
      maxTaskRetryCount: job.maxTaskRetryCount,
    },
    ...pick(b, ['jobManagerTask', 'jobPreparationTask', 'jobReleaseTask', 'commonEnvironmentSettings']),
    poolInfo: b.poolInfo,
    onAllTasksComplete: job.onAllTasksComplete,
    onTaskFailure: job.onTaskFailure,
    ...pick(b, ['networkConfiguration', 'metadata']),
    executionInfo: {
      startTime: batchTime(job.creationTime),
      ...(job.endTime !== undefined ? { endTime: batchTime(job.endTime) } : {}),
      poolId: job.poolId,
      ...(job.terminateReason ? { terminateReason: job.terminateReason } : {}),
    },
  };
}

function executionInfo(task: TaskRec): Record<string, unknown> {
  const done = task.state === 'completed';
  return {
    ...(task.startTime !== undefined && task.state !== 'active'
      ? { startTime: batchTime(task.startTime) }
      : {}),
    ...(done && task.endTime !== undefined ? { endTime: batchTime(task.endTime) } : {}),
    ...(task.shownExitCode !== undefined && (done || task.retryCount > 0)
      ? { exitCode: task.shownExitCode }
      : {}),
    ...(done && task.failureInfo ? { failureInfo: task.failureInfo } : {}),
    retryCount: task.retryCount,
    ...(task.lastRetryTime !== undefined ? { lastRetryTime: batchTime(task.lastRetryTime) } : {}),
    requeueCount: task.requeueCount,
    ...(task.lastRequeueTime !== undefined ? { lastRequeueTime: batchTime(task.lastRequeueTime) } : {}),
    ...(done && task.result ? { result: task.result } : {}),
  };
}

function lowerExitOptions(o: unknown): unknown {
  if (!o || typeof o !== 'object') return o;
  const x = o as Record<string, unknown>;
  return {
    ...x,
    ...(x.jobAction !== undefined ? { jobAction: lower(x.jobAction) } : {}),
    ...(x.dependencyAction !== undefined ? { dependencyAction: lower(x.dependencyAction) } : {}),
  };
}

function normalizedExitConditions(ec: unknown): unknown {
  if (!ec || typeof ec !== 'object') return ec;
  const e = ec as Record<string, unknown>;
  const mapList = (list: unknown) =>
    Array.isArray(list)
      ? list.map((m: Record<string, unknown>) => ({ ...m, exitOptions: lowerExitOptions(m.exitOptions) }))
      : list;
  return {
    ...e,
    ...(e.exitCodes ? { exitCodes: mapList(e.exitCodes) } : {}),
    ...(e.exitCodeRanges ? { exitCodeRanges: mapList(e.exitCodeRanges) } : {}),
    ...(e.preProcessingError ? { preProcessingError: lowerExitOptions(e.preProcessingError) } : {}),
    ...(e.fileUploadError ? { fileUploadError: lowerExitOptions(e.fileUploadError) } : {}),
    ...(e.default ? { default: lowerExitOptions(e.default) } : {}),
  };
}

function normalizedUserIdentity(u: unknown): unknown {
  if (!u || typeof u !== 'object') return { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } };
  const x = u as { username?: string; autoUser?: Record<string, unknown> };
  if (!x.autoUser) return x;
  return {
    ...x,
    autoUser: {
      scope: lower(x.autoUser.scope ?? 'pool'),
      elevationLevel: lower(x.autoUser.elevationLevel ?? 'nonadmin'),
    },
  };
}

export function taskToWire(task: TaskRec, base: string): Record<string, unknown> {
  const b = task.body;
  const constraints = (b.constraints ?? {}) as Record<string, unknown>;
  const ran = task.lastNode;
  return {
    id: task.id,
    ...pick(b, ['displayName']),
    url: `${base}/jobs/${task.job.id}/tasks/${task.id}`,
    eTag: task.etag,
    creationTime: batchTime(task.creationTime),
    lastModified: batchTime(task.lastModified),
    ...(b.exitConditions ? { exitConditions: normalizedExitConditions(b.exitConditions) } : {}),
    state: task.state,
    stateTransitionTime: batchTime(task.stateTransitionTime),
    ...(task.previousState
      ? {
          previousState: task.previousState,
          previousStateTransitionTime: batchTime(task.previousStateTransitionTime ?? task.creationTime),
        }
      : {}),
    commandLine: b.commandLine,
    ...pick(b, [
      'containerSettings',
      'resourceFiles',
      'outputFiles',
      'environmentSettings',
      'affinityInfo',
      'multiInstanceSettings',
      'dependsOn',
      'applicationPackageReferences',
      'authenticationTokenSettings',
    ]),
    constraints: {
      maxWallClockTime: constraints.maxWallClockTime ?? UNLIMITED_DURATION,
      retentionTime: constraints.retentionTime ?? 'P7D',
      maxTaskRetryCount: task.maxRetries,
    },
    requiredSlots: task.requiredSlots,
    userIdentity: normalizedUserIdentity(b.userIdentity),
    executionInfo: executionInfo(task),
    ...(ran && task.state !== 'active'
      ? {
          nodeInfo: {
            affinityId: `TVM:${ran.nodeId}`,
            nodeUrl: `${base}/pools/${ran.poolId}/nodes/${ran.nodeId}`,
            poolId: ran.poolId,
            nodeId: ran.nodeId,
            taskRootDirectory: `workitems/${task.job.id}/job-1/${task.id}`,
            taskRootDirectoryUrl: `${base}/pools/${ran.poolId}/nodes/${ran.nodeId}/files/workitems/${task.job.id}/job-1/${task.id}`,
          },
        }
      : {}),
  };
}

export function applicationToWire(app: ApplicationRec): Record<string, unknown> {
  return { id: app.id, displayName: app.displayName, versions: app.versions };
}
