/**
 * The official management client (`@azure/arm-batch`) against the emulator's http endpoint. Its bearer
 * policy refuses plain http, so it is replaced by one sending a fixed token (`null`: none at all, to see
 * the emulator refuse the call); the emulator checks that a token is there, not what it says.
 */
import { BatchManagementClient, type Pool } from '@azure/arm-batch';
import { bearerTokenAuthenticationPolicyName } from '@azure/core-rest-pipeline';

export function localArmClient(
  endpoint: string,
  subscriptionId: string,
  token: string | null = 'x',
): BatchManagementClient {
  const client = new BatchManagementClient(
    { getToken: async () => ({ token: 'unused', expiresOnTimestamp: Date.now() + 3_600_000 }) },
    subscriptionId,
    { endpoint, retryOptions: { maxRetries: 0 } },
  );
  client.pipeline.removePolicy({ name: bearerTokenAuthenticationPolicyName });
  client.pipeline.addPolicy(
    {
      name: 'localBearer',
      sendRequest: (request, next) => {
        if (token !== null) request.headers.set('authorization', `Bearer ${token}`);
        request.allowInsecureConnection = true;
        return next(request);
      },
    },
    { phase: 'Sign' },
  );
  return client;
}

/** A small Linux pool as ARM takes it (`dedicated` nodes, none by default), with `extra` over it. */
export function armPool(extra: Pool = {}, dedicated = 0): Pool {
  return {
    vmSize: 'STANDARD_D2S_V3',
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference: {
          publisher: 'canonical',
          offer: '0001-com-ubuntu-server-jammy',
          sku: '22_04-lts',
          version: 'latest',
        },
        nodeAgentSkuId: 'batch.node.ubuntu 22.04',
      },
    },
    scaleSettings: { fixedScale: { targetDedicatedNodes: dedicated, resizeTimeout: 'PT15M' } },
    ...extra,
  };
}
