/** Host and invocation logs: one line each, with the function name and invocation id. */
import { format } from 'node:util';

export type Level = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical';

export interface HostLogger {
  log(level: Level, category: string, message: string): void;
}

export function consoleLogger(minimum: Level = 'information'): HostLogger {
  const order: Level[] = ['trace', 'debug', 'information', 'warning', 'error', 'critical'];
  return {
    log(level, category, message) {
      if (order.indexOf(level) < order.indexOf(minimum)) return;
      const line = `[${new Date().toISOString()}] ${level.toUpperCase().padEnd(11)} ${category}: ${message}`;
      (level === 'error' || level === 'critical' || level === 'warning'
        ? process.stderr
        : process.stdout
      ).write(`${line}\n`);
    },
  };
}

/** The `context.log` handler for one invocation. */
export function invocationLogHandler(
  logger: HostLogger,
  functionName: string,
  invocationId: string,
  isDone: () => boolean,
) {
  return (level: string, ...args: unknown[]) => {
    const mapped: Level =
      level === 'warning' ||
      level === 'error' ||
      level === 'critical' ||
      level === 'debug' ||
      level === 'trace'
        ? level
        : 'information';
    if (isDone()) {
      logger.log(
        'warning',
        `Function.${functionName}`,
        `Unexpected call to 'log' after the invocation ${invocationId} completed`,
      );
    }
    logger.log(mapped, `Function.${functionName}`, `(Id=${invocationId}) ${format(...args)}`);
  };
}
