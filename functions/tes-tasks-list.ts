import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { listTesTasks } from '../shared/usecases/tes-tasks.js';
import type { HttpFunction } from './definition.js';
import { forTesTenant } from './http-auth.js';
import { tesDeps } from './tes-deps.js';

/** GET /api/ga4gh/tes/v1/tasks — ListTasks, newest first, from Slotwise's own store. */
export const tesTasksList: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'tesTasksList',
  methods: ['GET'],
  route: 'ga4gh/tes/v1/tasks',
  handler: forTesTenant(async (request, context, deps, tenant) => {
    const result = await listTesTasks(tenant, request.query, tesDeps(deps, context));
    if (result.kind === 'invalid') return problems.badQuery(result.errors);
    return jsonResponse(
      200,
      { tasks: result.tasks, ...(result.nextPageToken ? { next_page_token: result.nextPageToken } : {}) },
      { 'cache-control': 'no-store' },
    );
  }),
};
