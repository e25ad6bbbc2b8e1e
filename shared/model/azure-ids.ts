/**
 * The Azure resource ids a managed pool may name: a user-assigned identity and a subnet. Checked by
 * form only (ARM's naming rules); whether the resource exists is never asked, so an answer never
 * tells a tenant about resources it was not granted. ARM ids are compared ignoring case.
 */
import { z } from 'zod';

const GUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const RESOURCE_GROUP = '[-\\w.()]{0,89}[-\\w()]';

/** `/subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}` */
export const IDENTITY_ID_PATTERN = new RegExp(
  `^/subscriptions/${GUID}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft\\.ManagedIdentity/userAssignedIdentities/[A-Za-z0-9][A-Za-z0-9_-]{2,127}$`,
  'i',
);

/** `/subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}` */
export const SUBNET_ID_PATTERN = new RegExp(
  `^/subscriptions/${GUID}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft\\.Network/virtualNetworks/[A-Za-z0-9][\\w.-]{0,63}/subnets/[A-Za-z0-9][\\w.-]{0,79}$`,
  'i',
);

export const identityIdSchema = z
  .string()
  .max(1024)
  .regex(
    IDENTITY_ID_PATTERN,
    'must be the ARM id of a user-assigned identity: /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}',
  );

export const subnetIdSchema = z
  .string()
  .max(1024)
  .regex(
    SUBNET_ID_PATTERN,
    'must be the ARM id of a subnet: /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{network}/subnets/{subnet}',
  );

/** ARM ids are case-insensitive. */
export function sameAzureId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
