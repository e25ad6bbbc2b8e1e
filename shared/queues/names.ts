/** Queue names. `job-requests` is the public intake; the others are internal to the pipeline. */
export const queueNames = {
  jobRequests: 'job-requests',
  plan: 'slotwise-plan',
  submit: 'slotwise-submit',
  notify: 'slotwise-notify',
  reconcile: 'slotwise-reconcile',
} as const;

export type QueueName = (typeof queueNames)[keyof typeof queueNames];
