/**
 * How the management client signs in. In Azure: Microsoft Entra tokens for Azure Resource Manager.
 * On the local stack the management endpoint is the Batch emulator over plain http, where the SDK's
 * bearer policy refuses to send a token (rightly: a token over http can be read on the way); there, and
 * only for a loopback address, a fixed local token that grants nothing anywhere else is sent instead.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { SlotwiseError } from '../../core/errors.js';

/** The token the local stack's management endpoint (the emulator) is sent: not a credential. */
export const LOCAL_MANAGEMENT_TOKEN = 'slotwise-local';

export type ManagementAuth =
  | { readonly kind: 'entra'; readonly credential: TokenCredential; readonly scope: string }
  | { readonly kind: 'local' };

const loopbackHosts = new Set(['localhost', '[::1]', '::1']);

/** `http:` on 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackHttp(endpoint: string): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:') return false;
  const host = url.hostname.toLowerCase();
  return loopbackHosts.has(host) || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * How to sign in to `endpoint`: https with the credential (scope: the endpoint's `/.default`, so
 * `https://management.azure.com/.default` in the public cloud), loopback http with the local token.
 * Anything else is a settings error naming the setting, never a silent downgrade.
 */
export function managementAuth(endpoint: string, credential: TokenCredential | undefined): ManagementAuth {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw settingsError('BATCH_MANAGEMENT_ENDPOINT: must be a URL');
  }
  if (url.protocol === 'https:') {
    if (!credential)
      throw settingsError(
        'BATCH_MANAGEMENT_ENDPOINT: an https management endpoint needs a Microsoft Entra credential',
      );
    return { kind: 'entra', credential, scope: `${url.origin}/.default` };
  }
  if (isLoopbackHttp(endpoint)) return { kind: 'local' };
  throw settingsError(
    'BATCH_MANAGEMENT_ENDPOINT: plain http is allowed only for a loopback address (the local stack); use https',
  );
}

function settingsError(message: string): SlotwiseError {
  return new SlotwiseError('InvalidConfiguration', `Invalid settings: ${message}`);
}

/** Sends the local token on every attempt (in place of the SDK's bearer token policy). */
export function localBearerPolicy(): PipelinePolicy {
  return {
    name: 'slotwiseLocalManagementToken',
    sendRequest(request, next) {
      request.headers.set('authorization', `Bearer ${LOCAL_MANAGEMENT_TOKEN}`);
      return next(request);
    },
  };
}

/** A credential that is never asked (the local policy replaces the SDK's bearer policy). */
export const noCredential: TokenCredential = {
  getToken: () =>
    Promise.reject(
      new SlotwiseError('InvalidConfiguration', 'The local management endpoint takes no Entra token'),
    ),
};
