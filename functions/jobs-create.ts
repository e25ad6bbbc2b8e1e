import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { readJsonOrProblem } from '../shared/interfaces/http/read-json.js';
import { toJobView } from '../shared/model/job-view.js';
import { fieldError } from '../shared/model/validate-request.js';
import { acceptJob } from '../shared/usecases/accept-job.js';
import { dryRunJob } from '../shared/usecases/dry-run.js';
import type { HttpFunction } from './definition.js';
import { forTenant } from './http-auth.js';

/**
 * POST /api/jobs — 202 with Location and the job; a replay of the same id and body returns it again.
 * `?dryRun=true` answers 200 with the plan and an estimate instead (shared/usecases/dry-run.ts).
 */
export const jobsCreate: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsCreate',
  methods: ['POST'],
  route: 'jobs',
  handler: forTenant(async (request, context, deps, tenant) => {
    const body = await readJsonOrProblem(request);
    if (!body.ok) return body.response;
    const dryRun = parseDryRun(request.query.get('dryRun'));
    if (dryRun === 'invalid') return problems.badQuery([fieldError(['dryRun'], 'must be true or false')]);
    if (dryRun) {
      // Validates and plans only: nothing is stored, queued or sent, and no rate token is taken.
      const planned = await dryRunJob({ tenant, body: body.value }, deps);
      switch (planned.kind) {
        case 'invalid':
          return problems.invalidRequest(planned.errors);
        case 'overLimit':
          return problems.overLimit(planned.limit, planned.errors);
        case 'noAccount':
          return problems.conflict(planned.errors[0]?.message ?? 'No Batch account takes the job now.', {
            errors: planned.errors,
            considered: planned.considered,
          });
        case 'planned':
          return jsonResponse(200, planned.answer);
      }
    }
    const result = await acceptJob(
      { tenant, body: body.value, source: 'http' },
      { ...deps, log: (m) => context.warn(m) },
    );
    switch (result.kind) {
      case 'invalid':
        return problems.invalidRequest(result.errors);
      case 'conflict':
        return problems.conflict(
          `Job '${result.job.jobId}' already exists with a different request; job ids are idempotency keys.`,
          { jobId: result.job.jobId },
        );
      case 'rejected':
        return problems.invalidRequest(result.job.errors ?? []);
      case 'limited':
        return problems.limited(result.status, result.limit, result.detail, result.retryAfterSeconds);
      case 'overLimit':
        return problems.overLimit(result.limit, result.errors);
      case 'accepted': {
        const view = toJobView(result.job);
        return jsonResponse(result.created ? 202 : 200, view, { location: view.links.self });
      }
    }
  }),
};

function parseDryRun(value: string | null): boolean | 'invalid' {
  if (value === null || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  return 'invalid';
}
