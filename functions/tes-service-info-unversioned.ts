import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse } from '../shared/interfaces/http/problem.js';
import { tesServiceInfoBody } from '../shared/interfaces/http/tes-http.js';
import type { HttpFunction } from './definition.js';

/** GET /api/ga4gh/tes/service-info — the same answer where Nextflow's TES plugin looks (no `v1`). */
export const tesServiceInfoUnversioned: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'tesServiceInfoUnversioned',
  methods: ['GET'],
  route: 'ga4gh/tes/service-info',
  handler: async (_request, _context, deps) =>
    jsonResponse(200, tesServiceInfoBody(deps.settings, '0.1.0'), { 'cache-control': 'max-age=300' }),
};
