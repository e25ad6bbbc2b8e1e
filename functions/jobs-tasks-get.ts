import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse } from '../shared/interfaces/http/problem.js';
import { notFoundWhy } from '../shared/interfaces/http/task-answers.js';
import { getTask } from '../shared/usecases/get-task.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/** GET /api/jobs/{id}/tasks/{taskId} — one task as Batch shows it, with its attempts. */
export const jobsTasksGet: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsTasksGet',
  methods: ['GET'],
  route: 'jobs/{id}/tasks/{taskId}',
  handler: forTenantJob(async (request, _context, deps, tenant, id) => {
    const found = await getTask(tenant, id, request.params.taskId ?? '', deps);
    if (found.kind === 'notFound') return notFoundWhy(found.what, found.why);
    return jsonResponse(200, found.task, { 'cache-control': 'no-store' });
  }),
};
