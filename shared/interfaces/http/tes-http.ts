/**
 * HTTP plumbing of the GA4GH TES 1.1 API (`/api/ga4gh/tes/v1`). The spec defines no error body, so
 * errors are this API's problem details (status, which field, why); TES clients read the status.
 */
import type { HttpResponseInit } from '@azure/functions';
import type { Settings } from '../../adapters/config/config.js';
import { tesServiceInfo } from '../../model/tes-views.js';
import { problemResponse } from './problem.js';

export function tesUnauthorized(): HttpResponseInit {
  return problemResponse(
    {
      type: 'https://slotwise.dev/problems/unauthorized',
      title: 'Unauthorized',
      status: 401,
      detail:
        'Send "Authorization: Bearer <key>", or HTTP Basic with your tenant as user and its API key as password.',
    },
    { 'www-authenticate': 'Basic realm="slotwise", Bearer realm="slotwise"' },
  );
}

export function tesNotFound(id: string): HttpResponseInit {
  return problemResponse({
    type: 'https://slotwise.dev/problems/not-found',
    title: 'Not found',
    status: 404,
    detail: `TES task '${id.slice(0, 80)}' was not found.`,
  });
}

/** The service-info answer (public: clients read it before they authenticate). */
export function tesServiceInfoBody(settings: Pick<Settings, 'SLOTWISE_PUBLIC_URL'>, version: string) {
  const base = settings.SLOTWISE_PUBLIC_URL.replace(/\/+$/, '');
  return tesServiceInfo({
    id: 'dev.slotwise.tes',
    name: 'Slotwise',
    version,
    organization: { name: 'Slotwise', url: base || 'https://slotwise.dev' },
    ...(base ? { documentationUrl: `${base}/api/ui` } : {}),
    storage: ['https://<account>.blob.core.windows.net', 'az://<account>/<container>', 'https', 'http'],
    environment: 'azure-batch',
  });
}
