/**
 * A Batch account's quotas, read from its resource on the management plane (BatchAccount_Get,
 * `GET …/providers/Microsoft.Batch/batchAccounts/{name}`), with the management client, sign-in and
 * errors the managed pools use (arm-pools.ts, local-auth.ts): Microsoft Entra over https, the local
 * token to the loopback emulator, failures as BatchError.
 *
 * Field meanings are BatchManagement.json's `BatchAccountProperties` (Azure/azure-rest-api-specs
 * specification/batch/resource-manager/Microsoft.Batch/stable/2024-07-01/BatchManagement.json): the
 * core quotas "are not returned" for a `UserSubscription` account (its cores are the subscription's),
 * and when `dedicatedCoreQuotaPerVMFamilyEnforced` is false only `dedicatedCoreQuota` binds.
 */
import { BatchManagementClient } from '@azure/arm-batch';
import type { TokenCredential } from '@azure/core-auth';
import { bearerTokenAuthenticationPolicyName } from '@azure/core-rest-pipeline';
import { z } from 'zod';
import type { AccountQuotas } from '../../model/accounts.js';
import { BatchError } from '../batch/batch-error.js';
import { inSpan, SpanKind } from '../telemetry/spans.js';
import { toBatchError } from './arm-pools.js';
import { localBearerPolicy, managementAuth, noCredential } from './local-auth.js';

/** The management api-version this reads with (BatchManagement.json stable/2024-07-01). */
export const ACCOUNT_API_VERSION = '2024-07-01';

export interface ReadAccountQuotasOptions {
  /** `https://management.azure.com` in Azure; the emulator's `http://127.0.0.1:<port>` locally. */
  readonly endpoint: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly accountName: string;
  /** Microsoft Entra; required for an https endpoint, unused for a loopback http one. */
  readonly credential?: TokenCredential;
  readonly signal?: AbortSignal;
  /** Per-request timeout. Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Retries after the first attempt (the SDK's retry policy, Retry-After honoured). Default 3. */
  readonly maxRetries?: number;
}

const quota = z.number().int().min(0);

/** The part of ARM's BatchAccount answer read here; anything else in it is left alone. */
const batchAccountSchema = z.looseObject({
  properties: z.looseObject({
    dedicatedCoreQuota: quota.nullish(),
    lowPriorityCoreQuota: quota.nullish(),
    dedicatedCoreQuotaPerVMFamily: z
      .array(z.looseObject({ name: z.string().min(1), coreQuota: quota }))
      .nullish(),
    dedicatedCoreQuotaPerVMFamilyEnforced: z.boolean().nullish(),
    poolQuota: quota.nullish(),
    activeJobAndJobScheduleQuota: quota.nullish(),
  }),
});

export type BatchAccountWire = z.infer<typeof batchAccountSchema>;

/** ARM's account resource as `AccountQuotas`: what is absent stays absent (a missing flag is false). */
export function toAccountQuotas(account: BatchAccountWire): AccountQuotas {
  const p = account.properties;
  const perFamily = p.dedicatedCoreQuotaPerVMFamily;
  return {
    ...(p.dedicatedCoreQuota != null ? { dedicatedCores: p.dedicatedCoreQuota } : {}),
    ...(p.lowPriorityCoreQuota != null ? { lowPriorityCores: p.lowPriorityCoreQuota } : {}),
    ...(perFamily != null
      ? { perFamily: Object.fromEntries(perFamily.map((f) => [f.name, f.coreQuota])) }
      : {}),
    perFamilyEnforced: p.dedicatedCoreQuotaPerVMFamilyEnforced === true,
    ...(p.poolQuota != null ? { pools: p.poolQuota } : {}),
    ...(p.activeJobAndJobScheduleQuota != null ? { activeJobs: p.activeJobAndJobScheduleQuota } : {}),
  };
}

/**
 * Reads the account's quotas. Failures are BatchError as the pools adapter raises them (ARM's code
 * and status, `retryable` for 408/429/5xx and transport failures); an answer of another shape is
 * `InvalidResponse`, not retryable.
 */
export async function readAccountQuotas(options: ReadAccountQuotasOptions): Promise<AccountQuotas> {
  const auth = managementAuth(options.endpoint, options.credential);
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const client = new BatchManagementClient(
    auth.kind === 'entra' ? auth.credential : noCredential,
    options.subscriptionId,
    {
      $host: endpoint,
      endpoint,
      apiVersion: ACCOUNT_API_VERSION,
      ...(auth.kind === 'entra' ? { credentialScopes: [auth.scope] } : { allowInsecureConnection: true }),
      retryOptions: { maxRetries: options.maxRetries ?? 3, retryDelayInMs: 500, maxRetryDelayInMs: 60_000 },
    },
  );
  if (auth.kind === 'local') {
    client.pipeline.removePolicy({ name: bearerTokenAuthenticationPolicyName });
    client.pipeline.addPolicy(localBearerPolicy(), { phase: 'Sign' });
  }
  return inSpan(
    'Batch ARM GET /batchAccounts/{id}',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'batch.operation': 'ARM GET /batchAccounts/{id}',
        'http.request.method': 'GET',
        'server.address': new URL(endpoint).hostname,
      },
    },
    async () => {
      // The wire body, not the SDK's model of it: that is what the schema checks.
      let body: unknown;
      let status: number | undefined;
      try {
        await client.batchAccountOperations.get(options.resourceGroup, options.accountName, {
          ...(options.signal ? { abortSignal: options.signal } : {}),
          requestOptions: { timeout: options.requestTimeoutMs ?? 30_000 },
          onResponse: (response) => {
            status = response.status;
            // `parsedBody` is the SDK's model (its `properties` flattened); the text is what ARM sent.
            body = parseText(response.bodyAsText);
          },
        });
      } catch (e) {
        // The SDK reports the caller's abort as it does its own timeout: tell them apart here.
        if (options.signal?.aborted)
          throw new BatchError({
            code: 'Aborted',
            message: 'The Batch account read was abandoned',
            retryable: false,
            cause: e,
          });
        throw toBatchError(e);
      }
      const parsed = batchAccountSchema.safeParse(body);
      if (!parsed.success)
        throw new BatchError({
          code: 'InvalidResponse',
          message: `The Batch account resource has an unexpected shape: ${parsed.error.issues
            .map((i) => `${i.path.join('.')}: ${i.message}`)
            .join('; ')}`,
          ...(status !== undefined ? { status } : {}),
          retryable: false,
        });
      return toAccountQuotas(parsed.data);
    },
  );
}

function parseText(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
