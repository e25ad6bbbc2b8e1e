import { InvalidContinuationError } from '../shared/adapters/cosmos/job-store.js';
import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { type JobState, jobStates } from '../shared/model/job.js';
import { toJobListItem } from '../shared/model/job-view.js';
import { fieldError } from '../shared/model/validate-request.js';
import type { HttpFunction } from './definition.js';
import { forTenant } from './http-auth.js';

/**
 * GET /api/jobs?state=&limit=&continuation= — the tenant's jobs, newest first, paged. Items are list
 * items (`JobListItem`), read by projection; `GET /api/jobs/{id}` has the full view.
 */
export const jobsList: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsList',
  methods: ['GET'],
  route: 'jobs',
  handler: forTenant(async (request, _context, deps, tenant) => {
    const state = request.query.get('state') ?? undefined;
    const limitText = request.query.get('limit') ?? '50';
    const continuation = request.query.get('continuation') ?? undefined;
    const errors = [];
    if (state !== undefined && !(jobStates as readonly string[]).includes(state)) {
      errors.push(fieldError(['state'], `must be one of ${jobStates.join(', ')}`));
    }
    // Digits only: Number() would also take '0x10', '1e1' and ' 5', which the document does not allow.
    const limit = /^[0-9]{1,3}$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
      errors.push(fieldError(['limit'], 'must be an integer from 1 to 200'));
    }
    if (errors.length > 0) return problems.badQuery(errors);
    try {
      const page = await deps.jobs.list(tenant, {
        limit,
        ...(state ? { state: state as JobState } : {}),
        ...(continuation ? { continuation } : {}),
      });
      const next = page.continuation
        ? `/api/jobs?${new URLSearchParams({
            ...(state ? { state } : {}),
            limit: String(limit),
            continuation: page.continuation,
          })}`
        : undefined;
      return jsonResponse(200, {
        value: page.jobs.map((j) => toJobListItem(j)),
        ...(next ? { nextLink: next } : {}),
      });
    } catch (e) {
      if (e instanceof InvalidContinuationError) {
        return problems.badQuery([fieldError(['continuation'], e.message)]);
      }
      throw e;
    }
  }),
};
