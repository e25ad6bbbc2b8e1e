import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { toJobView } from '../shared/model/job-view.js';
import { requestRetry } from '../shared/usecases/retry-job.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/**
 * POST /api/jobs/{id}/retry — 202 at once with the retry queued; the retry stage reactivates the
 * failed tasks or resubmits them as a new attempt in the background. A retry counts against the
 * tenant's submission rate (429) and quotas (409), both with Retry-After, and `maxRetriesPerJob` (409).
 */
export const jobsRetry: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsRetry',
  methods: ['POST'],
  route: 'jobs/{id}/retry',
  handler: forTenantJob(async (_request, _context, deps, tenant, id) => {
    const result = await requestRetry(tenant, id, deps);
    switch (result.kind) {
      case 'notFound':
        return problems.notFound(`Job '${id}'`);
      case 'nothingToRetry':
        return problems.conflict(`Nothing to retry: ${result.reason}.`, { state: result.job.state });
      case 'limited':
        return problems.limited(result.status, result.limit, result.detail, result.retryAfterSeconds);
      case 'overLimit':
        return problems.conflict(result.detail, { limit: result.limit });
      case 'queued':
        return jsonResponse(202, {
          ...toJobView(result.job),
          retry: {
            status: result.retry.status,
            requestId: result.retry.requestId,
            attempt: result.retry.attempt,
            requestedAt: result.retry.requestedAt,
          },
        });
    }
  }),
};
