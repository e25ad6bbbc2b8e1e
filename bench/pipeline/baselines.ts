/**
 * The baselines the pipeline is compared with: the same tasks added to a fresh emulator by Slotwise's
 * Batch client alone, and by the official `@azure/batch` SDK, bodies built lazily inside the timing
 * (chunk by chunk from the plan, as the submitter does), 100 per call, 8 in flight per job.
 */
import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';
import { addTasks } from '../../shared/adapters/batch/add-tasks.js';
import { createBatchClient } from '../../shared/adapters/batch/client.js';
import { BENCH_ACCOUNT, BENCH_KEY, startBenchEmulator } from '../local-stack.js';
import { fromChunks, lazyChunks, ownCpuSeconds, treeCpuSeconds } from './workload.js';

export interface BaselineRun {
  /** Seconds from the first add to the last answer. */
  readonly wall: number;
  /** CPU seconds in the timed part: this process (the client) and the emulator. */
  readonly cpu: { readonly client: number; readonly emulator: number | undefined };
}

/**
 * `jobs` Batch jobs of `tasksEach` tasks each, all added at once through one client (its usual 16
 * connections), each job by eight workers of its own: with one job, the client-alone baseline.
 */
export async function timeClient(tasksEach: number, jobs = 1): Promise<BaselineRun> {
  const emulator = await startBenchEmulator();
  const batch = createBatchClient({
    endpoint: emulator.url,
    accountName: BENCH_ACCOUNT,
    accountKey: BENCH_KEY,
  });
  try {
    const ids = Array.from({ length: jobs }, (_, i) => (jobs === 1 ? `client-${tasksEach}` : `client-${i}`));
    for (const id of ids) await batch.jobs.add({ id, poolInfo: { poolId: 'bench-pool' } });
    global.gc?.();
    const cpu0 = { client: ownCpuSeconds(), emulator: treeCpuSeconds(emulator.pid) };
    const t0 = performance.now();
    await Promise.all(
      ids.map((id) =>
        fromChunks(lazyChunks(id, tasksEach), async (chunk) => {
          await addTasks(batch, id, chunk, { concurrency: 1 });
        }),
      ),
    );
    const wall = (performance.now() - t0) / 1000;
    const emulatorAfter = treeCpuSeconds(emulator.pid);
    return {
      wall,
      cpu: {
        client: ownCpuSeconds() - cpu0.client,
        emulator:
          emulatorAfter !== undefined && cpu0.emulator !== undefined
            ? emulatorAfter - cpu0.emulator
            : undefined,
      },
    };
  } finally {
    await batch.close();
    await emulator.stop();
  }
}

export async function timeSdk(n: number): Promise<number> {
  const emulator = await startBenchEmulator();
  const batch = createBatchClient({
    endpoint: emulator.url,
    accountName: BENCH_ACCOUNT,
    accountKey: BENCH_KEY,
  });
  const sdk = new BatchServiceClient(new BatchSharedKeyCredentials(BENCH_ACCOUNT, BENCH_KEY), emulator.url);
  try {
    const jobId = `sdk-${n}`;
    await batch.jobs.add({ id: jobId, poolInfo: { poolId: 'bench-pool' } });
    global.gc?.();
    const t0 = performance.now();
    await fromChunks(lazyChunks(jobId, n), async (chunk) => {
      await sdk.task.addCollection(jobId, chunk as never);
    });
    return (performance.now() - t0) / 1000;
  } finally {
    await batch.close();
    await emulator.stop();
  }
}
