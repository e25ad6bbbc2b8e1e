/**
 * The test stack with several Batch accounts: one emulator per account besides the primary
 * `testbatch`, each named to the host in `SLOTWISE_BATCH_ACCOUNTS` as the settings read it, each
 * reachable with its own key and controls, every one closed with the stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSettings } from '../../shared/adapters/config/config.js';
import { localArmClient } from '../support/arm.js';
import {
  BATCH_ACCOUNT,
  emulatorClient,
  type SlotwiseStack,
  startSlotwise,
  testAccountKey,
} from '../support/stack.js';

let stack: SlotwiseStack;

beforeAll(async () => {
  stack = await startSlotwise({
    accounts: [
      { name: 'secondacct', region: 'region-b', weight: 2, emulator: { clockFactor: 0 } },
      { name: 'thirdacct', allocationMode: 'UserSubscription' },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

describe('startSlotwise with accounts', () => {
  it('names every account to the host as the settings read it', () => {
    const settings = readSettings(stack.env);
    expect(settings.BATCH_REGION).toBe('region-a');
    expect(settings.BATCH_ACCOUNT_NAME).toBe(BATCH_ACCOUNT);
    expect(settings.SLOTWISE_BATCH_ACCOUNTS).toEqual([
      {
        name: 'secondacct',
        endpoint: stack.emulators.secondacct?.url,
        region: 'region-b',
        allocationMode: 'BatchService',
        weight: 2,
        managementEndpoint: stack.emulators.secondacct?.url,
        key: testAccountKey('secondacct'),
      },
      {
        name: 'thirdacct',
        endpoint: stack.emulators.thirdacct?.url,
        region: 'region-c',
        allocationMode: 'UserSubscription',
        weight: 1,
        managementEndpoint: stack.emulators.thirdacct?.url,
        key: testAccountKey('thirdacct'),
      },
    ]);
    expect(Object.keys(stack.emulators).sort()).toEqual(['secondacct', BATCH_ACCOUNT, 'thirdacct'].sort());
    expect(stack.emulators[BATCH_ACCOUNT]).toBe(stack.emulator);
  });

  it('serves each account at its own endpoint, with its key, region, mode and controls', async () => {
    for (const name of [BATCH_ACCOUNT, 'secondacct', 'thirdacct']) {
      const client = emulatorClient(stack, name);
      try {
        await client.pools.add({
          id: `only-in-${name}`,
          vmSize: 'standard_d2s_v3',
          virtualMachineConfiguration: {
            imageReference: {
              publisher: 'canonical',
              offer: '0001-com-ubuntu-server-jammy',
              sku: '22_04-lts',
              version: 'latest',
            },
            nodeAgentSKUId: 'batch.node.ubuntu 22.04',
          },
          targetDedicatedNodes: 0,
        });
        const ids: unknown[] = [];
        for await (const pool of client.pools.list({ select: 'id' })) ids.push(pool.id);
        expect(ids).toEqual([`only-in-${name}`]);
      } finally {
        await client.close();
      }
    }
    const second = await localArmClient(stack.emulators.secondacct!.url, 'sub').batchAccountOperations.get(
      'rg',
      'secondacct',
    );
    expect(second).toMatchObject({ location: 'region-b', poolAllocationMode: 'BatchService' });
    const primary = await localArmClient(stack.emulator.url, 'sub').batchAccountOperations.get(
      'rg',
      BATCH_ACCOUNT,
    );
    expect(primary.location).toBe('region-a');

    // The emulator options given apply to that account only: its clock stands still.
    const clock = async (name: string) =>
      ((await (await stack.emulatorControlOf(name, 'clock')).json()) as { factor: number }).factor;
    expect(await clock('secondacct')).toBe(0);
    expect(await clock('thirdacct')).toBe(600);
    await expect(stack.emulatorControlOf('nosuchacct', 'health')).rejects.toThrow(/nosuchacct/);
  });
});
