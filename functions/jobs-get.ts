import type { AppDeps } from '../shared/app.js';
import { jsonResponse, problems } from '../shared/http/problem.js';
import { toJobView } from '../shared/jobs/job-view.js';
import type { HttpFunction } from './definition.js';
import { forTenant } from './http-auth.js';

/** GET /api/jobs/{id} — another tenant's job is simply not found (404, never 403). */
export const jobsGet: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsGet',
  methods: ['GET'],
  route: 'jobs/{id}',
  handler: forTenant(async (request, _context, deps, tenant) => {
    const id = request.params.id ?? '';
    const job = /^[A-Za-z0-9_-]{1,64}$/.test(id) ? await deps.jobs.get(tenant, id) : undefined;
    if (!job) return problems.notFound(`Job '${id}'`);
    return jsonResponse(200, toJobView(job), { 'cache-control': 'no-store' });
  }),
};
