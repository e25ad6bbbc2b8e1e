/**
 * The contract between the code and the deployment template (azure.yaml, infra/*.bicep), and the azd
 * rules the template relies on. These machines have no Bicep compiler, and the Go module proxy does not
 * serve azd, so the template is kept plain and read as text (the settings block, the queue list and the
 * container list are written one entry per line for exactly this check), and each azd rule is encoded
 * here from azd's source (Azure/azure-dev, cli/azd, tag azure-dev-cli_1.31.2), naming the file and the
 * function. `azd package` itself was run by hand with that azd (docs/operations.md, "What was checked").
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deployedQueues } from '../../dev/services/queues.js';
import { functionTable } from '../../functions/table.js';
import { DEFAULT_PACKAGE_DIR } from '../../scripts/package.js';
import {
  batchAccountInfos,
  keyedSettings,
  localOnlySettings,
  platformSettings,
  readSettings,
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

/** The `name: value` lines of a Bicep object body, one per line, at the indent of its first entry. */
function entries(body: string): Map<string, string> {
  const indent = /^( +)\w/m.exec(body)?.[1] ?? '';
  return new Map(
    [...body.matchAll(new RegExp(`^${indent}(\\w+): (.+)$`, 'gm'))].map((m) => [m[1]!, m[2]!.trim()]),
  );
}

/** The text from `start` (found once in `text`) to the first line after it that is a lone `}` or `}]`. */
function blockFrom(text: string, start: string): string {
  const at = text.indexOf(start);
  expect(at, start).toBeGreaterThanOrEqual(0);
  expect(text.indexOf(start, at + 1), `${start} once`).toBe(-1);
  const end = /\n\}\]?\n/.exec(text.slice(at))!;
  return text.slice(at, at + end.index + end[0].length);
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
      // Managed Identity Operator on each identity tenants may give their pools (ARM checks assign/action);
      // the subnet-join role is a custom one (test/deploy/role-actions.test.ts checks both).
      'app/pool-identity-grant.bicep': ['f1a07417-d97a-45cb-824c-7a7467783830'],
    };
    for (const [file, ids] of Object.entries(roles)) {
      const text = read(file);
      for (const id of ids) {
        expect(text, `${file} role ${id}`).toContain(id);
      }
      expect(text, `${file} assigns to the app`).toMatch(/principalId: appPrincipalId/);
    }
    // Batch: the built-in Azure Batch Data Contributor on the account (pools and applications as actions,
    // jobs and their tasks as data actions; test/deploy/role-actions.test.ts checks it against Batch's
    // operations list).
    const batch = read('app/batch.bicep');
    expect(batch).toContain("'6aaa78f1-f7de-44ca-8722-c64a23943cae'");
    expect(batch).toMatch(/principalId: appPrincipalId/);
    expect(batch).toMatch(/allowedAuthenticationModes: \['AAD'\]/);
    expect(read('app/storage.bicep')).toMatch(/allowSharedKeyAccess: false/);
  });

  it('wires the modules into main.bicep', () => {
    const main = read('main.bicep');
    for (const module of [
      'identity',
      'monitoring',
      'storage',
      'cosmos',
      'batch',
      'pool-grants',
      'keyvault',
      'api',
    ])
      expect(main).toContain(`'app/${module}.bicep'`);
    const params = JSON.parse(read('main.parameters.json')) as { parameters: Record<string, unknown> };
    expect(Object.keys(params.parameters)).toEqual(
      expect.arrayContaining(['environmentName', 'location', 'principalId', 'principalType']),
    );
  });

  it('links the Batch account to the storage account with its own identity, shared key staying off', () => {
    const batch = read('app/batch.bicep');
    expect(batch).toMatch(
      /autoStorage: \{\s+storageAccountId: storage\.id\s+authenticationMode: 'BatchAccountManagedIdentity'/,
    );
    expect(batch).toMatch(/userAssignedIdentities: \{ '\$\{batchIdentity\.id\}': \{\} \}/);
    // Storage Blob Data Contributor for that identity, assigned before the account that uses it.
    expect(batch).toMatch(/principalId: batchIdentity\.properties\.principalId/);
    expect(batch).toContain("'ba92f5b4-2d11-453d-a403-e96b0029c9fe'");
    expect(batch).toMatch(/dependsOn: \[batchStorageRole, batchVault\]/);
  });

  it('serialises the writes Cosmos DB takes one at a time per account', () => {
    const cosmos = read('app/cosmos.bicep');
    expect(cosmos).toMatch(/@batchSize\(1\)\nresource sqlContainers /);
    expect(cosmos).toMatch(/resource appDataRole [\s\S]*?dependsOn: \[sqlContainers\]/);
    expect(cosmos).toMatch(/resource userDataRole [\s\S]*?dependsOn: \[appDataRole\]/);
  });

  it('points the app at the management plane of its own cloud, where it creates, resizes and deletes pools', () => {
    const set = appSettings();
    expect(set.get('BATCH_MANAGEMENT_ENDPOINT')).toBe('managementEndpoint');
    const api = read('app/api.bicep');
    // environment().resourceManager is https://management.azure.com/ in the public cloud; the slash is dropped.
    expect(api).toMatch(/^var resourceManager = environment\(\)\.resourceManager$/m);
    expect(api).toMatch(
      /^var managementEndpoint = endsWith\(resourceManager, '\/'\) \? substring\(resourceManager, 0, length\(resourceManager\) - 1\) : resourceManager$/m,
    );
    // The account's ARM id: the app is deployed to the Batch account's own resource group.
    expect(set.get('BATCH_SUBSCRIPTION_ID')).toBe('subscription().subscriptionId');
    expect(set.get('BATCH_RESOURCE_GROUP')).toBe('resourceGroup().name');
    expect(set.get('BATCH_ACCOUNT_NAME')).toBe('batchAccountName');
    const main = read('main.bicep');
    for (const m of ['batch', 'api']) {
      const start = main.indexOf(`module ${m} 'app/${m}.bicep'`);
      expect(main.slice(start, main.indexOf('\n}', start))).toMatch(/\n {2}scope: rg\n/);
    }
  });

  it('grants the identities and subnets the operator lists, given as azd variables and handed to the grants', () => {
    const main = read('main.bicep');
    // Strings, comma-separated (like dashboardOrigins): every azd version passes a string as it is.
    expect(main).toMatch(/^param poolIdentityIds string = ''$/m);
    expect(main).toMatch(/^param poolSubnetIds string = ''$/m);
    for (const [param, list] of [
      ['poolIdentityIds', 'poolIdentityIdList'],
      ['poolSubnetIds', 'poolSubnetIdList'],
    ])
      expect(main).toContain(
        `var ${list} = union(filter(map(split(${param}, ','), i => toLower(trim(i))), i => !empty(i)), [])`,
      );
    const start = main.indexOf("module poolGrants 'app/pool-grants.bicep'");
    expect(start).toBeGreaterThan(0);
    const block = main.slice(start, main.indexOf('\n}', start));
    expect(block).toMatch(/appPrincipalId: identity\.outputs\.principalId\n/);
    expect(block).toMatch(/poolIdentityIds: poolIdentityIdList\n/);
    expect(block).toMatch(/poolSubnetIds: poolSubnetIdList\n/);
    // A subscription-scope deployment name is shared by every environment of the subscription.
    expect(block).toMatch(/name: 'pool-grants-\$\{resourceToken\}'/);
    const params = JSON.parse(read('main.parameters.json')) as {
      parameters: Record<string, { value: string }>;
    };
    expect(params.parameters.poolIdentityIds?.value).toBe(`\${SLOTWISE_POOL_IDENTITY_IDS}`);
    expect(params.parameters.poolSubnetIds?.value).toBe(`\${SLOTWISE_POOL_SUBNET_IDS}`);
  });

  it('sets the pool allocation mode the app reads from the template parameter', () => {
    expect(appSettings().get('BATCH_POOL_ALLOCATION_MODE')).toBe('batchPoolAllocationMode');
    const main = read('main.bicep');
    expect(main).toMatch(/param batchPoolAllocationMode string = 'BatchService'/);
    expect(main).toMatch(/batchPoolAllocationMode: batch\.outputs\.poolAllocationMode/);
  });

  it('sets the primary account’s region and the Batch accounts beside it from the template’s parameters', () => {
    const set = appSettings();
    expect(set.get('BATCH_REGION')).toBe('batchRegion');
    expect(set.get('SLOTWISE_BATCH_ACCOUNTS')).toBe('batchAccountsSetting');
    const api = read('app/api.bicep');
    expect(api).toMatch(/^param batchRegion string = ''$/m);
    expect(api).toMatch(/^param additionalBatchAccounts array = \[\]$/m);
    // JSON text of the array; no extra account gives the app's own default, the empty setting.
    expect(api).toMatch(
      /^var batchAccountsSetting = empty\(additionalBatchAccounts\) \? '' : string\(additionalBatchAccounts\)$/m,
    );
    const main = read('main.bicep');
    const call = blockFrom(main, "module api 'app/api.bicep' = {");
    // The primary's region is where the template puts the primary account.
    expect(call).toMatch(/\n {4}batchRegion: location\n/);
    expect(blockFrom(main, "module batch 'app/batch.bicep' = {")).toMatch(/\n {4}location: location\n/);
    // One entry per extra account, read from that account's module, over the same array as the module
    // loop (so index i is the same account in both).
    const loop =
      /\n {4}additionalBatchAccounts: \[for \(account, i\) in (\w+): \{\n([\s\S]*?)\n {4}\}\]\n/.exec(call);
    expect(loop?.[1]).toBe('extraBatchAccounts');
    expect(main).toMatch(
      /^module extraBatch 'app\/batch\.bicep' = \[for \(account, i\) in extraBatchAccounts: \{$/m,
    );
    const fields = entries(loop![2]!);
    expect(Object.fromEntries(fields)).toEqual({
      name: 'extraBatch[i].outputs.name',
      endpoint: 'extraBatch[i].outputs.endpoint',
      region: 'account.location',
      allocationMode: 'extraBatch[i].outputs.poolAllocationMode',
      weight: 'account.weight',
    });
    // The endpoint output carries its scheme: the setting takes a URL.
    expect(read('app/batch.bicep')).toContain(
      `output endpoint string = 'https://\${account.properties.accountEndpoint}'`,
    );
    // What the template writes is what the app reads: these fields pass its strict schema, and no key.
    const written: Record<string, string | number> = {
      name: 'batok12345abcd1',
      endpoint: 'https://batok12345abcd1.westus3.batch.azure.com',
      region: 'westus3',
      allocationMode: 'UserSubscription',
      weight: 2,
    };
    expect([...fields.keys()].sort()).toEqual(Object.keys(written).sort());
    const settings = readSettings({
      AzureWebJobsStorage__accountName: 'st',
      COSMOS_ENDPOINT: 'https://cosmos.example',
      BATCH_ENDPOINT: 'https://bamain.westeurope.batch.azure.com',
      BATCH_ACCOUNT_NAME: 'bamain',
      BATCH_REGION: 'westeurope',
      SLOTWISE_BATCH_ACCOUNTS: JSON.stringify([written]),
    });
    expect(batchAccountInfos(settings).map((a) => [a.name, a.region, a.allocationMode, a.weight])).toEqual([
      ['bamain', 'westeurope', 'BatchService', 1],
      ['batok12345abcd1', 'westus3', 'UserSubscription', 2],
    ]);
    // The operator's environment gets both too (account:drain and tenant:add read them).
    expect(main).toMatch(/^output BATCH_REGION string = location$/m);
    expect(main).toMatch(/^output SLOTWISE_BATCH_ACCOUNTS string = api\.outputs\.batchAccounts$/m);
    expect(api).toMatch(/^output batchAccounts string = batchAccountsSetting$/m);
  });

  it('takes the extra Batch accounts as an array parameter, fed from an azd variable', () => {
    const main = read('main.bicep');
    expect(main).toMatch(/^@description\('[^\n]+'\)\nparam additionalBatchAccounts array = \[\]$/m);
    const params = JSON.parse(read('main.parameters.json')) as {
      parameters: Record<string, { value: string }>;
    };
    expect(params.parameters.additionalBatchAccounts?.value).toBe(
      `\${SLOTWISE_ADDITIONAL_BATCH_ACCOUNTS:-[]}`,
    );
    // Defaults filled in per entry, the entry's own values winning (union: later properties win).
    const defaults =
      /^var extraBatchAccounts = \[for \(a, i\) in additionalBatchAccounts: union\(\{\n([\s\S]*?)\n\}, a\)\]$/m.exec(
        main,
      );
    expect(Object.fromEntries(entries(defaults![1]!))).toEqual({
      name: `'\${abbrs.batchBatchAccounts}\${resourceToken}\${i + 1}'`,
      weight: '1',
      poolAllocationMode: "'BatchService'",
    });
  });

  it('gives every extra Batch account the module, links and roles of the primary, under names of its own', () => {
    const main = read('main.bicep');
    const paramsOf = (block: string) => entries(block.slice(block.indexOf('\n  params: {\n') + 13));
    const primaryBlock = blockFrom(main, "module batch 'app/batch.bicep' = {");
    const extraBlock = blockFrom(main, "module extraBatch 'app/batch.bicep' = [for");
    const primary = paramsOf(primaryBlock.slice(0, primaryBlock.indexOf('\n  }\n')));
    const extra = paramsOf(extraBlock.slice(0, extraBlock.indexOf('\n  }\n')));
    // The same module (app/batch.bicep: Azure Batch Data Contributor for the app, Account Reader for the
    // operator, the account's own identity on the linked storage), given the same principals and storage.
    expect([...extra.keys()].sort()).toEqual([...primary.keys()].sort());
    for (const same of [
      'tags',
      'appPrincipalId',
      'userPrincipalId',
      'userPrincipalType',
      'batchServicePrincipalId',
      'storageAccountName',
    ])
      expect(extra.get(same), same).toBe(primary.get(same));
    expect(extra.get('appPrincipalId')).toBe('identity.outputs.principalId');
    // Its own name, region and mode, and names for its identity and Batch's vault that no other account
    // takes: the primary's account name ends in the token, an extra one's in its place (or is the
    // operator's own).
    expect(extra.get('name')).toBe('account.name');
    expect(extra.get('location')).toBe('account.location');
    expect(extra.get('poolAllocationMode')).toBe('account.poolAllocationMode');
    expect(primary.get('name')).toBe(`'\${abbrs.batchBatchAccounts}\${resourceToken}'`);
    expect(primary.get('identityName')).toBe(
      `'\${abbrs.managedIdentityUserAssignedIdentities}batch-\${resourceToken}'`,
    );
    expect(extra.get('identityName')).toBe(
      `'\${abbrs.managedIdentityUserAssignedIdentities}batch-\${account.name}'`,
    );
    expect(primary.get('keyVaultName')).toBe(`'\${abbrs.keyVaultVaults}b\${resourceToken}'`);
    // Key Vault names have 3 to 24 characters: 'kv-b' and at most 20 of the account's.
    expect(extra.get('keyVaultName')).toBe(`'\${abbrs.keyVaultVaults}b\${take(account.name, 20)}'`);
    // In the app's resource group, a deployment name each, after the Batch service's role.
    expect(extraBlock).toMatch(/\n {2}scope: rg\n/);
    expect(extraBlock).toMatch(/\n {2}name: 'batch-\$\{i \+ 1\}'\n/);
    expect(extraBlock).toMatch(/\n {2}dependsOn: \[batchServiceRole\]\n/);
    // That role is assigned when any account, not only the primary, is in user subscription mode.
    expect(main).toMatch(
      /^var extraUserSubscriptionBatch = !empty\(filter\(extraBatchAccounts, a => a\.poolAllocationMode == 'UserSubscription'\)\)$/m,
    );
    expect(main).toMatch(
      /^resource batchServiceRole '[^']+' = if \(\(userSubscriptionBatch \|\| extraUserSubscriptionBatch\) && assignBatchServiceRole\) \{$/m,
    );
  });
});

const root = fileURLToPath(new URL('../../', import.meta.url));
interface AzureYaml {
  requiredVersions?: { azd?: string };
  services: Record<
    string,
    { project: string; language: string; host: string; dist?: string; remoteBuild?: boolean }
  >;
  hooks?: Record<
    string,
    { posix?: { shell: string; run: string }; windows?: { shell: string; run: string } }
  >;
}
const azureYaml = () => parse(readFileSync(`${root}azure.yaml`, 'utf8')) as AzureYaml;

describe('azure.yaml against the azd rules it relies on', () => {
  it('names as dist the directory `npm run package` stages, since azd reads dist as a directory', () => {
    // cli/azd/pkg/project/framework_service_node.go, nodeProject.Package: runs `npm run build --if-present`
    // (pkg/tools/node/node.go, npmCli.RunScript), then os.ReadDir(<project>/<dist>) and fails with "package
    // source '…' is empty or does not exist" when dist is a file or an empty directory. The `.zip`
    // pass-through in service_target_functionapp.go, functionAppTarget.Package, runs only after that, so a
    // zip as dist fails in every azd version. js and ts both take this Node framework (cmd/container.go).
    const api = azureYaml().services.api!;
    expect(['js', 'ts']).toContain(api.language);
    expect(api.host).toBe('function');
    expect(extname(api.dist ?? '')).toBe('');
    expect(resolve(root, api.project, api.dist!)).toBe(DEFAULT_PACKAGE_DIR);
    // The prepackage hook stages it before azd packages, on both shells (pkg/ext/models.go, HookConfig
    // posix/windows); azd's own `npm run build` then rebuilds dist/ only, never artifacts/.
    const hook = azureYaml().hooks!.prepackage!;
    expect(hook.posix!.run).toMatch(/npm ci && npm run package$/);
    expect(hook.windows!.run).toMatch(/npm run package$/);
    const scripts = (
      JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.build).not.toMatch(/artifacts/);
    expect(scripts.package).toMatch(/scripts\/package\.ts$/);
  });

  it('deploys node_modules as installed from the lockfile: remoteBuild false, nothing excluding node_modules', () => {
    // service_target_functionapp.go, resolveFunctionAppRemoteBuild: for js/ts with no .funcignore in the
    // service directory and remoteBuild unset, remote build is on (Oryx runs `npm install` on Azure, from a
    // package.json without lockfile); remoteBuild false with a .funcignore that excludes node_modules is an
    // error, and true with one that does not is an error too.
    // project_utils.go, createDeployableZip: leaves out .azure/, local.settings.json and the ignore file
    // (service_target.go, IgnoreFile: .funcignore for host function), honours a .funcignore in the dist
    // directory, and drops node_modules unless remoteBuild is false.
    const project = azureYaml();
    expect(project.services.api!.remoteBuild).toBe(false);
    expect(existsSync(`${root}.funcignore`)).toBe(false);
    // The package staged in dist holds no .funcignore either (test/deploy/package.test.ts checks its files).
    // remoteBuild exists from azd 1.23.5 (CHANGELOG, #6748); requiredVersions is a semver range (RequiredVersions).
    expect(project.requiredVersions?.azd).toBe('>=1.23.5');
  });

  it('tags azd-service-name on the site only', () => {
    // resource_manager.go finds the deploy target by this tag; before azd 1.23.4 (#6674) a second tagged
    // resource (the plan) failed the deploy.
    const files = [
      'main.bicep',
      ...[
        'api',
        'batch',
        'cosmos',
        'identity',
        'keyvault',
        'monitoring',
        'pool-grants',
        'pool-identity-grant',
        'pool-subnet-grant',
        'storage',
      ].map((m) => `app/${m}.bicep`),
    ];
    const tagged = files.flatMap((f) => [...read(f).matchAll(/'azd-service-name'/g)].map(() => f));
    expect(tagged).toEqual(['app/api.bicep']);
    const api = read('app/api.bicep');
    const site = api.slice(api.indexOf("resource app 'Microsoft.Web/sites@"));
    expect(site.slice(0, site.indexOf('\n}'))).toContain(
      "tags: union(tags, { 'azd-service-name': serviceName })",
    );
    const plan = api.slice(api.indexOf("resource plan 'Microsoft.Web/serverfarms@"));
    expect(plan.slice(0, plan.indexOf('\n}'))).toMatch(/\n {2}tags: tags\n/);
  });

  it('feeds parameters from azd variables as strings, booleans or numbers, or as JSON to an array that has a fallback', () => {
    // pkg/infra/provisioning/bicep/bicep_provider.go: before azd 1.23.4 (#6694) a `${VAR}` given to an
    // array or object parameter reached ARM as a string; strings, and bools and ints (armParameterFileValue
    // parses them) pass in every version. From 1.23.4 (azure.yaml requires 1.23.5) loadParameters
    // substitutes an array's `${VAR}` alone and parses the result as JSON ("Path A"), failing on anything
    // else, '' included: CI sets an unset repository variable to '', so an array parameter falls back with
    // `:-` (drone/envsubst, readme: "If $var is not set or is empty"). JSON cannot go through a string
    // parameter: there the value is substituted into the parameter's JSON text unescaped ("Path B").
    expect(azureYaml().requiredVersions?.azd).toBe('>=1.23.5');
    const main = read('main.bicep');
    const types = new Map([...main.matchAll(/^param (\w+) (\w+)/gm)].map((m) => [m[1]!, m[2]!]));
    const params = JSON.parse(read('main.parameters.json')) as {
      parameters: Record<string, { value: string }>;
    };
    const fed = Object.entries(params.parameters).filter(([, p]) => p.value.includes('${'));
    expect(fed.length).toBeGreaterThanOrEqual(5);
    for (const [name, p] of fed)
      if (types.get(name) === 'array') expect(p.value, name).toMatch(/^\$\{\w+:-\[\]\}$/);
      else expect(['string', 'bool', 'int'], name).toContain(types.get(name));
  });

  it('has CI pass every template variable the parameters read', () => {
    // azd's generated workflow (cli/azd/resources/pipeline/.github/azure-dev.ymlt) maps each template
    // variable; a variable CI drops reverts a local choice (serverless Cosmos, Batch allocation mode).
    const params = read('main.parameters.json');
    const variables = [...new Set([...params.matchAll(/\$\{(\w+)/g)].map((m) => m[1]!))].filter(
      // Set by azd itself from the environment and the signed-in principal.
      (v) => !['AZURE_ENV_NAME', 'AZURE_LOCATION', 'AZURE_PRINCIPAL_ID', 'AZURE_PRINCIPAL_TYPE'].includes(v),
    );
    expect(variables.length).toBeGreaterThanOrEqual(2);
    const workflow = parse(readFileSync(`${root}.github/workflows/azure-dev.yml`, 'utf8')) as {
      jobs: Record<string, { env: Record<string, string> }>;
    };
    const env = Object.values(workflow.jobs)[0]!.env;
    for (const v of variables) expect(env[v], v).toBe(`\${{ vars.${v} }}`);
  });
});
