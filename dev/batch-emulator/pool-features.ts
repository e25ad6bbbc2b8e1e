/**
 * The pool features both planes share (a pool made through ARM is the same record the data plane
 * reads): identity, network, start task, mounts and data disks. Here are
 *
 * - the rules Batch enforces on them, checked on the data-plane shape of a pool (`checkPoolFeatures`),
 *   each refusal naming the property by its data-plane path (arm-pools.ts renames it for ARM);
 * - the enums each plane writes in its own casing (ARM `NoPublicIPAddresses`, data plane
 *   `nopublicipaddresses`), read in any case as Batch reads them;
 * - what Batch keeps out of its answers: mount keys, registry and user passwords. The Batch REST
 *   reference's pool GET examples return no password, and clients that mirror Batch pools keep them
 *   from their own configuration because the API does not return them (terraform-provider-azurerm
 *   `internal/services/batch/batch_pool.go`, `flattenBatchPoolMountConfig`);
 * - the run-time failure of a task file naming an identity the pool does not have.
 *
 * Sources: the ARM model of `@azure/arm-batch` (src/models/index.ts: a data disk's lun "must be
 * between 0 and 63, inclusive"; a blob mount's accountKey "is mutually exclusive with both sasKey and
 * identity; exactly one must be specified"), the data-plane
 * TypeSpec (specification/batch/Azure.Batch/models.tsp in Azure/azure-rest-api-specs), and for the
 * run-time failure Microsoft's "Use managed identities in an Azure Batch account or pool"
 * (learn.microsoft.com/troubleshoot/azure/hpc/batch/use-managed-identities-azure-batch-account-pool),
 * whose scenario 4, a resource file whose identity reference is not the pool's identity, fails the
 * task with ResourceContainerListMiscError.
 */
import { createHash } from 'node:crypto';
import { errors } from './errors.js';
import type { FailureInfo } from './model.js';
import { withoutQuery } from './transfers.js';
import { checkIdentityReference, checkResourceFiles } from './validate.js';

type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

// ---------------------------------------------------------------- enums

/** An enum's values as ARM writes them; the data plane writes them in lower case unless noted. */
interface EnumSpec {
  readonly values: readonly string[];
  readonly data: 'lower' | 'camel' | 'same';
}

export const ENUMS = {
  caching: { values: ['None', 'ReadOnly', 'ReadWrite'], data: 'lower' },
  storageAccountType: { values: ['Standard_LRS', 'Premium_LRS', 'StandardSSD_LRS'], data: 'lower' },
  provision: { values: ['BatchManaged', 'UserManaged', 'NoPublicIPAddresses'], data: 'lower' },
  communicationMode: { values: ['Default', 'Classic', 'Simplified'], data: 'lower' },
  containerType: { values: ['DockerCompatible', 'CriCompatible'], data: 'camel' },
  nodeFillType: { values: ['Spread', 'Pack'], data: 'lower' },
  autoUserScope: { values: ['Task', 'Pool'], data: 'lower' },
  elevationLevel: { values: ['NonAdmin', 'Admin'], data: 'lower' },
  workingDirectory: { values: ['TaskWorkingDirectory', 'ContainerImageDefault'], data: 'camel' },
  protocol: { values: ['TCP', 'UDP'], data: 'lower' },
  access: { values: ['Allow', 'Deny'], data: 'lower' },
  dynamicVNetAssignmentScope: { values: ['none', 'job'], data: 'same' },
  loginMode: { values: ['Batch', 'Interactive'], data: 'lower' },
  nodeDeallocationOption: {
    values: ['Requeue', 'Terminate', 'TaskCompletion', 'RetainedData'],
    data: 'lower',
  },
} as const satisfies Record<string, EnumSpec>;

export type Plane = 'arm' | 'data';

/** A value of the enum in the plane's casing; a value that is not one of it is left as it is. */
export function enumValue(spec: EnumSpec, value: unknown, plane: Plane): unknown {
  if (typeof value !== 'string') return value;
  const found = spec.values.find((v) => v.toLowerCase() === value.toLowerCase());
  if (!found) return value;
  if (plane === 'arm' || spec.data === 'same') return found;
  return spec.data === 'lower' ? found.toLowerCase() : `${found[0]!.toLowerCase()}${found.slice(1)}`;
}

/** A copy of `o` with `key` mapped, when present. */
function mapKey(o: Body, key: string, f: (v: unknown) => unknown): Body {
  return o[key] === undefined ? o : { ...o, [key]: f(o[key]) };
}

const mapEach = (v: unknown, f: (item: Body) => Body): unknown =>
  Array.isArray(v) ? v.map((x) => (isObject(x) ? f(x) : x)) : v;

const mapObject = (v: unknown, f: (o: Body) => Body): unknown => (isObject(v) ? f(v) : v);

function recaseUserIdentity(u: Body, plane: Plane): Body {
  return mapKey(u, 'autoUser', (a) =>
    mapObject(a, (x) =>
      mapKey(
        mapKey(x, 'scope', (v) => enumValue(ENUMS.autoUserScope, v, plane)),
        'elevationLevel',
        (v) => enumValue(ENUMS.elevationLevel, v, plane),
      ),
    ),
  );
}

function recaseStartTask(st: Body, plane: Plane): Body {
  return mapKey(
    mapKey(st, 'userIdentity', (u) => mapObject(u, (x) => recaseUserIdentity(x, plane))),
    'containerSettings',
    (c) =>
      mapObject(c, (x) => mapKey(x, 'workingDirectory', (v) => enumValue(ENUMS.workingDirectory, v, plane))),
  );
}

function recaseVm(vm: Body, plane: Plane): Body {
  return mapKey(
    mapKey(vm, 'dataDisks', (d) =>
      mapEach(d, (disk) =>
        mapKey(
          mapKey(disk, 'caching', (v) => enumValue(ENUMS.caching, v, plane)),
          'storageAccountType',
          (v) => enumValue(ENUMS.storageAccountType, v, plane),
        ),
      ),
    ),
    'containerConfiguration',
    (c) => mapObject(c, (x) => mapKey(x, 'type', (v) => enumValue(ENUMS.containerType, v, plane))),
  );
}

function recaseNetwork(n: Body, plane: Plane): Body {
  let out = mapKey(n, 'dynamicVNetAssignmentScope', (v) =>
    enumValue(ENUMS.dynamicVNetAssignmentScope, v, plane),
  );
  out = mapKey(out, 'publicIPAddressConfiguration', (p) =>
    mapObject(p, (x) => mapKey(x, 'provision', (v) => enumValue(ENUMS.provision, v, plane))),
  );
  return mapKey(out, 'endpointConfiguration', (e) =>
    mapObject(e, (x) =>
      mapKey(x, 'inboundNATPools', (pools) =>
        mapEach(pools, (nat) =>
          mapKey(
            mapKey(nat, 'protocol', (v) => enumValue(ENUMS.protocol, v, plane)),
            'networkSecurityGroupRules',
            (rules) => mapEach(rules, (r) => mapKey(r, 'access', (v) => enumValue(ENUMS.access, v, plane))),
          ),
        ),
      ),
    ),
  );
}

/** A data-plane pool body with the enums of its features in the plane's casing (field names unchanged). */
export function recasePool(body: Body, plane: Plane): Body {
  let out = mapKey(body, 'virtualMachineConfiguration', (vm) => mapObject(vm, (x) => recaseVm(x, plane)));
  out = mapKey(out, 'networkConfiguration', (n) => mapObject(n, (x) => recaseNetwork(x, plane)));
  out = mapKey(out, 'startTask', (st) => mapObject(st, (x) => recaseStartTask(x, plane)));
  out = mapKey(out, 'targetNodeCommunicationMode', (v) => enumValue(ENUMS.communicationMode, v, plane));
  out = mapKey(out, 'taskSchedulingPolicy', (p) =>
    mapObject(p, (x) => mapKey(x, 'nodeFillType', (v) => enumValue(ENUMS.nodeFillType, v, plane))),
  );
  return mapKey(out, 'userAccounts', (accounts) =>
    mapEach(accounts, (a) =>
      mapKey(
        mapKey(a, 'elevationLevel', (v) => enumValue(ENUMS.elevationLevel, v, plane)),
        'windowsUserConfiguration',
        (w) => mapObject(w, (x) => mapKey(x, 'loginMode', (v) => enumValue(ENUMS.loginMode, v, plane))),
      ),
    ),
  );
}

// ---------------------------------------------------------------- secrets

const omit = (o: Body, keys: readonly string[]): Body =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

/** A data-plane pool body as Batch shows it: no mount key, no SAS, no password. */
export function withoutSecrets(body: Body): Body {
  let out = mapKey(body, 'mountConfiguration', (mounts) =>
    mapEach(mounts, (m) => {
      let x = mapKey(m, 'azureBlobFileSystemConfiguration', (c) =>
        mapObject(c, (y) => omit(y, ['accountKey', 'sasKey'])),
      );
      x = mapKey(x, 'azureFileShareConfiguration', (c) => mapObject(c, (y) => omit(y, ['accountKey'])));
      return mapKey(x, 'cifsMountConfiguration', (c) => mapObject(c, (y) => omit(y, ['password'])));
    }),
  );
  out = mapKey(out, 'virtualMachineConfiguration', (vm) =>
    mapObject(vm, (v) =>
      mapKey(v, 'containerConfiguration', (c) =>
        mapObject(c, (cc) =>
          mapKey(cc, 'containerRegistries', (regs) => mapEach(regs, (r) => omit(r, ['password']))),
        ),
      ),
    ),
  );
  out = mapKey(out, 'userAccounts', (accounts) => mapEach(accounts, (a) => omit(a, ['password'])));
  return mapKey(out, 'startTask', (st) =>
    mapObject(st, (s) =>
      mapKey(s, 'containerSettings', (c) =>
        mapObject(c, (cs) => mapKey(cs, 'registry', (r) => mapObject(r, (reg) => omit(reg, ['password'])))),
      ),
    ),
  );
}

// ---------------------------------------------------------------- identity

/** A user-assigned identity's ARM id. */
export const IDENTITY_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i;

/** A subnet's ARM id, as Batch's NetworkConfiguration.subnetId documents it. */
export const SUBNET_ID =
  /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i;

/** The resource ids of the pool's user-assigned identities (its data-plane `identity`). */
export function poolIdentityIds(body: Body): string[] {
  const identity = body.identity;
  if (!isObject(identity)) return [];
  return asArray(identity.userAssignedIdentities).flatMap((i) =>
    isObject(i) && typeof i.resourceId === 'string' ? [i.resourceId] : [],
  );
}

function guidOf(text: string): string {
  const h = createHash('sha256').update(text.toLowerCase()).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The client and principal ids Entra would give the identity (stable per identity). */
export function identityIds(resourceId: string): { clientId: string; principalId: string } {
  return { clientId: guidOf(`client:${resourceId}`), principalId: guidOf(`principal:${resourceId}`) };
}

/** The pool's data-plane `identity` for a list of user-assigned identities. */
export function dataPlaneIdentity(resourceIds: readonly string[]): Body {
  return {
    type: 'UserAssigned',
    userAssignedIdentities: resourceIds.map((resourceId) => ({ resourceId, ...identityIds(resourceId) })),
  };
}

const granted = (ids: readonly string[], ref: unknown): boolean =>
  isObject(ref) &&
  typeof ref.resourceId === 'string' &&
  ids.some((id) => id.toLowerCase() === (ref.resourceId as string).toLowerCase());

function checkGranted(ids: readonly string[], owner: Body, path: string): void {
  if (owner.identityReference === undefined || owner.identityReference === null) return;
  checkIdentityReference(owner, path);
  if (!granted(ids, owner.identityReference))
    throw errors.invalidProperty(
      `${path}.identityReference.resourceId`,
      ids.length === 0
        ? 'The pool has no user-assigned identity: an identity reference must name one of identity.userAssignedIdentities.'
        : "The identity is not one of the pool's user-assigned identities (identity.userAssignedIdentities).",
    );
}

// ---------------------------------------------------------------- checks

function checkEnum(o: Body, key: string, spec: EnumSpec, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const found =
    typeof v === 'string' ? spec.values.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
  if (!found) throw errors.invalidProperty(path, `The value must be one of: ${spec.values.join(', ')}.`);
  return found.toLowerCase();
}

function requireString(o: Body, key: string, path: string): string {
  const v = o[key];
  if (v === undefined || v === null || v === '') throw errors.missingProperty(path);
  if (typeof v !== 'string') throw errors.invalidProperty(path, 'The value must be a string.');
  return v;
}

function objectAt(o: Body, key: string, path: string): Body | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw errors.invalidProperty(path, 'The value must be an object.');
  return v;
}

function arrayAt(o: Body, key: string, path: string): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw errors.invalidProperty(path, 'The value must be an array.');
  return v;
}

/**
 * BatchStartTask: a command line ("required if any other properties of the startTask are
 * specified"), maxTaskRetryCount from -1 (no limit) to 100, waitForSuccess a boolean, resource files as
 * a task's, the auto-user's scope and elevation among their values. The spec names no upper bound for
 * the retries; 100 is the emulator's own, the most a Slotwise request can ask.
 */
export function checkStartTask(st: unknown, ids: readonly string[], path = 'startTask'): void {
  if (st === undefined || st === null) return;
  if (!isObject(st)) throw errors.invalidProperty(path, 'The value must be an object.');
  if (typeof st.commandLine !== 'string' || st.commandLine === '')
    throw st.commandLine === undefined || st.commandLine === ''
      ? errors.missingProperty(`${path}.commandLine`)
      : errors.invalidProperty(`${path}.commandLine`, 'The command line must be a non-empty string.');
  const retries = st.maxTaskRetryCount;
  if (
    retries !== undefined &&
    retries !== null &&
    (typeof retries !== 'number' || !Number.isInteger(retries) || retries < -1 || retries > 100)
  )
    throw errors.invalidProperty(
      `${path}.maxTaskRetryCount`,
      'The value must be an integer between -1 and 100.',
    );
  if (st.waitForSuccess !== undefined && typeof st.waitForSuccess !== 'boolean')
    throw errors.invalidProperty(`${path}.waitForSuccess`, 'The value must be a boolean.');
  checkResourceFiles(st, `${path}.`);
  for (const [i, f] of asArray(st.resourceFiles).entries())
    if (isObject(f)) checkGranted(ids, f, `${path}.resourceFiles[${i}]`);
  for (const [i, e] of (arrayAt(st, 'environmentSettings', `${path}.environmentSettings`) ?? []).entries())
    if (!isObject(e) || typeof e.name !== 'string' || e.name === '')
      throw errors.missingProperty(`${path}.environmentSettings[${i}].name`);
  const user = objectAt(st, 'userIdentity', `${path}.userIdentity`);
  const auto = user ? objectAt(user, 'autoUser', `${path}.userIdentity.autoUser`) : undefined;
  if (auto) {
    checkEnum(auto, 'scope', ENUMS.autoUserScope, `${path}.userIdentity.autoUser.scope`);
    checkEnum(auto, 'elevationLevel', ENUMS.elevationLevel, `${path}.userIdentity.autoUser.elevationLevel`);
  }
  const container = objectAt(st, 'containerSettings', `${path}.containerSettings`);
  if (container) {
    requireString(container, 'imageName', `${path}.containerSettings.imageName`);
    const registry = objectAt(container, 'registry', `${path}.containerSettings.registry`);
    if (registry) checkGranted(ids, registry, `${path}.containerSettings.registry`);
  }
}

/**
 * NetworkConfiguration: the subnet id's form, the public IP provisioning type, and Batch's rule that a
 * pool without public IP addresses uses simplified node communication (Batch's guide to pools without
 * public IP addresses; classic communication is retired on 31 March 2026); no inbound NAT pools on
 * such a pool (the spec: "This cannot be specified if the IPAddressProvisioningType is
 * NoPublicIPAddresses").
 */
function checkNetwork(body: Body): void {
  const net = objectAt(body, 'networkConfiguration', 'networkConfiguration');
  if (!net) return;
  if (net.subnetId !== undefined && (typeof net.subnetId !== 'string' || !SUBNET_ID.test(net.subnetId)))
    throw errors.invalidProperty(
      'networkConfiguration.subnetId',
      'The subnet id must have the form /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}.',
    );
  checkEnum(
    net,
    'dynamicVNetAssignmentScope',
    ENUMS.dynamicVNetAssignmentScope,
    'networkConfiguration.dynamicVNetAssignmentScope',
  );
  if (net.enableAcceleratedNetworking !== undefined && typeof net.enableAcceleratedNetworking !== 'boolean')
    throw errors.invalidProperty(
      'networkConfiguration.enableAcceleratedNetworking',
      'The value must be a boolean.',
    );
  const ip = objectAt(
    net,
    'publicIPAddressConfiguration',
    'networkConfiguration.publicIPAddressConfiguration',
  );
  const provision = ip
    ? checkEnum(
        ip,
        'provision',
        ENUMS.provision,
        'networkConfiguration.publicIPAddressConfiguration.provision',
      )
    : undefined;
  if (ip?.ipAddressIds !== undefined && provision !== 'usermanaged')
    throw errors.invalidProperty(
      'networkConfiguration.publicIPAddressConfiguration.ipAddressIds',
      'Public IP addresses can be given only with provision UserManaged.',
    );
  if (provision !== 'nopublicipaddresses') return;
  const mode = String(body.targetNodeCommunicationMode ?? 'default').toLowerCase();
  if (mode !== 'simplified')
    throw errors.invalidProperty(
      'networkConfiguration.publicIPAddressConfiguration.provision',
      'A pool without public IP addresses (NoPublicIPAddresses) must use simplified node communication: set targetNodeCommunicationMode to Simplified.',
    );
  if (net.endpointConfiguration !== undefined)
    throw errors.invalidProperty(
      'networkConfiguration.endpointConfiguration',
      'An endpoint configuration cannot be specified when the public IP provisioning type is NoPublicIPAddresses.',
    );
}

const MOUNT_KINDS = [
  'azureBlobFileSystemConfiguration',
  'azureFileShareConfiguration',
  'nfsMountConfiguration',
  'cifsMountConfiguration',
] as const;

/** The fields each kind of mount requires (the spec's required lists). */
const MOUNT_REQUIRED: Record<(typeof MOUNT_KINDS)[number], readonly string[]> = {
  azureBlobFileSystemConfiguration: ['accountName', 'containerName', 'relativeMountPath'],
  azureFileShareConfiguration: ['accountName', 'azureFileUrl', 'accountKey', 'relativeMountPath'],
  nfsMountConfiguration: ['source', 'relativeMountPath'],
  cifsMountConfiguration: ['username', 'source', 'relativeMountPath', 'password'],
};

/**
 * MountConfiguration: each entry is exactly one kind; a blob mount authenticates with exactly one of
 * accountKey, sasKey and identityReference ("exactly one must be specified"); relative mount
 * paths are relative, stay below AZ_BATCH_NODE_MOUNTS_DIR and differ from one another.
 */
function checkMounts(body: Body, ids: readonly string[]): void {
  const mounts = arrayAt(body, 'mountConfiguration', 'mountConfiguration');
  if (!mounts) return;
  const paths = new Set<string>();
  for (const [i, m] of mounts.entries()) {
    const path = `mountConfiguration[${i}]`;
    if (!isObject(m)) throw errors.invalidProperty(path, 'The value must be an object.');
    const kinds = MOUNT_KINDS.filter((k) => m[k] !== undefined && m[k] !== null);
    if (kinds.length !== 1)
      throw errors.invalidProperty(
        path,
        'Exactly one of azureBlobFileSystemConfiguration, azureFileShareConfiguration, nfsMountConfiguration and cifsMountConfiguration must be specified.',
      );
    const kind = kinds[0]!;
    const config = objectAt(m, kind, `${path}.${kind}`)!;
    for (const field of MOUNT_REQUIRED[kind]) requireString(config, field, `${path}.${kind}.${field}`);
    if (kind === 'azureBlobFileSystemConfiguration') {
      const auth = ['accountKey', 'sasKey', 'identityReference'].filter(
        (k) => config[k] !== undefined && config[k] !== null,
      );
      if (auth.length !== 1)
        throw errors.invalidProperty(
          `${path}.${kind}`,
          'Exactly one of accountKey, sasKey and identityReference must be specified.',
        );
      checkGranted(ids, config, `${path}.${kind}`);
    }
    if (
      kind === 'azureFileShareConfiguration' &&
      !/^https?:\/\/[^/]+\/[^/]+/i.test(String(config.azureFileUrl))
    )
      throw errors.invalidProperty(
        `${path}.${kind}.azureFileUrl`,
        "The Azure Files URL has the form 'https://{account}.file.core.windows.net/{share}'.",
      );
    const rel = String(config.relativeMountPath);
    if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel) || rel.split(/[\\/]/).includes('..'))
      throw errors.invalidProperty(
        `${path}.${kind}.relativeMountPath`,
        'The relative mount path is relative to AZ_BATCH_NODE_MOUNTS_DIR and cannot leave it.',
      );
    const key = rel.replace(/[\\/]+$/, '');
    if (paths.has(key))
      throw errors.invalidProperty(
        `${path}.${kind}.relativeMountPath`,
        `Another mount already uses the relative mount path '${rel}'.`,
      );
    paths.add(key);
  }
}

/** DataDisk: lun 0..63 and distinct, diskSizeGB at least 1, caching and storage type among their values. */
function checkDataDisks(vm: Body): void {
  const disks = arrayAt(vm, 'dataDisks', 'virtualMachineConfiguration.dataDisks');
  if (!disks) return;
  const luns = new Set<number>();
  for (const [i, d] of disks.entries()) {
    const path = `virtualMachineConfiguration.dataDisks[${i}]`;
    if (!isObject(d)) throw errors.invalidProperty(path, 'The value must be an object.');
    if (d.lun === undefined || d.lun === null) throw errors.missingProperty(`${path}.lun`);
    if (typeof d.lun !== 'number' || !Number.isInteger(d.lun) || d.lun < 0 || d.lun > 63)
      throw errors.invalidProperty(`${path}.lun`, 'The lun must be an integer between 0 and 63.');
    if (luns.has(d.lun))
      throw errors.invalidProperty(
        `${path}.lun`,
        `Another data disk already uses lun ${d.lun}; each must be distinct.`,
      );
    luns.add(d.lun);
    if (d.diskSizeGB === undefined || d.diskSizeGB === null)
      throw errors.missingProperty(`${path}.diskSizeGB`);
    if (typeof d.diskSizeGB !== 'number' || !Number.isInteger(d.diskSizeGB) || d.diskSizeGB < 1)
      throw errors.invalidProperty(
        `${path}.diskSizeGB`,
        'The disk size must be an integer of at least 1 GB.',
      );
    checkEnum(d, 'caching', ENUMS.caching, `${path}.caching`);
    checkEnum(d, 'storageAccountType', ENUMS.storageAccountType, `${path}.storageAccountType`);
  }
}

/**
 * The feature rules on a data-plane pool body (whatever plane it came through). The body's own
 * `identity` (only ARM can give one) is what every identity reference must name.
 */
export function checkPoolFeatures(body: Body): void {
  const ids = poolIdentityIds(body);
  checkEnum(body, 'targetNodeCommunicationMode', ENUMS.communicationMode, 'targetNodeCommunicationMode');
  checkNetwork(body);
  checkMounts(body, ids);
  checkStartTask(body.startTask, ids);
  const vm = isObject(body.virtualMachineConfiguration) ? body.virtualMachineConfiguration : undefined;
  if (!vm) return;
  checkDataDisks(vm);
  const cc = isObject(vm.containerConfiguration) ? vm.containerConfiguration : undefined;
  for (const [i, r] of asArray(cc?.containerRegistries).entries())
    if (isObject(r))
      checkGranted(ids, r, `virtualMachineConfiguration.containerConfiguration.containerRegistries[${i}]`);
}

// ---------------------------------------------------------------- mounts on the node

export interface MountPoint {
  /** Where it appears under AZ_BATCH_NODE_MOUNTS_DIR. */
  readonly relativeMountPath: string;
  /** The storage behind it; two mounts of one source see the same files. */
  readonly source: string;
  /** An Azure Files mount of a whole share: the account and share its URL names (lower case). */
  readonly fileShare?: { readonly accountName: string; readonly shareName: string };
}

/**
 * The account and share of an Azure Files URL, `https://{account}.file.core.windows.net/{share}`
 * (AzureFileShareConfiguration.azureFileUrl; any cloud's `file.` endpoint suffix); undefined for a
 * URL of another form or one naming a folder inside the share.
 */
export function fileShareOf(azureFileUrl: string): { accountName: string; shareName: string } | undefined {
  let url: URL;
  try {
    url = new URL(azureFileUrl);
  } catch {
    return undefined;
  }
  const account = /^([a-z0-9]+)\.file\./.exec(url.hostname.toLowerCase())?.[1];
  const segments = url.pathname.split('/').filter((s) => s !== '');
  if (!account || segments.length !== 1) return undefined;
  return { accountName: account, shareName: segments[0]!.toLowerCase() };
}

export function mountPoints(body: Body): MountPoint[] {
  return asArray(body.mountConfiguration).flatMap((m): MountPoint[] => {
    if (!isObject(m)) return [];
    const blob = m.azureBlobFileSystemConfiguration;
    const files = m.azureFileShareConfiguration;
    const nfs = m.nfsMountConfiguration;
    const cifs = m.cifsMountConfiguration;
    const [config, source] = isObject(blob)
      ? [blob, `blob:${String(blob.accountName)}/${String(blob.containerName)}`]
      : isObject(files)
        ? [files, `files:${String(files.azureFileUrl).replace(/\/+$/, '')}`]
        : isObject(nfs)
          ? [nfs, `nfs:${String(nfs.source)}`]
          : isObject(cifs)
            ? [cifs, `cifs:${String(cifs.source)}`]
            : [undefined, ''];
    if (!config || typeof config.relativeMountPath !== 'string') return [];
    const share = isObject(files) ? fileShareOf(String(files.azureFileUrl)) : undefined;
    return [
      {
        relativeMountPath: config.relativeMountPath.replace(/[\\/]+$/, ''),
        source: source.toLowerCase(),
        ...(share ? { fileShare: share } : {}),
      },
    ];
  });
}

// ---------------------------------------------------------------- run-time failures

/**
 * The pre-processing error of a run one of whose resource files names an identity the pool does not
 * have: a container source cannot be listed (ResourceContainerListMiscError, as the troubleshooting
 * article above reports), a single blob cannot be downloaded (BlobDownloadMiscError).
 */
export function resourceFileIdentityFailure(ids: readonly string[], body: Body): FailureInfo | undefined {
  for (const f of asArray(body.resourceFiles)) {
    if (!isObject(f) || f.identityReference === undefined || granted(ids, f.identityReference)) continue;
    const details = [{ name: 'FilePath', value: typeof f.filePath === 'string' ? f.filePath : '' }];
    if (typeof f.httpUrl === 'string')
      return {
        category: 'usererror',
        code: 'BlobDownloadMiscError',
        message: 'Miscellaneous error encountered while downloading one of the specified Azure Blob(s)',
        details: [...details, { name: 'Url', value: withoutQuery(f.httpUrl) }],
      };
    return {
      category: 'usererror',
      code: 'ResourceContainerListMiscError',
      message: 'Miscellaneous error encountered while listing one of the specified Azure Blob container(s)',
      details: [
        ...details,
        ...(typeof f.storageContainerUrl === 'string'
          ? [{ name: 'ContainerUrl', value: withoutQuery(f.storageContainerUrl) }]
          : []),
      ],
    };
  }
  return undefined;
}

/** The first output file whose destination names an identity the pool does not have. */
export function outputFileWithoutIdentity(
  ids: readonly string[],
  files: readonly { filePattern?: unknown; destination?: { container?: { identityReference?: unknown } } }[],
): string | undefined {
  for (const f of files) {
    const ref = f.destination?.container?.identityReference;
    if (ref !== undefined && ref !== null && !granted(ids, ref)) return String(f.filePattern ?? '');
  }
  return undefined;
}
