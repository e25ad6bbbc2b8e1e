/**
 * A TES task as one Batch task: a bash wrapper that runs every executor with `docker run` on the
 * node, with Batch staging the inputs (resourceFiles) and uploading the outputs, the run report and
 * the executors' logs (outputFiles). Pure: the same task gives the same body.
 *
 * The task runs as the pool-scoped admin auto-user, the one that may use the node's Docker daemon
 * (its socket belongs to root and the `docker` group), without `containerSettings`: the wrapper runs
 * on the node itself and starts each executor's container. Batch retries nothing
 * (`maxTaskRetryCount: 0`): an executor's failure is the task's answer.
 *
 * Layout in the task's working directory (`$AZ_BATCH_TASK_WORKING_DIR`):
 *   tes/root/<container path>  the mirror: every input, volume and output lives here at its container
 *                              path, and is bound (`-v`) into each executor's container at that path
 *   tes/run/                   the run report (`report.txt`, model/tes-run-report.ts) and each
 *                              executor's stdout and stderr (`stdout-<i>.txt`, `stderr-<i>.txt`);
 *                              uploaded to the tenant's results store under `tes/<taskId>/run/`
 *   tes/stage/<i>/             where Batch puts DIRECTORY input i before the wrapper moves it into
 *                              the mirror; tes/stage/c/ the same for content inputs
 *
 * Inputs (ResourceFile in the Batch data-plane spec):
 * - FILE from a Blob or http(s) URL: `httpUrl` (container URL, the blob's path, its SAS), `filePath`
 *   its mirror path: Batch puts the file there.
 * - DIRECTORY from a Blob URL: `storageContainerUrl` (with the SAS), `blobPrefix` `<path>/`, `filePath`
 *   tes/stage/<i>. Batch keeps each blob's whole name below `filePath` ("any directory structure
 *   already associated with the input data will be retained in full and appended to the specified
 *   filePath directory", ResourceFile.filePath), so blob `<path>/a/b` lands at
 *   tes/stage/<i>/<path>/a/b, and the wrapper moves tes/stage/<i>/<path> to the mirror (or merges it
 *   in, when another input already made that folder). Plain http(s) has no listing: refused.
 * - Content: uploaded at create time to the tenant's results store (`tesContentBlobPath`), staged by
 *   one resource file for all of them (RESULTS_STORE_URL, resolved with a read SAS by the submitter,
 *   prefix tes/<taskId>/inputs/) into tes/stage/c/, and moved to their mirror paths by the wrapper.
 *
 * Executors, in order: `docker run --rm` with binds of the mirror for every input, volume, output
 * folder (a FILE output's parent folder: the file does not exist yet) and stdout/stderr folder,
 * nested ones folded into the outer (the mirror is one tree, so an outer bind shows the inner paths
 * too); `-w` workdir, `-e NAME=VALUE`, `-i` with stdin from the mirrored stdin file, stdout and stderr
 * to tes/run/, then copied to the executor's `stdout`/`stderr` paths when set. Each executor's exit
 * code and start and end times (UTC, RFC 3339) go to the report; the first non-zero exit code stops
 * the run unless the executor has `ignore_error`. The wrapper exits 0 when every executor ended well
 * (or was ignored), else with the failing executor's code; its own failures (Docker unusable, a
 * folder not made, an input not staged) are `fail` lines in the report and stop the run (exit 1).
 * Every TES string reaches bash single-quoted (`shellQuote`), so none can inject shell syntax, and
 * the image is refused if it could be read as a `docker run` option.
 *
 * Outputs (OutputFile, OutputFileBlobContainerDestination): to the URL's container with its SAS,
 * uploaded on task completion (TES engines read outputs such as Nextflow's .command.err on failure
 * too). A FILE output is the mirror file, `path` its blob; a DIRECTORY output `<mirror dir>/**\/*`,
 * `path` the blob folder; a wildcard output the mirror pattern with `path` = the URL's blob path +
 * (the pattern's folder − path_prefix), see tesOutputPlan. Hidden files (names starting with `.`)
 * below a DIRECTORY output, or matched only by a wildcard, are not uploaded: Batch's wildcards skip
 * them. The wrapper lists every output file with its size (`find`) into the report, so Slotwise
 * can fill tesTaskLog.outputs.
 *
 * Shared file systems (`file://<root>/…` on one of the tenant's TES file systems, tes-urls.ts; the
 * lane's pool mounts file system i, an Azure Files share, at `$AZ_BATCH_NODE_MOUNTS_DIR/<its
 * relativeMountPath>`, Batch's MountConfiguration): the wrapper first checks that every file system
 * the task uses is mounted (a folder there), and never makes that folder itself, so a write can only
 * land on the share. A FILE input is copied from the share into the mirror (`cp`), a DIRECTORY input
 * its contents (`cp -R <dir>/.`), parent folders made first. After the executors, whatever their
 * outcome (as Batch uploads on task completion), each output is copied back: a FILE output the file
 * (when the executors made it), a DIRECTORY output its contents recursively (hidden files too) into
 * the URL's folder, a wildcard output each match into the URL's folder plus (the pattern's folder −
 * path_prefix), as for Blob outputs. A wildcard of a shared output may stand only in the path's last
 * segment (bash matches it, as Batch would: not names starting with `.`; a matching folder is copied
 * whole). Copied outputs are listed in the report like uploaded ones. A failed copy is a `fail` line
 * naming the input or output and its URL (SYSTEM_ERROR).
 *
 * Refused (`ok: false`, a reason naming the input or output, never a SAS): a URL Slotwise cannot
 * stage (tes-urls.ts), an output URL that is not Azure Blob storage with a SAS, a DIRECTORY input
 * that is not a Blob URL, a path_prefix Batch's naming cannot express (it must end at a folder of
 * the pattern's fixed part: `/out/` for `/out/*.txt`, not `/out/sa` for `/out/sample*.txt`), paths
 * Docker cannot bind (`:` in them, `/` itself, a written file directly under `/`, whose folder would
 * be the root) or Batch would read as variables (`$` in an output path), an image that could be
 * read as an option, NUL characters (no argv can carry them).
 *
 * Not expressed: a file name holding a newline breaks its line of the report (its size goes
 * unreported); `**` in a wildcard output means any folders, as in Batch (POSIX globs have no `**`).
 */
import {
  type OutputFileBody,
  RESULTS_STORE_URL,
  type ResourceFileBody,
  type TaskBody,
} from '../model/batch-bodies.js';
import type { TesFileSystem } from '../model/tenant-policy.js';
import {
  DIRECTORY_PATTERN,
  listingDepth,
  normalizeTesPath,
  TES_REPORT_FILE,
  TES_REPORT_HEADER,
  tesContentBlobPath,
  tesContentPrefix,
  tesExecutorLogFile,
  tesOutputPlan,
  tesRunPath,
} from '../model/tes-run-report.js';
import type { TesTaskDoc } from '../model/tes-task.js';
import { classifyTesUrl, SUPPORTED_URL_FORMS, type TesUrlOptions } from '../model/tes-urls.js';

export {
  tesContentBlobPath,
  tesExecutorLogPath,
  tesRunPath,
  tesRunReportPath,
} from '../model/tes-run-report.js';

/** The working directory's folders (see the top of this file). */
const ROOT = 'tes/root';
const RUN = 'tes/run';
const STAGE = 'tes/stage';
const CONTENT_STAGE = `${STAGE}/c`;

/** Words bash reads as they are: no quoting needed (no glob, tilde, brace, comment or expansion). */
const SAFE_WORD = /^[A-Za-z0-9_/.,:=+@%-]+$/;

/**
 * `text` as one bash word with exactly that value: bare when it holds only safe characters, else in
 * single quotes, each `'` written as `'\''` (bash reads nothing inside single quotes).
 */
export function shellQuote(text: string): string {
  if (SAFE_WORD.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The mirror of a container path, as a bash word. */
const mirror = (path: string) => `"$R"${path === '/' ? '' : shellQuote(path)}`;

const TIMESTAMP = 'date -u +%Y-%m-%dT%H:%M:%S.%3NZ';

type Built = { ok: true; body: TaskBody } | { ok: false; reason: string };

export interface TesBodyContext {
  /** The local stack's Azurite URLs (http://127.0.0.1) are Blob URLs. */
  readonly allowLoopbackHttp: boolean;
  /**
   * The tenant's TES file systems (tenant policy `tesFileSystems`), which the task's lane mounts:
   * `file://` URLs under their roots are staged through them. None: every `file://` URL is refused.
   */
  readonly fileSystems?: readonly TesFileSystem[];
}

class Refused extends Error {}

const parentOf = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/';
const isUnder = (path: string, dir: string) => dir === '/' || path === dir || path.startsWith(`${dir}/`);

/** Blob names are '/'-separated; each segment percent-encoded for a URL. */
const encodeBlobPath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

interface Bind {
  readonly path: string;
  readonly kind: 'file' | 'dir';
}

/** `path` as an absolute container path, or a refusal naming `what`. */
function containerPath(path: string, what: string, options: { bind: boolean }): string {
  const normalized = normalizeTesPath(path);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (normalized === undefined || /[\u0000-\u001f\u007f]/.test(path))
    throw new Refused(`${what}: path must be absolute, without '..' segments or control characters`);
  if (options.bind) {
    if (normalized === '/') throw new Refused(`${what}: / itself cannot be mounted into a container`);
    if (normalized.includes(':'))
      throw new Refused(`${what}: a path holding ':' cannot be mounted with docker run -v`);
  }
  return normalized;
}

function noNul(text: string, what: string): string {
  if (text.includes('\0')) throw new Refused(`${what}: must not contain a NUL character`);
  return text;
}

/** Binds without the ones an outer folder bind already shows; a path both file and folder is refused. */
function foldBinds(binds: readonly Bind[]): Bind[] {
  const byPath = new Map<string, Bind>();
  for (const b of binds) {
    const seen = byPath.get(b.path);
    if (seen && seen.kind !== b.kind)
      throw new Refused(`path ${b.path} is used both as a file and as a folder`);
    if (!seen) byPath.set(b.path, b);
  }
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const kept: Bind[] = [];
  for (const b of sorted) {
    const outer = kept.find((k) => k.path !== b.path && isUnder(b.path, k.path));
    if (!outer) {
      kept.push(b);
      continue;
    }
    if (outer.kind === 'file') throw new Refused(`path ${b.path} lies below ${outer.path}, which is a file`);
  }
  return kept;
}

/**
 * A wildcard segment as a bash word that matches as Batch's pattern does (tes-run-report.ts
 * `batchPatternMatches`): `*`, `?` and `[…]` bare, everything else quoted. A bracket expression is
 * kept only with letters, digits and `_.,:=+@%-` inside (after a leading `!` or `^`): anything else
 * there could be read by bash as more than a character class.
 */
function globWord(segment: string, what: string): string {
  let word = '';
  let literal = '';
  const flush = () => {
    if (literal !== '') word += shellQuote(literal);
    literal = '';
  };
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*' || c === '?') {
      flush();
      word += c;
    } else if (c === '[' && segment.indexOf(']', i + 2) >= 0) {
      const close = segment.indexOf(']', i + 2);
      const body = segment.slice(i + 1, close);
      if (!/^[!^]?[A-Za-z0-9_.,:=+@%-]+$/.test(body))
        throw new Refused(
          `${what}: a bracket expression of an output to a shared file system may hold only letters, digits and _.,:=+@%- (after a leading ! or ^)`,
        );
      flush();
      word += `[${body}]`;
      i = close;
    } else literal += c;
  }
  flush();
  return word;
}

export function tesTaskBody(doc: TesTaskDoc, ctx: TesBodyContext): Built {
  try {
    return { ok: true, body: build(doc, ctx) };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, reason: e.message };
    throw e;
  }
}

function build(doc: TesTaskDoc, ctx: TesBodyContext): TaskBody {
  const request = doc.request;
  const fileSystems = ctx.fileSystems ?? [];
  const urlOptions: TesUrlOptions = {
    allowLoopbackHttp: ctx.allowLoopbackHttp,
    sharedRoots: fileSystems.map((f) => f.root),
  };
  /** The file systems the task uses (each checked to be mounted before anything is staged). */
  const sharesUsed = new Set<number>();
  /** File system i's folder on the node, or a path below it, as a bash word. */
  const onShare = (i: number, path: string) => {
    sharesUsed.add(i);
    const folder = `"$AZ_BATCH_NODE_MOUNTS_DIR"/${shellQuote(fileSystems[i]!.mount.azureFiles.relativeMountPath)}`;
    return path === '' ? folder : `${folder}/${shellQuote(path)}`;
  };
  /** Output copies to shared file systems, run after the executors. */
  const copies: string[] = [];
  const resourceFiles: ResourceFileBody[] = [];
  const binds: Bind[] = [];
  /** Folders made before staging (staging moves into them). */
  const early = new Set<string>();
  /** Staging steps, in order. */
  const staging: string[] = [];
  let contentInputs = 0;

  request.inputs.forEach((input, i) => {
    const what = `inputs[${i}] (${input.path})`;
    const path = containerPath(input.path, what, { bind: true });
    if (input.content !== undefined) {
      contentInputs++;
      early.add(mirror(parentOf(path)));
      const staged = `"$W"/stage/c/${shellQuote(tesContentBlobPath(doc.id, i))}`;
      staging.push(`mv ${staged} ${mirror(path)} || w=${shellQuote(`staging ${what}`)}`);
      binds.push({ path, kind: 'file' });
      return;
    }
    if (input.url === undefined) throw new Refused(`${what}: has neither url nor content`);
    const url = classifyTesUrl(input.url, urlOptions);
    if (url.kind === 'unsupported') throw new Refused(`${what}: the url ${url.reason}`);
    if (url.kind === 'shared') {
      const failed = shellQuote(`staging ${what}: copying ${input.url} failed`);
      if (input.type === 'DIRECTORY') {
        early.add(mirror(path));
        staging.push(`cp -R ${onShare(url.fileSystem, url.path)}/. ${mirror(path)} || w=${failed}`);
        binds.push({ path, kind: 'dir' });
        return;
      }
      if (url.path === '' || input.url.endsWith('/'))
        throw new Refused(`${what}: the url names a folder, not a file (give type DIRECTORY for a folder)`);
      early.add(mirror(parentOf(path)));
      staging.push(`cp ${onShare(url.fileSystem, url.path)} ${mirror(path)} || w=${failed}`);
      binds.push({ path, kind: 'file' });
      return;
    }
    if (input.type === 'DIRECTORY') {
      if (url.kind !== 'blob')
        throw new Refused(
          `${what}: a DIRECTORY input needs an Azure Blob URL (Batch lists the blobs under it; plain http has no listing)`,
        );
      const prefix = url.blobPath.replace(/\/+$/, '');
      if (prefix.split('/').some((s) => s === '.' || s === '..' || (s === '' && prefix !== '')))
        throw new Refused(`${what}: the url's blob path has empty, '.' or '..' segments`);
      resourceFiles.push({
        storageContainerUrl: url.sas ? `${url.containerUrl}?${url.sas}` : url.containerUrl,
        ...(prefix ? { blobPrefix: `${prefix}/` } : {}),
        filePath: `${STAGE}/${i}`,
      });
      const from = `"$W"/stage/${i}${prefix ? `/${shellQuote(prefix)}` : ''}`;
      // The staged folder exists even when no blob matched (an empty directory input).
      early.add(from);
      early.add(mirror(parentOf(path)));
      staging.push(
        `if [ -e ${mirror(path)} ]; then cp -R ${from}/. ${mirror(path)}; else mv ${from} ${mirror(path)}; fi || w=${shellQuote(`staging ${what}`)}`,
      );
      binds.push({ path, kind: 'dir' });
      return;
    }
    if (url.kind === 'blob' && url.blobPath === '')
      throw new Refused(`${what}: the url names a container, not a blob (give type DIRECTORY for a folder)`);
    resourceFiles.push({
      httpUrl:
        url.kind === 'blob'
          ? `${url.containerUrl}/${encodeBlobPath(url.blobPath)}${url.sas ? `?${url.sas}` : ''}`
          : url.url,
      filePath: `${ROOT}${path}`,
    });
    binds.push({ path, kind: 'file' });
  });
  if (contentInputs > 0)
    resourceFiles.push({
      storageContainerUrl: RESULTS_STORE_URL,
      blobPrefix: tesContentPrefix(doc.id),
      filePath: CONTENT_STAGE,
    });

  request.volumes.forEach((volume, i) => {
    binds.push({ path: containerPath(volume, `volumes[${i}] (${volume})`, { bind: true }), kind: 'dir' });
  });

  /** A file the executors write: its folder is bound (the file does not exist yet when Docker binds). */
  const writtenFile = (path: string, what: string) => {
    const parent = parentOf(path);
    if (parent === '/')
      throw new Refused(
        `${what}: a file directly under / cannot be mounted into the container; put it in a folder`,
      );
    binds.push({ path: parent, kind: 'dir' });
  };

  const outputFiles: OutputFileBody[] = [];
  const listings: string[] = [];
  request.outputs.forEach((output, k) => {
    const what = `outputs[${k}] (${output.path})`;
    const plan = tesOutputPlan(output);
    if (plan.kind === 'invalid') throw new Refused(`${what}: ${plan.reason}`);
    const url = classifyTesUrl(output.url, urlOptions);
    if (url.kind === 'unsupported') throw new Refused(`${what}: the url ${url.reason}`);
    if (url.kind === 'shared') {
      const mounted = `[ -n "$f${url.fileSystem}" ]`;
      const failed = shellQuote(`copying ${what} to ${output.url} failed`);
      const copy = (condition: string, command: string) =>
        copies.push(
          'w=',
          `if ${mounted} && ${condition}; then ${command} || w=${failed}; fi`,
          `if [ -n "$w" ]; then echo "fail $w" >>"$O"/${TES_REPORT_FILE}; [ $x -ne 0 ] || x=1; fi`,
        );
      if (plan.kind === 'file') {
        const path = containerPath(plan.path, what, { bind: true });
        if (url.path === '' || output.url.endsWith('/'))
          throw new Refused(`${what}: the url names a folder, not a file (give type DIRECTORY for a folder)`);
        const to = onShare(url.fileSystem, url.path);
        const folder = parentOf(`/${url.path}`).slice(1);
        copy(
          `[ -f ${mirror(path)} ]`,
          `${folder === '' ? '' : `mkdir -p ${onShare(url.fileSystem, folder)} && `}cp ${mirror(path)} ${to}`,
        );
        writtenFile(path, what);
        listings.push(`find ${mirror(path)} -maxdepth 0 -type f -printf 'output ${k} %s %P\\n'`);
      } else if (plan.kind === 'directory') {
        const path = containerPath(plan.path, what, { bind: true });
        const to = onShare(url.fileSystem, url.path);
        copy(`[ -d ${mirror(path)} ]`, `mkdir -p ${to} && cp -R ${mirror(path)}/. ${to}`);
        binds.push({ path, kind: 'dir' });
        listings.push(`find ${mirror(path)} -type f -printf 'output ${k} %s %P\\n'`);
      } else {
        if (plan.rest.includes('/'))
          throw new Refused(
            `${what}: an output to a shared file system may have wildcards only in the last segment of its path`,
          );
        const base = containerPath(plan.base, what, { bind: true });
        const to = onShare(url.fileSystem, [url.path, plan.under].filter((p) => p !== '').join('/'));
        const matches = `${mirror(base)}/${globWord(plan.rest, what)}`;
        // Without a match bash leaves the pattern as it is: nothing to copy.
        copy(
          `[ "$(echo ${matches})" != ${mirror(base)}/${shellQuote(plan.rest)} ]`,
          `mkdir -p ${to} && cp -R ${matches} ${to}/`,
        );
        binds.push({ path: base, kind: 'dir' });
        listings.push(`find ${mirror(base)} -maxdepth 1 -type f -printf 'output ${k} %s %P\\n'`);
      }
      return;
    }
    if (url.kind !== 'blob' || url.sas === undefined)
      throw new Refused(
        `${what}: Slotwise uploads outputs only to Azure Blob storage, through a URL with a SAS granting write (${url.kind === 'blob' ? 'this URL has no SAS' : 'this URL is not a Blob URL'}); it stages ${SUPPORTED_URL_FORMS}`,
      );
    const destination = (path: string) => ({
      container: { containerUrl: `${url.containerUrl}?${url.sas}`, ...(path ? { path } : {}) },
    });
    const upload = (filePattern: string, path: string): OutputFileBody => {
      // Batch expands $NAME in a file pattern (OutputFile.filePattern): a literal $ cannot be said.
      if (filePattern.includes('$'))
        throw new Refused(
          `${what}: an output path holding '$' cannot be uploaded (Batch reads $NAME as a variable)`,
        );
      return {
        filePattern,
        destination: destination(path),
        uploadOptions: { uploadCondition: 'taskcompletion' },
      };
    };
    const join = (a: string, b: string) => [a, b].filter((s) => s !== '').join('/');
    const blobDir = url.blobPath.replace(/\/+$/, '');
    if (plan.kind === 'file') {
      const path = containerPath(plan.path, what, { bind: true });
      if (url.blobPath === '') throw new Refused(`${what}: the url names a container, not a blob`);
      outputFiles.push(upload(`${ROOT}${path}`, url.blobPath));
      writtenFile(path, what);
      listings.push(`find ${mirror(path)} -maxdepth 0 -type f -printf 'output ${k} %s %P\\n'`);
    } else if (plan.kind === 'directory') {
      const path = containerPath(plan.path, what, { bind: true });
      outputFiles.push(upload(`${ROOT}${path}/${DIRECTORY_PATTERN}`, blobDir));
      binds.push({ path, kind: 'dir' });
      listings.push(`find ${mirror(path)} -type f -printf 'output ${k} %s %P\\n'`);
    } else {
      const base = containerPath(plan.base, what, { bind: true });
      outputFiles.push(upload(`${ROOT}${base}/${plan.rest}`, join(blobDir, plan.under)));
      binds.push({ path: base, kind: 'dir' });
      const depth = listingDepth(plan.rest);
      listings.push(
        `find ${mirror(base)}${depth === undefined ? '' : ` -maxdepth ${depth}`} -type f -printf 'output ${k} %s %P\\n'`,
      );
    }
  });
  outputFiles.push({
    filePattern: `${RUN}/*`,
    destination: { container: { containerUrl: RESULTS_STORE_URL, path: tesRunPath(doc.id) } },
    uploadOptions: { uploadCondition: 'taskcompletion' },
  });

  const executors = request.executors.map((executor, i) => {
    const what = `executors[${i}]`;
    const image = noNul(executor.image, `${what}.image`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (image === '' || image.startsWith('-') || /[\s\u0000-\u001f\u007f]/.test(image))
      throw new Refused(`${what}.image: must be an image reference (no spaces, not starting with '-')`);
    const workdir =
      executor.workdir === undefined
        ? undefined
        : containerPath(executor.workdir, `${what}.workdir`, { bind: false });
    const stdin =
      executor.stdin === undefined
        ? undefined
        : containerPath(executor.stdin, `${what}.stdin`, { bind: false });
    const stdout =
      executor.stdout === undefined
        ? undefined
        : containerPath(executor.stdout, `${what}.stdout`, { bind: true });
    const stderr =
      executor.stderr === undefined
        ? undefined
        : containerPath(executor.stderr, `${what}.stderr`, { bind: true });
    if (stdout) writtenFile(stdout, `${what}.stdout`);
    if (stderr) writtenFile(stderr, `${what}.stderr`);
    const env = Object.entries(executor.env ?? {}).map(([name, value]) => {
      if (name === '' || name.includes('='))
        throw new Refused(`${what}.env: the name '${name}' cannot be a variable name`);
      return `${noNul(name, `${what}.env`)}=${noNul(value, `${what}.env.${name}`)}`;
    });
    const argv = executor.command.map((a, j) => noNul(a, `${what}.command[${j}]`));
    return { i, image, workdir, stdin, stdout, stderr, env, argv, ignore: executor.ignore_error === true };
  });

  const folded = foldBinds(binds);
  const volumeArgs = folded.map((b) => `-v ${mirror(b.path)}:${shellQuote(b.path)}`).join(' ');
  // After staging: every bound folder (a bound file is an input, already in place).
  const late = folded.filter((b) => b.kind === 'dir').map((b) => mirror(b.path));

  const report = `"$O"/${TES_REPORT_FILE}`;
  const lines: string[] = [
    'W="$AZ_BATCH_TASK_WORKING_DIR"/tes',
    'R="$W"/root',
    'O="$W"/run',
    'x=0',
    'w=',
    `mkdir -p "$O" && echo ${shellQuote(TES_REPORT_HEADER)} >${report} || exit 1`,
    `docker version >/dev/null 2>&1 || w=${shellQuote('Docker is not usable on the node (docker version failed)')}`,
    // A share not mounted is never made here: writes must land on the share or nowhere.
    ...[...sharesUsed].flatMap((i) => [
      `f${i}=`,
      `[ -d ${onShare(i, '')} ] && f${i}=1`,
      `[ -n "$w" ] || [ -n "$f${i}" ] || w=${shellQuote(`the shared file system ${fileSystems[i]!.root} is not mounted on the node ($AZ_BATCH_NODE_MOUNTS_DIR/${fileSystems[i]!.mount.azureFiles.relativeMountPath})`)}`,
    ]),
    ...(early.size > 0
      ? [`[ -n "$w" ] || mkdir -p ${[...early].join(' ')} || w=${shellQuote('preparing folders')}`]
      : []),
    ...staging.map((step) => `[ -n "$w" ] || ${step}`),
    ...(late.length > 0
      ? [`[ -n "$w" ] || mkdir -p ${late.join(' ')} || w=${shellQuote('preparing folders')}`]
      : []),
    `if [ -n "$w" ]; then echo "fail $w" >>${report}; x=1; fi`,
  ];
  for (const e of executors) {
    const out = `"$O"/${tesExecutorLogFile(e.i, 'stdout')}`;
    const err = `"$O"/${tesExecutorLogFile(e.i, 'stderr')}`;
    const run = [
      'docker run --rm',
      volumeArgs,
      e.workdir !== undefined ? `-w ${shellQuote(e.workdir)}` : '',
      ...e.env.map((v) => `-e ${shellQuote(v)}`),
      e.stdin !== undefined ? '-i' : '',
      shellQuote(e.image),
      ...e.argv.map(shellQuote),
      e.stdin !== undefined ? `<${mirror(e.stdin)}` : '',
      `>${out} 2>${err}`,
    ]
      .filter((part) => part !== '')
      .join(' ');
    lines.push(
      'if [ $x -eq 0 ]; then',
      `s=$(${TIMESTAMP})`,
      run,
      'c=$?',
      `e=$(${TIMESTAMP})`,
      ...(e.stdout !== undefined
        ? [
            `cp ${out} ${mirror(e.stdout)} || w=${shellQuote(`writing executors[${e.i}].stdout (${e.stdout})`)}`,
          ]
        : []),
      ...(e.stderr !== undefined
        ? [
            `cp ${err} ${mirror(e.stderr)} || w=${shellQuote(`writing executors[${e.i}].stderr (${e.stderr})`)}`,
          ]
        : []),
      `echo "exec ${e.i} $c ${e.ignore ? 1 : 0} $s $e" >>${report}`,
      ...(e.stdout !== undefined || e.stderr !== undefined
        ? [`if [ -n "$w" ]; then echo "fail $w" >>${report}; x=1; fi`]
        : []),
      ...(e.ignore ? [] : ['[ $c -eq 0 ] || x=$c']),
      'fi',
    );
  }
  // Outputs are copied to shared file systems and listed whatever happened: Batch uploads on failure too.
  lines.push(...copies);
  for (const listing of listings) lines.push(`${listing} >>${report} 2>/dev/null`);
  lines.push(`echo "end $x" >>${report}`, 'exit $x');

  return {
    id: doc.id,
    commandLine: `/bin/bash -c ${shellQuote(lines.join('\n'))}`,
    requiredSlots: doc.placement.requiredSlots,
    ...(resourceFiles.length > 0 ? { resourceFiles } : {}),
    outputFiles,
    constraints: { maxTaskRetryCount: 0 },
    userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'admin' } },
  };
}
