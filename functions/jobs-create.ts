import type { AppDeps } from '../shared/app.js';
import { jsonResponse, problems } from '../shared/http/problem.js';
import { MAX_JOB_BODY_BYTES, readJsonBody } from '../shared/http/read-json.js';
import { acceptJob } from '../shared/jobs/accept-job.js';
import { toJobView } from '../shared/jobs/job-view.js';
import type { HttpFunction } from './definition.js';
import { forTenant } from './http-auth.js';

/** POST /api/jobs — 202 with Location and the job; a replay of the same id and body returns it again. */
export const jobsCreate: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsCreate',
  methods: ['POST'],
  route: 'jobs',
  handler: forTenant(async (request, context, deps, tenant) => {
    const body = await readJsonBody(request);
    switch (body.kind) {
      case 'tooLarge':
        return problems.tooLarge(MAX_JOB_BODY_BYTES);
      case 'malformed':
        return problems.malformedJson(body.detail);
      case 'unsupportedMediaType':
        return problems.unsupportedMediaType();
      case 'ok':
        break;
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
