/**
 * One document per Batch account (container `pools`, id `~account:<name>`, tenant `~`, so pool
 * queries never see it): what every instance must agree on about the account. An operator's drain,
 * its quotas as the management plane last stated them, the cores Slotwise's pools hold in it, its
 * health as last judged, and where the reconcile pass's listing stands. Writes are ETag-guarded.
 */
import type { Container } from '@azure/cosmos';
import { SlotwiseError } from '../../core/errors.js';
import type { AccountDrain, AccountHealth, AccountQuotas, AccountUsage } from '../../model/accounts.js';
import { cosmosStatus, stripSystem } from './cosmos-setup.js';

export interface AccountReconcileState {
  /** Batch job states are listed from here on (`stateTransitionTime ge`), minus a skew margin. */
  readonly watermark?: string;
  /** Jobs (`tenant/jobId`) a pass found changed but could not read (budget, throttling): first next pass. */
  readonly pending?: readonly string[];
  /** When the last pass over the account ended, and what it left undone. */
  readonly passAt?: string;
  readonly deferred?: number;
}

export interface AccountDoc {
  id: string;
  tenant: '~';
  name: string;
  drain?: AccountDrain;
  quotas?: AccountQuotas & { readonly readAt: string };
  usage?: AccountUsage & { readonly at: string };
  health?: AccountHealth;
  reconcile?: AccountReconcileState;
  _etag?: string;
}

export interface AccountStore {
  get(name: string): Promise<AccountDoc | undefined>;
  /** The documents of these accounts (absent ones are skipped). */
  list(names: readonly string[]): Promise<AccountDoc[]>;
  /**
   * ETag-guarded read-modify-write, creating the document when there is none; `mutate` returns
   * undefined for no change.
   */
  update(
    name: string,
    mutate: (doc: AccountDoc) => AccountDoc | undefined,
  ): Promise<{ doc: AccountDoc; changed: boolean }>;
}

export const accountDocId = (name: string) => `~account:${name}`;

export class AccountConcurrencyError extends SlotwiseError {
  constructor(name: string) {
    super('ConcurrentUpdate', `Account document ${name} kept changing while being updated`, {
      retryable: true,
    });
  }
}

export function createAccountStore(container: Container): AccountStore {
  const get = async (name: string): Promise<AccountDoc | undefined> => {
    const id = accountDocId(name);
    try {
      const { resource } = await container.item(id, id).read<AccountDoc>();
      return resource ? stripSystem(resource) : undefined;
    } catch (e) {
      if (cosmosStatus(e) === 404) return undefined;
      throw e;
    }
  };
  return {
    get,
    async list(names) {
      // A handful of accounts: point reads (1 RU each) beat a cross-partition query.
      const docs = await Promise.all(names.map(get));
      return docs.filter((d): d is AccountDoc => d !== undefined);
    },
    async update(name, mutate) {
      const id = accountDocId(name);
      for (let attempt = 0; attempt < 20; attempt++) {
        const current = await get(name);
        const base: AccountDoc = current ?? { id, tenant: '~', name };
        const next = mutate(structuredClone(base));
        if (!next) return { doc: base, changed: false };
        const { _etag: _dropped, ...body } = { ...next, id, tenant: '~' as const, name };
        try {
          const { resource } = current
            ? await container.item(id, id).replace(body, {
                accessCondition: { type: 'IfMatch', condition: current._etag ?? '' },
              })
            : await container.items.create(body);
          return { doc: stripSystem(resource as AccountDoc), changed: true };
        } catch (e) {
          const status = cosmosStatus(e);
          if (status === 412 || status === 409) continue;
          throw e;
        }
      }
      throw new AccountConcurrencyError(name);
    },
  };
}
