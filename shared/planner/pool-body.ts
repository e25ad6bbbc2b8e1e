/**
 * The managed pool's body: VM, image and containers, and the options enterprises put on their nodes
 * (identity, network, start task, mounts, data disks), in Batch's data-plane shapes. What it returns is
 * what the pool's spec hash covers. Pure.
 */
import type {
  ApplicationPackageReference,
  MountConfigurationBody,
  PoolBody,
  StartTaskBody,
} from '../model/batch-bodies.js';
import { secretPlaceholder } from '../model/batch-bodies.js';
import type { ManagedPoolRequest } from '../model/request-schema.js';
import type { VmSize } from '../model/vm-sizes.js';
import { toEnvironmentSettings, toResourceFileBody } from './task-body.js';

/** The node image a managed pool gets when its request names none (from the settings). */
export interface NodeImageDefaults {
  readonly image: { publisher: string; offer: string; sku: string; version: string };
  readonly nodeAgentSkuId: string;
}

/** Container pools need an image whose supported-images entry lists DockerCompatible; a pool's own image wins. */
export const DEFAULT_CONTAINER_IMAGE = {
  image: { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest' },
  nodeAgentSkuId: 'batch.node.ubuntu 22.04',
} as const;

/**
 * The part of a managed pool's body that its spec hash covers: everything but its id, size and
 * owner stamps. Every option the request gives is here, so two requests that differ in any of them
 * get different pools; normalised where spellings mean the same (defaults written out, disks by lun).
 */
export function managedPoolSpec(
  pool: ManagedPoolRequest,
  size: VmSize,
  slotsPerNode: number,
  images: string[],
  packages: ApplicationPackageReference[],
  defaults: NodeImageDefaults,
  /**
   * A Docker host that is not a container pool (TES lanes: the tasks run `docker run` themselves). Not
   * `containerConfiguration`: Batch requires `containerSettings` on every task of such a pool
   * (TaskContainerSettings: "If the Pool that will run this Task has containerConfiguration set, this
   * must be set as well"). The DockerCompatible image brings the Docker engine.
   */
  options: { readonly containerHost?: boolean } = {},
): Pick<
  PoolBody,
  | 'vmSize'
  | 'identity'
  | 'virtualMachineConfiguration'
  | 'networkConfiguration'
  | 'targetNodeCommunicationMode'
  | 'startTask'
  | 'mountConfiguration'
  | 'taskSlotsPerNode'
  | 'taskSchedulingPolicy'
  | 'applicationPackageReferences'
> {
  const registries = pool.containerRegistries ?? [];
  // Validation has checked that a registry's identity is the pool's (ignoring case): the pool's own
  // spelling is written, so the reference matches the identity the pool carries exactly.
  const identity = pool.identity;
  const disks = [...(pool.dataDisks ?? [])].sort((a, b) => a.lun - b.lun);
  const containers = images.length > 0;
  const dockerImage = containers || options.containerHost === true;
  return {
    vmSize: size.name,
    ...(identity
      ? { identity: { type: 'UserAssigned' as const, userAssignedIdentities: [{ resourceId: identity }] } }
      : {}),
    virtualMachineConfiguration: {
      imageReference: pool.image ?? (dockerImage ? { ...DEFAULT_CONTAINER_IMAGE.image } : defaults.image),
      nodeAgentSKUId:
        pool.nodeAgentSkuId ??
        (dockerImage && !pool.image ? DEFAULT_CONTAINER_IMAGE.nodeAgentSkuId : defaults.nodeAgentSkuId),
      ...(containers
        ? {
            containerConfiguration: {
              type: 'dockerCompatible' as const,
              ...(images.length > 0 ? { containerImageNames: images } : {}),
              ...(registries.length > 0
                ? {
                    containerRegistries: registries.map((r) => ({
                      registryServer: r.registryServer,
                      ...(r.identityResourceId
                        ? { identityReference: { resourceId: identity ?? r.identityResourceId } }
                        : {}),
                    })),
                  }
                : {}),
            },
          }
        : {}),
      ...(disks.length > 0
        ? {
            dataDisks: disks.map((d) => ({
              lun: d.lun,
              diskSizeGB: d.diskSizeGB,
              ...(d.caching ? { caching: DISK_CACHING[d.caching] } : {}),
              ...(d.storageAccountType ? { storageAccountType: d.storageAccountType } : {}),
            })),
          }
        : {}),
    },
    ...(pool.network
      ? {
          networkConfiguration: {
            subnetId: pool.network.subnetId,
            publicIPAddressConfiguration: {
              provision:
                pool.network.publicIp === 'none'
                  ? ('nopublicipaddresses' as const)
                  : ('batchmanaged' as const),
            },
          },
        }
      : {}),
    // Classic node communication retires on 31 March 2026; nodes without public IPs need simplified.
    targetNodeCommunicationMode: 'simplified',
    ...(pool.startTask ? { startTask: startTaskBody(pool.startTask, identity) } : {}),
    ...(pool.mounts?.length ? { mountConfiguration: pool.mounts.map((m) => mountBody(m, identity)) } : {}),
    taskSlotsPerNode: slotsPerNode,
    taskSchedulingPolicy: { nodeFillType: 'pack' },
    ...(packages.length > 0 ? { applicationPackageReferences: packages } : {}),
  };
}

/** The data plane writes disk caching in lower case. */
const DISK_CACHING = { none: 'none', readOnly: 'readonly', readWrite: 'readwrite' } as const;

/**
 * The pool's start task: a pool-scoped auto-user (it prepares the node for every task), admin only
 * when asked for (the door has checked the tenant's grants). Defaults written out: no retry, and no
 * task on a node before its start task succeeded.
 */
function startTaskBody(
  spec: NonNullable<ManagedPoolRequest['startTask']>,
  poolIdentity: string | undefined,
): StartTaskBody {
  const environment = toEnvironmentSettings(spec.environment);
  return {
    commandLine: spec.commandLine,
    ...(spec.resourceFiles?.length
      ? {
          // Start task files come from the caller's URLs only (no results store): no job folder.
          resourceFiles: spec.resourceFiles.map((f) => toResourceFileBody(f, '', undefined, poolIdentity)),
        }
      : {}),
    ...(environment.length > 0 ? { environmentSettings: environment } : {}),
    userIdentity: {
      autoUser: { scope: 'pool', elevationLevel: spec.elevated === true ? 'admin' : 'nonadmin' },
    },
    maxTaskRetryCount: spec.maxRetries ?? 0,
    waitForSuccess: spec.waitForSuccess ?? true,
  };
}

/** Blob mounts use the pool's identity (validation has checked it is set); Azure Files its key, as a placeholder. */
function mountBody(
  mount: NonNullable<ManagedPoolRequest['mounts']>[number],
  poolIdentity: string | undefined,
): MountConfigurationBody {
  if ('azureBlob' in mount) {
    const b = mount.azureBlob;
    return {
      azureBlobFileSystemConfiguration: {
        accountName: b.accountName,
        containerName: b.containerName,
        relativeMountPath: b.relativeMountPath,
        ...(b.blobfuseOptions ? { blobfuseOptions: b.blobfuseOptions } : {}),
        identityReference: { resourceId: poolIdentity ?? '' },
      },
    };
  }
  const f = mount.azureFiles;
  return {
    azureFileShareConfiguration: {
      accountName: f.accountName,
      azureFileUrl: `https://${f.accountName}.file.core.windows.net/${f.shareName}`,
      accountKey: secretPlaceholder(f.accountKey.secretRef),
      relativeMountPath: f.relativeMountPath,
      ...(f.mountOptions ? { mountOptions: f.mountOptions } : {}),
    },
  };
}
