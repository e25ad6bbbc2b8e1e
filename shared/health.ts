/** Dependency health: each probe is timed; the report is 'up' only when every dependency answers. */
import { describeError } from './errors.js';

export interface HealthProbe {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface DependencyHealth {
  readonly name: string;
  readonly status: 'up' | 'down';
  readonly latencyMs: number;
  readonly error?: string;
}

export interface HealthReport {
  readonly status: 'up' | 'down';
  readonly checkedAt: string;
  readonly dependencies: readonly DependencyHealth[];
}

export async function checkHealth(
  probes: readonly HealthProbe[],
  deps: { now: () => Date; monotonicMs: () => number; timeoutMs?: number },
): Promise<HealthReport> {
  const timeoutMs = deps.timeoutMs ?? 3000;
  const dependencies = await Promise.all(
    probes.map(async (probe): Promise<DependencyHealth> => {
      const started = deps.monotonicMs();
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        await probe.check(signal);
        return { name: probe.name, status: 'up', latencyMs: Math.round(deps.monotonicMs() - started) };
      } catch (e) {
        return {
          name: probe.name,
          status: 'down',
          latencyMs: Math.round(deps.monotonicMs() - started),
          error: signal.aborted ? 'timeout' : describeError(e),
        };
      }
    }),
  );
  return {
    status: dependencies.every((d) => d.status === 'up') ? 'up' : 'down',
    checkedAt: deps.now().toISOString(),
    dependencies,
  };
}
