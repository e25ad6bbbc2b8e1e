import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { fieldError } from '../shared/model/validate-request.js';
import { DEFAULT_OUTPUTS_LIMIT, listJobOutputs, MAX_OUTPUTS_LIMIT } from '../shared/usecases/job-outputs.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/**
 * GET /api/jobs/{id}/outputs?prefix=&limit=&continuation= — what the job's tasks uploaded to the
 * tenant's results store, in name order, paged; paths relative to the job's folder. Another
 * tenant's job is not found (404), as for GET /api/jobs/{id}.
 */
export const jobsOutputsList: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsOutputsList',
  methods: ['GET'],
  route: 'jobs/{id}/outputs',
  handler: forTenantJob(async (request, _context, deps, tenant, id) => {
    const prefix = request.query.get('prefix') ?? undefined;
    const limitText = request.query.get('limit') ?? String(DEFAULT_OUTPUTS_LIMIT);
    const continuation = request.query.get('continuation') ?? undefined;
    // Digits only: Number() would also take '0x10', '1e1' and ' 5'.
    const limit = /^[0-9]{1,4}$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_OUTPUTS_LIMIT) {
      return problems.badQuery([fieldError(['limit'], `must be an integer from 1 to ${MAX_OUTPUTS_LIMIT}`)]);
    }
    const result = await listJobOutputs(
      tenant,
      id,
      { limit, ...(prefix !== undefined ? { prefix } : {}), ...(continuation ? { continuation } : {}) },
      deps,
    );
    if (result.kind === 'invalid') return problems.badQuery(result.errors);
    if (result.kind === 'notFound') return problems.notFound(`Job '${id}'`);
    const next = result.continuation
      ? `/api/jobs/${encodeURIComponent(id)}/outputs?${new URLSearchParams({
          ...(prefix ? { prefix } : {}),
          limit: String(limit),
          continuation: result.continuation,
        })}`
      : undefined;
    return jsonResponse(
      200,
      { value: result.items, ...(next ? { nextLink: next } : {}) },
      { 'cache-control': 'no-store' },
    );
  }),
};
