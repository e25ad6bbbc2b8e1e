import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse } from '../shared/interfaces/http/problem.js';
import { tesNotFound } from '../shared/interfaces/http/tes-http.js';
import { cancelTesTask } from '../shared/usecases/tes-tasks.js';
import type { HttpFunction } from './definition.js';
import { forTesTenant } from './http-auth.js';
import { tesDeps } from './tes-deps.js';

const CANCEL = ':cancel';

/**
 * POST /api/ga4gh/tes/v1/tasks/{id}:cancel — CancelTask: `{}`. The route takes the whole segment and
 * splits the action off, since `{id}:cancel` is a complex segment route templates do not all match.
 */
export const tesTasksCancel: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'tesTasksCancel',
  methods: ['POST'],
  route: 'ga4gh/tes/v1/tasks/{idAction}',
  handler: forTesTenant(async (request, context, deps, tenant) => {
    const segment = request.params.idAction ?? '';
    if (!segment.endsWith(CANCEL)) return tesNotFound(segment);
    const id = segment.slice(0, -CANCEL.length);
    const result = await cancelTesTask(tenant, id, tesDeps(deps, context));
    if (result.kind === 'notFound') return tesNotFound(id);
    return jsonResponse(200, {});
  }),
};
