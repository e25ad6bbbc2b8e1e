/**
 * A compute node's disk, in memory, with Batch's directory layout on Linux nodes
 * (learn.microsoft.com/azure/batch/files-and-directories, …/batch-compute-node-environment-variables):
 *
 *   /mnt/batch/tasks                                  AZ_BATCH_NODE_ROOT_DIR
 *   /mnt/batch/tasks/shared                           AZ_BATCH_NODE_SHARED_DIR
 *   /mnt/batch/tasks/startup                          AZ_BATCH_NODE_STARTUP_DIR (start task: stdout.txt, stderr.txt, wd/)
 *   /mnt/batch/tasks/fsmounts/<relativeMountPath>     AZ_BATCH_NODE_MOUNTS_DIR, one directory per mount
 *   /mnt/batch/tasks/workitems/<job>/job-1/<task>     AZ_BATCH_TASK_DIR (stdout.txt, stderr.txt)
 *   /mnt/batch/tasks/workitems/<job>/job-1/<task>/wd  AZ_BATCH_TASK_WORKING_DIR
 *
 * The job preparation and release tasks have their directories there too, named after their ids
 * (default `jobpreparation`, `jobrelease`). Paths are POSIX; times are simulated epoch milliseconds.
 *
 * A mount's directory may be a view of a real directory instead (an Azure Files share the emulator
 * maps to one, host-fs.ts): its entries implement the same shapes, so every operation here and in the
 * shell reaches the real files below it.
 */

export const NODE_ROOT_DIR = '/mnt/batch/tasks';
export const NODE_SHARED_DIR = `${NODE_ROOT_DIR}/shared`;
export const NODE_STARTUP_DIR = `${NODE_ROOT_DIR}/startup`;
export const NODE_MOUNTS_DIR = `${NODE_ROOT_DIR}/fsmounts`;
/** Linux file mode Batch gives downloaded files when `fileMode` is not set (ResourceFile.fileMode). */
export const DEFAULT_FILE_MODE = '0770';

/** A task's directory relative to the node root, as `nodeInfo.taskRootDirectory` reads. */
export function taskRootDirectory(jobId: string, taskId: string): string {
  return `workitems/${jobId}/job-1/${taskId}`;
}

export interface FileEntry {
  readonly kind: 'file';
  data: Buffer;
  readonly created: number;
  modified: number;
  mode: string;
  /** Its length without reading it (a file on the host, host-fs.ts); absent: `data.length`. */
  readonly size?: number;
  /** Appends in place (a file on the host); absent: `data` is replaced by the two joined. */
  append?(data: Buffer, now: number): void;
}

/**
 * A directory's entries by name: a Map for the in-memory disk, or a view of a real directory
 * (host-fs.ts). An entry set into it is stored (written, for a real one); read it back with `get`.
 */
export interface Children extends Iterable<[string, Entry]> {
  get(name: string): Entry | undefined;
  has(name: string): boolean;
  set(name: string, entry: Entry): unknown;
  delete(name: string): boolean;
  clear(): void;
  keys(): IterableIterator<string>;
}

export interface DirEntry {
  readonly kind: 'dir';
  readonly children: Children;
  readonly created: number;
  modified: number;
}

export type Entry = FileEntry | DirEntry;

/** A listed entry: its path relative to the listed directory, '/'-separated. */
export interface Listed {
  readonly path: string;
  readonly entry: Entry;
}

export class FsError extends Error {
  constructor(
    /**
     * EROFS: a write under a read-only bind of a container (container-fs.ts). EACCES: a path of a
     * host-backed share that would leave its directory (host-fs.ts); EIO: any other host failure.
     */
    readonly reason: 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EEXIST' | 'EROFS' | 'EACCES' | 'EIO',
    readonly path: string,
  ) {
    super(`${reason}: ${path}`);
  }
}

const EMPTY = Buffer.alloc(0);

/** A file's length in bytes. */
export function fileSize(entry: FileEntry): number {
  return entry.size ?? entry.data.length;
}

/** `/a/./b/../c` → `/a/c`; a relative path is resolved from `cwd`; `..` stops at the root. */
export function resolvePath(cwd: string, path: string): string {
  const parts: string[] = [];
  for (const seg of (path.startsWith('/') ? path : `${cwd}/${path}`).split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/**
 * What the shell and the glob matcher need of a disk: a node's (NodeFs) or a container's view of it
 * (container-fs.ts). Paths are absolute and resolved.
 */
export interface Disk {
  lookup(path: string): Entry | undefined;
  mkdirp(path: string, now: number): unknown;
  mkdir(path: string, now: number): void;
  writeFile(path: string, data: Buffer, now: number, options?: { append?: boolean; mode?: string }): void;
  readFile(path: string): Buffer;
  remove(path: string, now: number): boolean;
}

export class NodeFs implements Disk {
  private readonly root: DirEntry;
  /** `workitems`, kept at hand: every run creates its directory below it. */
  private workitems?: DirEntry;

  /** `bare`: an empty disk without Batch's layout (a container's own file system). */
  constructor(now: number, options: { bare?: boolean } = {}) {
    this.root = { kind: 'dir', children: new Map(), created: now, modified: now };
    if (options.bare) return;
    for (const dir of [NODE_SHARED_DIR, NODE_STARTUP_DIR, `${NODE_ROOT_DIR}/workitems`])
      this.mkdirp(dir, now);
  }

  /** The entry at an absolute path, if any. */
  lookup(path: string): Entry | undefined {
    let cur: Entry = this.root;
    for (const seg of path.split('/')) {
      if (seg === '') continue;
      if (cur.kind !== 'dir') return undefined;
      const next = cur.children.get(seg);
      if (!next) return undefined;
      cur = next;
    }
    return cur;
  }

  /** Creates the directory and its missing parents; a file in the way is an error. */
  mkdirp(path: string, now: number): DirEntry {
    let cur: DirEntry = this.root;
    let at = '';
    for (const seg of path.split('/')) {
      if (seg === '') continue;
      at += `/${seg}`;
      const next = cur.children.get(seg);
      if (next?.kind === 'file') throw new FsError('ENOTDIR', at);
      if (next) {
        cur = next;
        continue;
      }
      cur.children.set(seg, { kind: 'dir', children: new Map(), created: now, modified: now });
      cur.modified = now;
      // What the directory holds now (a host-backed one stores its own entry).
      cur = cur.children.get(seg) as DirEntry;
    }
    return cur;
  }

  /** A directory's child directory, created if missing; a file in the way is an error. */
  childDir(dir: DirEntry, name: string, now: number): DirEntry {
    const next = dir.children.get(name);
    if (next?.kind === 'dir') return next;
    if (next) throw new FsError('ENOTDIR', name);
    dir.children.set(name, { kind: 'dir', children: new Map(), created: now, modified: now });
    dir.modified = now;
    return dir.children.get(name) as DirEntry;
  }

  /** The directory `workitems/<job>/job-1/<name>`, created if missing (every run's, so kept quick). */
  taskDir(jobId: string, name: string, now: number): DirEntry {
    const r = this.root.children.get('mnt');
    const cached = this.workitems;
    const intact =
      cached !== undefined &&
      r?.kind === 'dir' &&
      (
        (r.children.get('batch') as DirEntry | undefined)?.children.get('tasks') as DirEntry | undefined
      )?.children.get('workitems') === cached;
    const workitems = intact ? cached : this.mkdirp(`${NODE_ROOT_DIR}/workitems`, now);
    this.workitems = workitems;
    return this.childDir(this.childDir(this.childDir(workitems, jobId, now), 'job-1', now), name, now);
  }

  /**
   * Puts a directory entry at `path` (its parents created), replacing what was there: a mount, whose
   * one entry every node of the pool shares, so what a task writes there the others see.
   */
  attach(path: string, entry: DirEntry, now: number): void {
    const parent = this.mkdirp(dirOf(path), now);
    parent.children.set(baseName(path), entry);
    parent.modified = now;
  }

  /** Writes (or appends to) a file in a directory entry. */
  put(
    dir: DirEntry,
    name: string,
    data: Buffer,
    now: number,
    options: { append?: boolean; mode?: string } = {},
  ): void {
    const existing = dir.children.get(name);
    if (existing?.kind === 'dir') throw new FsError('EISDIR', name);
    if (existing) {
      if (options.append && existing.append) existing.append(data, now);
      else
        existing.data =
          options.append && existing.data.length > 0 ? Buffer.concat([existing.data, data]) : data;
      existing.modified = now;
      if (options.mode) existing.mode = options.mode;
      return;
    }
    dir.children.set(name, {
      kind: 'file',
      data: data.length === 0 ? EMPTY : data,
      created: now,
      modified: now,
      mode: options.mode ?? '0644',
    });
    dir.modified = now;
  }

  /** Creates one directory whose parent exists. */
  mkdir(path: string, now: number): void {
    const parent = this.lookup(dirOf(path));
    if (!parent) throw new FsError('ENOENT', path);
    if (parent.kind !== 'dir') throw new FsError('ENOTDIR', path);
    if (parent.children.has(baseName(path))) throw new FsError('EEXIST', path);
    parent.children.set(baseName(path), { kind: 'dir', children: new Map(), created: now, modified: now });
    parent.modified = now;
  }

  /** Writes (or appends to) a file whose parent directory exists. */
  writeFile(
    path: string,
    data: Buffer,
    now: number,
    options: { append?: boolean; mode?: string } = {},
  ): void {
    const parent = this.lookup(dirOf(path));
    if (!parent) throw new FsError('ENOENT', path);
    if (parent.kind !== 'dir') throw new FsError('ENOTDIR', path);
    try {
      this.put(parent, baseName(path), data, now, options);
    } catch (e) {
      throw e instanceof FsError ? new FsError(e.reason, path) : e;
    }
  }

  readFile(path: string): Buffer {
    const entry = this.lookup(path);
    if (!entry) throw new FsError('ENOENT', path);
    if (entry.kind === 'dir') throw new FsError('EISDIR', path);
    return entry.data;
  }

  /** Removes a file or a whole directory tree; false when nothing was there. */
  remove(path: string, now: number): boolean {
    const parent = this.lookup(dirOf(path));
    if (!parent || parent.kind !== 'dir') return false;
    const removed = parent.children.delete(baseName(path));
    if (removed) parent.modified = now;
    return removed;
  }

  /** The entries under a directory, sorted by path; `recursive` walks the subdirectories too. */
  list(path: string, recursive: boolean): Listed[] {
    const dir = this.lookup(path);
    if (!dir) throw new FsError('ENOENT', path);
    if (dir.kind !== 'dir') throw new FsError('ENOTDIR', path);
    const out: Listed[] = [];
    const walk = (d: DirEntry, prefix: string) => {
      for (const name of [...d.children.keys()].sort()) {
        const entry = d.children.get(name)!;
        const rel = prefix ? `${prefix}/${name}` : name;
        out.push({ path: rel, entry });
        if (recursive && entry.kind === 'dir') walk(entry, rel);
      }
    };
    walk(dir, '');
    return out;
  }
}
