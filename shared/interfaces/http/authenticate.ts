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

/**
 * As TES clients send credentials: `Authorization: Bearer <key>`, or HTTP Basic with the tenant as
 * user and its key as password (py-tes, Nextflow, cwl-tes and the compliance runner send Basic). A
 * Basic user that is not the key's tenant is refused, so a key never speaks for another tenant.
 */
export async function authenticateTesRequest(
  request: HttpRequest,
  tenants: TenantStore,
): Promise<string | undefined> {
  const header = request.headers.get('authorization') ?? '';
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return authenticateRequest(request, tenants);
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const user = decoded.slice(0, colon);
  const tenant = await tenants.authenticate(decoded.slice(colon + 1));
  return tenant !== undefined && tenant === user ? tenant : undefined;
}
