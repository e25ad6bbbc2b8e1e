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
  /** From the request's `jobPreparation` (or a no-op one when only `jobRelease` is given). */
  readonly jobPreparationTask?: JobPreparationTaskBody;
  readonly jobReleaseTask?: JobReleaseTaskBody;
}

/** The auto-user every task the planner writes runs as: task scope, non-admin unless granted. */
export interface AutoUserIdentity {
  readonly autoUser: { readonly scope: 'task' | 'pool'; readonly elevationLevel: 'nonadmin' | 'admin' };
}

/** Batch's BatchJobPreparationTask (Jobs_CreateJob), field names as on the wire. */
export interface JobPreparationTaskBody {
  readonly id: string;
  readonly commandLine: string;
  /** `storageContainerUrl` may be RESULTS_STORE_URL, resolved by the submitter as in task bodies. */
  readonly resourceFiles?: readonly ResourceFileBody[];
  readonly environmentSettings?: readonly NameValue[];
  readonly constraints: { readonly maxTaskRetryCount: number };
  readonly waitForSuccess: boolean;
  readonly userIdentity: AutoUserIdentity;
}

/** Batch's BatchJobReleaseTask (Jobs_CreateJob), field names as on the wire. */
export interface JobReleaseTaskBody {
  readonly id: string;
  readonly commandLine: string;
  /** Batch refuses more than PT15M (its default). */
  readonly maxWallClockTime?: string;
  readonly environmentSettings?: readonly NameValue[];
  readonly userIdentity: AutoUserIdentity;
}

/**
 * The `containerUrl` (and resource-file `storageContainerUrl`) that stands for the tenant's results
 * store in a planned body. Plans and stored chunks never hold a SAS: the submitter replaces this with
 * the tenant's container URL and a short-lived SAS at the moment it sends the tasks to Batch.
 */
export const RESULTS_STORE_URL = 'slotwise-results:';

/**
 * The longest URL (container URL and SAS) the submitter may put in place of RESULTS_STORE_URL. Every
 * body is sized with each placeholder counted at this length, so a chunk cut under the byte limit
 * stays under it once resolved (a results container URL is about 100 characters, a user delegation
 * SAS at most about 600).
 */
export const MAX_RESULTS_URL_LENGTH = 800;

/** Batch's OutputFile (Tasks_CreateTaskCollection), field names as on the wire. */
export interface OutputFileBody {
  readonly filePattern: string;
  readonly destination: {
    readonly container: {
      /** The caller's container URL, or RESULTS_STORE_URL (resolved by the submitter). */
      readonly containerUrl: string;
      /** Blob name (no wildcard in the pattern) or virtual directory (wildcards), inside the container. */
      readonly path?: string;
    };
  };
  readonly uploadOptions: { readonly uploadCondition: 'tasksuccess' | 'taskfailure' | 'taskcompletion' };
}

/** Batch's ResourceFile, field names as on the wire (`storageContainerUrl` may be RESULTS_STORE_URL). */
export interface ResourceFileBody {
  readonly httpUrl?: string;
  readonly storageContainerUrl?: string;
  readonly blobPrefix?: string;
  readonly filePath?: string;
  readonly fileMode?: string;
}

export interface TaskBody {
  readonly id: string;
  readonly displayName?: string;
  readonly commandLine: string;
  readonly requiredSlots: number;
  readonly environmentSettings?: readonly NameValue[];
  readonly resourceFiles?: readonly ResourceFileBody[];
  readonly outputFiles?: readonly OutputFileBody[];
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
