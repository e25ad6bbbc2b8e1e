import type { AppDeps } from '../shared/app.js';
import { checkHealth } from '../shared/health.js';
import type { HttpFunction } from './definition.js';

/** GET /api/health — each dependency with status and latency; 200 when all are up, else 503. */
export const health: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'health',
  methods: ['GET'],
  route: 'health',
  handler: async (_request, _context, deps) => {
    const report = await checkHealth(deps.probes, {
      now: () => deps.clock.now(),
      monotonicMs: () => deps.clock.monotonicMs(),
    });
    return {
      status: report.status === 'up' ? 200 : 503,
      jsonBody: report,
      headers: { 'cache-control': 'no-store' },
    };
  },
};
