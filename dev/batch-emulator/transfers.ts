/**
 * Real file transfers around a run: resource files fetched before the command (HTTP GET of
 * `httpUrl`; Blob REST List Blobs + Get Blob for `storageContainerUrl` with the SAS in the URL) and
 * output files uploaded after it (Put Blob with the SAS in `containerUrl`).
 *
 * Which URLs are contacted: loopback hosts (127.0.0.0/8, localhost, [::1]: Azurite, a test server).
 * A host ending in `.invalid` (RFC 6761, never resolves) and a URL that is not http(s) are storage
 * Batch cannot reach, a scripted failure decided without a network. Any other host is not contacted
 * (the emulator stays offline): the transfer counts as done and moves no bytes.
 *
 * Failures are reported as Batch reports them (task scheduling error codes in "Batch Status and
 * Error Codes"): 403 → BlobAccessDenied, 404 → BlobNotFound, a timeout → BlobDownloadTimedOut,
 * anything else → BlobDownloadMiscError; every failed upload → FileUploadMiscError. No URL query (the
 * SAS) ever reaches a failure message, a log file or a counter.
 */
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import type { FailureInfo, NameValue } from './model.js';

export type Reach = 'real' | 'offline' | 'unreachable';

export function reachOf(url: unknown): Reach {
  if (typeof url !== 'string') return 'offline';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'unreachable';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'unreachable';
  const host = u.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (host.endsWith('.invalid')) return 'unreachable';
  if (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)) return 'real';
  return 'offline';
}

/** The URL without its query (and so without a SAS), for messages. */
export function withoutQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * Azurite's well-known development account and key (published with Azurite; not a secret). The
 * storage an identity-authorised transfer on loopback can reach.
 */
const LOCAL_STORAGE_KEYS: Readonly<Record<string, string>> = {
  devstoreaccount1:
    'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

/**
 * A resource or output file that names the pool's identity (`identityReference`) carries no SAS: on
 * Azure the node asks Entra for a token as that identity. Offline there is neither Entra nor a role
 * assignment to check, so on loopback storage (Azurite, path-style `/{account}/{container}/…`) the
 * emulator stands in for both with a short-lived account SAS signed by the local account's key: a
 * granted identity is taken to hold the data role. A URL that already has a query, or on any other
 * host, is left as it is.
 */
export function withIdentityAccess(url: string): string {
  if (reachOf(url) !== 'real') return url;
  const u = new URL(url);
  if (u.search) return url;
  const account = u.pathname.split('/').filter(Boolean)[0] ?? '';
  const key = LOCAL_STORAGE_KEYS[account];
  if (!key) return url;
  const sas = generateAccountSASQueryParameters(
    {
      permissions: AccountSASPermissions.parse('rwlc'),
      services: AccountSASServices.parse('b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      protocol: SASProtocol.HttpsAndHttp,
      startsOn: new Date(Date.now() - 60_000),
      expiresOn: new Date(Date.now() + 3_600_000),
    },
    new StorageSharedKeyCredential(account, key),
  ).toString();
  u.search = sas;
  return u.toString();
}

/** At most `limit` transfers in flight; the rest wait their turn in order. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const TIMEOUT_MS = 60_000;

class TransferError extends Error {
  constructor(
    readonly status: number | 'timeout' | 'network',
    readonly url: string,
  ) {
    super(`${status} ${withoutQuery(url)}`);
  }
}

async function http(
  limiter: Limiter,
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: Buffer },
): Promise<Buffer> {
  return limiter.run(async () => {
    let res: Response;
    try {
      res = await fetch(url, {
        method: init.method,
        ...(init.headers ? { headers: init.headers } : {}),
        ...(init.body ? { body: init.body } : {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (e) {
      throw new TransferError(
        e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError') ? 'timeout' : 'network',
        url,
      );
    }
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status < 200 || res.status > 299) throw new TransferError(res.status, url);
    return body;
  });
}

/** `…/container?sas` + a blob name → `…/container/a/b.txt?sas`. */
function blobUrl(containerUrl: string, name: string): string {
  const u = new URL(containerUrl);
  u.pathname = `${u.pathname.replace(/\/$/, '')}/${name.split('/').map(encodeURIComponent).join('/')}`;
  return u.toString();
}

const xmlText = (s: string) =>
  s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
    e === 'lt'
      ? '<'
      : e === 'gt'
        ? '>'
        : e === 'quot'
          ? '"'
          : e === 'apos'
            ? "'"
            : e === 'amp'
              ? '&'
              : String.fromCodePoint(
                  e.startsWith('#x') ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)),
                ),
  );

/** Blob REST "List Blobs" (flat), every page, names only. */
async function listBlobs(limiter: Limiter, containerUrl: string, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let marker = '';
  for (;;) {
    const u = new URL(containerUrl);
    u.searchParams.set('restype', 'container');
    u.searchParams.set('comp', 'list');
    if (prefix) u.searchParams.set('prefix', prefix);
    if (marker) u.searchParams.set('marker', marker);
    const xml = (
      await http(limiter, u.toString(), { method: 'GET', headers: { 'x-ms-version': '2021-12-02' } })
    ).toString('utf8');
    for (const m of xml.matchAll(/<Blob>[\s\S]*?<Name>([\s\S]*?)<\/Name>/g)) names.push(xmlText(m[1]!));
    marker = xmlText(/<NextMarker>([\s\S]*?)<\/NextMarker>/.exec(xml)?.[1] ?? '');
    if (!marker) return names;
  }
}

export interface FetchedFile {
  /** Path relative to the working directory. */
  readonly path: string;
  readonly data: Buffer;
  readonly mode: string;
}

export type Fetched =
  | { readonly ok: true; readonly files: readonly FetchedFile[] }
  | { readonly ok: false; readonly failure: FailureInfo };

function downloadFailure(e: unknown, filePath: string): FailureInfo {
  const details: NameValue[] = [{ name: 'FilePath', value: filePath }];
  if (e instanceof TransferError) {
    details.push({ name: 'Url', value: withoutQuery(e.url) });
    if (e.status === 403)
      return {
        category: 'usererror',
        code: 'BlobAccessDenied',
        message: 'Access for one of the specified Azure Blob(s) is denied',
        details,
      };
    if (e.status === 404)
      return {
        category: 'usererror',
        code: 'BlobNotFound',
        message: 'One of the specified Azure Blob(s) is not found',
        details,
      };
    if (e.status === 'timeout')
      return {
        category: 'servererror',
        code: 'BlobDownloadTimedOut',
        message: 'Timeout encountered while downloading one of the specified Azure Blob(s)',
        details,
      };
  }
  return scriptedDownloadFailure(filePath);
}

export function scriptedDownloadFailure(filePath: string): FailureInfo {
  return {
    category: 'usererror',
    code: 'BlobDownloadMiscError',
    message: 'Miscellaneous error encountered while downloading one of the specified Azure Blob(s)',
    details: [{ name: 'FilePath', value: filePath }],
  };
}

export function uploadFailure(filePattern: string): FailureInfo {
  return {
    category: 'usererror',
    code: 'FileUploadMiscError',
    message: 'Miscellaneous error encountered while uploading one of the output files',
    details: [{ name: 'FilePattern', value: filePattern }],
  };
}

/**
 * Fetches the resource files that are `real` (the caller handles the others), in order; the first
 * failure wins. Nothing is written: the caller writes the files if the run is still current.
 */
export async function fetchResourceFiles(
  limiter: Limiter,
  files: readonly Record<string, unknown>[],
): Promise<Fetched> {
  const out: FetchedFile[] = [];
  for (const f of files) {
    const mode = typeof f.fileMode === 'string' ? f.fileMode : '0770';
    const filePath = typeof f.filePath === 'string' ? f.filePath : '';
    // A file named with the pool's identity (the run checked it is the pool's) reaches loopback storage keyless.
    const access = (url: string) => (f.identityReference ? withIdentityAccess(url) : url);
    try {
      if (typeof f.httpUrl === 'string') {
        if (reachOf(f.httpUrl) !== 'real') continue;
        out.push({ path: filePath, data: await http(limiter, access(f.httpUrl), { method: 'GET' }), mode });
      } else if (typeof f.storageContainerUrl === 'string') {
        if (reachOf(f.storageContainerUrl) !== 'real') continue;
        const container = access(f.storageContainerUrl);
        const names = await listBlobs(
          limiter,
          container,
          typeof f.blobPrefix === 'string' ? f.blobPrefix : '',
        );
        const datas = await Promise.all(
          names.map((n) => http(limiter, blobUrl(container, n), { method: 'GET' })),
        );
        // The blob's whole name is kept under filePath: "any directory structure already associated
        // with the input data will be retained in full and appended to the specified filePath
        // directory" (ResourceFile.filePath in the spec): prefix `a/` puts blob `a/b/c` at `<filePath>/a/b/c`.
        names.forEach((n, i) => {
          out.push({ path: filePath ? `${filePath.replace(/\/$/, '')}/${n}` : n, data: datas[i]!, mode });
        });
      }
    } catch (e) {
      return { ok: false, failure: downloadFailure(e, filePath) };
    }
  }
  return { ok: true, files: out };
}

export interface Upload {
  readonly filePattern: string;
  readonly containerUrl: string;
  readonly blobName: string;
  readonly data: Buffer;
  readonly headers: Record<string, string>;
}

/** Put Blob for each upload; the failed ones come back with a line for `fileuploaderr.txt`. */
export async function putBlobs(
  limiter: Limiter,
  uploads: readonly Upload[],
): Promise<{
  readonly failed?: Upload;
  readonly files: number;
  readonly bytes: number;
  readonly log: string[];
  readonly errors: string[];
}> {
  const log: string[] = [];
  const errors: string[] = [];
  let failed: Upload | undefined;
  let files = 0;
  let bytes = 0;
  await Promise.all(
    uploads.map(async (u) => {
      const url = blobUrl(u.containerUrl, u.blobName);
      try {
        await http(limiter, url, {
          method: 'PUT',
          headers: {
            'x-ms-version': '2021-12-02',
            'x-ms-blob-type': 'BlockBlob',
            'content-type': 'application/octet-stream',
            ...u.headers,
          },
          body: u.data,
        });
        files++;
        bytes += u.data.length;
        log.push(`Uploaded ${u.data.length} bytes to ${withoutQuery(url)}`);
      } catch (e) {
        failed ??= u;
        const status = e instanceof TransferError ? e.status : 'error';
        errors.push(`Failed to upload to ${withoutQuery(url)}: ${status}`);
      }
    }),
  );
  return { ...(failed ? { failed } : {}), files, bytes, log, errors };
}
