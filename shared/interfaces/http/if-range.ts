/**
 * `If-Range` (RFC 9110 §13.1.5): a client resuming a download sends the validator of the version it
 * has; if the representation changed since, the range is ignored and the whole current one is sent,
 * so a piece of a new file is never appended to the start of an old one.
 */

/**
 * Whether an `If-Range` validator still matches: a strong ETag equal to the current one, or an HTTP
 * date equal to Last-Modified (to the second). No `If-Range` matches; a weak ETag never does.
 */
export function ifRangeMatches(
  header: string | null | undefined,
  current: { readonly etag?: string; readonly lastModified: Date },
): boolean {
  if (!header) return true;
  const value = header.trim();
  if (value.startsWith('"')) return current.etag !== undefined && value === current.etag;
  if (value.startsWith('W/')) return false;
  const date = Date.parse(value);
  return !Number.isNaN(date) && Math.floor(current.lastModified.getTime() / 1000) === date / 1000;
}
