/**
 * Role definitions and assignments of the template, checked against Azure's own operation lists.
 * ARM refuses a role definition whose entry matches no operation of its list (`InvalidActionOrNotAction`),
 * and a data action granted under `actions` grants nothing: both stopped the first `azd up` (review B2).
 * No Bicep compiler and no Azure are reachable here, so the template is read as text and every entry is
 * matched against checked-in snapshots, each naming its source and date:
 * - test/fixtures/azure/microsoft-batch-operations.json: the Microsoft.Batch provider operations (what
 *   `az provider operation show --namespace Microsoft.Batch` lists), actions and data actions apart;
 * - test/fixtures/azure/batch-builtin-roles.json: the built-in Batch roles (ids, actions, data actions);
 * - test/fixtures/azure/microsoft-managedidentity-operations.json and microsoft-network-operations.json
 *   (the latter an excerpt: the operations under Microsoft.Network/virtualNetworks/), and
 *   pool-grant-roles.json (Managed Identity Operator): what managed pools with an identity or a subnet need.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Operations {
  readonly source: string;
  readonly retrieved: string;
  /** Set when the snapshot holds only the operations whose names start with it. */
  readonly excerpt?: string;
  readonly actions: readonly string[];
  readonly dataActions: readonly string[];
}
interface BuiltInRole {
  readonly roleName: string;
  readonly roleDefinitionId: string;
  readonly actions: readonly string[];
  readonly dataActions: readonly string[];
}

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../fixtures/azure/${name}`, import.meta.url), 'utf8')) as T;
const batchOperations = fixture<Operations>('microsoft-batch-operations.json');
const builtIns = fixture<{
  roles: BuiltInRole[];
  other_batch_related_builtin_roles: { roleName: string; roleDefinitionId: string }[];
}>('batch-builtin-roles.json');

const managedIdentityOperations = fixture<Operations>('microsoft-managedidentity-operations.json');
const networkOperations = fixture<Operations>('microsoft-network-operations.json');
const poolGrantRoles = fixture<{ source: string; retrieved: string; roles: BuiltInRole[] }>(
  'pool-grant-roles.json',
);

/** Snapshots by provider namespace: a role entry of any other namespace has nothing to be checked against. */
const snapshots: Record<string, Operations> = {
  'microsoft.batch': batchOperations,
  'microsoft.managedidentity': managedIdentityOperations,
  'microsoft.network': networkOperations,
};

type ListName = 'actions' | 'notActions' | 'dataActions' | 'notDataActions';
const isDataList = (list: ListName) => list === 'dataActions' || list === 'notDataActions';

/**
 * Azure RBAC's wildcard: `*` matches any run of characters, and a whole `*` segment any path, the
 * empty one included: Managed Identity Operator grants the one operation
 * `userAssignedIdentities/assign/action` through its entry with a `*` segment before `assign/action`.
 * Names compare case-insensitively.
 */
function pattern(entry: string): RegExp {
  const body = entry
    .split('/*/')
    .map((part) => part.split('*').map(escapeRegExp).join('.*'))
    .join('/(?:.*/)?');
  return new RegExp(`^${body}$`, 'i');
}
const escapeRegExp = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** Why each entry of a role's permissions would be refused or grant nothing; empty when all are sound. */
function permissionProblems(permissions: Partial<Record<ListName, readonly string[]>>): string[] {
  const problems: string[] = [];
  for (const list of ['actions', 'notActions', 'dataActions', 'notDataActions'] as const) {
    for (const entry of permissions[list] ?? []) {
      const namespace = entry.split('/')[0]!.toLowerCase();
      const ops = snapshots[namespace];
      if (!ops) {
        problems.push(`${list}: '${entry}': no operations snapshot for ${namespace} in test/fixtures/azure`);
        continue;
      }
      if (ops.excerpt && !entry.toLowerCase().startsWith(ops.excerpt.toLowerCase())) {
        problems.push(
          `${list}: '${entry}': outside the ${namespace} snapshot, which holds ${ops.excerpt}* only`,
        );
        continue;
      }
      const own = isDataList(list) ? ops.dataActions : ops.actions;
      const other = isDataList(list) ? ops.actions : ops.dataActions;
      const re = pattern(entry);
      if (own.some((op) => re.test(op))) continue;
      const elsewhere = other.filter((op) => re.test(op));
      problems.push(
        elsewhere.length > 0
          ? `${list}: '${entry}' matches only ${isDataList(list) ? 'actions' : 'data actions'} (${elsewhere.join(', ')}): it belongs in ${isDataList(list) ? 'actions' : 'dataActions'}`
          : `${list}: '${entry}' matches no ${namespace} operation`,
      );
    }
  }
  return problems;
}

const infraRoot = fileURLToPath(new URL('../../infra/', import.meta.url));
function bicepFiles(dir = infraRoot): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? bicepFiles(join(dir, e.name)) : e.name.endsWith('.bicep') ? [join(dir, e.name)] : [],
  );
}

/** The `{ ... }` block opened at `start` (the index of its `{`), by brace depth. */
function block(text: string, start: number): string {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error('unbalanced braces');
}

/** Every resource of `type` in a Bicep text, as its symbolic name and body. */
function resources(text: string, type: string): { name: string; body: string }[] {
  const re = new RegExp(`^resource (\\w+) '${escapeRegExp(type)}@[^']+' = (?:if \\([^\\n]*\\) )?\\{`, 'gm');
  return [...text.matchAll(re)].map((m) => ({
    name: m[1]!,
    body: block(text, m.index + m[0].length - 1),
  }));
}

/** The single-quoted strings of `key: [ ... ]` in a role definition's permissions. */
function list(body: string, key: ListName): string[] {
  const m = new RegExp(`\\b${key}: \\[([^\\]]*)\\]`).exec(body);
  return m ? [...m[1]!.matchAll(/'([^']*)'/g)].map((x) => x[1]!) : [];
}

function roleDefinitions(text: string) {
  return resources(text, 'Microsoft.Authorization/roleDefinitions').map(({ name, body }) => ({
    name,
    permissions: {
      actions: list(body, 'actions'),
      notActions: list(body, 'notActions'),
      dataActions: list(body, 'dataActions'),
      notDataActions: list(body, 'notDataActions'),
    },
  }));
}

/**
 * Role assignments: the role each grants and to whom, and the resource it is scoped to. The role is a
 * built-in role id (through a `var` or a literal), or `param:<name>` when the module's caller names it.
 */
function roleAssignments(text: string): { roleId: string; principal: string; scope?: string }[] {
  const vars = new Map([...text.matchAll(/^var (\w+) = '([0-9a-f-]{36})'/gm)].map((m) => [m[1]!, m[2]!]));
  const params = new Set([...text.matchAll(/^param (\w+) string/gm)].map((m) => m[1]!));
  return resources(text, 'Microsoft.Authorization/roleAssignments').map(({ name, body }) => {
    const ref = /roleDefinitions', (\w+|'[0-9a-f-]{36}')\)/.exec(body)?.[1];
    const roleId = ref?.startsWith("'")
      ? ref.slice(1, -1)
      : (vars.get(ref ?? '') ?? (ref && params.has(ref) ? `param:${ref}` : undefined));
    const principal = /principalId: ([\w.]+)/.exec(body)?.[1];
    if (!roleId || !principal) throw new Error(`role assignment ${name}: role or principal not found`);
    const scope = /^ {2}scope: (\w+)$/m.exec(body)?.[1];
    return scope ? { roleId, principal, scope } : { roleId, principal };
  });
}

/** The type of the resource a symbolic name stands for (`existing` ones included). */
function resourceType(text: string, symbol: string): string | undefined {
  return new RegExp(`^resource ${symbol} '([^@']+)@`, 'm').exec(text)?.[1];
}

const read = (path: string) => readFileSync(join(infraRoot, path), 'utf8');

describe('role definitions against the provider operations', () => {
  it('the snapshots name their source and date', () => {
    for (const snapshot of [
      batchOperations,
      fixture<Operations>('batch-builtin-roles.json'),
      managedIdentityOperations,
      networkOperations,
      poolGrantRoles,
    ]) {
      expect(snapshot.source).toMatch(
        /^https:\/\/github\.com\/MicrosoftDocs\/azure-docs\/blob\/[0-9a-f]{40}\//,
      );
      expect(snapshot.retrieved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(batchOperations.actions.length).toBeGreaterThan(50);
    expect(batchOperations.dataActions).toContain('Microsoft.Batch/batchAccounts/jobs/write');
    expect(managedIdentityOperations.actions).toContain(
      'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action',
    );
    // An excerpt holds only its own prefix, and every operation there is one of the page's.
    expect(networkOperations.excerpt).toBe('Microsoft.Network/virtualNetworks/');
    expect(networkOperations.actions.every((op) => op.startsWith(networkOperations.excerpt!))).toBe(true);
    expect(networkOperations.actions).toContain('Microsoft.Network/virtualNetworks/subnets/join/action');
  });

  it('reads `*` as Azure does: a run of characters, and a whole segment as any path, the empty one too', () => {
    expect(pattern('Microsoft.Batch/*/read').test('Microsoft.Batch/batchAccounts/pools/read')).toBe(true);
    const assign = pattern('Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action');
    expect(assign.test('Microsoft.ManagedIdentity/userAssignedIdentities/assign/action')).toBe(true);
    expect(assign.test('Microsoft.ManagedIdentity/userAssignedIdentities/write')).toBe(false);
    expect(pattern('Microsoft.Batch/batchAccounts/pools/*').test('Microsoft.Batch/batchAccounts/read')).toBe(
      false,
    );
    // An entry outside an excerpt snapshot cannot be vouched for.
    expect(permissionProblems({ actions: ['Microsoft.Network/networkInterfaces/join/action'] })).toEqual([
      "actions: 'Microsoft.Network/networkInterfaces/join/action': outside the microsoft.network snapshot, which holds Microsoft.Network/virtualNetworks/* only",
    ]);
  });

  it('every action and data action of every role definition in infra/ is an operation of its own list', () => {
    const files = bicepFiles();
    expect(files.length).toBeGreaterThan(5);
    const problems = files.flatMap((file) =>
      roleDefinitions(readFileSync(file, 'utf8')).flatMap((role) =>
        permissionProblems(role.permissions).map((p) => `${file.slice(infraRoot.length)} ${role.name}: ${p}`),
      ),
    );
    expect(problems).toEqual([]);
  });

  it('refuses a data action listed under actions, and an entry that matches nothing', () => {
    // The custom role the template had: jobs/* exists only as a data action, so ARM refused the role.
    const before = `resource operatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  properties: {
    permissions: [
      {
        actions: [
          'Microsoft.Batch/batchAccounts/read'
          'Microsoft.Batch/batchAccounts/pools/*'
          'Microsoft.Batch/batchAccounts/jobs/*'
          'Microsoft.Batch/batchAccounts/certificates/*'
        ]
      }
    ]
  }
}`;
    const [role] = roleDefinitions(before);
    expect(permissionProblems(role!.permissions)).toEqual([
      "actions: 'Microsoft.Batch/batchAccounts/jobs/*' matches only data actions (Microsoft.Batch/batchAccounts/jobs/read, Microsoft.Batch/batchAccounts/jobs/write, Microsoft.Batch/batchAccounts/jobs/delete): it belongs in dataActions",
      "actions: 'Microsoft.Batch/batchAccounts/certificates/*' matches no microsoft.batch operation",
    ]);
    expect(
      permissionProblems({
        dataActions: ['Microsoft.Batch/batchAccounts/pools/write', 'Microsoft.Web/sites/read'],
      }),
    ).toEqual([
      "dataActions: 'Microsoft.Batch/batchAccounts/pools/write' matches only actions (Microsoft.Batch/batchAccounts/pools/write): it belongs in actions",
      "dataActions: 'Microsoft.Web/sites/read': no operations snapshot for microsoft.web in test/fixtures/azure",
    ]);
  });

  it("grants the app's identity every Batch operation Slotwise calls, each in the list Batch checks", () => {
    // What the clients call: managed pools through the management plane (shared/adapters/batch-management:
    // create and resize are pools/write, then pools/read; delete is pools/delete, polled through the
    // `Location` ARM answers with, .../poolOperationResults/delete-<pool>); through the data plane
    // (shared/adapters/batch) the pool list and node reads, jobs and their tasks (tasks are checked as
    // jobs/*), and reading the applications a pool references.
    const needs: { op: string; data: boolean }[] = [
      { op: 'Microsoft.Batch/batchAccounts/read', data: false },
      { op: 'Microsoft.Batch/batchAccounts/pools/read', data: false },
      { op: 'Microsoft.Batch/batchAccounts/pools/write', data: false },
      { op: 'Microsoft.Batch/batchAccounts/pools/delete', data: false },
      { op: 'Microsoft.Batch/batchAccounts/poolOperationResults/read', data: false },
      { op: 'Microsoft.Batch/batchAccounts/applications/read', data: false },
      { op: 'Microsoft.Batch/batchAccounts/applications/versions/read', data: false },
      { op: 'Microsoft.Batch/batchAccounts/jobs/read', data: true },
      { op: 'Microsoft.Batch/batchAccounts/jobs/write', data: true },
      { op: 'Microsoft.Batch/batchAccounts/jobs/delete', data: true },
    ];
    const text = read('app/batch.bicep');
    const granted = roleAssignments(text)
      .filter((a) => a.principal === 'appPrincipalId')
      .map((a) => {
        const role = builtIns.roles.find((r) => r.roleDefinitionId === a.roleId);
        if (!role) throw new Error(`role ${a.roleId} is not a built-in Batch role of the snapshot`);
        return role;
      });
    expect(granted.map((r) => r.roleName)).toEqual(['Azure Batch Data Contributor']);
    for (const need of needs) {
      // The operation exists, and in this list (else no role could grant it there).
      expect(need.data ? batchOperations.dataActions : batchOperations.actions, need.op).toContain(need.op);
      const covered = granted.some((r) =>
        (need.data ? r.dataActions : r.actions).some((entry) => pattern(entry).test(need.op)),
      );
      expect(covered, need.op).toBe(true);
    }
  });

  it('gives the operator read access to the Batch account, and the Batch service its role in user subscription mode', () => {
    const reader = builtIns.roles.find((r) => r.roleName === 'Azure Batch Account Reader')!;
    expect(roleAssignments(read('app/batch.bicep'))).toContainEqual({
      roleId: reader.roleDefinitionId,
      principal: 'userPrincipalId',
      scope: 'account',
    });
    // Every Batch built-in role the template assigns is one the snapshot knows, under its published id.
    const known = new Set([
      ...builtIns.roles.map((r) => r.roleDefinitionId),
      ...builtIns.other_batch_related_builtin_roles.map((r) => r.roleDefinitionId),
    ]);
    const orchestration = builtIns.other_batch_related_builtin_roles.find(
      (r) => r.roleName === 'Azure Batch Service Orchestration Role',
    )!;
    const main = read('main.bicep');
    expect(main).toContain(orchestration.roleDefinitionId);
    for (const file of bicepFiles())
      for (const a of roleAssignments(readFileSync(file, 'utf8')))
        if (/batch/i.test(file) && !known.has(a.roleId) && a.roleId !== storageBlobDataContributor)
          throw new Error(`${file}: role ${a.roleId} is not in test/fixtures/azure/batch-builtin-roles.json`);
  });
});

describe('what managed pools with an identity or a subnet need, granted on each one the operator names', () => {
  // Forms of the ids (the job request's pool.identity and pool.network.subnetId).
  const subscription = '11111111-2222-4333-8444-555555555555';
  const identityId = `/subscriptions/${subscription}/resourceGroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-render`;
  const subnetId = `/subscriptions/${subscription}/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/vnet-batch/subnets/nodes`;

  it('Managed Identity Operator on each identity: it grants the assign operation ARM checks when a pool takes one', () => {
    const text = read('app/pool-identity-grant.bicep');
    const operator = poolGrantRoles.roles.find((r) => r.roleName === 'Managed Identity Operator')!;
    expect(operator.roleDefinitionId).toBe('f1a07417-d97a-45cb-824c-7a7467783830');
    expect(roleAssignments(text)).toEqual([
      { roleId: operator.roleDefinitionId, principal: 'appPrincipalId', scope: 'poolIdentity' },
    ]);
    expect(resourceType(text, 'poolIdentity')).toBe('Microsoft.ManagedIdentity/userAssignedIdentities');
    expect(text).toMatch(/^resource poolIdentity '[^']+' existing = \{\n {2}name: identityName\n\}/m);
    const assign = 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action';
    expect(managedIdentityOperations.actions).toContain(assign);
    expect(
      operator.actions.some((entry) => pattern(entry).test(assign)),
      assign,
    ).toBe(true);
    expect(
      permissionProblems({
        actions: operator.actions.filter((a) => a.startsWith('Microsoft.ManagedIdentity/')),
      }),
    ).toEqual([]);
  });

  it('on each subnet a custom role that joins and reads the subnet and nothing else, defined only when there are subnets', () => {
    const grants = read('app/pool-grants.bicep');
    const roles = roleDefinitions(grants);
    expect(roles.map((r) => r.name)).toEqual(['subnetJoinRole']);
    const { permissions } = roles[0]!;
    const join = 'Microsoft.Network/virtualNetworks/subnets/join/action';
    // Exactly these operations of the provider's list, no data actions: no write or delete of the subnet
    // (Network Contributor would allow both), nothing on the rest of the network.
    const granted = networkOperations.actions.filter((op) =>
      permissions.actions.some((entry) => pattern(entry).test(op)),
    );
    expect(granted.sort()).toEqual([join, 'Microsoft.Network/virtualNetworks/subnets/read'].sort());
    expect(permissionProblems(permissions)).toEqual([]);
    expect([...permissions.dataActions, ...permissions.notActions, ...permissions.notDataActions]).toEqual(
      [],
    );
    expect(grants).toMatch(
      /^resource subnetJoinRole 'Microsoft\.Authorization\/roleDefinitions@[^']+' = if \(!empty\(poolSubnetIds\)\) \{\n {2}name: subnetJoinRoleName\n/m,
    );
    expect(grants).toMatch(/assignableScopes: \[subscription\(\)\.id\]/);
    // The role assigned on each subnet is that one, once it exists.
    const text = read('app/pool-subnet-grant.bicep');
    expect(roleAssignments(text)).toEqual([
      { roleId: 'param:subnetJoinRoleName', principal: 'appPrincipalId', scope: 'subnet' },
    ]);
    expect(resourceType(text, 'subnet')).toBe('Microsoft.Network/virtualNetworks/subnets');
    expect(text).toMatch(
      /^resource subnet '[^']+' existing = \{\n {2}parent: network\n {2}name: subnetName\n\}/m,
    );
    expect(text).toMatch(/^resource network '[^']+' existing = \{\n {2}name: virtualNetworkName\n\}/m);
    const loop = moduleLoops(grants).find((m) => m.file === 'pool-subnet-grant.bicep')!;
    expect(loop.body).toMatch(/subnetJoinRoleName: subnetJoinRoleName\n/);
    expect(loop.body).toMatch(/dependsOn: \[subnetJoinRole\]/);
  });

  it('scopes each grant to the resource group its id names, reading each name from its segment of the id', () => {
    const loops = moduleLoops(read('app/pool-grants.bicep'));
    expect(loops.map(({ file, over }) => ({ file, over }))).toEqual([
      { file: 'pool-identity-grant.bicep', over: 'poolIdentityIds' },
      { file: 'pool-subnet-grant.bicep', over: 'poolSubnetIds' },
    ]);
    const evaluated = (body: string, id: string) => {
      const parts = id.split('/');
      return body.replace(/split\(id, '\/'\)\[(\d+)\]/g, (_, i: string) => `'${parts[Number(i)]}'`);
    };
    const identity = evaluated(loops[0]!.body, identityId);
    expect(identity).toContain(`scope: resourceGroup('${subscription}', 'rg-identities')`);
    expect(identity).toContain("identityName: 'id-render'");
    const subnet = evaluated(loops[1]!.body, subnetId);
    expect(subnet).toContain(`scope: resourceGroup('${subscription}', 'rg-network')`);
    expect(subnet).toContain("virtualNetworkName: 'vnet-batch'");
    expect(subnet).toContain("subnetName: 'nodes'");
    // Every grant goes to the app's identity.
    for (const { body } of loops) expect(body).toMatch(/appPrincipalId: appPrincipalId\n/);
  });
});

/** The module loops of a Bicep text: `module <name> '<file>' = [for id in <array>: { ... }]`. */
function moduleLoops(text: string): { file: string; over: string; body: string }[] {
  return [...text.matchAll(/^module \w+ '([^']+)' = \[for id in (\w+): \{\n([\s\S]*?)^\}\]$/gm)].map((m) => ({
    file: m[1]!,
    over: m[2]!,
    body: m[3]!,
  }));
}

/** Storage Blob Data Contributor: the Batch account's identity on its linked (auto-)storage account. */
const storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
