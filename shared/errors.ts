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

/** Normalises anything thrown into an Error, keeping the original as `cause`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `Non-error thrown: ${safeDescribe(thrown)}`, {
    cause: thrown,
  });
}

function safeDescribe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
