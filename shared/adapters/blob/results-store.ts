/**
 * The results store: one Blob container per tenant in Slotwise's own storage account
 * (`resultsContainerName(tenantId)`), where tasks upload their outputs and logs through Batch's
 * `outputFiles` and read shared inputs through `resourceFiles`, and from which the API lists and
 * streams them. Tasks never get the app's credentials: the submit stage gives each task container
 * SAS minted here — create and write only (`cw`) for uploads, read and list (`rl`) for inputs — that
 * reach only their own tenant's container and expire.
 *
 * Built on the official `@azure/storage-blob` client rather than REST by hand: it signs service and
 * user delegation SAS (string-to-sign per service version), fetches user delegation keys, pages
 * listings with the service's markers, and downloads ranges with retries that resume a broken stream.
 */
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import type { TokenCredential } from '@azure/core-auth';
import {
  BlobServiceClient,
  type ContainerClient,
  type ListBlobsFlatSegmentResponse,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { SlotwiseError } from '../../core/errors.js';
import { resultsContainerName } from '../../model/results-paths.js';
import { createDelegationSigner, createKeySigner, errorCode, type SasSigner, storeError } from './sas.js';

export { MAX_SAS_LIFETIME_MS } from './sas.js';

export interface ResultItem {
  /** The blob's name in the tenant's container (`<jobId>/<task>/<file>`). */
  readonly path: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly contentType?: string;
}

export interface ResultsPage {
  readonly items: readonly ResultItem[];
  /** Blob Storage's marker for the next page; absent on the last. Opaque to callers. */
  readonly continuation?: string;
}

/** Bytes `start`..`end` (inclusive; to the end when `end` is absent), or the last `suffix` bytes. */
export type ByteRange = { readonly start: number; readonly end?: number } | { readonly suffix: number };

export interface ResultBlob {
  /** The bytes asked for; cancelling it stops the download. */
  readonly stream: ReadableStream<Uint8Array>;
  /** The whole blob's size. */
  readonly size: number;
  /** Bytes in `stream`. */
  readonly contentLength: number;
  /** `bytes a-b/size` when a range was served; absent for the whole blob. */
  readonly contentRange?: string;
  readonly lastModified: Date;
  readonly contentType?: string;
  readonly etag?: string;
}

export interface ResultsStore {
  /** The tenant's container URL with a SAS that can create and write blobs, nothing else (`sp=cw`). */
  writeSasUrl(tenantId: string, expiresAt: Date): Promise<string>;
  /** The tenant's container URL with a SAS that can read and list blobs (`sp=rl`), for resource files. */
  readSasUrl(tenantId: string, expiresAt: Date): Promise<string>;
  /** One page of the blobs whose names start with `prefix`, in name order. An absent container is empty. */
  list(
    tenantId: string,
    prefix: string,
    options: { readonly limit: number; readonly continuation?: string },
  ): Promise<ResultsPage>;
  /** The blob (or a range of it); undefined when it does not exist. */
  read(tenantId: string, path: string, range?: ByteRange): Promise<ResultBlob | undefined>;
  /** Creates the tenant's container if it is not there (idempotent; remembered once done). */
  ensureContainer(tenantId: string): Promise<void>;
  /** Writes a blob (replacing one of that name): inputs Slotwise itself stages, such as TES `content`. */
  upload(tenantId: string, path: string, content: Uint8Array): Promise<void>;
}

/** Which storage account and how to reach it (config.ts `blobServiceConnection`). */
export type BlobConnection =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | {
      readonly kind: 'identity';
      readonly blobServiceUri: string;
      readonly credential: TokenCredential;
      /** Default: read from the endpoint's host name. */
      readonly accountName?: string;
    };

/** A range that starts past the end of the blob (HTTP 416). */
export class RangeNotSatisfiableError extends SlotwiseError {
  constructor(readonly size: number) {
    super('RangeNotSatisfiable', `The range starts past the end of the ${size}-byte blob`);
    this.name = 'RangeNotSatisfiableError';
  }
}

/** A continuation that Blob Storage refused (not one of its markers). */
export class InvalidResultsContinuationError extends SlotwiseError {
  constructor() {
    super('InvalidContinuation', 'is not a continuation token of this listing');
    this.name = 'InvalidResultsContinuationError';
  }
}

export function createResultsStore(
  connection: BlobConnection,
  options: {
    /** The app's clock, for SAS and delegation key times. Default Date.now. */
    readonly now?: () => number;
    /** The client's pipeline (proxy, retries, HTTP client). Default the SDK's. */
    readonly clientOptions?: StoragePipelineOptions;
  } = {},
): ResultsStore {
  const now = options.now ?? Date.now;
  const service =
    connection.kind === 'connectionString'
      ? BlobServiceClient.fromConnectionString(connection.connectionString, options.clientOptions)
      : new BlobServiceClient(connection.blobServiceUri, connection.credential, options.clientOptions);
  // Made on first use: a connection string without a key then fails only what needs a SAS.
  let signer: SasSigner | undefined;
  const sasSigner = () => {
    signer ??=
      connection.kind === 'connectionString'
        ? createKeySigner(service)
        : createDelegationSigner(service, {
            now,
            ...(connection.accountName ? { accountName: connection.accountName } : {}),
          });
    return signer;
  };
  const ensured = new Map<string, Promise<void>>();
  const containerOf = (tenantId: string): ContainerClient =>
    service.getContainerClient(resultsContainerName(tenantId));

  const ensureContainer = (tenantId: string): Promise<void> => {
    const name = resultsContainerName(tenantId);
    let done = ensured.get(name);
    if (!done) {
      done = containerOf(tenantId)
        .createIfNotExists()
        .then(
          () => undefined,
          (e: unknown) => {
            // A failed create is not remembered: the next call tries again.
            ensured.delete(name);
            throw storeError(e, `The results container of tenant '${tenantId}' could not be created`);
          },
        );
      ensured.set(name, done);
    }
    return done;
  };

  const sasUrl = async (tenantId: string, permissions: 'cw' | 'rl', expiresAt: Date) => {
    if (expiresAt.getTime() <= now())
      throw new SlotwiseError('InvalidSasExpiry', 'A results SAS must expire in the future');
    const signer = sasSigner();
    // Batch writes into the container and lists it; it must exist before the first task runs.
    await ensureContainer(tenantId);
    return signer.sign(containerOf(tenantId), permissions, expiresAt);
  };

  return {
    ensureContainer,
    writeSasUrl: (tenantId, expiresAt) => sasUrl(tenantId, 'cw', expiresAt),
    readSasUrl: (tenantId, expiresAt) => sasUrl(tenantId, 'rl', expiresAt),

    async list(tenantId, prefix, { limit, continuation }) {
      const pages = containerOf(tenantId)
        .listBlobsFlat({ prefix })
        .byPage({ maxPageSize: limit, ...(continuation ? { continuationToken: continuation } : {}) });
      let page: ListBlobsFlatSegmentResponse | undefined;
      try {
        page = (await pages.next()).value as ListBlobsFlatSegmentResponse | undefined;
      } catch (e) {
        const code = errorCode(e);
        if (code === 'ContainerNotFound') return { items: [] };
        if (continuation && (e as { statusCode?: number }).statusCode === 400)
          throw new InvalidResultsContinuationError();
        throw storeError(e, 'The results could not be listed');
      }
      const items = (page?.segment.blobItems ?? []).map(
        (b): ResultItem => ({
          path: b.name,
          size: b.properties.contentLength ?? 0,
          lastModified: b.properties.lastModified,
          ...(b.properties.contentType ? { contentType: b.properties.contentType } : {}),
        }),
      );
      const next = page?.continuationToken;
      return { items, ...(next ? { continuation: next } : {}) };
    },

    async upload(tenantId, path, content) {
      await ensureContainer(tenantId);
      await containerOf(tenantId).getBlockBlobClient(path).uploadData(content);
    },
    async read(tenantId, path, range) {
      const blob = containerOf(tenantId).getBlobClient(path);
      // Twice at most: a blob replaced between reading its size and its bytes is read again.
      for (let attempt = 1; ; attempt++) {
        let props: Awaited<ReturnType<typeof blob.getProperties>>;
        try {
          props = await blob.getProperties();
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode === 404) return undefined;
          throw storeError(e, 'The result could not be read');
        }
        const size = props.contentLength ?? 0;
        const span = resolveRange(range, size);
        try {
          const answer = await blob.download(span?.start ?? 0, span ? span.end - span.start + 1 : undefined, {
            conditions: props.etag ? { ifMatch: props.etag } : {},
            // A stream cut mid-way resumes where it stopped (from the same version, by ETag).
            maxRetryRequests: 5,
          });
          const body = answer.readableStreamBody as Readable | undefined;
          const stream = body
            ? (Readable.toWeb(body) as ReadableStream<Uint8Array>)
            : (Readable.toWeb(Readable.from([])) as ReadableStream<Uint8Array>);
          return {
            stream,
            size,
            contentLength: span ? span.end - span.start + 1 : size,
            ...(span ? { contentRange: `bytes ${span.start}-${span.end}/${size}` } : {}),
            lastModified: props.lastModified ?? new Date(0),
            ...(props.contentType ? { contentType: props.contentType } : {}),
            ...(props.etag ? { etag: props.etag } : {}),
          };
        } catch (e) {
          const status = (e as { statusCode?: number }).statusCode;
          if (status === 404) return undefined;
          if (status === 412 && attempt < 2) continue;
          throw storeError(e, 'The result could not be read');
        }
      }
    },
  };
}

/**
 * The inclusive byte span a range asks for in a blob of `size` bytes, clipped to it (RFC 9110
 * §14.1.2); undefined for the whole blob. An empty blob is served whole whatever the range (no range
 * of it is satisfiable, and refusing would only make a client of an empty file fail); a range that
 * starts past the end throws `RangeNotSatisfiableError`.
 */
export function resolveRange(
  range: ByteRange | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (!range || size === 0) return undefined;
  if ('suffix' in range) {
    if (range.suffix <= 0) throw new RangeNotSatisfiableError(size);
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) throw new RangeNotSatisfiableError(size);
  const end = range.end === undefined ? size - 1 : Math.min(range.end, size - 1);
  return { start: range.start, end };
}

/** A store for settings that name no blob endpoint: every call fails, naming what to set. */
export function unavailableResultsStore(): ResultsStore {
  const fail = async (): Promise<never> => {
    throw new SlotwiseError(
      'ResultsStoreUnavailable',
      'No blob endpoint for the results store: set AzureWebJobsStorage, AzureWebJobsStorage__blobServiceUri or AzureWebJobsStorage__accountName',
    );
  };
  return { writeSasUrl: fail, readSasUrl: fail, list: fail, read: fail, ensureContainer: fail, upload: fail };
}
