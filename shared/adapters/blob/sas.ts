/**
 * Signing container SAS for the results store, in the two ways Blob Storage allows:
 * - with the account key (a connection string: Azurite locally), a service SAS;
 * - with Microsoft Entra (Azure, where the template turns shared-key access off), a user delegation
 *   SAS: the app's identity asks Blob Storage for a user delegation key (Get User Delegation Key,
 *   `generateUserDelegationKey/action`) and signs with it. A key lives at most 7 days; one is kept and
 *   reused while it covers the SAS asked for, and a new one fetched before it no longer does.
 * Both are signed locally (no call per SAS) by the official client's SAS code.
 */
import {
  type BlobServiceClient,
  type ContainerClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
  type UserDelegationKey,
} from '@azure/storage-blob';
import { SlotwiseError } from '../../core/errors.js';

/** The longest a user delegation key may live (Get User Delegation Key: "within 7 days of the current time"). */
export const MAX_DELEGATION_KEY_MS = 7 * 24 * 3600_000;
/** Margin for clocks that differ between this app, Blob Storage and the Batch nodes. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/** The longest SAS the store signs: a fresh delegation key always covers it. */
export const MAX_SAS_LIFETIME_MS = MAX_DELEGATION_KEY_MS - 2 * CLOCK_SKEW_MS;

export type SasPermissions = 'cw' | 'rl';

export interface SasSigner {
  /** `container`'s URL with a SAS granting `permissions` until `expiresAt`. */
  sign(container: ContainerClient, permissions: SasPermissions, expiresAt: Date): Promise<string>;
}

/** Service SAS signed with the account key of the service client's connection string. */
export function createKeySigner(service: BlobServiceClient): SasSigner {
  if (!(service.credential instanceof StorageSharedKeyCredential)) {
    throw new SlotwiseError(
      'ResultsStoreUnavailable',
      'The AzureWebJobsStorage connection string has no AccountKey: results SAS cannot be signed with it',
    );
  }
  return {
    sign: (container, permissions, expiresAt) =>
      // No start time: a node whose clock runs behind may use the SAS at once.
      container.generateSasUrl({
        permissions: ContainerSASPermissions.parse(permissions),
        expiresOn: expiresAt,
      }),
  };
}

/**
 * The signed version of user delegation SAS, pinned so that its string-to-sign does not change with a
 * client upgrade: 2025-07-05, which Blob Storage accepts and which Azurite, the local stand-in, checks
 * (the client's own default, 2026-04-06, signs two more fields that Azurite 3.35 does not know).
 */
export const DELEGATION_SAS_VERSION = '2025-07-05';

/**
 * The query string of a user delegation SAS for a whole container (`sr=c`), HTTPS only. Pure: the
 * key is given. Exported so its fields can be checked without Microsoft Entra.
 */
export function userDelegationSasQuery(input: {
  readonly containerName: string;
  readonly accountName: string;
  readonly permissions: SasPermissions;
  readonly expiresAt: Date;
  readonly key: UserDelegationKey;
}): string {
  return generateBlobSASQueryParameters(
    {
      containerName: input.containerName,
      permissions: ContainerSASPermissions.parse(input.permissions),
      expiresOn: input.expiresAt,
      protocol: SASProtocol.Https,
      version: DELEGATION_SAS_VERSION,
    },
    input.key,
    input.accountName,
  ).toString();
}

/**
 * User delegation SAS with a cached key. `now` is the app's clock. A key is asked for from
 * `now - CLOCK_SKEW_MS` to `now + MAX_DELEGATION_KEY_MS - CLOCK_SKEW_MS`, so a SAS of up to
 * `MAX_SAS_LIFETIME_MS` always fits in a fresh one.
 */
export function createDelegationSigner(
  service: BlobServiceClient,
  options: { readonly now: () => number; readonly accountName?: string },
): SasSigner {
  const accountName = options.accountName || service.accountName;
  let key: UserDelegationKey | undefined;
  let pending: Promise<UserDelegationKey> | undefined;

  const fetchKey = async (): Promise<UserDelegationKey> => {
    const now = options.now();
    try {
      const answer = await service.getUserDelegationKey(
        new Date(now - CLOCK_SKEW_MS),
        new Date(now + MAX_DELEGATION_KEY_MS - CLOCK_SKEW_MS),
      );
      return {
        signedObjectId: answer.signedObjectId,
        signedTenantId: answer.signedTenantId,
        signedStartsOn: answer.signedStartsOn,
        signedExpiresOn: answer.signedExpiresOn,
        signedService: answer.signedService,
        signedVersion: answer.signedVersion,
        value: answer.value,
      };
    } catch (e) {
      throw storeError(e, 'A user delegation key could not be had from Blob Storage');
    }
  };

  /** A key valid from now until at least `expiresAt`: the cached one, else a new one (callers share it). */
  const keyCovering = async (expiresAt: Date): Promise<UserDelegationKey> => {
    const now = options.now();
    if (key && key.signedStartsOn.getTime() <= now && key.signedExpiresOn.getTime() >= expiresAt.getTime())
      return key;
    pending ??= fetchKey().finally(() => {
      pending = undefined;
    });
    key = await pending;
    return key;
  };

  return {
    async sign(container, permissions, expiresAt) {
      const delegation = await keyCovering(expiresAt);
      // A SAS outliving its key would stop working with it: never sign past the key's end.
      const until = new Date(Math.min(expiresAt.getTime(), delegation.signedExpiresOn.getTime()));
      const query = userDelegationSasQuery({
        containerName: container.containerName,
        accountName,
        permissions,
        expiresAt: until,
        key: delegation,
      });
      return `${container.url}?${query}`;
    },
  };
}

/**
 * A Blob Storage failure as a SlotwiseError that keeps the service's error code and status but not
 * its message (SDK messages quote request URLs). Retryable: a role still propagating, throttling or
 * an outage pass; the caller decides how long to keep trying.
 */
export function storeError(e: unknown, what: string): SlotwiseError {
  if (e instanceof SlotwiseError) return e;
  const status = (e as { statusCode?: unknown }).statusCode;
  const code = errorCode(e);
  const parts = [typeof status === 'number' ? String(status) : '', typeof code === 'string' ? code : '']
    .filter(Boolean)
    .join(' ');
  return new SlotwiseError('ResultsStoreFailed', `${what}${parts ? ` (${parts})` : ''}`, {
    retryable: true,
    cause: e,
  });
}

/** Blob Storage's error code (`x-ms-error-code`) of an SDK error, if it has one. */
export function errorCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; details?: { errorCode?: unknown } };
  const code = err.details?.errorCode ?? err.code;
  return typeof code === 'string' ? code : undefined;
}
