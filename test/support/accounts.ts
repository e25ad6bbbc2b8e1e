/** Controls of one emulated account in a several-account stack (test/accounts). */
import { expect } from 'vitest';
import type { SlotwiseStack } from './stack.js';

/** Sets the account's core quotas: a total of 1,000 and these per VM family, enforced. */
export async function setFamilyQuotas(
  stack: SlotwiseStack,
  account: string,
  perFamily: Readonly<Record<string, number>>,
): Promise<void> {
  const res = await stack.emulatorControlOf(account, 'quotas', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      dedicatedCoreQuota: 1000,
      dedicatedCoreQuotaPerVMFamily: Object.entries(perFamily).map(([name, coreQuota]) => ({
        name,
        coreQuota,
      })),
      dedicatedCoreQuotaPerVMFamilyEnforced: true,
    }),
  });
  expect(res.status).toBe(200);
}

/** Injects faults in the account's REST surface (dev/batch-emulator/faults.ts); undefined clears them. */
export async function setFaults(
  stack: SlotwiseStack,
  account: string,
  config: Record<string, unknown> | undefined,
): Promise<void> {
  const res = await stack.emulatorControlOf(
    account,
    'faults',
    config === undefined
      ? { method: 'DELETE' }
      : { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) },
  );
  expect(res.ok).toBe(true);
}
