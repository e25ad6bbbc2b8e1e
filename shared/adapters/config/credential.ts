/**
 * One Microsoft Entra credential for every client that has no key (queues, Cosmos, Batch, Key Vault).
 * - In Azure (`WEBSITE_INSTANCE_ID` or `WEBSITE_SITE_NAME` set): the managed identity only, the
 *   user-assigned one named by the settings (as the Functions host's own `AzureWebJobsStorage__clientId`).
 *   DefaultAzureCredential would, after a managed-identity failure (a role or the identity endpoint not
 *   ready yet), go on to spawn `az`, `azd` and PowerShell, none of which exists there: slower failures
 *   with misleading messages.
 * - On a laptop: DefaultAzureCredential, so the developer's Azure CLI / azd sign-in works.
 */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { managedIdentityClientId, runsInAzure, type Settings } from './config.js';

/** Whether any client needs Entra: a client without its key or connection string does. */
export function needsCredential(settings: Settings): boolean {
  return (
    !settings.AzureWebJobsStorage ||
    !settings.COSMOS_KEY ||
    !settings.BATCH_ACCOUNT_KEY ||
    settings.KEY_VAULT_URI !== ''
  );
}

export function createAzureCredential(
  settings: Pick<
    Settings,
    'AZURE_CLIENT_ID' | 'AzureWebJobsStorage__clientId' | 'WEBSITE_INSTANCE_ID' | 'WEBSITE_SITE_NAME'
  >,
): TokenCredential {
  const clientId = managedIdentityClientId(settings);
  if (runsInAzure(settings))
    return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}
