import type { AppDeps } from '../shared/app.js';
import { jsonResponse, problems } from '../shared/http/problem.js';
import { toJobView } from '../shared/jobs/job-view.js';
import { retryJob } from '../shared/jobs/retry-job.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/** POST /api/jobs/{id}/retry — reactivate failed tasks, or resubmit them as a new attempt. */
export const jobsRetry: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsRetry',
  methods: ['POST'],
  route: 'jobs/{id}/retry',
  handler: forTenantJob(async (_request, _context, deps, tenant, id) => {
    const result = await retryJob(tenant, id, deps);
    switch (result.kind) {
      case 'notFound':
        return problems.notFound(`Job '${id}'`);
      case 'nothingToRetry':
        return problems.conflict(`Nothing to retry: ${result.reason}.`, { state: result.job.state });
      case 'reactivated':
      case 'resubmitted':
        return jsonResponse(202, {
          ...toJobView(result.job),
          retry: { mode: result.kind, tasks: result.tasks },
        });
    }
  }),
};
