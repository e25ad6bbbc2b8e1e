/**
 * Placing TES tasks (shared/planner/tes-placement.ts): the default size, a pinned size, the ladder
 * (memory-heavy tasks to the E series), tasks too big, the slot arithmetic, node kind and lane keys.
 */
import { describe, expect, it } from 'vitest';
import { parseTesTaskRequest } from '../../../shared/model/tes-schema.js';
import type { TesResources, TesTaskRequest } from '../../../shared/model/tes-task.js';
import { tryGetVmSize } from '../../../shared/model/vm-sizes.js';
import {
  DEFAULT_TES_MAX_NODES,
  DEFAULT_TES_VM_SIZE,
  placeTesTask,
  TES_VM_LADDER,
} from '../../../shared/planner/tes-placement.js';

const options = { defaultVmSize: 'standard_d4s_v5', maxNodes: 10 };

const requestWith = (resources?: TesResources): TesTaskRequest => ({
  inputs: [],
  outputs: [],
  executors: [{ image: 'ubuntu', command: ['true'] }],
  volumes: [],
  tags: {},
  ...(resources && { resources }),
});

function placed(
  resources?: TesResources,
  opts: Parameters<typeof placeTesTask>[2] = options,
  tenant = 'acme',
) {
  const result = placeTesTask(tenant, requestWith(resources), opts);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.errors)}`);
  return result;
}

function refused(resources: TesResources, opts = options): string[] {
  const result = placeTesTask('acme', requestWith(resources), opts);
  if (result.ok) throw new Error(`placed: ${JSON.stringify(result.placement)}`);
  return result.errors.map((e) => `${e.field}: ${e.message}`);
}

describe('placeTesTask: the size', () => {
  it('uses the default size when the task fits it', () => {
    const { placement, warnings } = placed();
    expect(placement).toMatchObject({
      vmSize: 'standard_d4s_v5',
      taskSlotsPerNode: 4,
      requiredSlots: 1,
      lowPriority: false,
      maxNodes: 10,
    });
    expect(warnings).toEqual([]);
    expect(placed({ cpu_cores: 4, ram_gb: 16 }).placement.vmSize).toBe('standard_d4s_v5');
  });

  it('moves up the D series when the task needs more cores than the default has', () => {
    expect(placed({ cpu_cores: 8 }).placement).toMatchObject({
      vmSize: 'standard_d8s_v5',
      taskSlotsPerNode: 8,
      requiredSlots: 8,
    });
    expect(placed({ cpu_cores: 5 }).placement).toMatchObject({ vmSize: 'standard_d8s_v5', requiredSlots: 5 });
    expect(placed({ cpu_cores: 96 }).placement.vmSize).toBe('standard_d96s_v5');
  });

  it('picks the E series for memory-heavy tasks: fewest vCPUs, then least memory', () => {
    // 30 GB: an 8-vCPU D (32 GiB) or a 4-vCPU E (32 GiB); the E has fewer vCPUs.
    expect(placed({ cpu_cores: 2, ram_gb: 30 }).placement).toMatchObject({
      vmSize: 'standard_e4s_v5',
      taskSlotsPerNode: 4,
      requiredSlots: 4,
    });
    expect(placed({ ram_gb: 100 }).placement.vmSize).toBe('standard_e16s_v5');
    expect(placed({ ram_gb: 500 }).placement.vmSize).toBe('standard_e64s_v5');
    // Memory that a D of the needed width already has stays on D (less memory than the E).
    expect(placed({ cpu_cores: 16, ram_gb: 64 }).placement.vmSize).toBe('standard_d16s_v5');
    expect(placed({ cpu_cores: 16, ram_gb: 65 }).placement.vmSize).toBe('standard_e16s_v5');
  });

  it('refuses a task no size of the ladder fits, naming the largest sizes tried', () => {
    const [cores] = refused({ cpu_cores: 97 });
    expect(cores).toMatch(/^resources: asks for 97 cores, more than any size/);
    expect(cores).toContain('standard_d96s_v5');
    expect(cores).toContain('backend_parameters.vm_size');
    const [memory] = refused({ ram_gb: 513 });
    expect(memory).toMatch(/^resources: /);
    expect(memory).toContain('standard_e64s_v5, 64 vCPUs and 512 GiB');
    expect(refused({ cpu_cores: 96, ram_gb: 385 })[0]).toMatch(/^resources: /);
  });

  it('falls back to the ladder when the default size is unknown', () => {
    expect(placed({}, { defaultVmSize: 'standard_nope', maxNodes: 1 }).placement.vmSize).toBe(
      'standard_d2s_v5',
    );
  });

  it('exports a ladder of known sizes, D series then E series, and a known default', () => {
    for (const name of TES_VM_LADDER) expect(tryGetVmSize(name), name).toBeDefined();
    expect(TES_VM_LADDER.filter((n) => n.startsWith('standard_d')).every((n) => n.endsWith('s_v5'))).toBe(
      true,
    );
    expect(TES_VM_LADDER.findIndex((n) => n.startsWith('standard_e'))).toBeGreaterThan(
      TES_VM_LADDER.findLastIndex((n) => n.startsWith('standard_d')),
    );
    expect(tryGetVmSize(DEFAULT_TES_VM_SIZE)).toBeDefined();
    expect(DEFAULT_TES_MAX_NODES).toBeGreaterThan(0);
  });
});

describe('placeTesTask: vm_size pins the size', () => {
  it('uses the pinned size, any case, even off the ladder', () => {
    expect(placed({ backend_parameters: { vm_size: 'Standard_E8s_v5' } }).placement).toMatchObject({
      vmSize: 'standard_e8s_v5',
      taskSlotsPerNode: 8,
      requiredSlots: 1,
    });
    expect(placed({ backend_parameters: { vm_size: 'STANDARD_F8S_V2' } }).placement.vmSize).toBe(
      'standard_f8s_v2',
    );
    // A pinned size wins over a default the task also fits.
    expect(
      placed({ cpu_cores: 1, backend_parameters: { vm_size: 'standard_d2s_v5' } }).placement.vmSize,
    ).toBe('standard_d2s_v5');
  });

  it('refuses an unknown size or one the task does not fit, on the parameter', () => {
    expect(refused({ backend_parameters: { vm_size: 'Standard_Nope' } })).toEqual([
      "resources.backend_parameters.vm_size: unknown VM size 'Standard_Nope'",
    ]);
    expect(refused({ cpu_cores: 8, backend_parameters: { vm_size: 'standard_d4s_v5' } })[0]).toMatch(
      /^resources\.backend_parameters\.vm_size: standard_d4s_v5 has 4 vCPUs and 16 GiB of memory; the task asks for 8 cores/,
    );
    expect(refused({ ram_gb: 17, backend_parameters: { vm_size: 'standard_d4s_v5' } })[0]).toMatch(
      /^resources\.backend_parameters\.vm_size: .* asks for 1 core and 17 GB of memory/,
    );
  });

  it('works from a parsed body whose key was spelled in capitals', () => {
    const parsed = parseTesTaskRequest({
      executors: [{ image: 'ubuntu', command: ['true'] }],
      resources: { backend_parameters: { VM_SIZE: 'Standard_E4s_v5' } },
    });
    if (!parsed.ok) throw new Error('refused');
    const result = placeTesTask('acme', parsed.request, options);
    expect(result.ok && result.placement.vmSize).toBe('standard_e4s_v5');
  });
});

describe('placeTesTask: slots', () => {
  it('gives one slot per vCPU and takes the larger of cores and memory in slots', () => {
    // standard_d4s_v5: 4 vCPUs, 16 GiB, so 4 GiB a slot.
    const slots = (resources: TesResources) => placed(resources).placement.requiredSlots;
    expect(slots({})).toBe(1);
    expect(slots({ cpu_cores: 2 })).toBe(2);
    expect(slots({ ram_gb: 4 })).toBe(1);
    expect(slots({ ram_gb: 4.1 })).toBe(2);
    expect(slots({ ram_gb: 12 })).toBe(3);
    expect(slots({ cpu_cores: 3, ram_gb: 2 })).toBe(3);
    expect(slots({ cpu_cores: 1, ram_gb: 16 })).toBe(4);
    // On an E size (8 GiB a slot) the same memory takes fewer slots.
    expect(
      placed({ ram_gb: 16, backend_parameters: { vm_size: 'standard_e4s_v5' } }).placement.requiredSlots,
    ).toBe(2);
    // A size whose memory per slot is not a round number (112 GiB / 6 vCPUs) still rounds exactly.
    const nc6 = (ram_gb: number) =>
      placed({ ram_gb, backend_parameters: { vm_size: 'standard_nc6s_v3' } }).placement.requiredSlots;
    expect([nc6(56), nc6(56.1), nc6(112)]).toEqual([3, 4, 6]);
  });

  it('never asks for more slots than a node has', () => {
    for (const resources of [{ cpu_cores: 4, ram_gb: 16 }, { ram_gb: 16 }, { ram_gb: 15.9999999999 }]) {
      const { placement } = placed(resources);
      expect(placement.requiredSlots).toBeLessThanOrEqual(placement.taskSlotsPerNode);
    }
  });

  it('does not count disk in slots, and says so', () => {
    const { placement, warnings } = placed({ disk_gb: 500 });
    expect(placement.requiredSlots).toBe(1);
    expect(warnings).toEqual([
      expect.stringMatching(/^resources\.disk_gb: not reserved per task.*500 GB asked/),
    ]);
  });
});

describe('placeTesTask: node kind and zones', () => {
  it('runs on dedicated nodes unless preemptible is true', () => {
    expect(placed({}).placement.lowPriority).toBe(false);
    expect(placed({ preemptible: false }).placement.lowPriority).toBe(false);
    expect(placed({ preemptible: true }).placement.lowPriority).toBe(true);
  });

  it('runs preemptible tasks on dedicated nodes where the account has no Spot, with a warning', () => {
    const { placement, warnings } = placed(
      { preemptible: true },
      { ...options, lowPriorityAvailable: false },
    );
    expect(placement.lowPriority).toBe(false);
    expect(warnings).toEqual([expect.stringMatching(/^resources\.preemptible: .*dedicated/)]);
  });

  it('warns that zones are not honoured', () => {
    expect(placed({ zones: ['1'] }).warnings).toEqual([
      'resources.zones: ignored; Azure Batch places the nodes of a pool itself',
    ]);
    expect(placed({ zones: [] }).warnings).toEqual([]);
  });
});

describe('placeTesTask: lane keys', () => {
  const key = (resources?: TesResources, opts = options, tenant = 'acme') =>
    placed(resources, opts, tenant).placement.laneKey;

  it('is 16 lowercase hex digits, fit for a Batch id', () => {
    expect(key()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is stable, and shared by tasks of one pool spec whatever their slots', () => {
    expect(key()).toBe(key());
    expect(key({ cpu_cores: 3 })).toBe(key());
    expect(key({ backend_parameters: { vm_size: 'STANDARD_D4S_V5' } })).toBe(key());
  });

  it('differs with the tenant, the size, the node kind and the node cap', () => {
    const base = key();
    expect(key(undefined, options, 'other')).not.toBe(base);
    expect(key({ cpu_cores: 8 })).not.toBe(base);
    expect(key({ preemptible: true })).not.toBe(base);
    expect(key(undefined, { ...options, maxNodes: 11 })).not.toBe(base);
    expect(placed(undefined, { ...options, maxNodes: 11 }).placement.maxNodes).toBe(11);
  });
});
