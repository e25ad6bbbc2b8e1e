/**
 * The planner: from a validated job request to the Batch bodies that run it.
 *
 * Domain rules (from Batch's guidance on task slots, application packages and container pools):
 * - each task occupies `requiredSlots` (given, or derived from cpus/memory against the VM size); a node
 *   offers `taskSlotsPerNode` (default one per vCPU, at most min(4 × vCPUs, 256));
 * - tasks are packed into as few nodes as possible (near-optimal packing, lower bound kept beside it)
 *   and the pool fills nodes with `nodeFillType: pack` — fewer nodes, less shared data to copy;
 * - a container pool prefetches every image its tasks use, so no task waits for a pull;
 * - job-level application packages go on the pool, unless the pool already exists (installing on an
 *   existing pool needs node restarts) or the job has fewer tasks than the pool has nodes (task-level
 *   packages are deployed only to the nodes that run tasks); then they go on the tasks.
 *
 * Pure: the existing pool (if any) is read from Batch by the caller and passed in.
 */

import {
  type ApplicationPackageReference,
  type JobBody,
  MAX_SECRET_VALUE_LENGTH,
  type PoolBody,
  type TaskBody,
} from '../model/batch-bodies.js';
import {
  batchJobIdFor,
  jobOwnerMetadata,
  managedPoolId,
  poolOwnerMetadata,
  poolSpecHash,
} from '../model/batch-names.js';
import { usesDependencyActions, usesJobActions } from '../model/exit-conditions.js';
import type { BatchRefs, PlanSummary } from '../model/job.js';
import { secretRefCount } from '../model/pool-options.js';
import {
  isExistingPool,
  type JobRequest,
  type ManagedPoolRequest,
  type TaskSpec,
} from '../model/request-schema.js';
import { expandSweep, sweepParameterStats } from '../model/sweep.js';
import { resultsReferences } from '../model/validate-outputs.js';
import { type FieldError, fieldError } from '../model/validate-request.js';
import { maxTaskSlotsPerNode, tryGetVmSize, type VmSize } from '../model/vm-sizes.js';
import { packSlots, planWaves } from './pack.js';
import { managedPoolSpec } from './pool-body.js';
import {
  jobPreparationBodies,
  RESULTS_URL_GROWTH,
  resultsReferenceCount,
  secretGrowth,
  type TaskBodyContext,
  taskBodyContext,
  toPackageRef,
  toTaskBody,
} from './task-body.js';

export const DEFAULT_MAX_NODES = 20;
export const MAX_TASKS_PER_CHUNK = 100;
/**
 * Batch rejects add-collection bodies of 1 MB or more; keep a margin for the envelope. Bodies are
 * measured with every results store reference at its resolved size (RESULTS_URL_GROWTH) and every
 * secret placeholder at MAX_SECRET_VALUE_LENGTH, so the chunk stays under this once the submitter puts
 * the store's URL and SAS and the secrets' values in.
 */
export const MAX_CHUNK_BYTES = 900_000;

export interface ExistingPoolInfo {
  readonly id: string;
  readonly vmSize: string;
  readonly taskSlotsPerNode: number;
  readonly containerImages: readonly string[] | undefined;
  readonly currentNodes: number;
}

export interface PlanDefaults {
  readonly image: { publisher: string; offer: string; sku: string; version: string };
  readonly nodeAgentSkuId: string;
  /**
   * `/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/{account}`:
   * pool-level package references must be the application's full ARM id (task level takes the name).
   * Absent only where no account exists (pure planning, dry runs in tests): the name is kept.
   */
  readonly batchAccountResourceId?: string;
}

export { DEFAULT_CONTAINER_IMAGE } from './pool-body.js';

export function batchAccountResourceId(
  subscriptionId: string,
  resourceGroup: string,
  account: string,
): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Batch/batchAccounts/${account}`;
}

export interface PlanInput {
  readonly tenant: string;
  readonly jobId: string;
  readonly request: JobRequest;
  /** Required when the request names an existing pool. */
  readonly existingPool?: ExistingPoolInfo;
  readonly defaults: PlanDefaults;
  /**
   * A TES lane (model/job.ts `lane`): no tasks yet, a container host pool, and a Batch job that
   * stays open when its tasks are done (tasks keep arriving).
   */
  readonly lane?: boolean;
  /**
   * The Batch account the managed pool goes to, when it is not the primary one: it joins the pool
   * spec's hash, so the pool id and owner stamp are the account's own (Batch ids are per account,
   * Slotwise's pool records are not).
   */
  readonly poolAccount?: string;
}

export interface JobPlan {
  readonly summary: PlanSummary;
  readonly poolId: string;
  /** Absent for an existing pool: Slotwise does not change pools it does not own. */
  readonly pool?: PoolBody;
  /** What a managed pool's id is hashed from (tenant aside): `poolIdIn` gives its id in any account. */
  readonly poolSpec?: Readonly<Record<string, unknown>>;
  readonly batchJob: JobBody;
  /** Yields the task chunks (≤ 100 tasks, under the body limit) lazily, in task order. */
  chunks(): Generator<TaskBody[]>;
  /**
   * How many chunks `chunks()` yields. In closed form when no task body can come near the byte
   * limit's share (⌈tasks / 100⌉; see `widestTaskBody`), else by building every chunk once.
   */
  chunkCount(): number;
}

/** The id a managed pool of this spec has in an account (undefined: the primary account). */
export function poolIdIn(
  tenant: string,
  poolSpec: Readonly<Record<string, unknown>>,
  account?: string,
): string {
  return managedPoolId(tenant, poolSpecHash(tenant, account ? { ...poolSpec, account } : poolSpec));
}

/** The job's references to its Batch pool and job, as the plan stage stores them. */
export function batchRefsOf(
  plan: Pick<JobPlan, 'poolId' | 'pool' | 'batchJob'>,
  routed?: { readonly account: string; readonly reason: string },
): BatchRefs {
  const prep = plan.batchJob.jobPreparationTask;
  return {
    ...(routed ? { account: routed.account, accountReason: routed.reason } : {}),
    poolId: plan.poolId,
    jobId: plan.batchJob.id,
    managedPool: plan.pool !== undefined,
    ...(prep ? { jobPreparation: { waitForSuccess: prep.waitForSuccess } } : {}),
  };
}

export type PlanOutcome =
  | { readonly ok: true; readonly plan: JobPlan }
  | { readonly ok: false; readonly errors: FieldError[] };

export function planJob(input: PlanInput): PlanOutcome {
  const { request } = input;
  const target = resolveTarget(input);
  if (!target.ok) return target;
  const { size, slotsPerNode } = target;

  // Pass 1: slots per task (no task objects kept), ids unique across explicit tasks and the sweep.
  const explicit = request.tasks ?? [];
  const sizes: number[] = [];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  let images = new Set<string>();
  let index = 0;
  for (const task of allTasks(request)) {
    const path: PropertyKey[] = index < explicit.length ? ['tasks', index] : ['sweep'];
    const slots = slotsFor(task, size, slotsPerNode);
    if (slots > slotsPerNode) {
      errors.push(
        fieldError(
          path,
          `task '${task.id}' needs ${slots} slots but a ${size?.name ?? 'pool'} node has ${slotsPerNode}`,
        ),
      );
      if (errors.length >= 20) break;
    }
    const key = task.id.toLowerCase();
    if (seen.has(key)) {
      errors.push(fieldError(path, `task id '${task.id}' is used twice (ids are unique ignoring case)`));
      if (errors.length >= 20) break;
    }
    seen.add(key);
    if (task.container) images.add(task.container.image);
    sizes.push(slots);
    index++;
  }
  if (errors.length > 0) return { ok: false, errors };
  images = new Set([...images].sort());

  const packed = packSlots(sizes, slotsPerNode);
  const existing = target.kind === 'existing' ? target.pool : undefined;
  const maxNodes =
    target.kind === 'existing' ? Number.POSITIVE_INFINITY : (target.pool.maxNodes ?? DEFAULT_MAX_NODES);
  const poolNodes = existing ? existing.currentNodes : Math.min(packed.nodes, maxNodes);
  const waves = planWaves(packed, Math.max(1, existing ? existing.currentNodes : poolNodes));

  const jobPackages = request.applicationPackages ?? [];
  const placement = decidePackagePlacement(
    jobPackages.length,
    sizes.length,
    poolNodes,
    existing !== undefined,
  );
  const poolPackages =
    placement.placement === 'pool'
      ? jobPackages.map((p) => toPoolPackageRef(p, input.defaults.batchAccountResourceId))
      : [];
  const taskLevelJobPackages = placement.placement === 'task' ? jobPackages.map(toPackageRef) : [];

  if (existing && images.size > 0 && existing.containerImages === undefined) {
    return {
      ok: false,
      errors: [
        fieldError(
          ['pool', 'id'],
          `pool '${existing.id}' has no container configuration, but the tasks use containers`,
        ),
      ],
    };
  }
  if (existing && images.size === 0 && existing.containerImages !== undefined) {
    return {
      ok: false,
      errors: [
        fieldError(['pool', 'id'], `pool '${existing.id}' is a container pool: every task needs a container`),
      ],
    };
  }

  let pool: PoolBody | undefined;
  let poolSpec: Record<string, unknown> | undefined;
  let poolId: string;
  if (target.kind === 'existing') {
    poolId = target.pool.id;
  } else {
    const spec = managedPoolSpec(
      target.pool,
      target.size,
      slotsPerNode,
      [...images],
      poolPackages,
      input.defaults,
      { containerHost: input.lane === true },
    );
    const lowPriority = target.pool.lowPriority === true;
    poolSpec = { ...spec, lowPriority };
    const specHash = poolSpecHash(
      input.tenant,
      input.poolAccount ? { ...poolSpec, account: input.poolAccount } : poolSpec,
    );
    poolId = managedPoolId(input.tenant, specHash);
    pool = {
      id: poolId,
      displayName: `Slotwise managed pool (${input.tenant})`,
      ...spec,
      targetDedicatedNodes: lowPriority ? 0 : poolNodes,
      targetLowPriorityNodes: lowPriority ? poolNodes : 0,
      resizeTimeout: 'PT15M',
      enableAutoScale: false,
      metadata: [
        ...poolOwnerMetadata({ tenant: input.tenant, spec: specHash }),
        // Read by the pool controller: which kind of node to size.
        { name: 'slotwise.lowPriority', value: String(lowPriority) },
      ],
    };
  }

  const batchJobId = batchJobIdFor(input.tenant, input.jobId);
  // Batch refuses a dependencyAction on a job without task dependencies, and job actions without
  // performexitoptionsjobaction: both follow from the tasks' exit conditions.
  const usesTaskDependencies =
    explicit.some((t) => t.dependsOn !== undefined) ||
    request.sweep?.dependsOn !== undefined ||
    usesDependencyActions(request);
  const batchJob: JobBody = {
    id: batchJobId,
    ...(request.displayName ? { displayName: request.displayName } : {}),
    ...(request.priority !== undefined ? { priority: request.priority } : {}),
    usesTaskDependencies,
    poolInfo: { poolId },
    // Switched to terminatejob once every task is added: a job with no tasks yet counts as complete.
    onAllTasksComplete: 'noaction',
    onTaskFailure: usesJobActions(request) ? 'performexitoptionsjobaction' : 'noaction',
    ...(request.maxWallClockTime || request.maxRetries !== undefined
      ? {
          constraints: {
            ...(request.maxWallClockTime ? { maxWallClockTime: request.maxWallClockTime } : {}),
            ...(request.maxRetries !== undefined ? { maxTaskRetryCount: request.maxRetries } : {}),
          },
        }
      : {}),
    metadata: [
      ...jobOwnerMetadata({ tenant: input.tenant, jobId: input.jobId }),
      // The caller's own entries cannot impersonate the owner's (validation refuses `slotwise.*`).
      ...Object.entries(request.metadata ?? {})
        .filter(([name]) => !name.startsWith('slotwise.'))
        .map(([name, value]) => ({ name, value })),
    ],
    ...jobPreparationBodies(request, input.jobId),
  };
  const sharedFiles = request.jobPreparation?.resourceFiles?.length ?? 0;

  const summary: PlanSummary = {
    nodes: packed.nodes,
    lowerBound: packed.lowerBound,
    lpBound: packed.lpBound,
    provenOptimal: packed.provenOptimal,
    taskSlotsPerNode: slotsPerNode,
    vmSize: target.kind === 'existing' ? target.pool.vmSize : target.size.name,
    poolNodes,
    waves,
    tasks: sizes.length,
    totalSlots: sizes.reduce((a, b) => a + b, 0),
    chunks: 0,
    applicationPackages: placement,
    containerImages: [...images],
    nodeFillType: 'pack',
    slotHistogram: histogram(sizes),
    ...(target.kind === 'managed' ? { maxNodes } : {}),
    ...(sharedFiles > 0
      ? {
          sharedData: {
            resourceFiles: sharedFiles,
            // Every node that runs a task of the job copies the files once: at most the pool's nodes.
            preparationCopies: Math.min(poolNodes, sizes.length),
            perTaskCopies: sizes.length,
          },
        }
      : {}),
  };

  const slotsAt = (i: number) => sizes[i]!;
  const ctx = taskBodyContext(request, input.jobId, taskLevelJobPackages);
  let uncut: boolean | undefined;
  const neverCut = () => {
    uncut ??= byteLimitNeverCuts(
      widestTaskBody(request, slotsAt, taskLevelJobPackages, input.jobId),
      request,
    );
    return uncut;
  };
  const chunks = () => chunkTasks(allTasks(request), slotsAt, ctx, 0, neverCut());
  const chunkCount = () => {
    if (neverCut()) return Math.ceil(sizes.length / MAX_TASKS_PER_CHUNK);
    let count = 0;
    for (const _ of chunks()) count++;
    return count;
  };

  return {
    ok: true,
    plan: {
      summary,
      poolId,
      ...(pool ? { pool } : {}),
      ...(poolSpec ? { poolSpec } : {}),
      batchJob,
      chunks,
      chunkCount,
    },
  };
}

/**
 * Cuts task bodies into chunks: ≤ 100 tasks, under the body limit. `first` is the index of the first
 * task. With `neverCut` (every body is known to be small enough that 100 of them stay under the
 * limit) the bodies are not serialised to measure them: the cuts fall every 100 tasks either way.
 */
function* chunkTasks(
  tasks: Iterable<TaskSpec>,
  slotsAt: (index: number, task: TaskSpec) => number,
  ctx: TaskBodyContext,
  first = 0,
  neverCut = false,
): Generator<TaskBody[]> {
  let chunk: TaskBody[] = [];
  let bytes = 2;
  let i = first;
  for (const task of tasks) {
    const index = i++;
    const body = toTaskBody(task, index, slotsAt(index, task), ctx);
    const length = neverCut
      ? 0
      : Buffer.byteLength(JSON.stringify(body)) +
        1 +
        resultsReferenceCount(body) * RESULTS_URL_GROWTH +
        secretGrowth(body);
    if (chunk.length > 0 && (chunk.length >= MAX_TASKS_PER_CHUNK || bytes + length > MAX_CHUNK_BYTES)) {
      yield chunk;
      chunk = [];
      bytes = 2;
    }
    chunk.push(body);
    bytes += length;
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * The plan's chunks again, from the request and the plan's summary alone, without packing: the same
 * bodies `planJob(...).plan.chunks()` yields (slots come from the same `slotsFor`, packages from the
 * placement the plan chose). `fromTask` must be the first task of a chunk (chunks restart their byte
 * count at every boundary, so cutting from there gives the same chunks as cutting from the start).
 */
export function* rebuildChunks(
  request: JobRequest,
  summary: Pick<PlanSummary, 'vmSize' | 'taskSlotsPerNode' | 'applicationPackages'>,
  fromTask = 0,
): Generator<TaskBody[]> {
  const size = tryGetVmSize(summary.vmSize);
  const packages =
    summary.applicationPackages.placement === 'task'
      ? (request.applicationPackages ?? []).map(toPackageRef)
      : [];
  let skipped = 0;
  const tasks = function* () {
    for (const task of allTasks(request)) {
      if (skipped < fromTask) {
        skipped++;
        continue;
      }
      yield task;
    }
  };
  const slotsAt = (_i: number, task: TaskSpec) => slotsFor(task, size, summary.taskSlotsPerNode);
  // The stored request always has its id (accept-job sets it): the results store's folder.
  const jobId = request.id ?? '';
  yield* chunkTasks(
    tasks(),
    slotsAt,
    taskBodyContext(request, jobId, packages),
    fromTask,
    byteLimitNeverCuts(widestTaskBody(request, slotsAt, packages, jobId), request),
  );
}

/**
 * The byte limit cannot cut a chunk when 100 bodies of `widest` bytes (plus commas, brackets) fit,
 * each with its results store references and secret values at their resolved size.
 */
function byteLimitNeverCuts(widest: number, request: JobRequest): boolean {
  const growth = (t: Pick<TaskSpec, 'outputFiles' | 'resourceFiles' | 'environment'>) =>
    resultsReferences(t, request.keepLogs) * RESULTS_URL_GROWTH +
    secretRefCount(t.environment) * MAX_SECRET_VALUE_LENGTH;
  const most = Math.max(
    0,
    ...(request.tasks ?? []).map(growth),
    ...(request.sweep ? [growth(request.sweep)] : []),
  );
  return 2 + MAX_TASKS_PER_CHUNK * (widest + most + 1) <= MAX_CHUNK_BYTES;
}

/**
 * The most JSON bytes any task's body takes, without building the sweep's bodies. Explicit tasks are
 * in the request (bounded by its size), so they are built and measured. A sweep's tasks differ only
 * in the values substituted into their templated fields, which the body copies verbatim: the body
 * of the task with every value empty, plus, per parameter, (its uses in the body, found by probing
 * with a plain value) × (its widest value's JSON bytes, in closed form from `sweepParameterStats`).
 * Parameters vary independently, so the task with every widest value exists and this is exact,
 * except where a value changes an output's default path (a wildcard in it, which drops the file name
 * from the path): such a task is narrower, so the figure stays an upper bound. Results store
 * references and secret placeholders are counted here as written; their growth is added by the callers.
 */
export function widestTaskBody(
  request: JobRequest,
  slotsAt: (index: number, task: TaskSpec) => number,
  taskLevelJobPackages: readonly ApplicationPackageReference[],
  jobId = request.id ?? '',
): number {
  const ctx = taskBodyContext(request, jobId, taskLevelJobPackages);
  const bodyBytes = (task: TaskSpec, index: number) =>
    Buffer.byteLength(JSON.stringify(toTaskBody(task, index, slotsAt(index, task), ctx)));
  let widest = 0;
  const explicit = request.tasks ?? [];
  explicit.forEach((task, i) => {
    widest = Math.max(widest, bodyBytes(task, i));
  });
  const sweep = request.sweep;
  if (!sweep) return widest;
  const names = Object.keys(sweep.parameters);
  // One task of the sweep with chosen values: the same template, each parameter a one-value list.
  const rendered = (values: Readonly<Record<string, string>>) => {
    const parameters = Object.fromEntries(names.map((n) => [n, [values[n] ?? '']]));
    const [task] = expandSweep({ ...sweep, parameters });
    return bodyBytes(task!, explicit.length);
  };
  const PROBE = 'probe';
  const base = rendered({});
  let bytes = base;
  const stats = sweepParameterStats(sweep);
  for (const name of names) {
    const uses = (rendered({ [name]: PROBE }) - base) / PROBE.length;
    bytes += uses * stats.get(name)!.maxJsonBytes;
  }
  // Index ids: the probe was task "0"; the last task's id has all the digits.
  if (ctx.sweepIndexIds) bytes += String(ctx.sweepTasks - 1).length - 1;
  return Math.max(widest, bytes);
}

type Target =
  | { ok: true; kind: 'existing'; pool: ExistingPoolInfo; size: VmSize | undefined; slotsPerNode: number }
  | { ok: true; kind: 'managed'; pool: ManagedPoolRequest; size: VmSize; slotsPerNode: number }
  | { ok: false; errors: FieldError[] };

function resolveTarget(input: PlanInput): Target {
  const { request, existingPool } = input;
  if (isExistingPool(request.pool)) {
    if (!existingPool)
      return { ok: false, errors: [fieldError(['pool', 'id'], `pool '${request.pool.id}' does not exist`)] };
    return {
      ok: true,
      kind: 'existing',
      pool: existingPool,
      size: tryGetVmSize(existingPool.vmSize),
      slotsPerNode: existingPool.taskSlotsPerNode,
    };
  }
  const size = tryGetVmSize(request.pool.vmSize);
  if (!size)
    return {
      ok: false,
      errors: [fieldError(['pool', 'vmSize'], `unknown VM size '${request.pool.vmSize}'`)],
    };
  const slotsPerNode = request.pool.taskSlotsPerNode ?? size.vCpus;
  if (slotsPerNode > maxTaskSlotsPerNode(size)) {
    return {
      ok: false,
      errors: [
        fieldError(
          ['pool', 'taskSlotsPerNode'],
          `exceeds min(4 × ${size.vCpus} vCPUs, 256) for ${size.name}`,
        ),
      ],
    };
  }
  // Validation refuses this; a pool body must never carry an empty identity reference.
  if (request.pool.identity === undefined) {
    const blob = request.pool.mounts?.findIndex((m) => 'azureBlob' in m) ?? -1;
    if (blob >= 0)
      return {
        ok: false,
        errors: [
          fieldError(['pool', 'mounts', blob, 'azureBlob'], "needs the pool's identity (pool.identity)"),
        ],
      };
  }
  return { ok: true, kind: 'managed', pool: request.pool, size, slotsPerNode };
}

function histogram(sizes: readonly number[]): [number, number][] {
  const counts = new Map<number, number>();
  for (const s of sizes) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => a[0] - b[0]);
}

function* allTasks(request: JobRequest): Generator<TaskSpec> {
  if (request.tasks) yield* request.tasks;
  if (request.sweep) yield* expandSweep(request.sweep);
}

/** Slots a task needs: as given, or the larger of its CPU and memory shares of a node, rounded up. */
export function slotsFor(
  task: Pick<TaskSpec, 'requiredSlots' | 'resources'>,
  size: VmSize | undefined,
  slotsPerNode: number,
): number {
  if (task.requiredSlots !== undefined) return task.requiredSlots;
  const r = task.resources;
  if (!r || !size) return 1;
  const byCpu = r.cpus === undefined ? 1 : Math.ceil((r.cpus / size.vCpus) * slotsPerNode - 1e-9);
  const byMemory =
    r.memoryGiB === undefined ? 1 : Math.ceil((r.memoryGiB / size.memoryGiB) * slotsPerNode - 1e-9);
  return Math.max(1, byCpu, byMemory);
}

export function decidePackagePlacement(
  jobPackages: number,
  tasks: number,
  poolNodes: number,
  poolExists: boolean,
): PlanSummary['applicationPackages'] {
  if (jobPackages === 0)
    return { placement: 'none', reason: 'the job has no job-level application packages' };
  if (poolExists) {
    return {
      placement: 'task',
      reason: 'the pool already exists; installing pool packages would need node restarts',
    };
  }
  if (tasks < poolNodes) {
    return { placement: 'task', reason: 'the job has fewer tasks than the pool has nodes' };
  }
  return {
    placement: 'pool',
    reason: 'every node of the pool runs the job, so packages deploy once per node',
  };
}

function toPoolPackageRef(
  p: { applicationId: string; version?: string | undefined },
  accountResourceId: string | undefined,
): ApplicationPackageReference {
  if (!accountResourceId) return toPackageRef(p);
  return toPackageRef({ ...p, applicationId: `${accountResourceId}/applications/${p.applicationId}` });
}
