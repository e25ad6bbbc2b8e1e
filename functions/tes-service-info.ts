import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse } from '../shared/interfaces/http/problem.js';
import { tesServiceInfoBody } from '../shared/interfaces/http/tes-http.js';
import type { HttpFunction } from './definition.js';

/** GET /api/ga4gh/tes/v1/service-info — GA4GH service-info for TES 1.1 (public). */
export const tesServiceInfo: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'tesServiceInfo',
  methods: ['GET'],
  route: 'ga4gh/tes/v1/service-info',
  handler: async (_request, _context, deps) =>
    jsonResponse(200, tesServiceInfoBody(deps.settings, '0.1.0'), { 'cache-control': 'max-age=300' }),
};
