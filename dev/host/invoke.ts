/** Runs a handler with the host's function timeout: a timed-out invocation fails. */
export class FunctionTimeoutError extends Error {
  constructor(name: string, ms: number) {
    super(`Timeout value of ${ms} ms exceeded by function '${name}'`);
    this.name = 'FunctionTimeoutError';
  }
}

export async function withTimeout<T>(
  name: string,
  ms: number | undefined,
  run: () => Promise<T>,
): Promise<T> {
  if (ms === undefined) return run();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new FunctionTimeoutError(name, ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
