import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { fieldError } from '../shared/model/validate-request.js';
import {
  DEFAULT_TASK_PAGE,
  listTasks,
  MAX_TASK_PAGE,
  taskResultFilters,
  taskStateFilters,
} from '../shared/usecases/list-tasks.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/**
 * GET /api/jobs/{id}/tasks?state=&result=&limit=&continuation= — a page of the job's tasks, read from
 * Batch (one Batch call per page). A page may be empty and still have a nextLink: Batch stops a
 * filtered scan at its time budget.
 */
export const jobsTasksList: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsTasksList',
  methods: ['GET'],
  route: 'jobs/{id}/tasks',
  handler: forTenantJob(async (request, _context, deps, tenant, id) => {
    const state = request.query.get('state') ?? undefined;
    const result = request.query.get('result') ?? undefined;
    const limitText = request.query.get('limit') ?? String(DEFAULT_TASK_PAGE);
    const continuation = request.query.get('continuation') ?? undefined;
    const errors = [];
    if (state !== undefined && !(taskStateFilters as readonly string[]).includes(state))
      errors.push(fieldError(['state'], `must be one of ${taskStateFilters.join(', ')}`));
    if (result !== undefined && !(taskResultFilters as readonly string[]).includes(result))
      errors.push(fieldError(['result'], `must be one of ${taskResultFilters.join(', ')}`));
    // Digits only: Number() would also take '0x10', '1e1' and ' 5'.
    const limit = /^[0-9]{1,4}$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TASK_PAGE)
      errors.push(fieldError(['limit'], `must be an integer from 1 to ${MAX_TASK_PAGE}`));
    if (errors.length > 0) return problems.badQuery(errors);
    const filter = {
      ...(state ? { state: state as (typeof taskStateFilters)[number] } : {}),
      ...(result ? { result: result as (typeof taskResultFilters)[number] } : {}),
    };
    const page = await listTasks(
      tenant,
      id,
      { filter, limit, ...(continuation ? { continuation } : {}) },
      deps,
    );
    if (page.kind === 'notFound') return problems.notFound(`Job '${id}'`);
    if (page.kind === 'badContinuation')
      return problems.badQuery([fieldError(['continuation'], page.message)]);
    const next = page.continuation
      ? `/api/jobs/${encodeURIComponent(id)}/tasks?${new URLSearchParams({
          ...(state ? { state } : {}),
          ...(result ? { result } : {}),
          limit: String(limit),
          continuation: page.continuation,
        })}`
      : undefined;
    return jsonResponse(
      200,
      { value: page.tasks, ...(next ? { nextLink: next } : {}) },
      { 'cache-control': 'no-store' },
    );
  }),
};
