/**
 * A container's view of a node's disk, for `docker run` in the shell (shell.ts): each bind
 * (`-v host:container[:ro]`) shows the node's entry at `host` under the container path; every other
 * path is the container's own file system, an empty disk of its own that is thrown away with the
 * container (`--rm`), so nothing outside a bind reaches the node's disk, as with Docker.
 *
 * As in Docker: the longest bind holding a path wins (nested binds), a missing host path of a bind
 * is created as a directory (`-v` does that; `--mount` would refuse), mount points appear in their
 * parent's listing, and a write under a read-only bind fails (EROFS, "Read-only file system").
 * Removing a mount point itself empties it (Docker's `rm -rf` empties it and then fails with EBUSY on
 * the mount point; the emulator keeps the empty directory and does not fail).
 */
import { type Disk, type Entry, FsError, NodeFs, resolvePath } from './node-fs.js';

export interface Bind {
  /** Absolute path on the node. */
  readonly host: string;
  /** Absolute path in the container. */
  readonly container: string;
  readonly readOnly: boolean;
}

interface Resolved {
  readonly disk: Disk;
  readonly path: string;
  readonly readOnly: boolean;
  /** The bind's container path when `path` is its mount point itself. */
  readonly mountPoint: boolean;
}

const IMAGE_DIRS = [
  '/bin',
  '/etc',
  '/home',
  '/opt',
  '/root',
  '/tmp',
  '/usr/bin',
  '/usr/local/bin',
  '/var/tmp',
];

const under = (path: string, dir: string) => path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);

export class ContainerFs implements Disk {
  private readonly own: NodeFs;
  /** Longest container path first, so nested binds win. */
  private readonly binds: readonly Bind[];

  constructor(
    private readonly host: Disk,
    binds: readonly Bind[],
    now: number,
  ) {
    this.own = new NodeFs(now, { bare: true });
    // The folders every Linux image has (the image's own files are not known: programs run anyway).
    for (const dir of IMAGE_DIRS) this.own.mkdirp(dir, now);
    this.binds = [...binds].sort((a, b) => b.container.length - a.container.length);
    for (const b of binds) {
      if (!host.lookup(b.host)) host.mkdirp(b.host, now);
      // The mount point, so a listing of its parent shows it.
      const entry = host.lookup(b.host);
      if (entry?.kind === 'file') {
        this.own.mkdirp(b.container.slice(0, b.container.lastIndexOf('/')) || '/', now);
        if (!this.own.lookup(b.container)) this.own.writeFile(b.container, Buffer.alloc(0), now);
      } else this.own.mkdirp(b.container, now);
    }
  }

  private resolve(given: string): Resolved {
    const path = resolvePath('/', given);
    for (const b of this.binds) {
      if (!under(path, b.container)) continue;
      return {
        disk: this.host,
        path: `${b.host}${path.slice(b.container.length)}`,
        readOnly: b.readOnly,
        mountPoint: path === b.container,
      };
    }
    return { disk: this.own, path, readOnly: false, mountPoint: false };
  }

  private writable(given: string): Resolved {
    const r = this.resolve(given);
    if (r.readOnly) throw new FsError('EROFS', given);
    return r;
  }

  /** Whether a container path falls under a bind (so the node's disk knows what is there). */
  bound(path: string): boolean {
    return this.resolve(path).disk === this.host;
  }

  lookup(path: string): Entry | undefined {
    const r = this.resolve(path);
    return r.disk.lookup(r.path);
  }

  mkdirp(path: string, now: number): void {
    const r = this.resolve(path);
    if (r.disk.lookup(r.path)?.kind === 'dir') return;
    if (r.readOnly) throw new FsError('EROFS', path);
    // Each missing level is created on the disk that holds it, so a bind below keeps its place.
    let at = '';
    for (const seg of resolvePath('/', path).split('/').filter(Boolean)) {
      at += `/${seg}`;
      const level = this.resolve(at);
      const entry = level.disk.lookup(level.path);
      if (entry?.kind === 'file') throw new FsError('ENOTDIR', at);
      if (!entry) this.writable(at).disk.mkdirp(level.path, now);
    }
  }

  mkdir(path: string, now: number): void {
    const r = this.writable(path);
    r.disk.mkdir(r.path, now);
  }

  writeFile(path: string, data: Buffer, now: number, options?: { append?: boolean; mode?: string }): void {
    const r = this.writable(path);
    r.disk.writeFile(r.path, data, now, options);
  }

  readFile(path: string): Buffer {
    const r = this.resolve(path);
    return r.disk.readFile(r.path);
  }

  remove(path: string, now: number): boolean {
    const r = this.writable(path);
    if (!r.mountPoint) return r.disk.remove(r.path, now);
    const entry = r.disk.lookup(r.path);
    if (entry?.kind === 'dir') {
      entry.children.clear();
      entry.modified = now;
    }
    return entry !== undefined;
  }
}
