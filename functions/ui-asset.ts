import type { AppDeps } from '../shared/app/app.js';
import { serveUi } from '../shared/interfaces/ui/serve.js';
import type { HttpFunction } from './definition.js';

/** GET /api/ui/{asset} — the dashboard's script and style (`app.js`, `app.css`); anything else is 404. */
export const uiAsset: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'uiAsset',
  methods: ['GET'],
  route: 'ui/{asset}',
  handler: async (request) =>
    serveUi(new URL(request.url).pathname, request.params.asset ?? '', request.headers.get('if-none-match')),
};
