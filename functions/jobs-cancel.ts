import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { toJobView } from '../shared/model/job-view.js';
import { cancelJob } from '../shared/usecases/cancel-job.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/** DELETE /api/jobs/{id} — cancel; repeating it returns the cancelled job again. */
export const jobsCancel: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsCancel',
  methods: ['DELETE'],
  route: 'jobs/{id}',
  handler: forTenantJob(async (_request, _context, deps, tenant, id) => {
    const result = await cancelJob(tenant, id, deps);
    switch (result.kind) {
      case 'notFound':
        return problems.notFound(`Job '${id}'`);
      case 'ended':
        return problems.conflict(`Job '${result.job.jobId}' already ended as ${result.job.state}.`, {
          state: result.job.state,
        });
      case 'cancelled':
        return jsonResponse(200, toJobView(result.job));
    }
  }),
};
