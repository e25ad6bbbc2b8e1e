/**
 * The layering rule of ARCHITECTURE.md, checked. The rule is read from ARCHITECTURE.md's rooms table
 * (one row per room: its folder, what it holds, and which rooms it may import), so the page is the
 * single statement of the rule; this module reads every import of the code and reports each one the
 * table does not allow, and every circle between rooms.
 *
 * Imports are read with TypeScript's own pre-processor (`ts.preProcessFile`), which sees static,
 * type-only and dynamic `import()` forms without resolving packages: a regular expression would miss
 * multi-line imports and `import()` in the middle of an expression.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

export interface Room {
  /** Folder relative to the repository root, e.g. `shared/model`. */
  readonly path: string;
  /** Rooms it may import, as folder paths; `*` at the end of one means every room below that folder. */
  readonly mayImport: readonly string[];
}

export interface Violation {
  readonly from: string;
  readonly to: string;
  readonly fromRoom: string;
  readonly toRoom: string;
}

const shortName = (path: string) => path.replace(/^shared\//, '');

/**
 * Reads the rooms table: rows of the form `| \`shared/model\` | what it holds | core, adapters/* |`.
 * In the last column a room of `shared/` is named without `shared/`; `X/*` means every room inside
 * folder X; `—` means none.
 */
export function parseRooms(markdown: string): Room[] {
  const rooms: Room[] = [];
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5) continue; // ['', '`path`', 'holds', 'may import', '']
    const path = /^`([a-z][a-z0-9/-]*)`$/.exec(cells[1] ?? '')?.[1];
    if (!path) continue;
    const mayImport = (cells[cells.length - 2] ?? '')
      .replaceAll('`', '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s !== '—')
      .map(fullName);
    rooms.push({ path, mayImport });
  }
  return rooms;
}

const topLevel = ['shared', 'functions', 'dev', 'scripts', 'bench', 'test'];
function fullName(name: string): string {
  const head = name.split('/')[0]!;
  return topLevel.includes(head) ? name : `shared/${name}`;
}

function expand(mayImport: readonly string[], rooms: readonly Room[]): Set<string> {
  const out = new Set<string>();
  for (const m of mayImport) {
    if (m.endsWith('/*')) {
      for (const r of rooms) if (r.path.startsWith(m.slice(0, -1))) out.add(r.path);
    } else out.add(m);
  }
  return out;
}

/** The room a file belongs to: the deepest room folder containing it. */
export function roomOf(file: string, rooms: readonly Room[]): string | undefined {
  let best: string | undefined;
  for (const r of rooms)
    if ((file === r.path || file.startsWith(`${r.path}/`)) && (!best || r.path.length > best.length))
      best = r.path;
  return best;
}

/** Relative imports of one source text, as repository paths (`.js` specifiers stay as written). */
export function importsOf(file: string, source: string): string[] {
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return (
    importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('./') || name.startsWith('../'))
      .map((name) => posix.normalize(posix.join(posix.dirname(file), name)))
      // Built output mirrors the sources (a fixture that runs without a compiler imports dist/).
      .map((path) => path.replace(/^dist\//, ''))
  );
}

/** Every import between rooms that the table does not allow, and files that belong to no room. */
export function checkLayering(
  files: ReadonlyMap<string, string>,
  rooms: readonly Room[],
): { violations: Violation[]; homeless: string[]; edges: Map<string, Set<string>> } {
  const allowed = new Map(rooms.map((r) => [r.path, expand(r.mayImport, rooms)]));
  const violations: Violation[] = [];
  const homeless: string[] = [];
  const edges = new Map<string, Set<string>>();
  for (const [file, source] of files) {
    const fromRoom = roomOf(file, rooms);
    if (!fromRoom) {
      homeless.push(file);
      continue;
    }
    for (const target of importsOf(file, source)) {
      const toRoom = roomOf(target, rooms);
      if (toRoom === fromRoom) continue;
      if (toRoom) {
        const set = edges.get(fromRoom) ?? new Set<string>();
        set.add(toRoom);
        edges.set(fromRoom, set);
      }
      if (!toRoom || !allowed.get(fromRoom)?.has(toRoom))
        violations.push({ from: file, to: target, fromRoom, toRoom: toRoom ?? '(no room)' });
    }
  }
  return { violations, homeless, edges };
}

/** Circles in a graph of rooms, each as the list of rooms around it (Tarjan's strongly connected components). */
export function findCircles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const circles: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) circles.push(component.reverse());
    }
  };
  const nodes = new Set([...edges.keys(), ...[...edges.values()].flatMap((s) => [...s])]);
  for (const v of [...nodes].sort()) if (!index.has(v)) visit(v);
  return circles;
}

/** The rooms table's own graph (what it allows), so the rule itself can be checked for circles. */
export function allowedGraph(rooms: readonly Room[]): Map<string, Set<string>> {
  return new Map(
    rooms.map((r) => [r.path, new Set([...expand(r.mayImport, rooms)].filter((m) => m !== r.path))]),
  );
}

/** The project's source files (TypeScript and plain JavaScript modules), by repository path. */
export function readSources(root: string, folders: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|mts|cts|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
        out.set(relative(root, full).split(sep).join('/'), readFileSync(full, 'utf8'));
    }
  };
  for (const folder of folders) walk(join(root, folder));
  return out;
}

export function describeViolation(v: Violation): string {
  return `${v.from} imports ${v.to}: ${shortName(v.fromRoom)} may not import ${shortName(v.toRoom)}`;
}

export const repositoryRoot = join(dirname(new URL(import.meta.url).pathname), '..', '..');
