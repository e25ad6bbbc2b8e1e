/**
 * Pools as Batch's management plane has them (`Microsoft.Batch/batchAccounts/pools`, the `Pool` model
 * of BatchManagement.json that `@azure/arm-batch` is generated from), over the same account records the
 * data plane serves:
 *
 * - an ARM `Pool` becomes the data-plane body the account keeps (`deploymentConfiguration
 *   .virtualMachineConfiguration` → `virtualMachineConfiguration`, `scaleSettings.fixedScale` → target
 *   counts, `applicationPackages[].id` → `applicationPackageReferences[].applicationId`, PascalCase enums
 *   → the data plane's, `identity.userAssignedIdentities` map → list), and back for ARM's answers;
 * - create, and update (PATCH, or PUT on an existing pool): properties given replace the pool's; an empty
 *   `startTask` removes it; fixed-scale targets that differ from the pool's resize it under the data
 *   plane's rules; the properties Batch lets change "only when the pool is empty" (the data plane's
 *   BatchPoolUpdateContent) are refused on a pool with nodes;
 * - refusals name the property by its ARM path.
 */
import type { Account } from './account.js';
import { EmulatedBatchError, errors } from './errors.js';
import type { NodeRec, PoolRec } from './model.js';
import {
  checkPoolFeatures,
  dataPlaneIdentity,
  ENUMS,
  enumValue,
  IDENTITY_ID,
  identityIds,
  poolIdentityIds,
  recasePool,
  withoutSecrets,
} from './pool-features.js';
import { autoScaleTarget } from './pools.js';
import { checkPoolCreate, checkResize, type PoolAllocationMode, type PoolShape } from './validate.js';
import { batchTime } from './wire.js';

type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

const mapEach = (v: unknown, f: (item: Body) => Body): unknown =>
  Array.isArray(v) ? v.map((x) => (isObject(x) ? f(x) : x)) : v;

/** A copy of `o` with `from` renamed to `to` (when present). */
function rename(o: Body, from: string, to: string): Body {
  if (o[from] === undefined) return o;
  const { [from]: value, ...rest } = o;
  return { ...rest, [to]: value };
}

const within = (o: Body, key: string, f: (inner: Body) => Body): Body =>
  isObject(o[key]) ? { ...o, [key]: f(o[key] as Body) } : o;

/** The top-level members of a Pool resource; anything else is refused as Batch does. */
const RESOURCE_MEMBERS = new Set(['id', 'name', 'type', 'etag', 'identity', 'properties']);

/** PoolProperties that a request may set (BatchManagement.json 2023-11-01 … 2025-06-01). */
const WRITABLE = new Set([
  'displayName',
  'vmSize',
  'deploymentConfiguration',
  'scaleSettings',
  'interNodeCommunication',
  'networkConfiguration',
  'taskSlotsPerNode',
  'taskSchedulingPolicy',
  'userAccounts',
  'metadata',
  'startTask',
  'certificates',
  'applicationPackages',
  'applicationLicenses',
  'mountConfiguration',
  'targetNodeCommunicationMode',
  'resourceTags',
  'upgradePolicy',
]);

/** Read-only PoolProperties a client may echo back; ignored as ARM ignores them. */
const READ_ONLY = new Set([
  'lastModified',
  'creationTime',
  'provisioningState',
  'provisioningStateTransitionTime',
  'allocationState',
  'allocationStateTransitionTime',
  'currentDedicatedNodes',
  'currentLowPriorityNodes',
  'autoScaleRun',
  'resizeOperationStatus',
  'currentNodeCommunicationMode',
]);

function unknownMember(member: string, type: string): EmulatedBatchError {
  return new EmulatedBatchError(
    400,
    'InvalidRequestBody',
    'The specified Request Body is not syntactically valid.',
    [
      { key: 'Reason', value: `Could not find member '${member}' on object of type '${type}'.` },
      { key: 'PropertyPath', value: member },
    ],
  );
}

/** The data-plane properties Batch lets change only while the pool has no nodes (BatchPoolUpdateContent). */
const EMPTY_POOL_ONLY = [
  'displayName',
  'vmSize',
  'virtualMachineConfiguration',
  'enableInterNodeCommunication',
  'networkConfiguration',
  'taskSlotsPerNode',
  'taskSchedulingPolicy',
  'userAccounts',
  'mountConfiguration',
  'resourceTags',
  'upgradePolicy',
  'applicationLicenses',
] as const;

// ---------------------------------------------------------------- property paths

/** Data-plane property paths as ARM names them, most specific first. */
const ARM_PATHS: readonly [RegExp, string][] = [
  [
    /^virtualMachineConfiguration\.nodeAgentSKUId/,
    'deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId',
  ],
  [
    /^virtualMachineConfiguration\.imageReference\.virtualMachineImageId/,
    'deploymentConfiguration.virtualMachineConfiguration.imageReference.id',
  ],
  [/^virtualMachineConfiguration/, 'deploymentConfiguration.virtualMachineConfiguration'],
  [/^cloudServiceConfiguration/, 'deploymentConfiguration.cloudServiceConfiguration'],
  [/^targetDedicatedNodes/, 'scaleSettings.fixedScale.targetDedicatedNodes'],
  [/^targetLowPriorityNodes/, 'scaleSettings.fixedScale.targetLowPriorityNodes'],
  [/^resizeTimeout/, 'scaleSettings.fixedScale.resizeTimeout'],
  [/^nodeDeallocationOption/, 'scaleSettings.fixedScale.nodeDeallocationOption'],
  [/^autoScaleFormula/, 'scaleSettings.autoScale.formula'],
  [/^autoScaleEvaluationInterval/, 'scaleSettings.autoScale.evaluationInterval'],
  [/^enableInterNodeCommunication/, 'interNodeCommunication'],
  [/^applicationPackageReferences(\[\d+\])?\.applicationId/, 'applicationPackages$1.id'],
  [/^applicationPackageReferences/, 'applicationPackages'],
  [/^certificateReferences/, 'certificates'],
  [
    /^networkConfiguration\.endpointConfiguration\.inboundNATPools/,
    'networkConfiguration.endpointConfiguration.inboundNatPools',
  ],
  [/^startTask\.userIdentity\.username/, 'startTask.userIdentity.userName'],
  [/^(mountConfiguration\[\d+\]\.cifsMountConfiguration)\.username/, '$1.userName'],
];

export function armPath(dataPath: string): string {
  for (const [pattern, replacement] of ARM_PATHS)
    if (pattern.test(dataPath)) return dataPath.replace(pattern, replacement);
  return dataPath;
}

// ---------------------------------------------------------------- ARM → data plane

function vmToData(vm: Body): Body {
  let out = rename(vm, 'nodeAgentSkuId', 'nodeAgentSKUId');
  out = within(out, 'imageReference', (i) => rename(i, 'id', 'virtualMachineImageId'));
  return out;
}

function networkToData(n: Body): Body {
  return within(n, 'endpointConfiguration', (e) => rename(e, 'inboundNatPools', 'inboundNATPools'));
}

function startTaskToData(st: Body): Body {
  return within(st, 'userIdentity', (u) => rename(u, 'userName', 'username'));
}

function mountsToData(mounts: unknown): unknown {
  return mapEach(mounts, (m) =>
    within(m, 'cifsMountConfiguration', (c) => rename(c, 'userName', 'username')),
  );
}

/** `sha1-<thumbprint>` at the end of an ARM certificate id (Batch's certificate naming). */
function certificateToData(c: Body): Body {
  const m = typeof c.id === 'string' ? /\/certificates\/([^-/]+)-([^/]+)$/i.exec(c.id) : null;
  const { id: _id, ...rest } = c;
  return { ...rest, ...(m ? { thumbprintAlgorithm: m[1], thumbprint: m[2] } : {}) };
}

function interNodeToData(v: unknown): boolean {
  const found = ['Enabled', 'Disabled'].find(
    (x) => typeof v === 'string' && x.toLowerCase() === v.toLowerCase(),
  );
  if (!found)
    throw errors.invalidProperty(
      'enableInterNodeCommunication',
      'The value must be one of: Enabled, Disabled.',
    );
  return found === 'Enabled';
}

interface ScaleRequest {
  readonly fixed?: Body;
  readonly auto?: Body;
}

function scaleOf(props: Body): ScaleRequest | undefined {
  const s = props.scaleSettings;
  if (s === undefined || s === null) return undefined;
  if (!isObject(s)) throw errors.invalidProperty('scaleSettings', 'The value must be an object.');
  const fixed = s.fixedScale;
  const auto = s.autoScale;
  if (fixed !== undefined && fixed !== null && auto !== undefined && auto !== null)
    throw errors.invalidProperty('scaleSettings', 'fixedScale and autoScale are mutually exclusive.');
  if (fixed !== undefined && fixed !== null && !isObject(fixed))
    throw errors.invalidProperty('scaleSettings.fixedScale', 'The value must be an object.');
  if (auto !== undefined && auto !== null && !isObject(auto))
    throw errors.invalidProperty('scaleSettings.autoScale', 'The value must be an object.');
  return { ...(isObject(fixed) ? { fixed } : {}), ...(isObject(auto) ? { auto } : {}) };
}

/** The data-plane body fields for a scale request (fixedScale → targets, autoScale → formula). */
function scaleToData(scale: ScaleRequest): Body {
  if (scale.auto)
    return {
      enableAutoScale: true,
      autoScaleFormula: scale.auto.formula,
      ...(scale.auto.evaluationInterval !== undefined
        ? { autoScaleEvaluationInterval: scale.auto.evaluationInterval }
        : {}),
    };
  const f = scale.fixed ?? {};
  return {
    enableAutoScale: false,
    ...(f.targetDedicatedNodes !== undefined ? { targetDedicatedNodes: f.targetDedicatedNodes } : {}),
    ...(f.targetLowPriorityNodes !== undefined ? { targetLowPriorityNodes: f.targetLowPriorityNodes } : {}),
    ...(f.resizeTimeout !== undefined ? { resizeTimeout: f.resizeTimeout } : {}),
  };
}

/**
 * The data-plane fields of the PoolProperties given (those absent stay absent), refusing members
 * a Pool does not have. Scale settings are returned apart: they resize rather than set.
 */
function propertiesToData(props: unknown): { fields: Body; scale?: ScaleRequest } {
  if (props === undefined || props === null) return { fields: {} };
  if (!isObject(props)) throw errors.invalidProperty('properties', 'The value must be an object.');
  for (const key of Object.keys(props))
    if (!WRITABLE.has(key) && !READ_ONLY.has(key)) throw unknownMember(`properties.${key}`, 'PoolProperties');
  const p = props;
  const fields: Body = {};
  const copy = (from: string, to = from, f: (v: unknown) => unknown = (v) => v) => {
    if (p[from] !== undefined && p[from] !== null) fields[to] = f(p[from]);
  };
  copy('displayName');
  copy('vmSize');
  const dc = p.deploymentConfiguration;
  if (dc !== undefined && dc !== null) {
    if (!isObject(dc))
      throw errors.invalidProperty('deploymentConfiguration', 'The value must be an object.');
    if (isObject(dc.virtualMachineConfiguration))
      fields.virtualMachineConfiguration = vmToData(dc.virtualMachineConfiguration);
    if (dc.cloudServiceConfiguration !== undefined)
      fields.cloudServiceConfiguration = dc.cloudServiceConfiguration;
  }
  copy('interNodeCommunication', 'enableInterNodeCommunication', interNodeToData);
  copy('networkConfiguration', 'networkConfiguration', (v) => (isObject(v) ? networkToData(v) : v));
  copy('taskSlotsPerNode');
  copy('taskSchedulingPolicy');
  copy('userAccounts');
  copy('metadata');
  copy('startTask', 'startTask', (v) => (isObject(v) ? startTaskToData(v) : v));
  copy('certificates', 'certificateReferences', (v) => mapEach(v, certificateToData));
  copy('applicationPackages', 'applicationPackageReferences', (v) =>
    mapEach(v, (a) => rename(a, 'id', 'applicationId')),
  );
  copy('applicationLicenses');
  copy('mountConfiguration', 'mountConfiguration', mountsToData);
  copy('targetNodeCommunicationMode');
  copy('resourceTags');
  copy('upgradePolicy');
  const scale = scaleOf(p);
  return { fields: recasePool(fields, 'data'), ...(scale ? { scale } : {}) };
}

/**
 * BatchPoolIdentity: `UserAssigned` with at least one identity, each keyed by its ARM id, or `None`.
 * Returns the identities' ids (none for `None`).
 */
function identityToData(identity: unknown): string[] {
  if (!isObject(identity)) throw errors.invalidProperty('identity', 'The value must be an object.');
  const type = typeof identity.type === 'string' ? identity.type.toLowerCase() : undefined;
  if (type === undefined) throw errors.missingProperty('identity.type');
  const map = identity.userAssignedIdentities;
  if (map !== undefined && map !== null && !isObject(map))
    throw errors.invalidProperty(
      'identity.userAssignedIdentities',
      'The value must be a map from identity id to {}.',
    );
  const ids = Object.keys(isObject(map) ? map : {});
  if (type === 'none') {
    if (ids.length > 0)
      throw errors.invalidProperty(
        'identity.userAssignedIdentities',
        'An identity of type None lists no identities.',
      );
    return [];
  }
  if (type !== 'userassigned')
    throw errors.invalidProperty('identity.type', 'The value must be one of: UserAssigned, None.');
  if (ids.length === 0)
    throw errors.invalidProperty(
      'identity.userAssignedIdentities',
      'An identity of type UserAssigned lists at least one identity.',
    );
  for (const id of ids)
    if (!IDENTITY_ID.test(id))
      throw errors.invalidProperty(
        'identity.userAssignedIdentities',
        `'${id}' is not a user-assigned identity id (/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}).`,
      );
  return ids;
}

/** The members of a Pool resource request, refusing any a Pool does not have. */
function checkResourceMembers(body: Body): void {
  for (const key of Object.keys(body)) if (!RESOURCE_MEMBERS.has(key)) throw unknownMember(key, 'Pool');
}

// ---------------------------------------------------------------- data plane → ARM

function vmToArm(vm: Body): Body {
  let out = rename(vm, 'nodeAgentSKUId', 'nodeAgentSkuId');
  out = within(out, 'imageReference', (i) => rename(i, 'virtualMachineImageId', 'id'));
  return out;
}

function certificateToArm(c: Body, accountId: string): Body {
  const { thumbprint, thumbprintAlgorithm, ...rest } = c;
  return {
    ...(typeof thumbprint === 'string'
      ? { id: `${accountId}/certificates/${String(thumbprintAlgorithm ?? 'sha1')}-${thumbprint}` }
      : {}),
    ...rest,
  };
}

export interface ArmNames {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly accountName: string;
}

export function accountResourceId(n: ArmNames): string {
  return `/subscriptions/${n.subscriptionId}/resourceGroups/${n.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${n.accountName}`;
}

/** ARM's weak ETag for a pool (`W/"0x8D…"`, as the examples show). */
export const armEtag = (pool: PoolRec): string => `W/"${pool.etag}"`;

const allocationStates = { steady: 'Steady', resizing: 'Resizing', stopping: 'Stopping' } as const;

/** The pool as ARM's `Pool` resource: no key, SAS or password, enums in ARM's casing. */
export function poolToArm(pool: PoolRec, names: ArmNames): Body {
  const accountId = accountResourceId(names);
  const b = withoutSecrets(recasePool(pool.body, 'arm'));
  let dedicated = 0;
  for (const n of pool.nodes.values()) if (!n.lowPriority) dedicated++;
  const op = pool.resizeOperation;
  const option = op ? enumValue(ENUMS.nodeDeallocationOption, op.nodeDeallocationOption, 'arm') : undefined;
  const identityList = poolIdentityIds(pool.body);
  const mode = typeof b.targetNodeCommunicationMode === 'string' ? b.targetNodeCommunicationMode : undefined;
  const properties: Body = {
    ...(b.displayName !== undefined ? { displayName: b.displayName } : {}),
    lastModified: batchTime(pool.lastModified),
    creationTime: batchTime(pool.creationTime),
    provisioningState: pool.state === 'deleting' ? 'Deleting' : 'Succeeded',
    provisioningStateTransitionTime: batchTime(pool.stateTransitionTime),
    allocationState: allocationStates[pool.allocationState],
    allocationStateTransitionTime: batchTime(pool.allocationStateTransitionTime),
    vmSize: typeof b.vmSize === 'string' ? b.vmSize : pool.vmSize,
    interNodeCommunication: b.enableInterNodeCommunication === true ? 'Enabled' : 'Disabled',
    taskSlotsPerNode: pool.slots,
    taskSchedulingPolicy: { nodeFillType: pool.fill === 'pack' ? 'Pack' : 'Spread' },
    ...(isObject(b.virtualMachineConfiguration)
      ? { deploymentConfiguration: { virtualMachineConfiguration: vmToArm(b.virtualMachineConfiguration) } }
      : {}),
    scaleSettings: pool.autoScale
      ? {
          autoScale: {
            formula: b.autoScaleFormula,
            evaluationInterval: b.autoScaleEvaluationInterval ?? 'PT15M',
          },
        }
      : {
          fixedScale: {
            targetDedicatedNodes: pool.targetDedicated,
            targetLowPriorityNodes: pool.targetLowPriority,
            resizeTimeout: pool.resizeTimeout,
            ...(option !== undefined ? { nodeDeallocationOption: option } : {}),
          },
        },
    ...(isObject(b.networkConfiguration)
      ? {
          networkConfiguration: within(b.networkConfiguration, 'endpointConfiguration', (e) =>
            rename(e, 'inboundNATPools', 'inboundNatPools'),
          ),
        }
      : {}),
    ...(b.userAccounts !== undefined ? { userAccounts: b.userAccounts } : {}),
    ...(b.metadata !== undefined ? { metadata: b.metadata } : {}),
    ...(isObject(b.startTask)
      ? { startTask: within(b.startTask, 'userIdentity', (u) => rename(u, 'username', 'userName')) }
      : {}),
    ...(b.certificateReferences !== undefined
      ? { certificates: mapEach(b.certificateReferences, (c) => certificateToArm(c, accountId)) }
      : {}),
    ...(b.applicationPackageReferences !== undefined
      ? {
          applicationPackages: mapEach(b.applicationPackageReferences, (a) =>
            rename(a, 'applicationId', 'id'),
          ),
        }
      : {}),
    ...(b.applicationLicenses !== undefined ? { applicationLicenses: b.applicationLicenses } : {}),
    ...(b.mountConfiguration !== undefined
      ? {
          mountConfiguration: mapEach(b.mountConfiguration, (m) =>
            within(m, 'cifsMountConfiguration', (c) => rename(c, 'username', 'userName')),
          ),
        }
      : {}),
    ...(mode !== undefined ? { targetNodeCommunicationMode: mode } : {}),
    currentNodeCommunicationMode: mode === 'Classic' ? 'Classic' : 'Simplified',
    ...(b.resourceTags !== undefined ? { resourceTags: b.resourceTags } : {}),
    ...(b.upgradePolicy !== undefined ? { upgradePolicy: b.upgradePolicy } : {}),
    currentDedicatedNodes: dedicated,
    currentLowPriorityNodes: pool.nodes.size - dedicated,
    ...(op
      ? {
          resizeOperationStatus: {
            targetDedicatedNodes: op.targetDedicatedNodes,
            targetLowPriorityNodes: op.targetLowPriorityNodes,
            resizeTimeout: op.resizeTimeout,
            nodeDeallocationOption: option,
            startTime: batchTime(op.startTime),
            ...(pool.resizeErrors.length > 0 && pool.allocationState === 'steady'
              ? {
                  errors: pool.resizeErrors.map((e) => ({
                    code: e.code,
                    message: e.message,
                    ...(e.values?.length
                      ? { details: e.values.map((v) => ({ code: v.name, message: v.value })) }
                      : {}),
                  })),
                }
              : {}),
          },
        }
      : {}),
  };
  return {
    id: `${accountId}/pools/${pool.id}`,
    name: pool.id,
    type: 'Microsoft.Batch/batchAccounts/pools',
    etag: armEtag(pool),
    ...(identityList.length > 0
      ? {
          identity: {
            type: 'UserAssigned',
            userAssignedIdentities: Object.fromEntries(identityList.map((id) => [id, identityIds(id)])),
          },
        }
      : {}),
    properties,
  };
}

// ---------------------------------------------------------------- create and update

export interface PoolWrite {
  readonly account: Account;
  readonly poolAllocationMode: PoolAllocationMode;
}

/** Creates the pool a PUT describes (the caller has checked it does not exist). */
export function createPool(w: PoolWrite, name: string, request: Body): PoolRec {
  checkResourceMembers(request);
  const { fields, scale } = propertiesToData(request.properties);
  const ids =
    request.identity === undefined || request.identity === null ? [] : identityToData(request.identity);
  const body: Body = {
    id: name,
    ...fields,
    ...(scale ? scaleToData(scale) : {}),
    ...(ids.length > 0 ? { identity: dataPlaneIdentity(ids) } : {}),
  };
  // Without scale settings ARM makes a fixed-size pool of no nodes.
  if (!scale) body.targetDedicatedNodes = 0;
  const shape = checkPoolCreate(body, w.account.applications, w.poolAllocationMode);
  checkPoolFeatures(body);
  const option =
    scale?.fixed?.nodeDeallocationOption === undefined
      ? undefined
      : checkResize({ nodeDeallocationOption: scale.fixed.nodeDeallocationOption }).option;
  const pool = w.account.addPool(body, shape);
  if (option !== undefined && pool.resizeOperation)
    pool.resizeOperation = { ...pool.resizeOperation, nodeDeallocationOption: option };
  return pool;
}

/** JSON with sorted keys, so two bodies compare by content. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** Whether an update leaves a property as it is (enums in any case, VM sizes in any case). */
function sameValue(key: string, a: unknown, b: unknown): boolean {
  if (key === 'vmSize' && typeof a === 'string' && typeof b === 'string')
    return a.toLowerCase() === b.toLowerCase();
  return canonical(recasePool({ [key]: a }, 'data')) === canonical(recasePool({ [key]: b }, 'data'));
}

function applyShape(pool: PoolRec, shape: PoolShape): void {
  if (pool.nodes.size > 0) return;
  pool.vmSize = shape.vmSize;
  pool.slots = shape.slots;
  pool.fill = shape.fill;
  pool.containers = shape.containers;
  pool.byFree.length = 0;
  for (let k = 0; k <= shape.slots; k++) pool.byFree.push(new Set<NodeRec>());
}

/**
 * Updates a pool as ARM's PATCH (and a PUT on an existing pool) does. Everything is checked before
 * anything changes, so a refused update leaves the pool as it was.
 */
export function updatePool(w: PoolWrite, pool: PoolRec, request: Body): void {
  const { account } = w;
  checkResourceMembers(request);
  const { fields, scale } = propertiesToData(request.properties);
  const ids =
    request.identity === undefined || request.identity === null
      ? undefined
      : identityToData(request.identity);
  if (pool.nodes.size > 0)
    for (const key of EMPTY_POOL_ONLY)
      if (fields[key] !== undefined && !sameValue(key, fields[key], pool.body[key]))
        throw errors.invalidProperty(
          key,
          'This property can be updated only when the pool is empty (has no nodes).',
        );
  const next: Body = { ...pool.body, ...fields };
  // PATCH: "this property can be set to an empty object to remove the start task from the pool".
  if (isObject(fields.startTask) && Object.keys(fields.startTask).length === 0) delete next.startTask;
  if (ids !== undefined) {
    if (ids.length > 0) next.identity = dataPlaneIdentity(ids);
    else delete next.identity;
  }
  let resize:
    | {
        dedicated: number;
        lowPriority: number;
        option: ReturnType<typeof checkResize>['option'];
        timeout: string;
      }
    | undefined;
  if (scale?.auto) {
    Object.assign(next, scaleToData(scale));
    for (const k of ['targetDedicatedNodes', 'targetLowPriorityNodes']) delete next[k];
  } else if (scale?.fixed) {
    const f = scale.fixed;
    if (f.targetDedicatedNodes === undefined && f.targetLowPriorityNodes === undefined)
      throw errors.missingProperty('targetDedicatedNodes');
    const r = checkResize(
      {
        targetDedicatedNodes: f.targetDedicatedNodes,
        targetLowPriorityNodes: f.targetLowPriorityNodes,
        ...(f.resizeTimeout !== undefined ? { resizeTimeout: f.resizeTimeout } : {}),
        ...(f.nodeDeallocationOption !== undefined
          ? { nodeDeallocationOption: f.nodeDeallocationOption }
          : {}),
      },
      w.poolAllocationMode,
    );
    const dedicated = f.targetDedicatedNodes === undefined ? pool.targetDedicated : r.dedicated;
    const lowPriority = f.targetLowPriorityNodes === undefined ? pool.targetLowPriority : r.lowPriority;
    next.enableAutoScale = false;
    for (const k of ['autoScaleFormula', 'autoScaleEvaluationInterval']) delete next[k];
    next.targetDedicatedNodes = dedicated;
    next.targetLowPriorityNodes = lowPriority;
    if (r.resizeTimeout !== undefined) next.resizeTimeout = r.resizeTimeout;
    if (pool.autoScale || dedicated !== pool.targetDedicated || lowPriority !== pool.targetLowPriority) {
      // The data plane's resize rules: one resize at a time.
      if (pool.allocationState !== 'steady')
        throw errors.conflict(
          'PoolBeingResized',
          'The specified pool is already being resized (its allocation state is not steady).',
        );
      resize = { dedicated, lowPriority, option: r.option, timeout: r.resizeTimeout ?? pool.resizeTimeout };
    }
  }
  const shape = checkPoolCreate(next, account.applications, w.poolAllocationMode);
  checkPoolFeatures(next);
  // Checked; now change.
  pool.body = next;
  applyShape(pool, shape);
  if (scale?.auto) {
    pool.autoScale = true;
    const target = autoScaleTarget(String(next.autoScaleFormula ?? ''));
    if (pool.allocationState === 'steady' && target !== pool.targetDedicated)
      account.resize(pool, target, 0, 'requeue', pool.resizeTimeout);
  } else if (scale?.fixed) {
    pool.autoScale = false;
    if (resize) account.resize(pool, resize.dedicated, resize.lowPriority, resize.option, resize.timeout);
    else if (typeof next.resizeTimeout === 'string') pool.resizeTimeout = next.resizeTimeout;
  }
  account.touchPool(pool);
}
