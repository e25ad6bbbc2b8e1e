/**
 * What a TES input or output URL names, and whether Slotwise can stage it. TES leaves URL schemes to
 * the server (tesInput.url lists s3://, gs://, file:// and bare paths as examples). Slotwise stages
 * through Batch, which downloads http(s) (resourceFiles `httpUrl`, or `storageContainerUrl` +
 * `blobPrefix`) and uploads only to Azure Blob containers (outputFiles `destination.container`).
 *
 * Forms read as Azure Blob storage (containerUrl = scheme://host[/account]/container, no query):
 * - `https://<account>.blob.<endpoint suffix>/<container>/<path>[?<sas>]`, any cloud's suffix
 *   (core.windows.net, core.usgovcloudapi.net, core.chinacloudapi.cn) and the DNS zone form
 *   `<account>.z<NN>.blob.storage.azure.net`;
 * - `az://<account>/<container>/<path>` (Nextflow's form, `AzureBlobUrlNormalizer`) and
 *   `/<account>/<container>/<path>` (Cromwell on Azure, TES on Azure `StorageAccountUrlSegments`),
 *   both read as `https://<account>.blob.core.windows.net/<container>/<path>`;
 * - with `allowLoopbackHttp` (the local stack only), Azurite's path style
 *   `http://127.0.0.1:<port>/<account>/<container>/<path>` (also `localhost`, `[::1]`).
 *
 * Any other http(s) URL is a plain download ('http'). Plain public http is accepted for downloads:
 * public data mirrors still serve it, and the client chose it; uploads need a Blob URL anyway. A
 * loopback host is refused unless `allowLoopbackHttp`: on a Batch node it names the node itself.
 *
 * The blob path is percent-decoded once, in every form (so `az://a/c/my%20file` and
 * `https://a.blob.core.windows.net/c/my%20file` name the same blob `my file`); Batch takes blob
 * names decoded. https URLs go through the WHATWG URL parser, which also resolves `.` and `..`
 * segments; the az:// and bare path forms are rewritten to https first, so the same holds for them.
 * A query is kept (as `sas`) only when it carries a SAS, recognised by its `sig` parameter; any
 * other query is dropped.
 *
 * `file://<root>/<rest>` (also `file:<root>/<rest>` and `file://localhost/…`, as clients write them)
 * with `<root>` one of the tenant's TES file systems (`sharedRoots`, the longest that matches) is a
 * file on that shared file system ('shared'), `<rest>` its path below the root: cwl-tes and other
 * engines with a shared-file-system executor write every input and output so (docs/tes.md, "Shared
 * file systems"). The path is read as the WHATWG URL parser reads file URLs (`.` and `..` segments
 * resolved before the root is matched, so no URL names a file outside its root), then percent-decoded
 * once per segment; a decoded segment holding `/` or NUL is refused. Any other `file:` URL names a
 * file on the client's machine, which no node can read: unsupported.
 */
import { redactSas } from '../core/redact-sas.js';

export type TesUrl =
  | {
      readonly kind: 'blob';
      /** `scheme://host[/account]/container`, no query. */
      readonly containerUrl: string;
      /** The blob name or folder inside the container, decoded; may be ''. */
      readonly blobPath: string;
      /** The SAS query without `?`, when the URL carries one. */
      readonly sas?: string;
    }
  | { readonly kind: 'http'; readonly url: string }
  | {
      readonly kind: 'shared';
      /** The index of the file system in `sharedRoots` (and in the tenant's `tesFileSystems`). */
      readonly fileSystem: number;
      /** Below the root, decoded, '/'-separated, without a leading or trailing '/'; '' for the root. */
      readonly path: string;
    }
  | { readonly kind: 'unsupported'; readonly scheme: string; readonly reason: string };

export interface TesUrlOptions {
  /** The local stack's Azurite URLs (http://127.0.0.1) are Blob URLs. */
  readonly allowLoopbackHttp: boolean;
  /** The roots of the tenant's TES file systems (tenant policy `tesFileSystems`), in their order. */
  readonly sharedRoots?: readonly string[];
}

/** What Slotwise can stage, for messages about the rest. */
export const SUPPORTED_URL_FORMS =
  'Azure Blob storage (https://<account>.blob.core.windows.net/<container>/<path>, az://<account>/<container>/<path>, /<account>/<container>/<path>) and http(s) downloads';

/** Storage account names: 3 to 24 lowercase letters and digits. */
const ACCOUNT = /^[a-z0-9]{3,24}$/;
/** Container names (Blob storage naming rules), plus the two special containers. */
const CONTAINER = /^(?:(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*|\$root|\$web)$/;
const BLOB_HOST = /^[a-z0-9]{3,24}\.(?:z\d{2}\.)?blob\.[^.]+(?:\.[^.]+)+$/;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

export function classifyTesUrl(url: string, options: TesUrlOptions): TesUrl {
  if (CONTROL.test(url)) return unsupported('', 'contains control characters');
  if (url.startsWith('/') && !url.startsWith('//')) {
    return viaHttps(
      url.slice(1),
      '',
      'a bare path is read as /<account>/<container>/<path> (Azure Blob storage)',
    );
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    return unsupported('', `is not an absolute URL; Slotwise supports ${SUPPORTED_URL_FORMS}`);
  }
  if (scheme === 'az') {
    if (!url.slice(3).startsWith('//')) return unsupported('az', 'must be az://<account>/<container>/<path>');
    return viaHttps(url.slice(5), 'az', 'az:// URLs are read as az://<account>/<container>/<path>');
  }
  if (scheme === 'file') return classifyFile(url, options.sharedRoots ?? []);
  if (scheme !== 'http' && scheme !== 'https') {
    return unsupported(
      scheme,
      `${scheme}:// URLs are not supported: Slotwise stages only ${SUPPORTED_URL_FORMS}`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return unsupported(scheme, 'is not a valid URL');
  }
  return classifyHttp(parsed, scheme, options);
}

/** `text` with every SAS signature replaced by REDACTED (the rest of the query stays readable). */
export function redactUrlSas(url: string): string {
  return redactSas(url);
}

function unsupported(scheme: string, reason: string): TesUrl {
  return { kind: 'unsupported', scheme, reason };
}

/** `<account>/<container>/<path>[?query]` (from az:// or a bare path) as the https URL it stands for. */
function viaHttps(rest: string, scheme: string, form: string): TesUrl {
  const account = rest.split(/[/?#]/, 1)[0]!.toLowerCase();
  if (!ACCOUNT.test(account)) {
    return unsupported(
      scheme,
      `${form}; '${clip(account)}' is not a storage account name (3 to 24 lowercase letters and digits)`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(`https://${account}.blob.core.windows.net${rest.slice(account.length)}`);
  } catch {
    return unsupported(scheme, `${form}, but this one does not make a valid URL`);
  }
  return blobIn(parsed, `https://${parsed.host}`, 0, scheme);
}

function classifyFile(url: string, roots: readonly string[]): TesUrl {
  const noShare = `${
    roots.length === 0
      ? 'file:// URLs name files on a machine no Batch node can read, and this tenant has no shared file system for TES (docs/tes.md, "Shared file systems")'
      : `file:// URLs must name a file on one of this tenant's shared file systems (${roots.join(', ')})`
  }; Slotwise also stages ${SUPPORTED_URL_FORMS}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return unsupported('file', 'is not a valid URL');
  }
  // file://localhost/… is the local machine too (RFC 8089); the URL parser drops `localhost`.
  if (parsed.host !== '') return unsupported('file', `names host '${clip(parsed.host)}'; ${noShare}`);
  const segments: string[] = [];
  try {
    for (const raw of parsed.pathname.split('/').slice(1)) {
      if (raw === '') continue;
      const segment = decodeURIComponent(raw);
      if (segment.includes('/') || segment.includes('\0'))
        return unsupported('file', "has a path segment holding an encoded '/' or NUL");
      segments.push(segment);
    }
  } catch {
    return unsupported('file', 'has a malformed percent-escape (%XX) in its path');
  }
  const path = `/${segments.join('/')}`;
  let best: { index: number; root: string } | undefined;
  roots.forEach((root, index) => {
    const under = path === root || path.startsWith(`${root}/`);
    if (under && (!best || root.length > best.root.length)) best = { index, root };
  });
  if (!best) return unsupported('file', noShare);
  const found: { index: number; root: string } = best;
  return { kind: 'shared', fileSystem: found.index, path: path.slice(found.root.length + 1) };
}

function classifyHttp(url: URL, scheme: string, options: TesUrlOptions): TesUrl {
  if (url.username || url.password) {
    return unsupported(scheme, 'must not carry a user name or password (give a SAS in the query)');
  }
  const host = url.hostname.toLowerCase();
  if (isLoopbackHost(host)) {
    if (!options.allowLoopbackHttp) {
      return unsupported(scheme, 'names a loopback host, which on a Batch node is the node itself');
    }
    // Azurite's path style: /<account>/<container>/<path>.
    const [account, container] = url.pathname.split('/').slice(1);
    if (account && ACCOUNT.test(account) && container !== undefined && CONTAINER.test(container)) {
      return blobIn(url, `${url.protocol}//${url.host}/${account}`, 1, scheme);
    }
    return { kind: 'http', url: url.href };
  }
  const blobHost = BLOB_HOST.exec(host);
  if (blobHost) {
    if (scheme !== 'https') return unsupported(scheme, 'Azure Blob storage URLs must use https');
    return blobIn(url, `https://${url.host}`, 0, scheme);
  }
  return { kind: 'http', url: url.href };
}

/**
 * The container and blob path of `url`, whose container is path segment `skip` + 1 (after the
 * account segment in path style); `base` is what precedes the container in `containerUrl`.
 */
function blobIn(url: URL, base: string, skip: number, scheme: string): TesUrl {
  const segments = url.pathname.split('/').slice(1 + skip);
  const rawContainer = segments[0] ?? '';
  if (rawContainer === '') return unsupported(scheme, 'names no container: <account>/<container>/<path>');
  let container: string;
  let blobPath: string;
  try {
    container = decodeURIComponent(rawContainer);
    blobPath = decodeURIComponent(segments.slice(1).join('/'));
  } catch {
    return unsupported(scheme, 'has a malformed percent-escape (%XX) in its path');
  }
  if (!CONTAINER.test(container)) {
    return unsupported(
      scheme,
      `names container '${clip(container)}', but container names are 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit`,
    );
  }
  const query = url.search.slice(1);
  const sas = new URLSearchParams(query).has('sig') ? query : undefined;
  return {
    kind: 'blob',
    containerUrl: `${base}/${container}`,
    blobPath,
    ...(sas !== undefined && { sas }),
  };
}

/** Loopback names and addresses (0.0.0.0 reaches the local host too), IPv4-mapped ones included. */
function isLoopbackHost(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === '0.0.0.0' ||
    host === '[::1]' ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
  );
}

const clip = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text);
