import type { AppDeps } from '../shared/app/app.js';
import { serveUi } from '../shared/interfaces/ui/serve.js';
import type { HttpFunction } from './definition.js';

/**
 * GET /api/ui — the dashboard page. No key here: the page calls the JSON API with the tenant's key
 * from the browser. Its assets come from `uiAsset`.
 */
export const ui: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'ui',
  methods: ['GET'],
  route: 'ui',
  handler: async (request) =>
    serveUi(new URL(request.url).pathname, '', request.headers.get('if-none-match')),
};
