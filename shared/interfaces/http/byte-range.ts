/**
 * The `Range` request header, single byte ranges only (RFC 9110 §14.1.2): `bytes=a-b`, `bytes=a-`,
 * `bytes=-n`. A header this API cannot honour (another unit, several ranges, end before start) is
 * refused with 400 rather than silently ignored, so a caller never mistakes the whole file for a part.
 */
import type { RangeSpec } from '../../usecases/read-task-file.js';

/** Digits only, at most 15 (below 2^53): `Number()` would take `0x10`, `1e3` and spaces. */
const position = /^[0-9]{1,15}$/;

export function parseRangeHeader(value: string | null): RangeSpec | undefined | { error: string } {
  if (value === null) return undefined;
  const m = /^\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*$/i.exec(value);
  if (!m) return { error: 'must be one byte range: bytes=start-end, bytes=start- or bytes=-length' };
  const [, from = '', to = ''] = m;
  if (from === '' && to === '') return { error: 'must name a start or a length' };
  if ((from !== '' && !position.test(from)) || (to !== '' && !position.test(to)))
    return { error: 'has a position out of range' };
  if (from === '') return { kind: 'suffix', length: Number(to) };
  const start = Number(from);
  if (to === '') return { kind: 'from', start };
  const end = Number(to);
  if (end < start) return { error: 'must not end before it starts' };
  return { kind: 'from', start, end };
}

/** `Content-Range` of a part (both ends included) of a file of `size` bytes. */
export function contentRange(start: number, length: number, size: number): string {
  return length === 0 ? `bytes */${size}` : `bytes ${start}-${start + length - 1}/${size}`;
}
