/** Dependency health: each probe is timed; the report is 'up' only when every dependency answers. */
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
        // Only the error's class/code is reported: messages of SDK errors can carry URLs with keys.
        return {
          name: probe.name,
          status: 'down',
          latencyMs: Math.round(deps.monotonicMs() - started),
          error: describeFailure(e, signal),
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

function describeFailure(e: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'timeout';
  if (typeof e === 'object' && e !== null) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') return String(code);
    const name = (e as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'error';
}
