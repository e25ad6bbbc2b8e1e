/** Bearer API-key authentication at the HTTP boundary. */
import type { HttpRequest } from '@azure/functions';
import type { TenantStore } from '../../adapters/cosmos/tenant-store.js';

export async function authenticateRequest(
  request: HttpRequest,
  tenants: TenantStore,
): Promise<string | undefined> {
  const header = request.headers.get('authorization');
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) return undefined;
  return tenants.authenticate(match[1]);
}
