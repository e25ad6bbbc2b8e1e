/**
 * The Batch request bodies the planner produces: exactly the wire shapes of Pools_CreatePool,
 * Jobs_CreateJob and Tasks_CreateTaskCollection items (field names as on the data-plane wire; a
 * managed pool is created through the management plane from the same body).
 *
 * Secrets: a value that is exactly `slotwise-secret:<name>` (`secretPlaceholder(name)`) stands for the
 * tenant's secret `<name>` and is replaced by its value only when the body is sent to Batch. Chunks
 * are sized with every placeholder counted at MAX_SECRET_VALUE_LENGTH.
 */
import type { ExitConditions } from './request-schema.js';

export {
  isSecretPlaceholder,
  MAX_SECRET_VALUE_LENGTH,
  SECRET_REF_PREFIX,
  secretNameOf,
  secretPlaceholder,
} from './secret-refs.js';

export interface NameValue {
  readonly name: string;
  readonly value: string;
}

export interface ApplicationPackageReference {
  readonly applicationId: string;
  readonly version?: string;
}

/** Batch's BatchNodeIdentityReference: one of the pool's user-assigned identities. */
export interface IdentityReference {
  readonly resourceId: string;
}

/** Batch's DataDisk, as the data plane writes its enums (lower case). */
export interface DataDiskBody {
  readonly lun: number;
  readonly diskSizeGB: number;
  readonly caching?: 'none' | 'readonly' | 'readwrite';
  readonly storageAccountType?: 'standard_lrs' | 'premium_lrs' | 'standardssd_lrs';
}

/** Batch's NetworkConfiguration (the parts a managed pool sets). */
export interface NetworkConfigurationBody {
  readonly subnetId: string;
  readonly publicIPAddressConfiguration?: { readonly provision: 'batchmanaged' | 'nopublicipaddresses' };
}

/** Batch's BatchStartTask; environment values may be secret placeholders. */
export interface StartTaskBody {
  readonly commandLine: string;
  readonly resourceFiles?: readonly ResourceFileBody[];
  readonly environmentSettings?: readonly NameValue[];
  readonly userIdentity: {
    readonly autoUser: { readonly scope: 'pool'; readonly elevationLevel: 'nonadmin' | 'admin' };
  };
  readonly maxTaskRetryCount: number;
  readonly waitForSuccess: boolean;
}

/** Batch's MountConfiguration entries a managed pool may have. */
export type MountConfigurationBody =
  | {
      readonly azureBlobFileSystemConfiguration: {
        readonly accountName: string;
        readonly containerName: string;
        readonly relativeMountPath: string;
        readonly blobfuseOptions?: string;
        readonly identityReference: IdentityReference;
      };
    }
  | {
      readonly azureFileShareConfiguration: {
        readonly accountName: string;
        /** `https://<account>.file.core.windows.net/<share>` */
        readonly azureFileUrl: string;
        /** A secret placeholder: the key is put in only when the pool is created. */
        readonly accountKey: string;
        readonly relativeMountPath: string;
        readonly mountOptions?: string;
      };
    };

/** Batch's pool identity: user-assigned identities only. */
export interface PoolIdentityBody {
  readonly type: 'UserAssigned';
  readonly userAssignedIdentities: readonly IdentityReference[];
}

export interface PoolBody {
  readonly id: string;
  readonly displayName?: string;
  readonly vmSize: string;
  readonly identity?: PoolIdentityBody;
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
      readonly containerImageNames?: readonly string[];
      readonly containerRegistries?: readonly {
        readonly registryServer: string;
        readonly identityReference?: IdentityReference;
      }[];
    };
    readonly dataDisks?: readonly DataDiskBody[];
  };
  readonly networkConfiguration?: NetworkConfigurationBody;
  /** Simplified node communication on every managed pool (classic mode retires on 31 March 2026). */
  readonly targetNodeCommunicationMode?: 'simplified';
  readonly startTask?: StartTaskBody;
  readonly mountConfiguration?: readonly MountConfigurationBody[];
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
      /** The pool's identity, for the caller's container (`identity: true`). */
      readonly identityReference?: IdentityReference;
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
  /** The pool's identity (`identity: true` in the request), instead of a SAS in the URL. */
  readonly identityReference?: IdentityReference;
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
