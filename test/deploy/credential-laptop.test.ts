/**
 * Off Azure (no WEBSITE_* setting), the Entra credential is DefaultAzureCredential, so a developer's own
 * sign-in works: here the Azure CLI, a script on PATH answering as a signed-in `az` does. A file of its
 * own: the identity library remembers per process which managed-identity source it found
 * (credential.test.ts runs the Azure side).
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStorageSettings } from '../../shared/adapters/config/config.js';
import { createAzureCredential } from '../../shared/adapters/config/credential.js';

let tools: string;
const saved = { ...process.env };

beforeAll(() => {
  tools = mkdtempSync(join(tmpdir(), 'slotwise-credential-'));
  writeFileSync(
    join(tools, 'az'),
    `#!/bin/sh\ntouch "${tools}/az.ran"\necho '{"accessToken":"developer-token","expiresOn":"2099-01-01 00:00:00.000000","expires_on":4070908800,"tokenType":"Bearer"}'\n`,
  );
  chmodSync(join(tools, 'az'), 0o755);
  for (const key of Object.keys(process.env))
    if (/^(AZURE_|IDENTITY_|MSI_|IMDS_|WEBSITE_)/.test(key)) delete process.env[key];
  process.env.PATH = `${tools}:/usr/bin:/bin`;
});

afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
  if (tools) rmSync(tools, { recursive: true, force: true });
});

describe('the Entra credential on a laptop', () => {
  it('uses the developer’s own sign-in (the Azure CLI here)', async () => {
    const settings = readStorageSettings({
      AzureWebJobsStorage: '',
      AzureWebJobsStorage__accountName: 'dev',
    })!;
    const token = await createAzureCredential(settings).getToken('https://cosmos.azure.com/.default');
    expect(token?.token).toBe('developer-token');
    expect(existsSync(join(tools, 'az.ran'))).toBe(true);
  });
});
