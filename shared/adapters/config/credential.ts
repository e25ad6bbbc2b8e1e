/**
 * One Microsoft Entra credential for every client that has no key (queues, Cosmos, Batch, Key Vault).
 * In Azure it resolves to the app's user-assigned managed identity (its client id comes from the
 * settings, as the Functions host's own `AzureWebJobsStorage__clientId` does); on a laptop it falls
 * through to the developer's Azure CLI / azd sign-in.
 */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { managedIdentityClientId, type Settings } from './config.js';

/** Whether any client needs Entra: a client without its key or connection string does. */
export function needsCredential(settings: Settings): boolean {
  return (
    !settings.AzureWebJobsStorage ||
    !settings.COSMOS_KEY ||
    !settings.BATCH_ACCOUNT_KEY ||
    settings.KEY_VAULT_URI !== ''
  );
}

export function createAzureCredential(settings: Settings): TokenCredential {
  const clientId = managedIdentityClientId(settings);
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}
