/** A stored job document for tests that write jobs straight to the store. */
import { type JobDoc, jobDocId, zeroTaskCounts } from '../../shared/model/job.js';

export function jobDocFixture(
  tenant: string,
  jobId: string,
  state: JobDoc['state'],
  updatedAt: string,
): JobDoc {
  return {
    id: jobDocId(jobId),
    type: 'job',
    tenant,
    jobId,
    state,
    createdAt: updatedAt,
    updatedAt,
    sortKey: `${updatedAt}|${jobId}`,
    requestHash: 'h',
    request: { id: jobId, pool: { vmSize: 'standard_d2s_v3' }, tasks: [{ id: 't', commandLine: 'sleep 1' }] },
    taskCounts: { ...zeroTaskCounts },
    history: [{ state, at: updatedAt }],
    events: [],
  };
}
