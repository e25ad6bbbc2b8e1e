/** One invalid field of a request: where it is (dotted path and JSON pointer) and why. */

export interface FieldError {
  /** Dotted path such as `tasks[3].requiredSlots`; empty for the whole request. */
  readonly field: string;
  /** RFC 6901 JSON pointer to the same place, e.g. `/tasks/3/requiredSlots`. */
  readonly pointer: string;
  readonly message: string;
}

export function fieldError(path: readonly PropertyKey[], message: string): FieldError {
  const field = path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  const pointer = path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
  return { field, pointer, message };
}
