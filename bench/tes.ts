/**
 * `npm run bench:tes`: the GA4GH TES front door, in one run.
 *   (b) Node-hours for a day of TES tasks under Slotwise (lanes packed by slots, sized by the pool
 *       controller) and under TES on Azure's strategy (one task per node on the cheapest size that
 *       fits, pending-task autoscale every 5 minutes), simulated in the Batch emulator with a manual
 *       clock (bench/tes/node-hours.ts); the ratio of the two.
 *   (a) Sustained `POST /api/ga4gh/tes/v1/tasks` rate and latency against the local stack (dev host,
 *       Azurite, the Cosmos server, the emulator), the Batch calls and jobs the tasks became, and the
 *       time until every task is in Batch (bench/tes/post-rate.ts).
 * Prints a table for each and one JSON line with every figure.
 *
 * Options: --seed N (7) --tasks N (TES tasks per simulated day, 2000) --step S (30)
 *          --allocation-seconds S (120) --node-start-seconds S (60)
 *          --lane-max-nodes N (500: SLOTWISE_TES_MAX_NODES for the run; the setting's default, 20, caps a
 *            lane at 160 vCPUs, below this day's peak, while TES on Azure's formula has no cap)
 *          --tenant-max-nodes N (1000) --register-once (the lane's pool registered only when the lane
 *            opens, not again when tasks are added)
 *          --post-tasks N (10000) --concurrency N (32) --part a|b|both (both)
 */
import { parseArgs } from 'node:util';
import { SlotwiseError } from '../shared/core/errors.js';
import { type NodeHoursResult, runNodeHours } from './tes/node-hours.js';
import { type PostRateResult, runPostRate } from './tes/post-rate.js';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '7' },
    tasks: { type: 'string', default: '2000' },
    step: { type: 'string', default: '30' },
    'allocation-seconds': { type: 'string', default: '120' },
    'node-start-seconds': { type: 'string', default: '60' },
    'lane-max-nodes': { type: 'string', default: '500' },
    'tenant-max-nodes': { type: 'string', default: '1000' },
    'register-once': { type: 'boolean', default: false },
    'post-tasks': { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    part: { type: 'string', default: 'both' },
  },
});
const positive = (name: keyof typeof args): number => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n <= 0)
    throw new SlotwiseError('BenchBadOption', `--${name} must be a positive integer`);
  return n;
};
const part = args.part;
if (part !== 'a' && part !== 'b' && part !== 'both') {
  throw new SlotwiseError('BenchBadOption', '--part must be a, b or both');
}

const print = (line: string) => console.log(line);
let nodeHours: NodeHoursResult | undefined;
let postRate: PostRateResult | undefined;

if (part !== 'a') {
  print('== (b) node-hours: Slotwise vs TES on Azure, one simulated day ==');
  nodeHours = await runNodeHours(
    {
      seed: positive('seed'),
      tasks: positive('tasks'),
      stepSeconds: positive('step'),
      allocationSeconds: positive('allocation-seconds'),
      nodeStartSeconds: positive('node-start-seconds'),
      laneMaxNodes: positive('lane-max-nodes'),
      tenantMaxNodes: positive('tenant-max-nodes'),
      registerOnAdd: args['register-once'] !== true,
    },
    print,
  );
  print('');
}
if (part !== 'b') {
  print('== (a) POST /api/ga4gh/tes/v1/tasks against the local stack ==');
  postRate = await runPostRate(
    { tasks: positive('post-tasks'), concurrency: positive('concurrency') },
    print,
  );
  print('');
}
console.log(
  JSON.stringify({ bench: 'tes', ...(nodeHours ? { nodeHours } : {}), ...(postRate ? { postRate } : {}) }),
);
// The local stack's children and timers are stopped; nothing else should hold the process.
process.exit(postRate && !postRate.ok ? 1 : 0);
