/**
 * What a run's resource and output files mean, before any byte moves (transfers.ts moves them):
 * the scripted failures (storage that cannot be reached, see `reachOf`), which output files an exit
 * code uploads, and the blob each matched file goes to.
 *
 * Output files as the spec's OutputFile describes them: `filePattern` is relative to the working
 * directory (`../stdout.txt` reaches the task directory), `$NAME` is expanded first, wildcards as in
 * glob.ts; `uploadOptions.uploadCondition` is `tasksuccess` (exit code 0), `taskfailure` (non-zero)
 * or `taskcompletion` (either, the default). Without a wildcard, `destination.container.path` is the
 * blob's name (default: the file's name); with one, it is a virtual directory prefixed to each
 * file's path below the pattern's literal directory.
 */
import { glob, hasWildcard } from './glob.js';
import type { FailureInfo } from './model.js';
import type { NodeFs } from './node-fs.js';
import {
  reachOf,
  scriptedDownloadFailure,
  type Upload,
  uploadFailure,
  withIdentityAccess,
} from './transfers.js';

type Body = Record<string, unknown>;

export const resourceFilesOf = (body: Body): Body[] =>
  Array.isArray(body.resourceFiles) ? (body.resourceFiles as Body[]) : [];

const sourceUrl = (f: Body): unknown => f.httpUrl ?? f.storageContainerUrl;

/** The pre-processing error of a run whose resource file cannot be reached, decided without I/O. */
export function preProcessingFailure(body: Body): FailureInfo | undefined {
  const bad = resourceFilesOf(body).find((f) => reachOf(sourceUrl(f)) === 'unreachable');
  return bad ? scriptedDownloadFailure(String(bad.filePath ?? '')) : undefined;
}

/** Whether any resource file is fetched for real. */
export function hasRealDownloads(body: Body): boolean {
  return resourceFilesOf(body).some((f) => reachOf(sourceUrl(f)) === 'real');
}

interface OutputFile {
  filePattern?: unknown;
  destination?: {
    container?: {
      containerUrl?: unknown;
      path?: unknown;
      uploadHeaders?: unknown;
      identityReference?: unknown;
    };
  };
  uploadOptions?: { uploadCondition?: unknown };
}

/** The output files an exit code uploads. */
export function outputFilesFor(body: Body, exitCode: number): OutputFile[] {
  const files = Array.isArray(body.outputFiles) ? (body.outputFiles as OutputFile[]) : [];
  return files.filter((f) => {
    const condition = String(f.uploadOptions?.uploadCondition ?? 'taskcompletion').toLowerCase();
    return condition === 'taskcompletion' || (condition === 'tasksuccess') === (exitCode === 0);
  });
}

/** The file upload error of output files whose destination cannot be reached, decided without I/O. */
export function scriptedUploadFailure(files: readonly OutputFile[]): FailureInfo | undefined {
  const bad = files.find((f) => reachOf(f.destination?.container?.containerUrl) === 'unreachable');
  return bad ? uploadFailure(String(bad.filePattern ?? '')) : undefined;
}

const expandVars = (text: string, env: Readonly<Record<string, string>>) =>
  text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_, a, b) => env[a ?? b] ?? '',
  );

/** The blobs to put for the output files whose destination is contacted for real. */
export function planUploads(
  fs: NodeFs,
  wd: string,
  env: Readonly<Record<string, string>>,
  files: readonly OutputFile[],
): Upload[] {
  const uploads: Upload[] = [];
  for (const f of files) {
    const container = f.destination?.container;
    const givenUrl = container?.containerUrl;
    if (typeof givenUrl !== 'string' || reachOf(givenUrl) !== 'real') continue;
    // Named with the pool's identity (checked before the upload): keyless on loopback storage.
    const containerUrl = container?.identityReference ? withIdentityAccess(givenUrl) : givenUrl;
    const pattern = expandVars(String(f.filePattern ?? ''), env);
    const path = typeof container?.path === 'string' ? container.path.replace(/^\/+|\/+$/g, '') : '';
    const wild = pattern.split('/').some(hasWildcard);
    const headers: Record<string, string> = {};
    if (Array.isArray(container?.uploadHeaders))
      for (const h of container.uploadHeaders as { name?: unknown; value?: unknown }[])
        if (typeof h.name === 'string') headers[h.name.toLowerCase()] = String(h.value ?? '');
    for (const m of glob(fs, wd, pattern, true)) {
      if (m.entry.kind !== 'file') continue;
      const blobName = wild ? (path ? `${path}/${m.relative}` : m.relative) : path || m.relative;
      uploads.push({
        filePattern: String(f.filePattern ?? ''),
        containerUrl,
        blobName,
        data: m.entry.data,
        headers,
      });
    }
  }
  return uploads;
}
