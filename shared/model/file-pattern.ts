/**
 * Wildcards as Batch reads an output file's `filePattern` (OutputFile.filePattern in the data-plane
 * spec): `*` any run of characters within a name, `?` one character, `[abc]` / `[a-c]` / `[!abc]` one
 * character of (or not of) a set. Shared by the TES run report (which outputs Batch uploads) and the
 * Batch emulator's matcher, so both read a pattern the same way.
 */

/** One path segment's pattern (anything but `**`) as a regular expression. */
export function segmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
