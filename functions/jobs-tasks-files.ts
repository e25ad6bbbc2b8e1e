import type { AppDeps } from '../shared/app/app.js';
import { parseRangeHeader } from '../shared/interfaces/http/byte-range.js';
import { problems } from '../shared/interfaces/http/problem.js';
import { notFoundWhy, taskFileResponse } from '../shared/interfaces/http/task-answers.js';
import { fieldError } from '../shared/model/validate-request.js';
import { readTaskFile } from '../shared/usecases/read-task-file.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/**
 * GET /api/jobs/{id}/tasks/{taskId}/files/{*path} — a task's `stdout.txt`, `stderr.txt` or another file
 * of its directory, as text, at most 4 MiB per answer (`Range` for the rest).
 */
export const jobsTasksFiles: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsTasksFiles',
  methods: ['GET'],
  route: 'jobs/{id}/tasks/{taskId}/files/{*path}',
  handler: forTenantJob(async (request, _context, deps, tenant, id) => {
    const range = parseRangeHeader(request.headers.get('range'));
    if (range && 'error' in range) return problems.badQuery([fieldError(['Range'], range.error)]);
    const result = await readTaskFile(
      tenant,
      id,
      request.params.taskId ?? '',
      request.params.path ?? '',
      range,
      deps,
    );
    switch (result.kind) {
      case 'notFound':
        return notFoundWhy(result.what, result.why);
      case 'invalid':
        return problems.badQuery([fieldError([result.field], result.message)]);
      default:
        return taskFileResponse(result);
    }
  }),
};
