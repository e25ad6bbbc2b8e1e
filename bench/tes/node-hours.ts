/**
 * Part (b) of `npm run bench:tes`: node-hours for one day of TES tasks under Slotwise and under TES on
 * Azure's strategy (bench/tes/strategies.ts), simulated as the pools bench does: the Batch emulator
 * in-process with a manual clock (`clockFactor: 0`), advanced a fixed step at a time; both strategies
 * in the same emulator, each its own tenant, acting only through REST. Seeded: runs repeat.
 *
 * Node-seconds are integrated by trapezoids between steps from the pools' `currentNodes` (a node
 * counts from allocation, through its start, until it is removed), also weighted by the size's vCPUs
 * and by its price (shared/planner/cost.ts). Each strategy's lower bound is its own placement with
 * every node busy all its life; "asked" is the tasks' cpu_cores × run time.
 */
import { startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { createRestBatchGateway } from '../../shared/adapters/batch/batch-gateway-rest.js';
import { createBatchClient } from '../../shared/adapters/batch/client.js';
import { readSettings } from '../../shared/adapters/config/config.js';
import { mapWithConcurrency } from '../../shared/core/concurrency.js';
import { planDefaults } from '../../shared/pipeline/plan-inputs.js';
import { DAY_SECONDS, fmtDuration, quantile } from '../pools/workload.js';
import { slotwiseStrategy, type TesStrategy, tesOnAzureStrategy } from './strategies.js';
import { describeTesWorkload, makeTesWorkload } from './workload.js';

export interface NodeHoursOptions {
  readonly seed: number;
  readonly tasks: number;
  readonly stepSeconds: number;
  readonly allocationSeconds: number;
  readonly nodeStartSeconds: number;
  /** Nodes per lane pool (setting SLOTWISE_TES_MAX_NODES for the run). */
  readonly laneMaxNodes: number;
  readonly tenantMaxNodes: number;
  readonly registerOnAdd: boolean;
}

export interface StrategyResult {
  readonly label: string;
  readonly nodeHours: number;
  readonly vcpuHours: number;
  readonly cost: number;
  readonly boundNodeHours: number;
  readonly boundVcpuHours: number;
  readonly boundCost: number;
  readonly peakNodes: number;
  readonly pools: { vmSize: string; tasks: number }[];
  readonly batchJobs: number;
  readonly addCalls: number;
  readonly resizes: number;
  readonly waitMeanSeconds: number;
  readonly waitP95Seconds: number;
  readonly unfinished: number;
  readonly notes: readonly string[];
}

export interface NodeHoursResult {
  readonly seed: number;
  readonly tasks: number;
  readonly askedCoreHours: number;
  readonly defaultVmSize: string;
  readonly laneMaxNodes: number;
  readonly slotwise: StrategyResult;
  readonly tesOnAzure: StrategyResult;
  readonly ratio: { readonly nodeHours: number; readonly vcpuHours: number; readonly cost: number };
  readonly simulatedHours: number;
  readonly realSeconds: number;
}

/** TES on Azure's `AutoScaleEvaluationInterval` (BatchPool.cs l.33). */
const AUTOSCALE_INTERVAL_SECONDS = 300;
/** After the day, run on until every task is done and every pool is empty, at most this long. */
const DRAIN_LIMIT_SECONDS = 12 * 3600;

export async function runNodeHours(
  o: NodeHoursOptions,
  print: (line: string) => void,
): Promise<NodeHoursResult> {
  const workloadOptions = { seed: o.seed, tasks: o.tasks, stepSeconds: o.stepSeconds };
  const tasks = makeTesWorkload(workloadOptions);

  const accountName = 'benchtes';
  const accountKey = Buffer.from('bench tes key').toString('base64');
  const emulator = await startBatchEmulator({
    port: 0,
    accountName,
    accountKey,
    clockFactor: 0,
    allocationSeconds: o.allocationSeconds,
    nodeStartSeconds: o.nodeStartSeconds,
    transfers: 'off',
  });
  const client = createBatchClient({ endpoint: emulator.url, accountName, accountKey });
  const gateway = createRestBatchGateway(client);
  // The settings' defaults (the app's own schema); the TES ones may be set in the environment.
  const settings = readSettings({
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    COSMOS_ENDPOINT: 'http://127.0.0.1:8081',
    BATCH_ENDPOINT: emulator.url,
    BATCH_ACCOUNT_NAME: accountName,
    SLOTWISE_TES_VM_SIZE: process.env.SLOTWISE_TES_VM_SIZE,
    SLOTWISE_TES_MAX_NODES: String(o.laneMaxNodes),
  });

  async function clock(advanceSeconds?: number): Promise<number> {
    const response = await fetch(`${emulator.url}/_emulator/clock`, {
      method: advanceSeconds === undefined ? 'GET' : 'POST',
      ...(advanceSeconds === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds }) }),
    });
    const body = (await response.json()) as { now: string };
    return Date.parse(body.now);
  }

  try {
    const start = await clock();
    let now = start;
    const ctx = { gateway, client, now: () => now, defaults: planDefaults(settings) };
    const strategies: TesStrategy[] = [
      slotwiseStrategy(ctx, {
        defaultVmSize: settings.SLOTWISE_TES_VM_SIZE,
        laneMaxNodes: settings.SLOTWISE_TES_MAX_NODES,
        tenantMaxNodes: o.tenantMaxNodes,
        limits: {
          poolMaxNodes: settings.SLOTWISE_POOL_MAX_NODES,
          shrinkAfterMs: settings.SLOTWISE_POOL_SHRINK_AFTER_SECONDS * 1000,
          idleTtlMs: settings.SLOTWISE_POOL_IDLE_TTL_SECONDS * 1000,
          allocationDeadlineMs: settings.SLOTWISE_ALLOCATION_DEADLINE_SECONDS * 1000,
        },
        registerOnAdd: o.registerOnAdd,
      }),
      tesOnAzureStrategy(ctx, { intervalSeconds: AUTOSCALE_INTERVAL_SECONDS }),
    ];

    // Node-seconds by trapezoids between steps, plain, × vCPUs and × price per second.
    const integral = new Map(strategies.map((s) => [s, { nodes: 0, vcpus: 0, cost: 0 }]));
    const last = new Map(strategies.map((s) => [s, { nodes: 0, vcpus: 0, cost: 0 }]));
    const peak = new Map(strategies.map((s) => [s, 0]));
    async function sampleNodes(): Promise<number> {
      let all = 0;
      for (const s of strategies) {
        const now = { nodes: 0, vcpus: 0, cost: 0 };
        for (const p of s.pools.values()) {
          const n = (await gateway.getPool(p.id))?.currentNodes ?? 0;
          now.nodes += n;
          now.vcpus += n * p.vCpus;
          now.cost += (n * p.pricePerHour) / 3600;
        }
        const sum = integral.get(s)!;
        const before = last.get(s)!;
        sum.nodes += ((before.nodes + now.nodes) / 2) * o.stepSeconds;
        sum.vcpus += ((before.vcpus + now.vcpus) / 2) * o.stepSeconds;
        sum.cost += ((before.cost + now.cost) / 2) * o.stepSeconds;
        last.set(s, now);
        peak.set(s, Math.max(peak.get(s)!, now.nodes));
        all += now.nodes;
      }
      return all;
    }

    const t0 = performance.now();
    let next = 0;
    let steps = 0;
    for (;;) {
      steps++;
      now = await clock(o.stepSeconds);
      const elapsed = (now - start) / 1000;
      const nodes = await sampleNodes();
      const arriving: typeof tasks = [];
      while (next < tasks.length && tasks[next]!.arrival <= elapsed) arriving.push(tasks[next++]!);
      // Independent tenants: they act concurrently, as two services would.
      if (arriving.length > 0) await Promise.all(strategies.map((s) => s.submit(arriving)));
      await Promise.all(strategies.map((s) => s.tick(now)));
      if (elapsed >= DAY_SECONDS) {
        const open = strategies.some((s) => !s.done());
        if ((!open && nodes === 0) || elapsed >= DAY_SECONDS + DRAIN_LIMIT_SECONDS) break;
      }
    }
    const simulatedHours = (now - start) / 3_600_000;
    const realSeconds = (performance.now() - t0) / 1000;

    async function result(s: TesStrategy): Promise<StrategyResult> {
      const waits: number[] = [];
      let unfinished = 0;
      await mapWithConcurrency([...s.batchJobs], 4, async (jobId) => {
        for await (const t of client.tasks.list(jobId, {
          select: 'id,state,executionInfo',
          maxResults: 1000,
        })) {
          const task = t as { id: string; state?: string; executionInfo?: { startTime?: string } };
          const submitted = s.submitted.get(task.id);
          if (!submitted) continue;
          if (task.state !== 'completed' || !task.executionInfo?.startTime) {
            unfinished++;
            continue;
          }
          waits.push((Date.parse(task.executionInfo.startTime) - submitted.at) / 1000);
        }
      });
      waits.sort((a, b) => a - b);
      const sum = integral.get(s)!;
      return {
        label: s.label,
        nodeHours: sum.nodes / 3600,
        vcpuHours: sum.vcpus / 3600,
        cost: sum.cost,
        boundNodeHours: s.bound.nodeSeconds / 3600,
        boundVcpuHours: s.bound.vcpuSeconds / 3600,
        boundCost: s.bound.cost,
        peakNodes: peak.get(s)!,
        pools: [...s.pools.values()].map((p) => ({ vmSize: p.vmSize, tasks: p.tasks })),
        batchJobs: s.batchJobs.size,
        addCalls: s.addCalls,
        resizes: s.resizes,
        waitMeanSeconds: waits.length === 0 ? 0 : waits.reduce((a, b) => a + b, 0) / waits.length,
        waitP95Seconds: quantile(waits, 0.95),
        unfinished,
        notes: s.notes,
      };
    }
    const slotwise = await result(strategies[0]!);
    const tesOnAzure = await result(strategies[1]!);
    const askedCoreHours = tasks.reduce((n, t) => n + t.cpuCores * t.seconds, 0) / 3600;
    const out: NodeHoursResult = {
      seed: o.seed,
      tasks: tasks.length,
      askedCoreHours,
      defaultVmSize: settings.SLOTWISE_TES_VM_SIZE,
      laneMaxNodes: settings.SLOTWISE_TES_MAX_NODES,
      slotwise,
      tesOnAzure,
      ratio: {
        nodeHours: slotwise.nodeHours / tesOnAzure.nodeHours,
        vcpuHours: slotwise.vcpuHours / tesOnAzure.vcpuHours,
        cost: slotwise.cost / tesOnAzure.cost,
      },
      simulatedHours,
      realSeconds,
    };

    for (const line of describeTesWorkload(tasks, workloadOptions)) print(line);
    const poolsOf = (r: StrategyResult) =>
      r.pools.map((p) => `${p.vmSize.replace(/^standard_/, '')} ${p.tasks}`).join(', ');
    print(
      `  Slotwise places on ${settings.SLOTWISE_TES_VM_SIZE} (SLOTWISE_TES_VM_SIZE) when a task fits, one slot per ` +
        `vCPU, lanes of at most ${settings.SLOTWISE_TES_MAX_NODES} nodes (SLOTWISE_TES_MAX_NODES), tenant limit ` +
        `${o.tenantMaxNodes} nodes, a lane's pool registered ${o.registerOnAdd ? 'whenever tasks are added' : 'once, when the lane opens'}; ` +
        `lanes (tasks): ${poolsOf(slotwise)}`,
    );
    print(
      `  TES on Azure: cheapest size that fits, one task per node; pools (tasks): ${poolsOf(tesOnAzure)}`,
    );
    print(
      `emulator: allocation ${o.allocationSeconds} s + node start ${o.nodeStartSeconds} s; step ${o.stepSeconds} s; ` +
        `controller on each add and every step, shrink after ${settings.SLOTWISE_POOL_SHRINK_AFTER_SECONDS} s; ` +
        `TES on Azure formula every ${AUTOSCALE_INTERVAL_SECONDS / 60} min; dedicated nodes for both`,
    );
    print('');
    const header = [
      'strategy',
      'node-hours',
      'vs bound',
      'vCPU-hours',
      'cost USD',
      'peak nodes',
      'pools',
      'Batch jobs',
      'add calls',
      'wait mean / p95',
      'unfinished',
    ];
    const row = (r: StrategyResult) => [
      r.label,
      r.nodeHours.toFixed(0),
      `${(r.nodeHours / r.boundNodeHours).toFixed(2)}×`,
      r.vcpuHours.toFixed(0),
      r.cost.toFixed(0),
      String(r.peakNodes),
      String(r.pools.length),
      String(r.batchJobs),
      String(r.addCalls),
      `${fmtDuration(r.waitMeanSeconds)} / ${fmtDuration(r.waitP95Seconds)}`,
      String(r.unfinished),
    ];
    const boundRow = (label: string, r: StrategyResult) => [
      label,
      r.boundNodeHours.toFixed(0),
      '1.00×',
      r.boundVcpuHours.toFixed(0),
      r.boundCost.toFixed(0),
      '',
      '',
      '',
      '',
      '',
      '',
    ];
    const rows = [
      row(slotwise),
      row(tesOnAzure),
      boundRow('(a) bound: slot-hours ÷ slots per node', slotwise),
      boundRow('(b) bound: task-hours, one node each', tesOnAzure),
      ['asked: cpu_cores × run time', '', '', askedCoreHours.toFixed(0), '', '', '', '', '', '', ''],
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    print(line(header));
    for (const r of rows) print(line(r));
    print('');
    print(
      `ratio Slotwise / TES on Azure: node-hours ${out.ratio.nodeHours.toFixed(2)}, vCPU-hours ` +
        `${out.ratio.vcpuHours.toFixed(2)}, cost ${out.ratio.cost.toFixed(2)}; mean wait ` +
        `${fmtDuration(slotwise.waitMeanSeconds)} vs ${fmtDuration(tesOnAzure.waitMeanSeconds)}`,
    );
    print(
      `simulated ${fmtDuration(simulatedHours * 3600)} in ${steps} steps, ${realSeconds.toFixed(1)} s real`,
    );
    for (const r of [slotwise, tesOnAzure]) {
      if (r.notes.length > 0) print(`notes ${r.label}: ${r.notes.length}; first: ${r.notes[0]}`);
    }
    return out;
  } finally {
    await client.close();
    await emulator.close();
  }
}
