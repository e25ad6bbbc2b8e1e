import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { readJsonOrProblem } from '../shared/interfaces/http/read-json.js';
import { createTesTask } from '../shared/usecases/tes-tasks.js';
import type { HttpFunction } from './definition.js';
import { forTesTenant } from './http-auth.js';
import { tesDeps } from './tes-deps.js';

/** A TES task with its `content` inputs (256 KiB each, 1 MiB together) and its other fields. */
const MAX_TES_BODY_BYTES = 2 * 1024 * 1024;

/** POST /api/ga4gh/tes/v1/tasks — CreateTask: 200 `{ "id" }`. */
export const tesTasksCreate: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'tesTasksCreate',
  methods: ['POST'],
  route: 'ga4gh/tes/v1/tasks',
  handler: forTesTenant(async (request, context, deps, tenant) => {
    const body = await readJsonOrProblem(request, MAX_TES_BODY_BYTES);
    if (!body.ok) return body.response;
    const result = await createTesTask(tenant, body.value, tesDeps(deps, context));
    switch (result.kind) {
      case 'invalid':
        return problems.invalidRequest(result.errors, 'The TES task has invalid fields.');
      case 'limited':
        return problems.limited(result.status, result.limit, result.detail, result.retryAfterSeconds);
      case 'created':
        return jsonResponse(200, { id: result.id });
    }
  }),
};
