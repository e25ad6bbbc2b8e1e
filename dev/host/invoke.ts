/**
 * The language worker as the Functions host sees it. In Azure a function that exceeds
 * `functionTimeout` is not merely failed: the host restarts the worker process, so every invocation
 * in flight on it ends with it, whatever function it was running. Handlers here run in the host's own
 * process, so a restart is modelled: every in-flight invocation fails at once (its queue message is
 * released as after any failure, an HTTP caller gets 500), and the code it leaves running is cut off
 * from the outside world — every call it makes through its dependencies (stores, Batch, queues)
 * throws `WorkerRestartedError` — so it ends at its next I/O, as a killed process would have.
 */
export class FunctionTimeoutError extends Error {
  constructor(name: string, ms: number) {
    super(`Timeout value of ${ms} ms exceeded by function '${name}'`);
    this.name = 'FunctionTimeoutError';
  }
}

export class WorkerRestartedError extends Error {
  readonly code = 'WorkerRestarted';
  constructor(reason: string) {
    super(`The language worker was restarted (${reason}); this invocation ended with it`);
    this.name = 'WorkerRestartedError';
  }
}

interface Generation {
  readonly number: number;
  alive: boolean;
  readonly reason: { text: string };
  readonly ends: Set<(e: Error) => void>;
}

export interface Worker<D> {
  /** Runs one invocation on the current worker, under the function timeout. */
  invoke<T>(name: string, run: (deps: D) => Promise<T>): Promise<T>;
  /** Restarts the worker: every invocation in flight ends. */
  restart(reason: string): void;
  /** Restarts so far. */
  readonly restarts: number;
}

export function createWorker<D>(options: {
  readonly deps: () => Promise<D>;
  readonly functionTimeoutMs: number | undefined;
  readonly onRestart?: (reason: string, ended: number) => void;
}): Worker<D> {
  const fresh = (number: number): Generation => ({
    number,
    alive: true,
    reason: { text: '' },
    ends: new Set(),
  });
  let current = fresh(0);
  const guarded = new WeakMap<object, Map<number, unknown>>();

  const restart = (reason: string) => {
    const old = current;
    current = fresh(old.number + 1);
    old.alive = false;
    old.reason.text = reason;
    const error = new WorkerRestartedError(reason);
    for (const end of old.ends) end(error);
    options.onRestart?.(reason, old.ends.size);
    old.ends.clear();
  };

  return {
    get restarts() {
      return current.number;
    },
    restart,
    async invoke(name, run) {
      const generation = current;
      const deps = guard(await options.deps(), generation, guarded);
      let timer: NodeJS.Timeout | undefined;
      let end: ((e: Error) => void) | undefined;
      try {
        return await Promise.race([
          run(deps),
          new Promise<never>((_, reject) => {
            end = reject;
            generation.ends.add(reject);
            if (!generation.alive) reject(new WorkerRestartedError(generation.reason.text));
            if (options.functionTimeoutMs !== undefined) {
              const ms = options.functionTimeoutMs;
              timer = setTimeout(() => {
                // This invocation fails with the timeout; the restart ends every other one.
                generation.ends.delete(reject);
                reject(new FunctionTimeoutError(name, ms));
                if (generation.alive) restart(`function '${name}' exceeded functionTimeout`);
              }, ms);
            }
          }),
        ]);
      } finally {
        clearTimeout(timer);
        if (end) generation.ends.delete(end);
      }
    },
  };
}

/**
 * The dependencies as one generation of the worker sees them: functions (at any depth) throw once
 * that generation has ended. Plain data (settings) passes through.
 */
function guard<D>(deps: D, generation: Generation, cache: WeakMap<object, Map<number, unknown>>): D {
  const wrap = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    let byGeneration = cache.get(value);
    if (!byGeneration) {
      byGeneration = new Map();
      cache.set(value, byGeneration);
    }
    const cached = byGeneration.get(generation.number);
    if (cached) return cached;
    const proxy = new Proxy(value, {
      get(target, key) {
        const member = Reflect.get(target, key, target) as unknown;
        if (typeof member === 'function') {
          return (...args: unknown[]) => {
            if (!generation.alive) throw new WorkerRestartedError(generation.reason.text);
            return (member as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return wrap(member);
      },
    });
    byGeneration.set(generation.number, proxy);
    return proxy;
  };
  return wrap(deps) as D;
}
