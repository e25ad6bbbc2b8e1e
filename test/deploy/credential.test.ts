/**
 * The Entra credential every keyless client uses (shared/adapters/config/credential.ts). In Azure it is
 * the managed identity only: when the identity endpoint refuses (an identity not yet ready), the call
 * fails there, naming the managed identity, and no developer tool (`az`, `azd`, PowerShell) is spawned,
 * as DefaultAzureCredential would. (On a laptop the developer's own sign-in still works:
 * credential-laptop.test.ts, in a process of its own, since the identity library remembers per process
 * which managed-identity source it found.)
 * The identity endpoint is a local stand-in of App Service's (IDENTITY_ENDPOINT / IDENTITY_HEADER), and
 * `az`, `azd` and `pwsh` are scripts on PATH that record being run.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readStorageSettings } from '../../shared/adapters/config/config.js';
import { createAzureCredential } from '../../shared/adapters/config/credential.js';

// One scope per test: tokens are cached per process (by identity and scope), as they should be.
const scopes = {
  azure: 'https://batch.core.windows.net//.default',
  refused: 'https://vault.azure.net/.default',
};
const clientId = '11111111-2222-3333-4444-555555555555';
let tools: string;
let endpoint: Server;
let answer: 'token' | 'refuse' = 'token';
const requests: { url: URL; header: string | undefined }[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  tools = mkdtempSync(join(tmpdir(), 'slotwise-credential-'));
  for (const tool of ['az', 'azd', 'pwsh']) {
    const script = join(tools, tool);
    // Records the run; `az` also answers as a signed-in developer's CLI does.
    writeFileSync(
      script,
      `#!/bin/sh\ntouch "${tools}/${tool}.ran"\n${
        tool === 'az'
          ? `echo '{"accessToken":"developer-token","expiresOn":"2099-01-01 00:00:00.000000","expires_on":4070908800,"tokenType":"Bearer"}'\n`
          : 'exit 1\n'
      }`,
    );
    chmodSync(script, 0o755);
  }
  endpoint = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://identity');
    requests.push({ url, header: req.headers['x-identity-header'] as string | undefined });
    if (answer === 'refuse') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_request', error_description: 'Identity not found' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        access_token: 'managed-identity-token',
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource: url.searchParams.get('resource'),
        token_type: 'Bearer',
        client_id: url.searchParams.get('client_id'),
      }),
    );
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
});

afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
  requests.length = 0;
  for (const tool of ['az', 'azd', 'pwsh']) rmSync(join(tools, `${tool}.ran`), { force: true });
});

afterAll(async () => {
  await new Promise((resolve) => endpoint?.close(resolve));
  if (tools) rmSync(tools, { recursive: true, force: true });
});

/** A process environment with only our tools on PATH and none of the credential variables of this machine. */
function isolate(extra: Record<string, string>): void {
  for (const key of Object.keys(process.env))
    if (/^(AZURE_|IDENTITY_|MSI_|IMDS_|WEBSITE_)/.test(key)) delete process.env[key];
  Object.assign(process.env, { PATH: `${tools}:/usr/bin:/bin`, ...extra });
}

const ran = (tool: string) => existsSync(join(tools, `${tool}.ran`));

const azureSettings = {
  AzureWebJobsStorage: '',
  AzureWebJobsStorage__accountName: 'slotwisest',
  AzureWebJobsStorage__clientId: clientId,
  WEBSITE_SITE_NAME: 'func-slotwise',
};

describe('the Entra credential', () => {
  it('in Azure, signs in with the app’s user-assigned managed identity', async () => {
    isolate({
      WEBSITE_SITE_NAME: 'func-slotwise',
      IDENTITY_ENDPOINT: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/msi/token`,
      IDENTITY_HEADER: 'identity-header-value',
    });
    const settings = readStorageSettings({ ...azureSettings })!;
    const token = await createAzureCredential(settings).getToken(scopes.azure);
    expect(token?.token).toBe('managed-identity-token');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url.searchParams.get('client_id')).toBe(clientId);
    expect(requests[0]!.header).toBe('identity-header-value');
  });

  it('in Azure, fails at the managed identity when it is refused, and runs no developer tool', async () => {
    answer = 'refuse';
    try {
      isolate({
        WEBSITE_SITE_NAME: 'func-slotwise',
        IDENTITY_ENDPOINT: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/msi/token`,
        IDENTITY_HEADER: 'identity-header-value',
      });
      const settings = readStorageSettings({ ...azureSettings })!;
      await expect(createAzureCredential(settings).getToken(scopes.refused)).rejects.toThrow(
        /ManagedIdentityCredential/,
      );
      expect(requests.length).toBeGreaterThan(0);
      expect({ az: ran('az'), azd: ran('azd'), pwsh: ran('pwsh') }).toEqual({
        az: false,
        azd: false,
        pwsh: false,
      });
    } finally {
      answer = 'token';
    }
  });
});
