import type { AppDeps } from '../shared/app.js';
import { serveUi } from '../shared/ui/serve.js';
import type { HttpFunction } from './definition.js';

/**
 * GET /api/ui — the dashboard page; GET /api/ui/app.js and app.css — its assets. No key here: the
 * page calls the JSON API with the tenant's key from the browser.
 */
export const ui: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'ui',
  methods: ['GET'],
  // A catch-all parameter is optional, so this also matches `ui` itself.
  route: 'ui/{*path}',
  handler: async (request) =>
    serveUi(new URL(request.url).pathname, request.params.path ?? '', request.headers.get('if-none-match')),
};
