import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { tesNotFound } from '../shared/interfaces/http/tes-http.js';
import { parseTesView } from '../shared/model/tes-views.js';
import { fieldError } from '../shared/model/validate-request.js';
import { getTesTask } from '../shared/usecases/tes-tasks.js';
import type { HttpFunction } from './definition.js';
import { forTesTenant } from './http-auth.js';
import { tesDeps } from './tes-deps.js';

/** GET /api/ga4gh/tes/v1/tasks/{id} — GetTask in the asked view (MINIMAL by default). */
export const tesTasksGet: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'tesTasksGet',
  methods: ['GET'],
  route: 'ga4gh/tes/v1/tasks/{id}',
  handler: forTesTenant(async (request, context, deps, tenant) => {
    const id = request.params.id ?? '';
    const view = parseTesView(request.query.get('view'));
    if (!view) return problems.badQuery([fieldError(['view'], 'must be MINIMAL, BASIC or FULL')]);
    const found = await getTesTask(tenant, id, view, tesDeps(deps, context));
    if (found.kind === 'notFound') return tesNotFound(id);
    return jsonResponse(200, found.task, { 'cache-control': 'no-store' });
  }),
};
