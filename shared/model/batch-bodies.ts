/**
 * The Batch request bodies the planner produces: exactly the wire shapes of Pools_CreatePool,
 * Jobs_CreateJob and Tasks_CreateTaskCollection items (field names as on the wire).
 */
import type { ExitConditions } from './request-schema.js';

export interface NameValue {
  readonly name: string;
  readonly value: string;
}

export interface ApplicationPackageReference {
  readonly applicationId: string;
  readonly version?: string;
}

export interface PoolBody {
  readonly id: string;
  readonly displayName?: string;
  readonly vmSize: string;
  readonly virtualMachineConfiguration: {
    readonly imageReference: {
      readonly publisher: string;
      readonly offer: string;
      readonly sku: string;
      readonly version: string;
    };
    readonly nodeAgentSKUId: string;
    readonly containerConfiguration?: {
      readonly type: 'dockerCompatible';
      readonly containerImageNames: readonly string[];
      readonly containerRegistries?: readonly {
        readonly registryServer: string;
        readonly identityReference?: { readonly resourceId: string };
      }[];
    };
  };
  readonly taskSlotsPerNode: number;
  readonly taskSchedulingPolicy: { readonly nodeFillType: 'pack' };
  readonly targetDedicatedNodes: number;
  readonly targetLowPriorityNodes: number;
  readonly resizeTimeout: string;
  readonly enableAutoScale: false;
  readonly applicationPackageReferences?: readonly ApplicationPackageReference[];
  readonly metadata?: readonly NameValue[];
}

export interface JobBody {
  readonly id: string;
  readonly displayName?: string;
  readonly priority?: number;
  readonly usesTaskDependencies: boolean;
  readonly poolInfo: { readonly poolId: string };
  readonly onAllTasksComplete: 'noaction' | 'terminatejob';
  /** `performexitoptionsjobaction` when a task's exit conditions name a jobAction (Batch ignores them otherwise). */
  readonly onTaskFailure: 'noaction' | 'performexitoptionsjobaction';
  readonly constraints?: { readonly maxWallClockTime?: string; readonly maxTaskRetryCount?: number };
  readonly metadata: readonly NameValue[];
  readonly commonEnvironmentSettings?: readonly NameValue[];
}

export interface TaskBody {
  readonly id: string;
  readonly displayName?: string;
  readonly commandLine: string;
  readonly requiredSlots: number;
  readonly environmentSettings?: readonly NameValue[];
  readonly resourceFiles?: readonly {
    readonly httpUrl?: string;
    readonly storageContainerUrl?: string;
    readonly blobPrefix?: string;
    readonly filePath?: string;
    readonly fileMode?: string;
  }[];
  readonly containerSettings?: { readonly imageName: string; readonly containerRunOptions?: string };
  readonly applicationPackageReferences?: readonly ApplicationPackageReference[];
  readonly constraints?: { readonly maxWallClockTime?: string; readonly maxTaskRetryCount?: number };
  readonly dependsOn?: {
    readonly taskIds?: readonly string[];
    readonly taskIdRanges?: readonly { readonly start: number; readonly end: number }[];
  };
  /** Batch's ExitConditions, exactly as the request gave them. */
  readonly exitConditions?: ExitConditions;
  /** The planner always sets it: a task-scoped auto-user, non-admin unless granted (see toTaskBody). */
  readonly userIdentity?: {
    readonly autoUser: { readonly scope: 'task' | 'pool'; readonly elevationLevel: 'nonadmin' | 'admin' };
  };
}
