/**
 * The timer trigger: six-field NCRONTAB schedules (croner), `runOnStartup`, never two runs of one
 * timer at once, the next run computed from "now" after each run, and the schedule monitor: status
 * `{ Last, Next, LastUpdated }` kept in blob `azure-webjobs-hosts/timers/{hostId}/{name}/status`, so a
 * host that was down when a run was due makes one catch-up run with `isPastDue: true`. The monitor is
 * off for schedules that fire more often than once a minute, as in the host.
 */
import { randomUUID } from 'node:crypto';
import azureFunctions, { type Timer } from '@azure/functions';
import type { ContainerClient } from '@azure/storage-blob';
import { Cron } from 'croner';
import type { TimerFunction } from '../../functions/definition.js';
import { HostConfigError } from './config.js';
import type { Worker } from './invoke.js';
import { type HostLogger, invocationLogHandler } from './logger.js';

export interface TimerRunner {
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface ScheduleStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

export function compileSchedule(expression: string, functionName: string): Cron {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new HostConfigError(
      'function table',
      `${functionName}.schedule`,
      `'${expression}' was not recognized as a valid cron expression`,
    );
  }
  try {
    // NCRONTAB: seconds first when six fields; croner reads six-field patterns the same way.
    return new Cron(expression, { paused: true, timezone: 'UTC' });
  } catch (e) {
    throw new HostConfigError(
      'function table',
      `${functionName}.schedule`,
      `'${expression}' was not recognized as a valid cron expression (${(e as Error).message})`,
    );
  }
}

/** True when two consecutive occurrences are less than a minute apart (the host then skips the monitor). */
export function firesMoreThanOncePerMinute(cron: Cron, from: Date): boolean {
  const [a, b] = cron.nextRuns(2, from);
  return a !== undefined && b !== undefined && b.getTime() - a.getTime() < 60_000;
}

export function createTimerRunner<D>(options: {
  fn: TimerFunction<D>;
  schedule: string;
  hostId: string;
  monitor: ContainerClient | undefined;
  worker: Worker<D>;
  logger: HostLogger;
  inFlight: { add(p: Promise<unknown>): void };
  now?: () => Date;
}): TimerRunner {
  const { fn, logger } = options;
  const now = options.now ?? (() => new Date());
  const cron = compileSchedule(options.schedule, fn.name);
  const useMonitor =
    (fn.useMonitor ?? true) && options.monitor !== undefined && !firesMoreThanOncePerMinute(cron, now());
  const blob = useMonitor
    ? options.monitor!.getBlockBlobClient(`timers/${options.hostId}/${fn.name}/status`)
    : undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let lastStatus: ScheduleStatus | undefined;

  async function readStatus(): Promise<ScheduleStatus | undefined> {
    if (!blob) return undefined;
    try {
      const buffer = await blob.downloadToBuffer();
      return JSON.parse(buffer.toString('utf8')) as ScheduleStatus;
    } catch {
      return undefined;
    }
  }

  async function writeStatus(status: ScheduleStatus): Promise<void> {
    lastStatus = status;
    if (!blob) return;
    const text = JSON.stringify(status);
    await blob
      .upload(text, Buffer.byteLength(text))
      .catch((e: unknown) =>
        logger.log(
          'warning',
          `Host.Timers`,
          `Could not save the schedule status of ${fn.name}: ${(e as Error).message}`,
        ),
      );
  }

  async function invoke(isPastDue: boolean, scheduled: Date): Promise<void> {
    if (running || stopped) return; // never two runs of one timer at once
    const invocationId = randomUUID();
    let done = false;
    const next = cron.nextRun(now()) ?? scheduled;
    const timerInput: Timer = {
      schedule: { adjustForDST: true },
      scheduleStatus: lastStatus
        ? { last: lastStatus.Last, next: lastStatus.Next, lastUpdated: lastStatus.LastUpdated }
        : (undefined as unknown as Timer['scheduleStatus']),
      isPastDue,
    };
    const context = new azureFunctions.InvocationContext({
      invocationId,
      functionName: fn.name,
      logHandler: invocationLogHandler(logger, fn.name, invocationId, () => done),
    });
    logger.log(
      'information',
      `Function.${fn.name}`,
      `Executing (Reason='Timer fired at ${now().toISOString()}', Id=${invocationId})`,
    );
    running = (async () => {
      try {
        await options.worker.invoke(fn.name, (deps) => fn.handler(timerInput, context, deps));
        logger.log('information', `Function.${fn.name}`, `Executed (Succeeded, Id=${invocationId})`);
      } catch (e) {
        logger.log(
          'error',
          `Function.${fn.name}`,
          `Executed (Failed, Id=${invocationId}): ${(e as Error).stack ?? String(e)}`,
        );
      } finally {
        done = true;
        await writeStatus({
          Last: scheduled.toISOString(),
          Next: next.toISOString(),
          LastUpdated: now().toISOString(),
        });
      }
    })();
    options.inFlight.add(running);
    await running;
    running = undefined;
  }

  function scheduleNext(): void {
    if (stopped) return;
    const next = cron.nextRun(now());
    if (!next) return;
    // setTimeout caps at ~24.8 days; re-arm in steps for schedules further out.
    const delay = Math.min(next.getTime() - now().getTime(), 2 ** 31 - 1);
    timer = setTimeout(
      () => {
        if (now().getTime() + 5 < next.getTime()) {
          scheduleNext();
          return;
        }
        void invoke(false, next).finally(scheduleNext);
      },
      Math.max(0, delay),
    );
  }

  return {
    async start() {
      lastStatus = await readStatus();
      const pastDue = lastStatus !== undefined && Date.parse(lastStatus.Next) < now().getTime();
      if (pastDue) {
        await invoke(true, new Date(Date.parse(lastStatus!.Next)));
      } else if (fn.runOnStartup) {
        await invoke(false, now());
      } else if (useMonitor && !lastStatus) {
        const first = cron.nextRun(now());
        if (first)
          await writeStatus({
            Last: now().toISOString(),
            Next: first.toISOString(),
            LastUpdated: now().toISOString(),
          });
      }
      scheduleNext();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
