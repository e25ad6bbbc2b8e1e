/**
 * The app's identity may do everything the results store does in Azure: create a tenant's container,
 * list and read blobs, and get a user delegation key to sign tasks' SAS. The template is read as text
 * (no Bicep compiler or Azure here) and its roles are matched against a snapshot of the published
 * built-in Storage roles (test/fixtures/azure/storage-blob-builtin-roles.json names its source).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Role {
  readonly roleName: string;
  readonly roleDefinitionId: string;
  readonly actions: readonly string[];
  readonly dataActions: readonly string[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/azure/storage-blob-builtin-roles.json', import.meta.url), 'utf8'),
) as {
  source: string;
  roles: Role[];
  results_store_needs: { operations: { operation: string; permission: string; data: boolean }[] };
};
const storageBicep = readFileSync(new URL('../../infra/app/storage.bicep', import.meta.url), 'utf8');

/** Azure RBAC's wildcard: `*` matches any run of characters; names compare case-insensitively. */
const matches = (entry: string, op: string) =>
  new RegExp(
    `^${entry
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  ).test(op);

/** The built-in role ids the template gives the app's identity on its storage account. */
function appStorageRoles(): string[] {
  const vars = new Map(
    [...storageBicep.matchAll(/^var (\w+) = '([0-9a-f-]{36})'/gm)].map((m) => [m[1]!, m[2]!]),
  );
  const list = /^var appRoles = \[([^\]]*)\]/m.exec(storageBicep)?.[1] ?? '';
  // The list is what the app's assignments loop over, for appPrincipalId on the storage account.
  expect(storageBicep).toMatch(
    /for role in appRoles: \{[\s\S]*?principalId: appPrincipalId[\s\S]*?scope: storage|scope: storage[\s\S]*?principalId: appPrincipalId/,
  );
  return list
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((name) => vars.get(name) ?? name);
}

describe("the app identity's role on its storage account", () => {
  it('the snapshot names its source and holds the roles it is checked against', () => {
    expect(fixture.source).toMatch(/^https:\/\/github\.com\/MicrosoftDocs\/azure-docs\/blob\/[0-9a-f]{40}\//);
    expect(fixture.roles.map((r) => r.roleName)).toContain('Storage Blob Data Owner');
  });

  it('covers every operation of the results store, each in the list Azure checks', () => {
    const granted = appStorageRoles()
      .map((id) => fixture.roles.find((r) => r.roleDefinitionId === id))
      .filter((r): r is Role => r !== undefined);
    expect(granted.map((r) => r.roleName)).toEqual(['Storage Blob Data Owner']);
    const missing = fixture.results_store_needs.operations.filter(
      (need) =>
        !granted.some((r) =>
          (need.data ? r.dataActions : r.actions).some((e) => matches(e, need.permission)),
        ),
    );
    expect(missing).toEqual([]);
  });
});
