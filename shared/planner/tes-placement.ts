/**
 * Where a TES task runs: the VM size of its lane's pool, the slots per node, the slots the task
 * takes, and the node kind. Tasks with the same placement spec (tenant, size, slots per node, node
 * kind, node cap) share a lane, so a stream of small tasks packs onto few nodes instead of one node
 * per task (TES on Azure never sets task slots: one task per node).
 *
 * - The size: `backend_parameters.vm_size` pins it (the spec's example key, which TES on Azure and
 *   Cromwell on Azure users already send); otherwise the default size when the task fits it, else the
 *   smallest size of `TES_VM_LADDER` that fits (fewest vCPUs, then least memory: a memory-heavy task
 *   gets an E-series size before a D-series size twice as wide).
 * - One slot per vCPU; the task takes the larger of its cores and its memory in slots' worth of
 *   memory, as Nextflow's Azure Batch executor does (nextflow-io/nextflow
 *   `plugins/nf-azure/src/main/nextflow/cloud/azure/batch/AzBatchService.groovy`: `min(cpus, vmCpus)`
 *   and `ceil(mem / (vmMem / vmCpus))`). GB and GiB are taken as one, as there.
 * - `disk_gb` is not counted in slots: Slotwise's table has no disk figure per size, and every node
 *   of a lane has the same OS disk whatever the size (the v5 `s` sizes have no local temporary disk),
 *   so dividing it by cores would mean nothing. A task that asks for disk gets a warning saying so.
 * - Spot is opt-in: `preemptible: true` allows low-priority nodes; absent or false means dedicated
 *   (TES on Azure defaults to Spot; the spec says preemptible only *allows* it). Where the account
 *   has no Spot nodes (Batch service allocation mode), the task runs on dedicated nodes, which
 *   `preemptible: true` also allows, with a warning.
 * - `zones` cannot be honoured: Batch places the nodes of a pool itself.
 * - A tenant with TES file systems (tenant policy `tesFileSystems`) has them mounted on every lane's
 *   pool, whether a task uses them or not, so its lane key covers them too: one lane per spec, and a
 *   change of file systems opens new lanes rather than sending tasks to pools that lack a share.
 */
import { createHash } from 'node:crypto';
import { type FieldError, fieldError } from '../model/field-error.js';
import type { TesFileSystem } from '../model/tenant-policy.js';
import type { TesPlacement, TesTaskRequest } from '../model/tes-task.js';
import { tryGetVmSize, type VmSize } from '../model/vm-sizes.js';

/** The size a TES task gets when it fits (4 vCPUs, 16 GiB: four 1-core tasks per node). */
export const DEFAULT_TES_VM_SIZE = 'standard_d4s_v5';
/** A lane pool's default cap on nodes. */
export const DEFAULT_TES_MAX_NODES = 20;

/** Sizes a task that does not fit the default is placed on: general purpose, then memory optimised. */
export const TES_VM_LADDER = [
  'standard_d2s_v5',
  'standard_d4s_v5',
  'standard_d8s_v5',
  'standard_d16s_v5',
  'standard_d32s_v5',
  'standard_d48s_v5',
  'standard_d64s_v5',
  'standard_d96s_v5',
  'standard_e2s_v5',
  'standard_e4s_v5',
  'standard_e8s_v5',
  'standard_e16s_v5',
  'standard_e32s_v5',
  'standard_e64s_v5',
] as const;

export interface TesPlacementOptions {
  readonly defaultVmSize: string;
  readonly maxNodes: number;
  /** Whether the Batch account has Spot nodes (user subscription mode); absent → true. */
  readonly lowPriorityAvailable?: boolean;
  /** The tenant's TES file systems, which its lanes' pools mount; absent → none. */
  readonly fileSystems?: readonly TesFileSystem[];
}

export type TesPlacementResult =
  | { readonly ok: true; readonly placement: TesPlacement; readonly warnings: string[] }
  | { readonly ok: false; readonly errors: FieldError[] };

export function placeTesTask(
  tenant: string,
  request: TesTaskRequest,
  options: TesPlacementOptions,
): TesPlacementResult {
  const res = request.resources ?? {};
  const cores = res.cpu_cores ?? 1;
  const ramGb = res.ram_gb;
  const fits = (size: VmSize) => cores <= size.vCpus && (ramGb === undefined || ramGb <= size.memoryGiB);
  const need = `${cores} core${cores === 1 ? '' : 's'}${ramGb === undefined ? '' : ` and ${ramGb} GB of memory`}`;

  let size: VmSize;
  const pinned = res.backend_parameters?.vm_size;
  if (pinned !== undefined) {
    const known = tryGetVmSize(pinned);
    const at = ['resources', 'backend_parameters', 'vm_size'];
    if (!known) return { ok: false, errors: [fieldError(at, `unknown VM size '${clip(pinned)}'`)] };
    if (!fits(known)) {
      return {
        ok: false,
        errors: [
          fieldError(
            at,
            `${known.name} has ${known.vCpus} vCPUs and ${known.memoryGiB} GiB of memory; the task asks for ${need}`,
          ),
        ],
      };
    }
    size = known;
  } else {
    const fallback = tryGetVmSize(options.defaultVmSize);
    if (fallback && fits(fallback)) {
      size = fallback;
    } else {
      const ladder = TES_VM_LADDER.map((name) => tryGetVmSize(name)!);
      const best = ladder.filter(fits).sort((a, b) => a.vCpus - b.vCpus || a.memoryGiB - b.memoryGiB)[0];
      if (!best) {
        const widest = ladder.reduce((a, b) => (b.vCpus > a.vCpus ? b : a));
        const roomiest = ladder.reduce((a, b) => (b.memoryGiB > a.memoryGiB ? b : a));
        return {
          ok: false,
          errors: [
            fieldError(
              ['resources'],
              `asks for ${need}, more than any size Slotwise picks (the largest tried: ${widest.name}, ${widest.vCpus} vCPUs and ${widest.memoryGiB} GiB; ${roomiest.name}, ${roomiest.vCpus} vCPUs and ${roomiest.memoryGiB} GiB); pin a larger size with backend_parameters.vm_size`,
            ),
          ],
        };
      }
      size = best;
    }
  }

  const warnings: string[] = [];
  // One slot per core; Batch allows at most 256 slots per node.
  const taskSlotsPerNode = Math.min(size.vCpus, 256);
  // Memory in slots' worth (memoryGiB / vCPUs each), computed as one division to round once.
  const memorySlots = ramGb === undefined ? 1 : Math.ceil((ramGb * size.vCpus) / size.memoryGiB);
  const requiredSlots = Math.min(Math.max(cores, memorySlots, 1), taskSlotsPerNode);

  let lowPriority = res.preemptible === true;
  if (lowPriority && options.lowPriorityAvailable === false) {
    lowPriority = false;
    warnings.push(
      'resources.preemptible: this Batch account has no Spot (low-priority) nodes, so the task runs on dedicated nodes',
    );
  }
  if (res.zones !== undefined && res.zones.length > 0) {
    warnings.push('resources.zones: ignored; Azure Batch places the nodes of a pool itself');
  }
  if (res.disk_gb !== undefined) {
    warnings.push(
      `resources.disk_gb: not reserved per task; tasks on one ${size.name} node share its disk (${res.disk_gb} GB asked)`,
    );
  }

  const spec = {
    vmSize: size.name,
    taskSlotsPerNode,
    requiredSlots,
    lowPriority,
    maxNodes: options.maxNodes,
  };
  return {
    ok: true,
    placement: { laneKey: tesLaneKey(tenant, spec, options.fileSystems ?? []), ...spec },
    warnings,
  };
}

/**
 * The lane key of a placement spec for a tenant with these TES file systems: what `placeTesTask`
 * gives, so a stage can tell whether a task was placed with the file systems the tenant has now.
 */
export function tesLaneKey(
  tenant: string,
  spec: Pick<TesPlacement, 'vmSize' | 'taskSlotsPerNode' | 'lowPriority' | 'maxNodes'>,
  fileSystems: readonly TesFileSystem[],
): string {
  const key = laneKeyOf(tenant, spec.vmSize, spec.taskSlotsPerNode, spec.lowPriority, spec.maxNodes);
  if (fileSystems.length === 0) return key;
  const mounts = JSON.stringify(fileSystems.map((f) => [f.root, f.mount]));
  return createHash('sha256').update(`${key}\n${mounts}`, 'utf8').digest('hex').slice(0, 16);
}

/**
 * A short stable hash of everything that makes a lane's pool: lowercase hex, so it fits in a Batch
 * job or pool id. 16 hex digits (64 bits) keep one tenant's few lanes apart with room to spare.
 */
function laneKeyOf(
  tenant: string,
  vmSize: string,
  slots: number,
  lowPriority: boolean,
  maxNodes: number,
): string {
  const spec = [tenant, vmSize.toLowerCase(), slots, lowPriority, maxNodes].join('\n');
  return createHash('sha256').update(spec, 'utf8').digest('hex').slice(0, 16);
}

const clip = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text);
