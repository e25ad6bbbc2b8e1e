/** Batch's JSON shapes for pools, jobs, tasks and nodes (enum values lowercase, times with 7 digits). */
import type { JobRec, PoolRec, TaskRec } from './simulation.js';

export const UNLIMITED = 'P10675199DT2H48M5.4775807S';

export function batchTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-01-01T00:00:00.123Z
  return `${iso.slice(0, 23)}0000Z`;
}

const rfc1123 = (ms: number) => new Date(ms).toUTCString();

export { rfc1123 };

export function poolToWire(pool: PoolRec, base: string): Record<string, unknown> {
  const b = pool.body;
  const dedicated = pool.nodes.filter((n) => !n.lowPriority).length;
  return {
    id: pool.id,
    ...(b.displayName ? { displayName: b.displayName } : {}),
    url: `${base}/pools/${pool.id}`,
    eTag: pool.etag,
    lastModified: batchTime(pool.lastModified),
    creationTime: batchTime(pool.creationTime),
    state: pool.state,
    stateTransitionTime: batchTime(pool.stateTransitionTime),
    allocationState: pool.allocationState,
    allocationStateTransitionTime: batchTime(pool.allocationStateTransitionTime),
    vmSize: String(b.vmSize).toLowerCase(),
    virtualMachineConfiguration: b.virtualMachineConfiguration,
    resizeTimeout: b.resizeTimeout ?? 'PT15M',
    ...(pool.resizeErrors.length > 0 ? { resizeErrors: pool.resizeErrors } : {}),
    currentDedicatedNodes: dedicated,
    currentLowPriorityNodes: pool.nodes.length - dedicated,
    targetDedicatedNodes: pool.targetDedicated,
    targetLowPriorityNodes: pool.targetLowPriority,
    enableAutoScale: false,
    enableInterNodeCommunication: false,
    taskSlotsPerNode: pool.slots,
    taskSchedulingPolicy: { nodeFillType: pool.fill },
    ...(b.applicationPackageReferences
      ? { applicationPackageReferences: b.applicationPackageReferences }
      : {}),
    ...(b.metadata ? { metadata: b.metadata } : {}),
  };
}

export function jobToWire(job: JobRec, base: string): Record<string, unknown> {
  const b = job.body;
  const constraints = (b.constraints ?? {}) as Record<string, unknown>;
  return {
    id: job.id,
    ...(b.displayName ? { displayName: b.displayName } : {}),
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
          previousStateTransitionTime: batchTime(job.previousStateTransitionTime!),
        }
      : {}),
    priority: job.priority,
    maxParallelTasks: Number(b.maxParallelTasks ?? -1),
    allowTaskPreemption: b.allowTaskPreemption === true,
    constraints: {
      maxWallClockTime: constraints.maxWallClockTime ?? UNLIMITED,
      maxTaskRetryCount: job.maxTaskRetryCount,
    },
    poolInfo: b.poolInfo,
    executionInfo: {
      startTime: batchTime(job.creationTime),
      poolId: job.poolId,
      ...(job.endTime !== undefined ? { endTime: batchTime(job.endTime) } : {}),
      ...(job.terminateReason ? { terminateReason: job.terminateReason } : {}),
    },
    onAllTasksComplete: job.onAllTasksComplete,
    onTaskFailure: job.onTaskFailure,
    ...(b.metadata ? { metadata: b.metadata } : {}),
    ...(b.commonEnvironmentSettings ? { commonEnvironmentSettings: b.commonEnvironmentSettings } : {}),
  };
}

export function taskToWire(task: TaskRec, base: string): Record<string, unknown> {
  const b = task.body;
  const constraints = (b.constraints ?? {}) as Record<string, unknown>;
  const url = `${base}/jobs/${task.job.id}/tasks/${task.id}`;
  return {
    id: task.id,
    ...(b.displayName ? { displayName: b.displayName } : {}),
    url,
    eTag: task.etag,
    creationTime: batchTime(task.creationTime),
    lastModified: batchTime(task.lastModified),
    state: task.state,
    stateTransitionTime: batchTime(task.stateTransitionTime),
    ...(task.previousState
      ? {
          previousState: task.previousState,
          previousStateTransitionTime: batchTime(task.previousStateTransitionTime!),
        }
      : {}),
    commandLine: b.commandLine,
    ...(b.containerSettings ? { containerSettings: b.containerSettings } : {}),
    ...(b.resourceFiles ? { resourceFiles: b.resourceFiles } : {}),
    ...(b.environmentSettings ? { environmentSettings: b.environmentSettings } : {}),
    ...(b.applicationPackageReferences
      ? { applicationPackageReferences: b.applicationPackageReferences }
      : {}),
    ...(b.dependsOn ? { dependsOn: b.dependsOn } : {}),
    userIdentity: b.userIdentity ?? { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
    constraints: {
      maxWallClockTime: constraints.maxWallClockTime ?? UNLIMITED,
      retentionTime: constraints.retentionTime ?? 'P7D',
      maxTaskRetryCount: task.maxRetries,
    },
    requiredSlots: task.requiredSlots,
    executionInfo: {
      ...(task.startTime !== undefined ? { startTime: batchTime(task.startTime) } : {}),
      ...(task.state === 'completed' && task.endTime !== undefined
        ? { endTime: batchTime(task.endTime) }
        : {}),
      ...(task.state === 'completed' && task.lastExitCode !== undefined
        ? { exitCode: task.lastExitCode }
        : {}),
      ...(task.state === 'completed' && task.failureInfo ? { failureInfo: task.failureInfo } : {}),
      retryCount: task.retryCount,
      requeueCount: task.requeueCount,
      ...(task.state === 'completed' && task.result ? { result: task.result } : {}),
    },
    ...(task.node && task.pool
      ? {
          nodeInfo: {
            affinityId: `TVM:${task.node.id}`,
            nodeUrl: `${base}/pools/${task.pool.id}/nodes/${task.node.id}`,
            poolId: task.pool.id,
            nodeId: task.node.id,
            taskRootDirectory: `workitems/${task.job.id}/job-1/${task.id}`,
          },
        }
      : {}),
  };
}
