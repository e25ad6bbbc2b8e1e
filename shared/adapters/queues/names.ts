/**
 * Queue names. `job-requests` is the public intake (in Azure, senders get a data role scoped to it
 * alone); the others are internal and written only by the app itself.
 */
export const queueNames = {
  jobRequests: 'job-requests',
  /** Verified queue requests that met a limit that frees up with time, waiting for another try. */
  intakeDeferred: 'slotwise-intake-deferred',
  plan: 'slotwise-plan',
  submit: 'slotwise-submit',
  notify: 'slotwise-notify',
  /** Retries asked for over HTTP, done in the background (paged, resumable). */
  retry: 'slotwise-retry',
  reconcile: 'slotwise-reconcile',
  /** Wakes the pool controller for one pool (a job was placed on it). */
  pools: 'slotwise-pools',
  /** Wakes the TES submitter for one tenant's lane key (TES tasks waiting to go to Batch). */
  tes: 'slotwise-tes',
} as const;

export type QueueName = (typeof queueNames)[keyof typeof queueNames];
