/**
 * A directory of the machine the emulator runs on, seen as a subtree of a node's disk (node-fs.ts):
 * what backs an Azure Files mount the emulator was told to map (file-shares.ts), so a task's
 * `echo > $AZ_BATCH_NODE_MOUNTS_DIR/<share>/a.txt` writes a real file and a file put in the directory
 * is read by tasks, on every node, as an SMB share is shared (learn.microsoft.com/azure/batch/
 * virtual-file-mount: one share mounted on each node of the pool).
 *
 * The entries are views, not copies: each read or write goes to the file system (synchronously, as
 * the shell runs), so what a node or the host changed is what the next operation sees. A path never
 * leaves the directory: names are single segments (`..` was resolved away by the node's disk and is
 * refused here too), and every path is resolved with its symbolic links (realpath) and refused
 * (EACCES, "Permission denied") when it ends outside; a link leading outside or nowhere is not listed
 * and cannot be read through or written through. Times a node writes are its simulated clock's (as
 * every file of the node's disk), so `touch` and listings agree with the emulator's time; a file the
 * host writes keeps the host's times. A file's mode is the host file's; other kinds of files (sockets,
 * devices, fifos) are not shown.
 */
import {
  appendFileSync,
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  type Stats,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, sep } from 'node:path';
import { type Children, type DirEntry, type Entry, type FileEntry, FsError } from './node-fs.js';

type Reason = FsError['reason'];

const FS_REASONS: Record<string, Reason> = {
  ENOENT: 'ENOENT',
  ENOTDIR: 'ENOTDIR',
  EISDIR: 'EISDIR',
  EEXIST: 'EEXIST',
  ENOTEMPTY: 'EEXIST',
  EACCES: 'EACCES',
  EPERM: 'EACCES',
  EROFS: 'EROFS',
};

/** Runs a file system call, turning its failure into the node disk's error for `path`. */
function attempt<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FsError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new FsError(FS_REASONS[code] ?? 'EIO', path);
  }
}

/** Whether a call succeeds; its value, or undefined (a read that finds nothing usable). */
function quietly<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** One segment of a path: never `..` (nor a separator, so never a path). */
const validName = (name: string) =>
  name !== '' &&
  name !== '.' &&
  name !== '..' &&
  !name.includes('/') &&
  !name.includes('\0') &&
  (sep === '/' || !name.includes(sep));

/** A host directory and the paths below it, each checked to stay inside. */
export class HostTree {
  /** The directory's real path (symbolic links resolved), fixed when the tree is made. */
  readonly root: string;

  /** `hostPath` must be an existing directory (its realpath is the root). */
  constructor(hostPath: string) {
    this.root = realpathSync.native(hostPath);
    if (!statSync(this.root).isDirectory()) throw new FsError('ENOTDIR', hostPath);
  }

  private inside(real: string): boolean {
    return real === this.root || real.startsWith(this.root.endsWith(sep) ? this.root : `${this.root}${sep}`);
  }

  /** The real path of `rel` ('/'-separated below the root) if it exists inside the root. */
  real(rel: string): string | undefined {
    let real: string;
    try {
      real = realpathSync.native(rel === '' ? this.root : join(this.root, rel));
    } catch {
      return undefined;
    }
    return this.inside(real) ? real : undefined;
  }

  /** The real path of an existing `rel`: missing is ENOENT, outside the root EACCES. */
  existing(rel: string): string {
    const real = this.real(rel);
    if (real !== undefined) return real;
    const there = quietly(() => lstatSync(rel === '' ? this.root : join(this.root, rel)));
    throw new FsError(there ? 'EACCES' : 'ENOENT', rel);
  }

  /**
   * Where to write `name` in directory `dirRel`: the directory must exist inside, and a name that is
   * a symbolic link must lead to an existing path inside (a dangling one would create its target
   * wherever it points).
   */
  target(dirRel: string, name: string): string {
    if (!validName(name)) throw new FsError('EACCES', name);
    const dir = this.existing(dirRel);
    const path = join(dir, name);
    const link = quietly(() => lstatSync(path));
    if (!link?.isSymbolicLink()) return path;
    const real = this.real(childOf(dirRel, name));
    if (real === undefined) throw new FsError('EACCES', name);
    return real;
  }

  /** The entry at `rel`, when it exists inside and is a file or a directory. */
  entry(rel: string): Entry | undefined {
    const real = this.real(rel);
    if (real === undefined) return undefined;
    const st = quietly(() => statSync(real));
    if (st?.isDirectory()) return new HostDir(this, rel);
    if (st?.isFile()) return new HostFile(this, rel);
    return undefined;
  }

  /** The directory itself, as the entry a node's disk puts at the mount path. */
  top(): DirEntry {
    return new HostDir(this, '');
  }
}

const childOf = (rel: string, name: string) => (rel === '' ? name : `${rel}/${name}`);

function created(st: Stats): number {
  return st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
}

/** Sets a path's modification time to a simulated instant (its access time too). */
function stamp(path: string, at: number): void {
  attempt(path, () => utimesSync(path, at / 1000, at / 1000));
}

/** Writes an entry (a node's file or directory, in memory or another view) at `path`. */
function store(tree: HostTree, dirRel: string, name: string, entry: Entry): void {
  const path = tree.target(dirRel, name);
  const rel = childOf(dirRel, name);
  const there = quietly(() => statSync(path));
  if (entry.kind === 'file') {
    if (there?.isDirectory()) throw new FsError('EISDIR', rel);
    const mode = Number.parseInt(entry.mode, 8);
    attempt(rel, () => writeFileSync(path, entry.data, Number.isNaN(mode) ? {} : { mode }));
    stamp(path, entry.modified);
    return;
  }
  if (there && !there.isDirectory()) throw new FsError('ENOTDIR', rel);
  if (!there) attempt(rel, () => mkdirSync(path));
  const into = new HostChildren(tree, rel);
  for (const [childName, child] of [...entry.children]) into.set(childName, child);
  stamp(path, entry.modified);
}

class HostChildren implements Children {
  constructor(
    private readonly tree: HostTree,
    private readonly rel: string,
  ) {}

  private names(): string[] {
    const dir = this.tree.real(this.rel);
    // A directory that cannot be read lists as empty, as the node's own disk never fails to list.
    return dir === undefined ? [] : (quietly(() => readdirSync(dir)) ?? []);
  }

  get(name: string): Entry | undefined {
    return validName(name) ? this.tree.entry(childOf(this.rel, name)) : undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, entry: Entry): this {
    store(this.tree, this.rel, name, entry);
    return this;
  }

  delete(name: string): boolean {
    if (!validName(name)) return false;
    const dir = this.tree.real(this.rel);
    if (dir === undefined) return false;
    const path = join(dir, name);
    // A link is removed itself, never what it points to.
    if (!quietly(() => lstatSync(path))) return false;
    attempt(childOf(this.rel, name), () => rmSync(path, { recursive: true, force: true }));
    return true;
  }

  clear(): void {
    for (const name of this.names()) this.delete(name);
  }

  /** The names of the files and directories listed (a snapshot taken when iteration starts). */
  *keys(): IterableIterator<string> {
    for (const name of this.names()) if (this.get(name) !== undefined) yield name;
  }

  *[Symbol.iterator](): IterableIterator<[string, Entry]> {
    for (const name of this.names()) {
      const entry = this.get(name);
      if (entry) yield [name, entry];
    }
  }
}

class HostDir implements DirEntry {
  readonly kind = 'dir';
  readonly children: Children;

  constructor(
    private readonly tree: HostTree,
    private readonly rel: string,
  ) {
    this.children = new HostChildren(tree, rel);
  }

  private stat(): Stats {
    const path = this.tree.existing(this.rel);
    return attempt(this.rel, () => statSync(path));
  }

  get created(): number {
    return created(this.stat());
  }

  get modified(): number {
    return this.stat().mtimeMs;
  }

  set modified(at: number) {
    stamp(this.tree.existing(this.rel), at);
  }
}

class HostFile implements FileEntry {
  readonly kind = 'file';

  constructor(
    private readonly tree: HostTree,
    private readonly rel: string,
  ) {}

  private path(): string {
    return this.tree.existing(this.rel);
  }

  private stat(): Stats {
    const path = this.path();
    return attempt(this.rel, () => statSync(path));
  }

  /** Where a write goes: the file, or its name in its directory when it went away meanwhile. */
  private writable(): string {
    const cut = this.rel.lastIndexOf('/');
    return this.tree.target(cut < 0 ? '' : this.rel.slice(0, cut), this.rel.slice(cut + 1));
  }

  get data(): Buffer {
    const path = this.path();
    return attempt(this.rel, () => readFileSync(path));
  }

  set data(data: Buffer) {
    const path = this.writable();
    attempt(this.rel, () => writeFileSync(path, data));
  }

  get size(): number {
    return this.stat().size;
  }

  append(data: Buffer, now: number): void {
    const path = this.writable();
    attempt(this.rel, () => appendFileSync(path, data));
    stamp(path, now);
  }

  get created(): number {
    return created(this.stat());
  }

  get modified(): number {
    return this.stat().mtimeMs;
  }

  set modified(at: number) {
    stamp(this.path(), at);
  }

  get mode(): string {
    return (this.stat().mode & 0o7777).toString(8).padStart(4, '0');
  }

  set mode(mode: string) {
    const bits = Number.parseInt(mode, 8);
    const path = this.path();
    if (!Number.isNaN(bits)) attempt(this.rel, () => chmodSync(path, bits));
  }
}
