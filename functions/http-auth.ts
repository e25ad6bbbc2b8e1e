/** Wraps an HTTP handler so it runs only for an authenticated tenant (401 problem otherwise). */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AppDeps } from '../shared/app/app.js';
import { authenticateRequest, authenticateTesRequest } from '../shared/interfaces/http/authenticate.js';
import { problems } from '../shared/interfaces/http/problem.js';
import { tesUnauthorized } from '../shared/interfaces/http/tes-http.js';

type TenantHandler = (
  request: HttpRequest,
  context: InvocationContext,
  deps: AppDeps,
  tenant: string,
) => Promise<HttpResponseInit>;

/** A handler run only for the tenant `authenticate` finds in the request, else `unauthorized`. */
function guarded(
  authenticate: (request: HttpRequest, tenants: AppDeps['tenants']) => Promise<string | undefined>,
  unauthorized: () => HttpResponseInit,
) {
  return (handler: TenantHandler) =>
    async (request: HttpRequest, context: InvocationContext, deps: AppDeps): Promise<HttpResponseInit> => {
      const tenant = await authenticate(request, deps.tenants);
      if (!tenant) return unauthorized();
      return handler(request, context, deps, tenant);
    };
}

export const forTenant = guarded(authenticateRequest, problems.unauthorized);

const jobIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** As `forTenant`, for routes with a job `{id}`: an id that cannot exist is simply not found. */
export function forTenantJob(
  handler: (
    request: HttpRequest,
    context: InvocationContext,
    deps: AppDeps,
    tenant: string,
    jobId: string,
  ) => Promise<HttpResponseInit>,
) {
  return forTenant(async (request, context, deps, tenant) => {
    const id = request.params.id ?? '';
    if (!jobIdPattern.test(id)) return problems.notFound(`Job '${id.slice(0, 80)}'`);
    return handler(request, context, deps, tenant, id);
  });
}

/** As `forTenant`, with the credentials TES clients send (Bearer or Basic; see authenticateTesRequest). */
export const forTesTenant = guarded(authenticateTesRequest, tesUnauthorized);
