/**
 * Role definitions and assignments of the template, checked against Azure's own operation lists.
 * ARM refuses a role definition whose entry matches no operation of its list (`InvalidActionOrNotAction`),
 * and a data action granted under `actions` grants nothing: both stopped the first `azd up` (review B2).
 * No Bicep compiler and no Azure are reachable here, so the template is read as text and every entry is
 * matched against checked-in snapshots, each naming its source and date:
 * - test/fixtures/azure/microsoft-batch-operations.json: the Microsoft.Batch provider operations (what
 *   `az provider operation show --namespace Microsoft.Batch` lists), actions and data actions apart;
 * - test/fixtures/azure/batch-builtin-roles.json: the built-in Batch roles (ids, actions, data actions).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Operations {
  readonly source: string;
  readonly retrieved: string;
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

/** Snapshots by provider namespace: a role entry of any other namespace has nothing to be checked against. */
const snapshots: Record<string, Operations> = { 'microsoft.batch': batchOperations };

type ListName = 'actions' | 'notActions' | 'dataActions' | 'notDataActions';
const isDataList = (list: ListName) => list === 'dataActions' || list === 'notDataActions';

/** Azure RBAC's wildcard: `*` matches any run of characters; names compare case-insensitively. */
function pattern(entry: string): RegExp {
  return new RegExp(`^${entry.split('*').map(escapeRegExp).join('.*')}$`, 'i');
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

/** Role assignments: the built-in role id each grants (through a `var` or a literal) and to whom. */
function roleAssignments(text: string): { roleId: string; principal: string }[] {
  const vars = new Map([...text.matchAll(/^var (\w+) = '([0-9a-f-]{36})'/gm)].map((m) => [m[1]!, m[2]!]));
  return resources(text, 'Microsoft.Authorization/roleAssignments').map(({ name, body }) => {
    const ref = /roleDefinitions', (\w+|'[0-9a-f-]{36}')\)/.exec(body)?.[1];
    const roleId = ref?.startsWith("'") ? ref.slice(1, -1) : vars.get(ref ?? '');
    const principal = /principalId: ([\w.]+)/.exec(body)?.[1];
    if (!roleId || !principal) throw new Error(`role assignment ${name}: role or principal not found`);
    return { roleId, principal };
  });
}

const read = (path: string) => readFileSync(join(infraRoot, path), 'utf8');

describe('role definitions against the provider operations', () => {
  it('the snapshots name their source and date', () => {
    for (const snapshot of [batchOperations, fixture<Operations>('batch-builtin-roles.json')]) {
      expect(snapshot.source).toMatch(
        /^https:\/\/github\.com\/MicrosoftDocs\/azure-docs\/blob\/[0-9a-f]{40}\//,
      );
      expect(snapshot.retrieved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(batchOperations.actions.length).toBeGreaterThan(50);
    expect(batchOperations.dataActions).toContain('Microsoft.Batch/batchAccounts/jobs/write');
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
    // What the REST client calls (shared/adapters/batch): pools (create, resize, delete, list), jobs and
    // their tasks (tasks are checked as jobs/*), and reading the applications a pool references.
    const needs: { op: string; data: boolean }[] = [
      { op: 'Microsoft.Batch/batchAccounts/read', data: false },
      { op: 'Microsoft.Batch/batchAccounts/pools/read', data: false },
      { op: 'Microsoft.Batch/batchAccounts/pools/write', data: false },
      { op: 'Microsoft.Batch/batchAccounts/pools/delete', data: false },
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

/** Storage Blob Data Contributor: the Batch account's identity on its linked (auto-)storage account. */
const storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
