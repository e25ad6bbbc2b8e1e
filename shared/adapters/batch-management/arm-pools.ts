/**
 * Managed pools through Batch's management plane (Azure Resource Manager, `@azure/arm-batch`): only
 * there can a pool get a user-assigned identity, and its network, start task and mounts are set the same
 * way. Create, resize and delete have the signatures of the Batch port's (`adapters/batch/batch-gateway.ts`),
 * so the composition root puts them over the data-plane gateway; everything else stays on the data plane.
 *
 * - create: PUT with `If-None-Match: *`, so an existing pool is never overwritten (412 → 'exists');
 *   a pool still being deleted → 'deleting'. Secret placeholders are resolved just before the PUT.
 * - resize and delete act only on a pool whose metadata names this owner (read from the ARM GET). The
 *   resize sends the GET's ETag as `If-Match`, so a change made in between is not overwritten: on 412
 *   the pool is read again (owner included) and the resize tried once more. Asking again for nodes a
 *   steady pool is short of, at the same target, goes to `resizeAgain` (see its option).
 * - delete starts Batch's long-running delete and does not wait for it.
 * Failures are BatchError, as the data-plane client's are: the stages read status and code the same way
 * (401/403 auth grace, quota codes, `retryable` for 408/429/5xx and transport failures).
 */
import { BatchManagementClient, type Pool } from '@azure/arm-batch';
import type { TokenCredential } from '@azure/core-auth';
import { bearerTokenAuthenticationPolicyName, type PipelinePolicy } from '@azure/core-rest-pipeline';
import { SlotwiseError } from '../../core/errors.js';
import { redactSas } from '../../core/redact-sas.js';
import type { PoolBody } from '../../model/batch-bodies.js';
import { isOwnPool } from '../../model/batch-names.js';
import { BatchError, retryableStatuses } from '../batch/batch-error.js';
import type { BatchGateway } from '../batch/batch-gateway.js';
import { type BatchCallMetrics, createBatchCallMetrics } from '../telemetry/metrics.js';
import { inSpan, SpanKind } from '../telemetry/spans.js';
import { localBearerPolicy, managementAuth, noCredential } from './local-auth.js';
import { type ResolveSecret, toArmPool, withResolvedSecrets } from './to-arm-pool.js';

export type { ResolveSecret } from './to-arm-pool.js';

export interface ArmPoolOptions {
  /** `https://management.azure.com` in Azure; the emulator's `http://127.0.0.1:<port>` locally. */
  readonly endpoint: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly accountName: string;
  /** Microsoft Entra; required for an https endpoint, unused for a loopback http one. */
  readonly credential?: TokenCredential;
  /** A tenant's secret by name, for the placeholders of a pool body (start task env, Azure Files key). */
  readonly resolveSecret: ResolveSecret;
  /** Where call latency and errors are recorded. Default: instruments on the global meter at creation. */
  readonly metrics?: BatchCallMetrics;
  /** Per-request timeout. Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Retries after the first attempt (the SDK's retry policy, Retry-After honoured). Default 5. */
  readonly maxRetries?: number;
  /**
   * Asks Batch again for the nodes a steady pool is still short of, its target unchanged (after a quota
   * or capacity failure): an update that leaves the target as it is need not start a new allocation,
   * a data-plane resize does. Without it such a resize is sent as an update like any other.
   */
  readonly resizeAgain?: BatchGateway['resizePool'];
}

export type ArmPoolOperations = Pick<BatchGateway, 'createPool' | 'resizePool' | 'deletePool'>;

/** The resolver to use while no secret store is configured: any pool naming a secret fails to create. */
export const secretsUnavailable: ResolveSecret = (_tenant, name) =>
  Promise.reject(
    new SlotwiseError(
      'SecretsUnavailable',
      `Secret '${name}' cannot be resolved: no secret store is configured`,
    ),
  );

interface FoundPool {
  readonly metadata: Readonly<Record<string, string>>;
  readonly eTag: string | undefined;
  readonly deleting: boolean;
  readonly resizeTimeout: string | undefined;
  /** Steady at its fixed target, with fewer nodes than that target. */
  readonly shortOf: { readonly dedicated: number; readonly lowPriority: number } | undefined;
}

export function createArmPoolOperations(options: ArmPoolOptions): ArmPoolOperations {
  const auth = managementAuth(options.endpoint, options.credential);
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const host = new URL(endpoint).hostname;
  const metrics = options.metrics ?? createBatchCallMetrics();
  const { resourceGroup, accountName } = options;
  const client = new BatchManagementClient(
    auth.kind === 'entra' ? auth.credential : noCredential,
    options.subscriptionId,
    {
      // `$host` is the request URL's base; `endpoint` and the scopes are what tokens are asked for.
      $host: endpoint,
      endpoint,
      // Plain http only to the loopback emulator (managementAuth refuses any other http endpoint).
      ...(auth.kind === 'entra' ? { credentialScopes: [auth.scope] } : { allowInsecureConnection: true }),
      retryOptions: { maxRetries: options.maxRetries ?? 5, retryDelayInMs: 500, maxRetryDelayInMs: 60_000 },
    },
  );
  if (auth.kind === 'local') {
    client.pipeline.removePolicy({ name: bearerTokenAuthenticationPolicyName });
    client.pipeline.addPolicy(localBearerPolicy(), { phase: 'Sign' });
  }
  client.pipeline.addPolicy(timeoutPolicy(options.requestTimeoutMs ?? 30_000));
  const pools = client.poolOperations;
  const accountResourceId = `/subscriptions/${options.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Batch/batchAccounts/${accountName}`;

  /** One span and one latency measurement per call (its SDK retries included); failures become BatchError. */
  async function call<T>(
    method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
    run: () => Promise<T>,
    secrets: readonly string[] = [],
  ): Promise<T> {
    const operation = `ARM ${method} /pools/{id}`;
    const started = performance.now();
    return inSpan(
      `Batch ${operation}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'batch.operation': operation,
          'http.request.method': method,
          'server.address': host,
        },
      },
      async (span) => {
        try {
          const result = await run();
          metrics.call(operation, (performance.now() - started) / 1000);
          return result;
        } catch (e) {
          const error = toBatchError(e, secrets);
          metrics.attemptFailed(
            operation,
            { code: error.code, ...(error.status !== undefined ? { status: error.status } : {}) },
            false,
          );
          metrics.call(operation, (performance.now() - started) / 1000, { code: error.code });
          if (error.status !== undefined) span.setAttribute('http.response.status_code', error.status);
          throw error;
        }
      },
    );
  }

  async function read(poolId: string): Promise<FoundPool | undefined> {
    try {
      const pool = await call('GET', () => pools.get(resourceGroup, accountName, poolId));
      const fixed = pool.scaleSettings?.fixedScale;
      return {
        metadata: Object.fromEntries((pool.metadata ?? []).map((m) => [m.name, m.value])),
        eTag: pool.eTag ?? pool.etag,
        deleting: pool.provisioningState === 'Deleting',
        resizeTimeout: fixed?.resizeTimeout,
        shortOf:
          pool.allocationState === 'Steady' &&
          fixed &&
          ((pool.currentDedicatedNodes ?? 0) < (fixed.targetDedicatedNodes ?? 0) ||
            (pool.currentLowPriorityNodes ?? 0) < (fixed.targetLowPriorityNodes ?? 0))
            ? { dedicated: fixed.targetDedicatedNodes ?? 0, lowPriority: fixed.targetLowPriorityNodes ?? 0 }
            : undefined,
      };
    } catch (e) {
      if (e instanceof BatchError && e.status === 404) return undefined;
      throw e;
    }
  }

  return {
    async createPool(body: PoolBody) {
      const { pool, values } = await withResolvedSecrets(
        toArmPool(body, { accountResourceId }),
        options.resolveSecret,
      );
      try {
        await call(
          'PUT',
          () => pools.create(resourceGroup, accountName, body.id, pool, { ifNoneMatch: '*' }),
          values,
        );
        return 'created';
      } catch (e) {
        if (!(e instanceof BatchError)) throw e;
        if (e.code === 'PoolBeingDeleted') return 'deleting';
        if (e.status === 412 || e.code === 'PoolExists') return 'exists';
        throw e;
      }
    },

    async resizePool(poolId, target, owner) {
      for (let attempt = 1; ; attempt++) {
        const found = await read(poolId);
        if (!found) return 'missing';
        if (!isOwnPool(found.metadata, owner)) return 'foreign';
        const short = found.shortOf;
        if (
          options.resizeAgain &&
          short?.dedicated === target.dedicated &&
          short.lowPriority === target.lowPriority
        )
          return options.resizeAgain(poolId, target, owner);
        const update: Pool = {
          scaleSettings: {
            fixedScale: {
              targetDedicatedNodes: target.dedicated,
              targetLowPriorityNodes: target.lowPriority,
              // Shrinking removes a node only once its running tasks complete.
              nodeDeallocationOption: 'TaskCompletion',
              ...(found.resizeTimeout ? { resizeTimeout: found.resizeTimeout } : {}),
            },
          },
        };
        try {
          await call('PATCH', () =>
            pools.update(
              resourceGroup,
              accountName,
              poolId,
              update,
              found.eTag ? { ifMatch: found.eTag } : {},
            ),
          );
          return 'done';
        } catch (e) {
          if (!(e instanceof BatchError)) throw e;
          if (e.status === 404) return 'missing';
          if (e.status !== 412) throw e;
          if (attempt >= 2)
            throw new BatchError({
              code: 'PoolChangedConcurrently',
              message: `Pool '${poolId}' changed while it was being resized; the resize is left for the next pass`,
              status: 412,
              retryable: true,
            });
        }
      }
    },

    async deletePool(poolId, owner) {
      const found = await read(poolId);
      if (!found) return 'missing';
      if (!isOwnPool(found.metadata, owner)) return 'foreign';
      if (found.deleting) return 'done';
      // Once Batch has accepted the delete, a failure only following its progress changes nothing.
      let accepted = false;
      try {
        await call('DELETE', () =>
          pools.beginDelete(resourceGroup, accountName, poolId, {
            onResponse: (response) => {
              if (response.request.method === 'DELETE' && response.status < 300) accepted = true;
            },
          }),
        );
      } catch (e) {
        if (accepted) return 'done';
        if (!(e instanceof BatchError)) throw e;
        if (e.status === 404) return 'missing';
        if (e.code !== 'PoolBeingDeleted') throw e;
      }
      return 'done';
    },
  };
}

function timeoutPolicy(ms: number): PipelinePolicy {
  return {
    name: 'slotwiseRequestTimeout',
    sendRequest(request, next) {
      if (!request.timeout) request.timeout = ms;
      return next(request);
    },
  };
}

interface RestErrorLike {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly statusCode?: number;
  readonly request?: { readonly headers: { get(name: string): string | undefined } };
  readonly response?: { readonly headers: { get(name: string): string | undefined } };
}

/**
 * An SDK failure as the BatchError the stages understand: ARM's error code (`error.code` of the body)
 * and status, retryable for 408/429/5xx and transport failures. The message keeps no SAS and no secret
 * value the request carried, and the SDK's error (which holds the request, body and all) is not kept.
 */
export function toBatchError(thrown: unknown, secrets: readonly string[] = []): BatchError {
  if (thrown instanceof BatchError) return thrown;
  const e = (
    typeof thrown === 'object' && thrown !== null ? thrown : { name: typeof thrown }
  ) as RestErrorLike;
  const clean = (text: string) => {
    let out = redactSas(text);
    for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('REDACTED');
    return out;
  };
  const requestId = e.response?.headers.get('x-ms-request-id');
  const clientRequestId = e.request?.headers.get('x-ms-client-request-id');
  const ids = { ...(requestId ? { requestId } : {}), ...(clientRequestId ? { clientRequestId } : {}) };
  if (e.name === 'RestError' && e.statusCode !== undefined) {
    const retryAfter = Number(e.response?.headers.get('retry-after'));
    return new BatchError({
      code: e.code ?? `Http${e.statusCode}`,
      message: clean(e.message || `Batch management answered HTTP ${e.statusCode}`),
      status: e.statusCode,
      ...ids,
      ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      retryable: retryableStatuses.has(e.statusCode),
    });
  }
  if (e.name === 'RestError' || e.name === 'AbortError') {
    // No answer: the connection failed, or the request timed out (these calls pass no abort signal).
    const timeout = e.name === 'AbortError' || e.code === 'ETIMEDOUT';
    return new BatchError({
      code: timeout ? 'RequestTimeout' : 'ConnectionFailed',
      message: `Batch management request failed before an answer: ${e.code ?? e.name}`,
      ...ids,
      retryable: true,
    });
  }
  return new BatchError({
    code: 'InvalidRequest',
    message: clean(`The Batch management request could not be sent: ${e.message ?? e.name}`),
    retryable: false,
  });
}
