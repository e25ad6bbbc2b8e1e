/**
 * One error base with a stable `code`. Callers match on `code`, never on message text, and the
 * `retryable` tag decides whether a queue message is released for another attempt or the work is
 * failed for good.
 */
export class SlotwiseError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SlotwiseError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * A short, safe description of anything thrown, for logs and stored errors: the stable code when
 * there is one, else the error's class name. Messages are left out on purpose: SDK errors can quote
 * URLs, connection strings or bodies.
 */
export function describeError(thrown: unknown): string {
  if (thrown instanceof SlotwiseError) return thrown.code;
  if (typeof thrown === 'object' && thrown !== null) {
    const code = (thrown as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') return String(code);
    const name = (thrown as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return typeof thrown;
}
