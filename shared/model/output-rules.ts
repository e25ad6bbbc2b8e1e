/**
 * Rules for the storage names a job request may carry: output file patterns, blob paths and prefixes
 * in the results store, and the caller's own container URLs. Each rule returns why a value is refused,
 * or undefined; the schema (request-schema.ts) and the cross-field checks (validate-outputs.ts) name
 * the field.
 *
 * Sources: Batch's OutputFile (`filePattern`, `destination.container.path`) and ResourceFile
 * (`blobPrefix`) in Azure/azure-rest-api-specs specification/batch/Azure.Batch/models.tsp; Blob
 * storage's naming rules ("Naming and Referencing Containers, Blobs, and Metadata": container names
 * 3–63 lowercase letters, digits and single hyphens; blob names ≤ 1,024 characters and ≤ 254 path
 * segments, not ending in a dot).
 */

/** The longest blob name Blob storage accepts. */
export const MAX_BLOB_NAME_LENGTH = 1024;
/**
 * Paths in the results store are written under the job's folder `<jobId>/` (≤ 64 + 1 characters),
 * so a path the caller gives may take what is left.
 */
export const MAX_RESULTS_PATH_LENGTH = MAX_BLOB_NAME_LENGTH - 65;
/** The folder of a task's logs (Azure Batch File Conventions); no caller path may write into one. */
export const TASK_LOG_FOLDER = '$TaskLog';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
export const CONTROL = /[\u0000-\u001f\u007f]/;

/** Batch's wildcards: `*`, `**`, `?` and bracket sets `[abc]`, `[a-c]`, `[!abc]`. */
export function hasWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** The last segment of a pattern or path (`../stdout.txt` → `stdout.txt`). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * An output file pattern, relative to the task's working directory. One leading `../` reaches the
 * task's own directory (where `stdout.txt` and `stderr.txt` are); nothing reaches further: the upload
 * runs as Batch's node agent, not as the task's user, so an absolute path, a `..` elsewhere or an
 * environment variable (Batch expands `$VAR` and `%VAR%` before matching) could copy files of other
 * tasks on a shared node.
 */
export function filePatternProblem(pattern: string): string | undefined {
  if (pattern === '') return undefined; // the schema's own minimum says so
  if (CONTROL.test(pattern)) return 'must not contain control characters';
  if (pattern.includes('\\')) return 'must use / between folders, not \\';
  if (pattern.startsWith('/') || /^[A-Za-z]:/.test(pattern))
    return "must be relative to the task's working directory (no leading / or drive letter)";
  if (/[$%]/.test(pattern))
    return "must not contain $ or %: Batch expands environment variables in patterns, which could reach outside the task's directory";
  if (pattern.endsWith('/')) return 'must name files, not end with /';
  const segments = pattern.split('/');
  for (const [i, segment] of segments.entries()) {
    if (segment === '..' && i === 0 && segments.length > 1) continue;
    if (segment === '..' || segment === '.')
      return "may start with one ../ (the task's directory, where stdout.txt and stderr.txt are) but has no other . or .. segments";
    if (segment === '') return 'must not contain empty segments (//)';
  }
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '[' && open < 0) open = i;
    else if (pattern[i] === ']' && open >= 0 && i > open + 1) open = -1;
  }
  if (open >= 0) return 'has a [ without its ] (Batch patterns use [abc], [a-c] and [!abc])';
  if (/\{[^{}]*,[^{}]*\}/.test(pattern)) return 'must not use {a,b} alternatives: Batch patterns have none';
  return undefined;
}

/** A blob name or virtual folder inside a container: relative, no `.`/`..` or empty segments. */
export function blobPathProblem(path: string): string | undefined {
  if (path === '') return undefined; // the schema's own minimum says so
  if (CONTROL.test(path)) return 'must not contain control characters';
  if (path.includes('\\')) return 'must use / between folders, not \\';
  if (path.startsWith('/')) return 'must be relative (no leading /)';
  const segments = path.split('/');
  if (segments.length > 254) return 'must have at most 254 segments (Blob storage)';
  for (const segment of segments) {
    if (segment === '') return 'must not contain empty segments (// or a trailing /)';
    if (segment === '.' || segment === '..') return 'must not contain . or .. segments';
  }
  if (path.endsWith('.')) return 'must not end with a dot (Blob storage drops it)';
  return undefined;
}

/** A path in the results store, relative to the job's folder: a blob path that leaves the logs alone. */
export function resultsPathProblem(path: string): string | undefined {
  const problem = blobPathProblem(path);
  if (problem) return problem;
  if (path.split('/').some((s) => s.toLowerCase() === TASK_LOG_FOLDER.toLowerCase()))
    return `must not write into a ${TASK_LOG_FOLDER} folder (kept for the tasks' logs)`;
  return undefined;
}

/** A prefix of blob names in a job's folder of the results store (empty: the whole folder). */
export function resultsPrefixProblem(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  if (CONTROL.test(prefix)) return 'must not contain control characters';
  if (prefix.includes('\\')) return 'must use / between folders, not \\';
  if (prefix.startsWith('/')) return 'must be relative to the job folder (no leading /)';
  const segments = prefix.split('/');
  // A trailing / names a folder: its last (empty) segment is allowed.
  for (const [i, segment] of segments.entries()) {
    if (segment === '' && i < segments.length - 1) return 'must not contain empty segments (//)';
    if (segment === '.' || segment === '..') return 'must not contain . or .. segments';
  }
  return undefined;
}

const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Hosts that address storage path-style (`/<account>/<container>`): IP addresses and loopback names, as Azurite does. */
function isPathStyleHost(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.startsWith('[') || isLoopbackName(host);
}

function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

function isLoopbackHost(host: string): boolean {
  return (
    isLoopbackName(host) ||
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === '[::1]' ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
  );
}

/**
 * The caller's Blob container URL (Batch uploads outputs there): https, or http to a loopback host
 * when `allowHttpLoopback` is on (the local stack's Azurite, under the same local-only switch as
 * callbacks); no user name or password (the SAS goes in the query); the URL names the container
 * itself, whose name follows Blob storage's rule.
 */
export function storageUrlProblem(raw: string, allowHttpLoopback: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password)
    return 'must not carry a user name or password (put the SAS in the query)';
  if (url.hash) return 'must not have a #fragment';
  const host = url.hostname.toLowerCase();
  if (url.protocol === 'http:') {
    if (!(allowHttpLoopback && isLoopbackHost(host))) return 'must be an https URL';
  } else if (url.protocol !== 'https:') {
    return 'must be an https URL';
  }
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const pathStyle = isPathStyleHost(host);
  const expected = pathStyle ? 2 : 1;
  if (segments.length !== expected) {
    return pathStyle
      ? 'must name a container: http(s)://<host>/<account>/<container> (give a folder or blob name in path)'
      : 'must name a container: https://<account>.blob.core.windows.net/<container> (give a folder or blob name in path)';
  }
  const name = segments[expected - 1]!;
  if (!CONTAINER_NAME.test(name))
    return `names container '${name.slice(0, 80)}', but container names are 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit`;
  return undefined;
}
