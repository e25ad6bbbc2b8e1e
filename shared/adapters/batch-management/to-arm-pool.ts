/**
 * A planned pool (the data-plane wire shape of `model/batch-bodies.ts`) as Batch's management plane
 * takes it: `Microsoft.Batch/batchAccounts/pools`, in the `@azure/arm-batch` model (the SDK puts the
 * flattened fields under `properties`). Typed with the SDK's own model so the compiler checks every
 * field name and enum value. Pure, except `withResolvedSecrets`, which asks for secret values.
 */
import type {
  ApplicationPackageReference,
  CachingType,
  ContainerRegistry,
  DataDisk,
  IPAddressProvisioningType,
  MountConfiguration,
  Pool,
  ResourceFile,
  StartTask,
  StorageAccountType,
} from '@azure/arm-batch';
import { SlotwiseError } from '../../core/errors.js';
import type { PoolBody, ResourceFileBody } from '../../model/batch-bodies.js';
import { ownerKeys } from '../../model/batch-names.js';
import { secretNameOf, secretValueFits } from '../../model/secret-refs.js';

type DataDiskBody = NonNullable<PoolBody['virtualMachineConfiguration']['dataDisks']>[number];
type ProvisionBody = NonNullable<
  NonNullable<PoolBody['networkConfiguration']>['publicIPAddressConfiguration']
>['provision'];

const caching: Record<NonNullable<DataDiskBody['caching']>, CachingType> = {
  none: 'None',
  readonly: 'ReadOnly',
  readwrite: 'ReadWrite',
};

const storageAccountTypes: Record<NonNullable<DataDiskBody['storageAccountType']>, StorageAccountType> = {
  standard_lrs: 'Standard_LRS',
  premium_lrs: 'Premium_LRS',
  standardssd_lrs: 'StandardSSD_LRS',
};

const provisions: Record<ProvisionBody, IPAddressProvisioningType> = {
  batchmanaged: 'BatchManaged',
  nopublicipaddresses: 'NoPublicIPAddresses',
};

export interface ArmPoolContext {
  /** `/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/{account}`. */
  readonly accountResourceId: string;
}

/** The ARM Pool for a planned pool body (secret placeholders left as they are). */
export function toArmPool(body: PoolBody, context: ArmPoolContext): Pool {
  const vm = body.virtualMachineConfiguration;
  const container = vm.containerConfiguration;
  return {
    ...(body.displayName !== undefined ? { displayName: body.displayName } : {}),
    ...(body.identity
      ? {
          identity: {
            type: 'UserAssigned',
            userAssignedIdentities: Object.fromEntries(
              body.identity.userAssignedIdentities.map((i) => [i.resourceId, {}]),
            ),
          },
        }
      : {}),
    vmSize: body.vmSize,
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference: { ...vm.imageReference },
        nodeAgentSkuId: vm.nodeAgentSKUId,
        ...(vm.dataDisks && vm.dataDisks.length > 0 ? { dataDisks: vm.dataDisks.map(toArmDataDisk) } : {}),
        ...(container
          ? {
              containerConfiguration: {
                type: 'DockerCompatible',
                ...(container.containerImageNames && container.containerImageNames.length > 0
                  ? { containerImageNames: [...container.containerImageNames] }
                  : {}),
                ...(container.containerRegistries && container.containerRegistries.length > 0
                  ? { containerRegistries: container.containerRegistries.map(toArmRegistry) }
                  : {}),
              },
            }
          : {}),
      },
    },
    // The planner always plans a fixed size (`enableAutoScale: false`).
    scaleSettings: {
      fixedScale: {
        targetDedicatedNodes: body.targetDedicatedNodes,
        targetLowPriorityNodes: body.targetLowPriorityNodes,
        resizeTimeout: body.resizeTimeout,
      },
    },
    taskSlotsPerNode: body.taskSlotsPerNode,
    taskSchedulingPolicy: { nodeFillType: 'Pack' },
    ...(body.metadata ? { metadata: body.metadata.map((m) => ({ name: m.name, value: m.value })) } : {}),
    ...(body.applicationPackageReferences && body.applicationPackageReferences.length > 0
      ? {
          applicationPackages: body.applicationPackageReferences.map(
            (p): ApplicationPackageReference => ({
              id: applicationId(p.applicationId, context.accountResourceId),
              ...(p.version !== undefined ? { version: p.version } : {}),
            }),
          ),
        }
      : {}),
    ...(body.networkConfiguration
      ? {
          networkConfiguration: {
            subnetId: body.networkConfiguration.subnetId,
            ...(body.networkConfiguration.publicIPAddressConfiguration
              ? {
                  publicIPAddressConfiguration: {
                    provision: provisions[body.networkConfiguration.publicIPAddressConfiguration.provision],
                  },
                }
              : {}),
          },
        }
      : {}),
    ...(body.targetNodeCommunicationMode === 'simplified'
      ? { targetNodeCommunicationMode: 'Simplified' }
      : {}),
    ...(body.startTask ? { startTask: toArmStartTask(body.startTask) } : {}),
    ...(body.mountConfiguration && body.mountConfiguration.length > 0
      ? { mountConfiguration: body.mountConfiguration.map(toArmMount) }
      : {}),
  };
}

/**
 * Pool-level package references are the application's full ARM id (the planner writes them so, see
 * `planner/plan-job.ts`); a bare application name is put under this account.
 */
function applicationId(id: string, accountResourceId: string): string {
  return id.startsWith('/') ? id : `${accountResourceId}/applications/${id}`;
}

function toArmDataDisk(d: DataDiskBody): DataDisk {
  return {
    lun: d.lun,
    diskSizeGB: d.diskSizeGB,
    ...(d.caching ? { caching: caching[d.caching] } : {}),
    ...(d.storageAccountType ? { storageAccountType: storageAccountTypes[d.storageAccountType] } : {}),
  };
}

type RegistryBody = NonNullable<
  NonNullable<PoolBody['virtualMachineConfiguration']['containerConfiguration']>['containerRegistries']
>[number];

function toArmRegistry(r: RegistryBody): ContainerRegistry {
  return {
    registryServer: r.registryServer,
    ...(r.identityReference ? { identityReference: { resourceId: r.identityReference.resourceId } } : {}),
  };
}

function toArmResourceFile(f: ResourceFileBody): ResourceFile {
  return {
    ...(f.httpUrl !== undefined ? { httpUrl: f.httpUrl } : {}),
    ...(f.storageContainerUrl !== undefined ? { storageContainerUrl: f.storageContainerUrl } : {}),
    ...(f.blobPrefix !== undefined ? { blobPrefix: f.blobPrefix } : {}),
    ...(f.filePath !== undefined ? { filePath: f.filePath } : {}),
    ...(f.fileMode !== undefined ? { fileMode: f.fileMode } : {}),
    ...(f.identityReference ? { identityReference: { resourceId: f.identityReference.resourceId } } : {}),
  };
}

function toArmStartTask(t: NonNullable<PoolBody['startTask']>): StartTask {
  return {
    commandLine: t.commandLine,
    ...(t.resourceFiles && t.resourceFiles.length > 0
      ? { resourceFiles: t.resourceFiles.map(toArmResourceFile) }
      : {}),
    ...(t.environmentSettings && t.environmentSettings.length > 0
      ? { environmentSettings: t.environmentSettings.map((e) => ({ name: e.name, value: e.value })) }
      : {}),
    userIdentity: {
      autoUser: {
        scope: 'Pool',
        elevationLevel: t.userIdentity.autoUser.elevationLevel === 'admin' ? 'Admin' : 'NonAdmin',
      },
    },
    maxTaskRetryCount: t.maxTaskRetryCount,
    waitForSuccess: t.waitForSuccess,
  };
}

function toArmMount(m: NonNullable<PoolBody['mountConfiguration']>[number]): MountConfiguration {
  if ('azureBlobFileSystemConfiguration' in m) {
    const c = m.azureBlobFileSystemConfiguration;
    return {
      azureBlobFileSystemConfiguration: {
        accountName: c.accountName,
        containerName: c.containerName,
        relativeMountPath: c.relativeMountPath,
        ...(c.blobfuseOptions !== undefined ? { blobfuseOptions: c.blobfuseOptions } : {}),
        identityReference: { resourceId: c.identityReference.resourceId },
      },
    };
  }
  const c = m.azureFileShareConfiguration;
  return {
    azureFileShareConfiguration: {
      accountName: c.accountName,
      azureFileUrl: c.azureFileUrl,
      accountKey: c.accountKey,
      relativeMountPath: c.relativeMountPath,
      ...(c.mountOptions !== undefined ? { mountOptions: c.mountOptions } : {}),
    },
  };
}

/** Names of the tenant secrets an ARM pool's placeholders stand for (start task env, Azure Files keys). */
export function secretNamesIn(pool: Pool): string[] {
  const names = new Set<string>();
  for (const value of secretSlots(pool)) {
    const name = secretNameOf(value);
    if (name) names.add(name);
  }
  return [...names];
}

function secretSlots(pool: Pool): string[] {
  return [
    ...(pool.startTask?.environmentSettings ?? []).map((e) => e.value ?? ''),
    ...(pool.mountConfiguration ?? []).flatMap((m) =>
      m.azureFileShareConfiguration ? [m.azureFileShareConfiguration.accountKey] : [],
    ),
  ];
}

export type ResolveSecret = (tenant: string, name: string) => Promise<string>;

/**
 * The pool with every secret placeholder replaced by the tenant's secret (the tenant the pool's owner
 * metadata names), and the values used (so an error quoting one can be cleaned). Each secret is asked
 * for once. A value is never put in an error message; only the secret's name is.
 */
export async function withResolvedSecrets(
  pool: Pool,
  resolve: ResolveSecret,
): Promise<{ pool: Pool; values: string[] }> {
  const names = secretNamesIn(pool);
  if (names.length === 0) return { pool, values: [] };
  const tenant = pool.metadata?.find((m) => m.name === ownerKeys.tenant)?.value;
  if (!tenant)
    throw new SlotwiseError('PlanInvalid', 'The pool names secrets but its metadata names no tenant');
  const resolved = new Map<string, string>();
  await Promise.all(
    names.map(async (name) => {
      const value = await resolve(tenant, name);
      if (!secretValueFits(value))
        throw new SlotwiseError('SecretTooLong', `Secret '${name}' is longer than a secret value may be`);
      resolved.set(name, value);
    }),
  );
  const swap = (value: string): string => {
    const name = secretNameOf(value);
    return name === undefined ? value : (resolved.get(name) ?? value);
  };
  const startTask = pool.startTask;
  return {
    pool: {
      ...pool,
      ...(startTask?.environmentSettings
        ? {
            startTask: {
              ...startTask,
              environmentSettings: startTask.environmentSettings.map((e) =>
                e.value === undefined ? e : { ...e, value: swap(e.value) },
              ),
            },
          }
        : {}),
      ...(pool.mountConfiguration
        ? {
            mountConfiguration: pool.mountConfiguration.map((m) =>
              m.azureFileShareConfiguration
                ? {
                    ...m,
                    azureFileShareConfiguration: {
                      ...m.azureFileShareConfiguration,
                      accountKey: swap(m.azureFileShareConfiguration.accountKey),
                    },
                  }
                : m,
            ),
          }
        : {}),
    },
    values: [...resolved.values()],
  };
}
