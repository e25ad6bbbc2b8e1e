/**
 * The contract between the code and the deployment template (infra/*.bicep). These machines have no
 * Bicep compiler, so the template is kept plain and read as text: the settings block, the queue list
 * and the container list are written one entry per line for exactly this check.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deployedQueues } from '../../dev/services/queues.js';
import { functionTable } from '../../functions/table.js';
import {
  keyedSettings,
  localOnlySettings,
  platformSettings,
  settingNames,
} from '../../shared/adapters/config/config.js';
import { containerDefinitions } from '../../shared/adapters/cosmos/cosmos-setup.js';
import { queueNames } from '../../shared/adapters/queues/names.js';
import { MAX_JOB_BODY_BYTES } from '../../shared/interfaces/http/read-json.js';

const read = (path: string) => readFileSync(new URL(`../../infra/${path}`, import.meta.url), 'utf8');

function appSettings(): Map<string, string> {
  const api = read('app/api.bicep');
  const block = api.slice(api.indexOf('// settings:begin'), api.indexOf('// settings:end'));
  const out = new Map<string, string>();
  for (const m of block.matchAll(/^\s+([A-Za-z_][A-Za-z0-9_]*):\s*(.+)$/gm)) out.set(m[1]!, m[2]!.trim());
  return out;
}

/** Single-quoted strings of a `var name = [ ... ]` list. */
function bicepList(text: string, name: string): string[] {
  const start = text.indexOf(`var ${name} = [`);
  expect(start, `var ${name}`).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n]', start);
  return [...text.slice(start, end).matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}

describe('deployment template contract', () => {
  it('sets every setting the code reads in production, in identity form, and no keys', () => {
    const set = appSettings();
    const exempt = new Set<string>([...keyedSettings, ...platformSettings, ...localOnlySettings]);
    const needed = settingNames.filter((n) => !exempt.has(n));
    expect(needed.filter((n) => !set.has(n))).toEqual([]);
    // %Setting% references in the function table (timer schedules, queue names) are resolved by the host.
    const referenced = functionTable.flatMap((f) =>
      [f.kind === 'timer' ? f.schedule : f.kind === 'storageQueue' ? f.queueName : '']
        .map((v) => /^%([^%]+)%$/.exec(v)?.[1])
        .filter((v): v is string => v !== undefined),
    );
    expect(referenced.length).toBeGreaterThan(0);
    expect(referenced.filter((n) => !set.has(n))).toEqual([]);
    // No keys or connection strings, and nothing that only the local stack may use.
    expect([...keyedSettings, ...localOnlySettings].filter((n) => set.has(n))).toEqual([]);
    expect(set.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
  });

  it('lowers the host’s body limit to just above the largest body a function reads, as locally', () => {
    // Without it the host buffers up to 100 MB of anyone's body before a function can check a key.
    const value = appSettings().get('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT');
    expect(value).toMatch(/^'\d+'$/);
    const limit = Number(value!.slice(1, -1));
    // Above the functions' own 1 MiB, so those bodies still get the function's problem naming its limit.
    expect(limit).toBeGreaterThan(MAX_JOB_BODY_BYTES);
    expect(limit).toBeLessThanOrEqual(MAX_JOB_BODY_BYTES + 256 * 1024);
    // The local stack (npm start; the test stack reads the same file) runs with the same limit.
    const sample = JSON.parse(
      readFileSync(new URL('../../local.settings.sample.json', import.meta.url), 'utf8'),
    ) as { Values: Record<string, string> };
    expect(sample.Values.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).toBe(String(limit));
  });

  it('creates every queue the app uses, and its poison queue', () => {
    const declared = bicepList(read('app/storage.bicep'), 'queueNames').sort();
    const expected = Object.values(queueNames)
      .flatMap((q) => [q, `${q}-poison`])
      .sort();
    expect(declared).toEqual(expected);
    // The local stack creates the very same queues (npm start, the test stack).
    expect([...deployedQueues].sort()).toEqual(expected);
    // Queue triggers name the same queues.
    for (const fn of functionTable) if (fn.kind === 'storageQueue') expect(declared).toContain(fn.queueName);
  });

  it('declares every Cosmos container with the same partition key and indexing policy', () => {
    const text = read('app/cosmos.bicep');
    const block = text.slice(
      text.indexOf('var containers = ['),
      text.indexOf('\n]', text.indexOf('var containers = [')),
    );
    const declared = block
      .split(/\n {2}\{/)
      .slice(1)
      .map((entry) => ({
        id: /id: '([^']+)'/.exec(entry)?.[1],
        partitionKeyPath: /partitionKeyPath: '([^']+)'/.exec(entry)?.[1],
        excludedPaths: [...(/excludedPaths: \[([^\]]*)\]/.exec(entry)?.[1] ?? '').matchAll(/'([^']+)'/g)].map(
          (m) => m[1],
        ),
      }));
    const expected = Object.values(containerDefinitions).map((d) => ({
      id: d.id,
      partitionKeyPath: d.partitionKeyPath,
      excludedPaths: [...d.excludedPaths],
    }));
    expect(declared).toEqual(expected);
    // The template adds the same `_etag` exclusion the code adds, and Cosmos stays Entra-only.
    expect(text).toContain(`[{ path: '/"_etag"/?' }]`);
    expect(text).toMatch(/disableLocalAuth: true/);
  });

  it('assigns every role the code needs to the app identity', () => {
    const roles = {
      // Queue triggers and the app's queue gateway (send, peek, create); host state and the package in blobs;
      // the host's timers and leases use blobs and tables.
      'app/storage.bicep': [
        '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
        'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
        '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
      ],
      // Cosmos DB Built-in Data Contributor (data plane: items and queries).
      'app/cosmos.bicep': ['00000000-0000-0000-0000-000000000002'],
      // Key Vault Secrets User: the app resolves tenant secret references.
      'app/keyvault.bicep': ['4633458b-17de-408a-b874-0445c86b69e6'],
      // Telemetry with Entra (local auth is off on Application Insights).
      'app/monitoring.bicep': ['3913510d-42f4-4e42-8a64-420c390055eb'],
    };
    for (const [file, ids] of Object.entries(roles)) {
      const text = read(file);
      for (const id of ids) {
        expect(text, `${file} role ${id}`).toContain(id);
      }
      expect(text, `${file} assigns to the app`).toMatch(/principalId: appPrincipalId/);
    }
    // Batch: the app manages pools and jobs and reads applications through a role on the account.
    const batch = read('app/batch.bicep');
    for (const action of ['pools/*', 'jobs/*', 'applications/read'])
      expect(batch).toContain(`Microsoft.Batch/batchAccounts/${action}`);
    expect(batch).toMatch(/principalId: appPrincipalId/);
    expect(batch).toMatch(/allowedAuthenticationModes: \['AAD'\]/);
    expect(read('app/storage.bicep')).toMatch(/allowSharedKeyAccess: false/);
  });

  it('wires the modules into main.bicep and deploys the package azure.yaml names', () => {
    const main = read('main.bicep');
    for (const module of ['identity', 'monitoring', 'storage', 'cosmos', 'batch', 'keyvault', 'api'])
      expect(main).toContain(`'app/${module}.bicep'`);
    const azure = readFileSync(new URL('../../azure.yaml', import.meta.url), 'utf8');
    expect(azure).toMatch(/host: function/);
    expect(azure).toMatch(/dist: artifacts\/slotwise\.zip/);
    const params = JSON.parse(read('main.parameters.json')) as { parameters: Record<string, unknown> };
    expect(Object.keys(params.parameters)).toEqual(
      expect.arrayContaining(['environmentName', 'location', 'principalId']),
    );
  });
});
