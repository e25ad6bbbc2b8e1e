import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { toJobView } from '../shared/model/job-view.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/** GET /api/jobs/{id} — another tenant's job is simply not found (404, never 403). */
export const jobsGet: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsGet',
  methods: ['GET'],
  route: 'jobs/{id}',
  handler: forTenantJob(async (_request, _context, deps, tenant, id) => {
    const job = await deps.jobs.get(tenant, id);
    if (!job) return problems.notFound(`Job '${id}'`);
    return jsonResponse(200, toJobView(job), { 'cache-control': 'no-store' });
  }),
};
