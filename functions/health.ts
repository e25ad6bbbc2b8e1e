import type { AppDeps } from '../shared/app/app.js';
import { accountsHealth, cachedHealth, HEALTH_MAX_AGE_MS, healthAccess } from '../shared/app/health.js';
import { problems } from '../shared/interfaces/http/problem.js';
import type { HttpFunction } from './definition.js';

/**
 * GET /api/health — 200 when every dependency is up, else 503. Without a key the body is only
 * `{ "status": "up" | "down" }` (enough for probes, nothing for a scanner), from a check at most 10 s
 * old; with a tenant API key it names each dependency with its latency (a check at most 2 s old,
 * `checkedAt` says when), the local-only settings refused in Azure, and the caller's managed pools
 * that Batch cannot allocate, and each Batch account's state (healthy, degraded, unhealthy, draining)
 * with its quotas and the cores Slotwise holds there. Checks are shared per instance (shared/app/health.ts), so callers
 * cannot make Batch, Cosmos and Storage work for each request.
 */
export const health: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'health',
  methods: ['GET'],
  route: 'health',
  handler: async (request, _context, deps) => {
    const access = await healthAccess(
      request.headers.get('authorization'),
      deps.tenants,
      deps.clock.now().getTime(),
    );
    if (access === 'badKey') return problems.unauthorized();
    const report = await cachedHealth(
      deps.probes,
      { now: () => deps.clock.now(), monotonicMs: () => deps.clock.monotonicMs() },
      access === 'anonymous' ? HEALTH_MAX_AGE_MS.anonymous : HEALTH_MAX_AGE_MS.tenant,
    );
    const headers = { 'cache-control': 'no-store' };
    const status = report.status === 'up' ? 200 : 503;
    if (access === 'anonymous') return { status, jsonBody: { status: report.status }, headers };
    const { runsInAzure, refused } = deps.localSwitches;
    // The caller's managed pools that Batch cannot allocate (quota, capacity): jobs on them wait.
    const cannotAllocate = (await deps.pools.list({ tenant: access.tenant }).catch(() => []))
      .filter((p) => p.allocationProblem)
      .map((p) => ({ poolId: p.id, ...p.allocationProblem }));
    const accounts = await accountsHealth(deps).catch(() => undefined);
    return {
      status,
      jsonBody: {
        ...report,
        localSwitches: { runsInAzure, refused },
        pools: { cannotAllocate },
        ...(accounts ? { accounts } : {}),
      },
      headers,
    };
  },
};
