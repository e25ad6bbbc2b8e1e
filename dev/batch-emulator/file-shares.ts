/**
 * Azure Files shares backed by directories of the emulator's machine. A mapping `{ accountName,
 * shareName, hostPath }` (the start option `fileShares`, or `POST /_emulator/file-shares`) makes every
 * node of a pool whose `mountConfiguration` has an `azureFileShareConfiguration` with `azureFileUrl`
 * `https://<accountName>.file.core.windows.net/<shareName>` see the directory's real files at
 * `$AZ_BATCH_NODE_MOUNTS_DIR/<relativeMountPath>` (host-fs.ts), all nodes the same files, as Batch
 * mounts one SMB share on each node (learn.microsoft.com/azure/batch/virtual-file-mount). A share
 * without a mapping stays what it was: a directory in the emulator's memory that the nodes mounting it
 * share, gone with the emulator.
 *
 * Mappings are the emulator's configuration, not the account's: `POST /_emulator/reset` keeps them.
 * Posting the same mapping again changes nothing; posting another directory for a share replaces it,
 * and nodes that already mount the share see the new directory at once (as does removing a mapping:
 * they see the in-memory directory again).
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { HostTree } from './host-fs.js';
import type { NodeRec } from './model.js';
import { baseName, type DirEntry, FsError, NODE_MOUNTS_DIR } from './node-fs.js';
import { type MountPoint, mountPoints } from './pool-features.js';
import type { AccountState } from './state.js';

export interface FileShareMapping {
  readonly accountName: string;
  readonly shareName: string;
  /** An absolute path of an existing directory on the emulator's machine. */
  readonly hostPath: string;
}

/** A mapping in force: the directory behind it, one entry every node attaches. */
export interface FileShareMount {
  readonly mapping: FileShareMapping;
  readonly tree: HostTree;
  readonly entry: DirEntry;
}

/**
 * The names Azure Storage accepts (learn.microsoft.com/azure/storage/common/storage-account-overview
 * #storage-account-name: 3 to 24 lower-case letters and digits; learn.microsoft.com/rest/api/
 * storageservices/naming-and-referencing-shares--directories--files--and-metadata: a share is 3 to 63
 * lower-case letters, digits and hyphens, starting and ending with a letter or digit, no two hyphens
 * in a row). Host names are case-insensitive, so the names are read in lower case.
 */
export const fileShareSchema = z
  .object({
    accountName: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(
        z
          .string()
          .regex(/^[a-z0-9]{3,24}$/, 'a storage account name is 3 to 24 lower-case letters and digits'),
      ),
    shareName: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(
        z
          .string()
          .regex(
            /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
            'a share name is 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit',
          ),
      ),
    hostPath: z
      .string()
      .refine((p) => isAbsolute(p), 'must be an absolute path')
      .refine((p) => !p.includes('\0'), 'must not hold a NUL character'),
  })
  .strict();

/** A mapping whose host directory is not usable. */
export class FileShareError extends Error {}

const keyOf = (accountName: string, shareName: string) =>
  `${accountName.toLowerCase()}/${shareName.toLowerCase()}`;

/** The directory behind a checked mapping; a path that is not an existing directory is refused. */
function treeOf(mapping: FileShareMapping): HostTree {
  try {
    return new HostTree(mapping.hostPath);
  } catch (e) {
    const why =
      e instanceof FsError && e.reason === 'ENOTDIR'
        ? 'is not a directory'
        : (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'does not exist'
          : 'cannot be read';
    throw new FileShareError(`hostPath: '${mapping.hostPath}' ${why}`);
  }
}

/** The mappings in force, in the order they were made. */
export function listFileShares(s: AccountState): FileShareMapping[] {
  return [...s.fileShares.values()].map((m) => m.mapping);
}

/** Maps a share to a directory (a checked mapping; FileShareError when the directory is not usable). */
export function mapFileShare(s: AccountState, mapping: FileShareMapping, at: number): void {
  const key = keyOf(mapping.accountName, mapping.shareName);
  const existing = s.fileShares.get(key);
  if (existing && existing.mapping.hostPath === mapping.hostPath) return;
  const tree = treeOf(mapping);
  s.fileShares.set(key, { mapping, tree, entry: tree.top() });
  reattach(s, key, at);
}

/** Removes a mapping; false when there was none. */
export function unmapFileShare(s: AccountState, accountName: string, shareName: string, at: number): boolean {
  const key = keyOf(accountName, shareName);
  if (!s.fileShares.delete(key)) return false;
  reattach(s, key, at);
  return true;
}

/** The storage a node attaches for a mount: the mapped directory, else the in-memory one of its source. */
export function mountStorage(s: AccountState, m: MountPoint, at: number): DirEntry {
  const mapped = m.fileShare && s.fileShares.get(keyOf(m.fileShare.accountName, m.fileShare.shareName));
  if (mapped) return mapped.entry;
  let entry = s.mounts.get(m.source);
  if (!entry) {
    entry = { kind: 'dir', children: new Map(), created: at, modified: at };
    s.mounts.set(m.source, entry);
  }
  return entry;
}

/** Each mount's storage at its relative mount path on the node. */
export function attachMounts(s: AccountState, node: NodeRec, at: number): void {
  for (const m of mountPoints(node.pool.body))
    node.fs.attach(`${NODE_MOUNTS_DIR}/${m.relativeMountPath}`, mountStorage(s, m, at), at);
}

/** Nodes that already mount the share see what it maps to now. */
function reattach(s: AccountState, key: string, at: number): void {
  for (const pool of s.pools.values()) {
    const mounts = mountPoints(pool.body).filter(
      (m) => m.fileShare && keyOf(m.fileShare.accountName, m.fileShare.shareName) === key,
    );
    if (mounts.length === 0) continue;
    for (const node of pool.nodes.values())
      for (const m of mounts) {
        const path = `${NODE_MOUNTS_DIR}/${m.relativeMountPath}`;
        // Attached already (its parent holds it, whatever the directory behind it holds now).
        const parent = node.fs.lookup(path.slice(0, path.lastIndexOf('/')));
        if (parent?.kind === 'dir' && parent.children.has(baseName(path)))
          node.fs.attach(path, mountStorage(s, m, at), at);
      }
  }
}
