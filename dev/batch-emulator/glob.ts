/**
 * Wildcards as Batch reads an output file's `filePattern` (OutputFile.filePattern in the data-plane
 * spec): `*` any run of characters within a name, `**` any number of directories, `?` one character,
 * `[abc]` / `[a-c]` / `[!abc]` one character of (or not of) a set; a wildcard never matches a name
 * starting with `.` unless the pattern segment starts with `.` itself; a wildcard character is
 * escaped by brackets (`abc[*]`). The shell's globbing uses the same matcher.
 */
import { segmentRegExp } from '../../shared/model/file-pattern.js';
import { type Disk, type Entry, resolvePath } from './node-fs.js';

export const hasWildcard = (segment: string): boolean => /[*?[]/.test(segment);

export { segmentRegExp };

export interface GlobMatch {
  /** Absolute path on the node. */
  readonly path: string;
  /** Path relative to the pattern's base directory (its segments before the first wildcard). */
  readonly relative: string;
  readonly entry: Entry;
}

/**
 * The entries a pattern matches, resolved from `cwd`, sorted by path. `filesOnly` leaves directories
 * out (output files upload files, never directories).
 */
export function glob(fs: Disk, cwd: string, pattern: string, filesOnly: boolean): GlobMatch[] {
  const segments = pattern.split('/');
  const absolute = pattern.startsWith('/');
  const firstWild = segments.findIndex(hasWildcard);
  if (firstWild < 0) {
    const path = resolvePath(cwd, pattern);
    const entry = fs.lookup(path);
    if (!entry || (filesOnly && entry.kind === 'dir')) return [];
    return [{ path, relative: path.slice(path.lastIndexOf('/') + 1), entry }];
  }
  const baseText = segments.slice(0, firstWild).join('/');
  const base = resolvePath(cwd, absolute && baseText === '' ? '/' : baseText || '.');
  const rest = segments.slice(firstWild).filter((s) => s !== '' && s !== '.');
  const out: GlobMatch[] = [];
  const seen = new Set<string>();
  const walk = (dirPath: string, rel: string, i: number) => {
    const dir = fs.lookup(dirPath);
    if (!dir || dir.kind !== 'dir') return;
    if (i === rest.length) return;
    const seg = rest[i]!;
    if (seg === '**') {
      // Zero directories, then each (non-hidden) subdirectory with `**` still in force.
      walk(dirPath, rel, i + 1);
      for (const [name, child] of dir.children) {
        if (child.kind === 'dir' && !name.startsWith('.'))
          walk(`${dirPath === '/' ? '' : dirPath}/${name}`, rel ? `${rel}/${name}` : name, i);
      }
      return;
    }
    const re = segmentRegExp(seg);
    const last = i === rest.length - 1;
    for (const [name, child] of dir.children) {
      if (name.startsWith('.') && !seg.startsWith('.')) continue;
      if (!re.test(name)) continue;
      const path = `${dirPath === '/' ? '' : dirPath}/${name}`;
      const childRel = rel ? `${rel}/${name}` : name;
      if (last) {
        if ((filesOnly && child.kind === 'dir') || seen.has(path)) continue;
        seen.add(path);
        out.push({ path, relative: childRel, entry: child });
      } else if (child.kind === 'dir') walk(path, childRel, i + 1);
    }
  };
  walk(base, '', 0);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
