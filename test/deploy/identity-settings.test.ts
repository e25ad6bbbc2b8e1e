/**
 * Identity-based settings, as the Functions host reads them: `AzureWebJobsStorage__queueServiceUri`,
 * `__accountName`, `__credential`, `__clientId`. The dev host accepts them in local.settings.json and
 * resolves a binding's connection the same way; the app's settings resolve its queue client the same way.
 */
import { describe, expect, it } from 'vitest';
import { parseLocalSettings, resolveStorageConnection } from '../../dev/host/config.js';
import { validateFunctions } from '../../dev/host/host.js';
import { functionTable } from '../../functions/table.js';
import { readSettings, storageConnection } from '../../shared/adapters/config/config.js';

const base = {
  COSMOS_ENDPOINT: 'https://example.documents.azure.com:443/',
  BATCH_ENDPOINT: 'https://example.westeurope.batch.azure.com',
  BATCH_ACCOUNT_NAME: 'example',
  SLOTWISE_RECONCILE_SCHEDULE: '0 */1 * * * *',
  SLOTWISE_SWEEP_SCHEDULE: '0 */1 * * * *',
  SLOTWISE_POOL_CONTROL_SCHEDULE: '0 */1 * * * *',
};

describe('identity-based storage settings', () => {
  it('the dev host reads __ settings from local.settings.json and resolves them like the host', () => {
    const { values } = parseLocalSettings(
      JSON.stringify({
        Values: {
          AzureWebJobsStorage__accountName: 'slotwisest',
          AzureWebJobsStorage__credential: 'managedidentity',
          AzureWebJobsStorage__clientId: '00000000-1111-2222-3333-444444444444',
        },
      }),
    );
    expect(resolveStorageConnection(values, 'AzureWebJobsStorage')).toEqual({
      kind: 'identity',
      queueServiceUri: 'https://slotwisest.queue.core.windows.net',
      blobServiceUri: 'https://slotwisest.blob.core.windows.net',
      credential: 'managedidentity',
      clientId: '00000000-1111-2222-3333-444444444444',
    });
    // Every trigger of the real table validates with identity settings alone.
    expect(() => validateFunctions(functionTable, { ...base, ...values })).not.toThrow();
  });

  it('an explicit service URI wins over the account name; a connection string wins over both', () => {
    const env = {
      AzureWebJobsStorage__accountName: 'ignored',
      AzureWebJobsStorage__queueServiceUri: 'https://q.example.net',
      AzureWebJobsStorage__blobServiceUri: 'https://b.example.net',
    };
    expect(resolveStorageConnection(env, 'AzureWebJobsStorage')).toMatchObject({
      queueServiceUri: 'https://q.example.net',
      blobServiceUri: 'https://b.example.net',
    });
    expect(
      resolveStorageConnection(
        { ...env, AzureWebJobsStorage: 'UseDevelopmentStorage=true' },
        'AzureWebJobsStorage',
      ),
    ).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    // A named connection also resolves as AzureWebJobs<name>, as the host does.
    expect(resolveStorageConnection({ AzureWebJobsIntake__accountName: 'other' }, 'Intake')).toMatchObject({
      queueServiceUri: 'https://other.queue.core.windows.net',
    });
  });

  it('the dev host refuses a queue trigger with no storage connection of either form, naming the setting', () => {
    expect(() => validateFunctions(functionTable, base)).toThrow(/Values\.AzureWebJobsStorage/);
    // Queue endpoint only: queue triggers work, timers still need blobs for their monitor.
    expect(() =>
      validateFunctions(functionTable, {
        ...base,
        AzureWebJobsStorage__queueServiceUri: 'https://q.example.net',
      }),
    ).toThrow(/timer|Timer|reconcile|sweep|pool/i);
  });

  it("the app's settings accept the same forms and need one of them", () => {
    const settings = readSettings({ ...base, AzureWebJobsStorage__accountName: 'slotwisest' });
    expect(storageConnection(settings)).toEqual({
      kind: 'identity',
      queueServiceUri: 'https://slotwisest.queue.core.windows.net',
    });
    expect(() => readSettings(base)).toThrow(/AzureWebJobsStorage/);
  });
});
