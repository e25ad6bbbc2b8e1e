/**
 * Queued requests that wait for a limit to free up, one document per (tenant, job id) in the tenant's
 * partition of the `jobs` container (`type: 'intakeWait'`; every job query filters `type = 'job'`).
 *
 * The document holds the verified request itself, so the message that waits on
 * `slotwise-intake-deferred` is a small pointer whatever the request's size, and it is the marker that
 * makes one waiting loop per job: it is created with a conditional create (one copy of a request wins,
 * the others find it), and every later try advances it with ETag concurrency.
 */
import type { Container } from '@azure/cosmos';
import { cosmosStatus, stripSystem } from './cosmos-setup.js';

export interface IntakeWait {
  readonly id: string;
  readonly type: 'intakeWait';
  readonly tenant: string;
  readonly jobId: string;
  /** Hash of the request (canonical JSON): a copy with another body under the same id is a conflict. */
  readonly requestHash: string;
  /** The job request as verified, with its id. Not indexed (`/request/*` is excluded in `jobs`). */
  readonly request: Readonly<Record<string, unknown>>;
  /** The proof the request was verified with on `job-requests`. */
  readonly proofVerified: { readonly id: string; readonly at: string };
  /** Tries so far that met a limit; only the pointer carrying this number is the live one. */
  readonly waits: number;
  /** The limit the last try met (for logs). */
  readonly limit: string;
  /**
   * The queue message that wrote this state. When that same message is delivered again (its pointer
   * send failed after the write), it re-sends the pointer instead of ending as a copy.
   */
  readonly advancedBy: string;
  /** When the live pointer becomes visible on the deferred queue. */
  readonly nextTryAt: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly _etag?: string;
}

export interface IntakeWaitStore {
  get(tenant: string, jobId: string): Promise<IntakeWait | undefined>;
  /** Creates the wait unless one exists for the job (ignoring case); then returns that one. */
  create(wait: Omit<IntakeWait, 'id' | 'type'>): Promise<{ created: boolean; wait: IntakeWait }>;
  /** Writes `next` only if the stored wait is still `current` (its ETag); false when it changed or went. */
  advance(
    current: IntakeWait,
    next: Pick<IntakeWait, 'waits' | 'limit' | 'advancedBy' | 'nextTryAt' | 'updatedAt'>,
  ): Promise<boolean>;
  /** Removes the wait (the request was answered); absent already is fine. */
  remove(tenant: string, jobId: string): Promise<void>;
}

export function intakeWaitId(jobId: string): string {
  return `wait:${jobId.toLowerCase()}`;
}

export function createIntakeWaitStore(container: Container): IntakeWaitStore {
  const read = async (tenant: string, jobId: string): Promise<IntakeWait | undefined> => {
    try {
      const { resource } = await container.item(intakeWaitId(jobId), tenant).read<IntakeWait>();
      return resource ? stripSystem(resource) : undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  };
  return {
    get: read,

    async create(wait) {
      const doc: IntakeWait = { ...wait, id: intakeWaitId(wait.jobId), type: 'intakeWait' };
      try {
        const { resource } = await container.items.create(doc);
        return { created: true, wait: stripSystem(resource as IntakeWait) };
      } catch (e) {
        if (cosmosStatus(e) !== 409) throw e;
        const existing = await read(wait.tenant, wait.jobId);
        // Removed between the create and the read: the other request was answered meanwhile.
        if (!existing) throw e;
        return { created: false, wait: existing };
      }
    },

    async advance(current, next) {
      const { _etag, ...rest } = current;
      try {
        await container
          .item(current.id, current.tenant)
          .replace({ ...rest, ...next }, { accessCondition: { type: 'IfMatch', condition: _etag ?? '' } });
        return true;
      } catch (e) {
        const status = cosmosStatus(e);
        if (status === 412 || status === 404) return false;
        throw e;
      }
    },

    async remove(tenant, jobId) {
      try {
        await container.item(intakeWaitId(jobId), tenant).delete();
      } catch (e) {
        if (cosmosStatus(e) !== 404) throw e;
      }
    },
  };
}
