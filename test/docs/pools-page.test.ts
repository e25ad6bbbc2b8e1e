/**
 * docs/pools.md as a reader uses it: its example job is accepted with exactly the grants its own
 * `npm run tenant:add` command gives, and refused without them on the fields the page names.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTenantPolicy } from '../../shared/model/check-tenant-policy.js';
import { policyChangeFromArgs, type TenantPolicy, tenantPolicy } from '../../shared/model/tenant-policy.js';
import { validateJobRequest } from '../../shared/model/validate-request.js';

const page = readFileSync(new URL('../../docs/pools.md', import.meta.url), 'utf8');

/** The first fenced block of `language` after the text `after`. */
function block(language: string, after: string): string {
  const start = page.indexOf(after);
  expect(start, after).toBeGreaterThanOrEqual(0);
  const m = new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(page.slice(start));
  expect(m, `${language} block after ${after}`).not.toBeNull();
  return m![1]!;
}

const example = JSON.parse(block('json', '## A job using them')) as unknown;

/** The words of the page's `npm run tenant:add` command (continuation lines joined). */
function tenantAddWords(): string[] {
  const line = block('sh', "**The tenant's grant**")
    .replace(/\\\n/g, ' ')
    .split('\n')
    .find((l) => l.startsWith('npm run tenant:add'));
  expect(line).toBeDefined();
  return line!.split(/\s+/).filter((w) => w.length > 0);
}

/** The request, checked as the door checks it: the schema and its rules, then the tenant's grants. */
function door(policy: TenantPolicy) {
  const validated = validateJobRequest(example, { tenant: policy, checkCallbackUrl: () => undefined });
  if (!validated.ok) return { invalid: validated.errors, refused: [] };
  return { invalid: [], refused: checkTenantPolicy(validated.request, policy) };
}

describe('docs/pools.md', () => {
  it('its example job passes with the grants its tenant:add command gives (and the admin grant it names)', () => {
    const words = tenantAddWords();
    expect(words.slice(0, 5)).toEqual(['npm', 'run', 'tenant:add', '--', 'acme']);
    const values = (flag: string) => words.flatMap((w, i) => (w === flag ? [words[i + 1]!] : []));
    const change = policyChangeFromArgs({
      allowIdentities: values('--allow-identity'),
      allowSubnets: values('--allow-subnet'),
      allowStartTask: values('--allow-start-task')[0],
      allowSecrets: values('--allow-secret'),
      // The example's start task is elevated: the page says that needs --allow-admin-tasks true too.
      allowAdminTasks: 'true',
    });
    if (!change.ok) throw new Error(change.message);
    expect(door(tenantPolicy(change.change))).toEqual({ invalid: [], refused: [] });
    // Without the admin grant the elevated start task is refused.
    const { allowAdminTasks: _, ...withoutAdmin } = change.change;
    expect(door(tenantPolicy(withoutAdmin)).refused.map((e) => e.field)).toEqual(['pool.startTask.elevated']);
  });

  it('without grants, the door refuses the example on each field the page lists, and on no other', () => {
    const { invalid, refused } = door(tenantPolicy({}));
    expect(invalid).toEqual([]);
    expect(refused.map((e) => e.field).sort()).toEqual(
      [
        'pool.identity',
        'pool.network.subnetId',
        'pool.startTask',
        'pool.mounts[2].azureFiles.accountKey.secretRef',
        'sweep.environment.ALIGNER_LICENSE.secretRef',
      ].sort(),
    );
    for (const named of ['`pool.identity`', '`pool.network.subnetId`', '`pool.startTask`', '`…secretRef`'])
      expect(page).toContain(named);
  });
});
