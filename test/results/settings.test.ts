/**
 * Which storage account the results store uses, from the same settings the Functions host reads,
 * and the SAS lifetime setting's bounds.
 */
import { describe, expect, it } from 'vitest';
import { blobServiceConnection, readSettings } from '../../shared/adapters/config/config.js';

const base = {
  COSMOS_ENDPOINT: 'https://example.documents.azure.com:443/',
  BATCH_ENDPOINT: 'https://example.westeurope.batch.azure.com',
  BATCH_ACCOUNT_NAME: 'example',
};

describe('results store settings', () => {
  it('a connection string wins; else __blobServiceUri; else the account name; a queue endpoint alone names none', () => {
    const identity = {
      AzureWebJobsStorage__accountName: 'slotwisest',
      AzureWebJobsStorage__blobServiceUri: 'https://slotwisest.blob.core.windows.net',
    };
    expect(blobServiceConnection(readSettings({ ...base, ...identity }))).toEqual({
      kind: 'identity',
      blobServiceUri: 'https://slotwisest.blob.core.windows.net',
      accountName: 'slotwisest',
    });
    expect(
      blobServiceConnection(readSettings({ ...base, AzureWebJobsStorage__accountName: 'other' })),
    ).toEqual({
      kind: 'identity',
      blobServiceUri: 'https://other.blob.core.windows.net',
      accountName: 'other',
    });
    expect(
      blobServiceConnection(
        readSettings({ ...base, ...identity, AzureWebJobsStorage: 'UseDevelopmentStorage=true' }),
      ),
    ).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(
      blobServiceConnection(
        readSettings({ ...base, AzureWebJobsStorage__queueServiceUri: 'https://q.example.net' }),
      ),
    ).toBeUndefined();
  });

  it('SLOTWISE_RESULTS_SAS_HOURS is 48 by default, 1 to 167 (a user delegation key lives 7 days)', () => {
    const env = { ...base, AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
    expect(readSettings(env).SLOTWISE_RESULTS_SAS_HOURS).toBe(48);
    expect(readSettings({ ...env, SLOTWISE_RESULTS_SAS_HOURS: '167' }).SLOTWISE_RESULTS_SAS_HOURS).toBe(167);
    for (const bad of ['0', '168', '1.5', 'x'])
      expect(() => readSettings({ ...env, SLOTWISE_RESULTS_SAS_HOURS: bad }), bad).toThrow(
        /SLOTWISE_RESULTS_SAS_HOURS/,
      );
    expect(() => readSettings({ ...env, AzureWebJobsStorage__blobServiceUri: 'not a url' })).toThrow(
      /AzureWebJobsStorage__blobServiceUri/,
    );
  });
});
