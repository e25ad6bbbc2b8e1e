import type { AppDeps } from '../shared/app/app.js';
import { openApiDocument } from '../shared/interfaces/http/openapi.js';
import type { HttpFunction } from './definition.js';

/** GET /api/openapi.json — the API description (no key needed). */
export const openapi: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'openapi',
  methods: ['GET'],
  route: 'openapi.json',
  handler: async () => ({ status: 200, jsonBody: openApiDocument() }),
};
