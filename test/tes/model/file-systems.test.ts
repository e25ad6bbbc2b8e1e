/**
 * A tenant's TES shared file systems (tenant policy `tesFileSystems`): what a grant may hold and the
 * rules across fields (a share's key must be a granted secret), the operator's
 * `--tes-file-system <root>=<account>/<share>:<secret>` words, the lane keys that cover the file
 * systems (shared/planner/tes-placement.ts) and the lane's pool that mounts them
 * (shared/pipeline/tes-lanes.ts `laneRequest`, planned as the plan stage plans a lane).
 */
import { describe, expect, it } from 'vitest';
import {
  checkPolicyChange,
  MAX_TES_FILE_SYSTEMS,
  mergePolicyOverrides,
  policyChangeFromArgs,
  type TesFileSystem,
  tenantPolicy,
  tesRootProblem,
} from '../../../shared/model/tenant-policy.js';
import type { TesTaskRequest } from '../../../shared/model/tes-task.js';
import { laneRequest } from '../../../shared/pipeline/tes-lanes.js';
import { planJob } from '../../../shared/planner/plan-job.js';
import { placeTesTask, tesLaneKey } from '../../../shared/planner/tes-placement.js';

const share = (root: string, shareName: string, index: number, secretRef = 'work-key'): TesFileSystem => ({
  root,
  mount: {
    azureFiles: {
      accountName: 'acct1',
      shareName,
      relativeMountPath: `tes-fs-${index}`,
      accountKey: { secretRef },
    },
  },
});

const WORK = share('/mnt/work', 'work', 0);
const REF = share('/mnt/ref', 'refs', 1);

describe('tenant policy: tesFileSystems', () => {
  it('defaults to none, and keeps a valid grant as given', () => {
    expect(tenantPolicy(undefined).tesFileSystems).toEqual([]);
    const policy = tenantPolicy(
      mergePolicyOverrides(undefined, { secrets: ['work-key'], tesFileSystems: [WORK, REF] }),
    );
    expect(policy.tesFileSystems).toEqual([WORK, REF]);
  });

  it('refuses roots that are not absolute folder paths, or / itself', () => {
    for (const [root, problem] of [
      ['mnt/work', /absolute/],
      ['/', /not be \/ itself/],
      ['/mnt/work/', /not end with \//],
      ['/mnt//work', /empty, '\.' or '\.\.' segments/],
      ['/mnt/../etc', /empty, '\.' or '\.\.' segments/],
      ['/mnt/./work', /empty, '\.' or '\.\.' segments/],
      ['/mnt/wo\nrk', /control characters/],
    ] as const)
      expect(tesRootProblem(root), root).toMatch(problem);
    expect(tesRootProblem('/mnt/my share/work-1')).toBeUndefined();
  });

  it('refuses at write time a share whose key is not a granted secret, saying how to grant it', () => {
    const refused = checkPolicyChange(undefined, { tesFileSystems: [WORK] });
    expect(refused).toEqual({
      ok: false,
      message: expect.stringMatching(
        /^tesFileSystems\.0\.mount\.azureFiles\.accountKey\.secretRef: .*secret 'work-key'.*--allow-secret work-key/,
      ),
    });
    expect(() => mergePolicyOverrides(undefined, { tesFileSystems: [WORK] })).toThrow(/work-key/);
    // Granted in an earlier change: the stored secrets count (case-insensitively, as Key Vault names).
    const earlier = mergePolicyOverrides(undefined, { secrets: ['Work-Key'] });
    expect(checkPolicyChange(earlier, { tesFileSystems: [WORK] })).toMatchObject({ ok: true });
    // Replacing the secrets later must not leave a share without its key.
    const both = mergePolicyOverrides(earlier, { tesFileSystems: [WORK] });
    expect(checkPolicyChange(both, { secrets: ['other'] })).toMatchObject({ ok: false });
  });

  it('refuses duplicate roots and mount folders, other mounts, and more than four', () => {
    const message = (tesFileSystems: unknown[]) => {
      const r = checkPolicyChange({ secrets: ['work-key'] }, { tesFileSystems } as never);
      return r.ok ? 'accepted' : r.message;
    };
    expect(message([WORK, share('/mnt/work', 'other', 1)])).toMatch(
      /tesFileSystems\.1\.root: is also the root of tesFileSystems\[0\]/,
    );
    expect(message([WORK, share('/mnt/other', 'other', 0)])).toMatch(
      /tesFileSystems\.1\.mount\.azureFiles\.relativeMountPath: is also the folder of tesFileSystems\[0\]/,
    );
    expect(
      message([
        {
          root: '/mnt/blob',
          mount: { azureBlob: { accountName: 'acct1', containerName: 'data', relativeMountPath: 'b' } },
        },
      ]),
    ).toMatch(/a TES file system is an Azure Files share/);
    expect(
      message(
        Array.from({ length: MAX_TES_FILE_SYSTEMS + 1 }, (_, i) => share(`/mnt/s${i}`, `share${i}`, i)),
      ),
    ).toMatch(/tesFileSystems/);
    expect(message([{ ...WORK, root: '/' }])).toMatch(/tesFileSystems\.0\.root: must not be \/ itself/);
  });
});

describe('tenant:add --tes-file-system', () => {
  it('reads <root>=<account>/<share>:<secret>, mounting file system i at tes-fs-<i>', () => {
    const change = policyChangeFromArgs({
      allowSecrets: ['work-key'],
      tesFileSystems: ['/mnt/work=acct1/work:work-key', '/data/a=b/ref=acct1/refs:work-key'],
    });
    expect(change).toEqual({
      ok: true,
      change: { secrets: ['work-key'], tesFileSystems: [WORK, share('/data/a=b/ref', 'refs', 1)] },
    });
  });

  it('accepts a share whose key was granted before: the cross-field rule is checked on the merge', () => {
    const change = policyChangeFromArgs({ tesFileSystems: ['/mnt/work=acct1/work:work-key'] });
    expect(change.ok).toBe(true);
  });

  it('refuses malformed words before anything is written', () => {
    for (const [word, problem] of [
      ['/mnt/work', /give <root>=<storage account>\/<file share>:<secret name>/],
      ['/mnt/work=acct1:key', /give <root>=/],
      ['=acct1/work:key', /give <root>=/],
      ['/mnt/work=Acct_1/work:key', /storage account name/],
      ['/mnt/work=acct1/Work:key', /file share name/],
      ['/mnt/work=acct1/work:bad_name', /secret name/],
      ['relative=acct1/work:key', /absolute/],
    ] as const) {
      const r = policyChangeFromArgs({ tesFileSystems: [word] });
      expect(r.ok, word).toBe(false);
      if (!r.ok) expect(r.message, word).toMatch(problem);
    }
  });
});

describe('lanes of a tenant with file systems', () => {
  const request: TesTaskRequest = {
    inputs: [],
    outputs: [],
    executors: [{ image: 'alpine', command: ['true'] }],
    volumes: [],
    tags: {},
  };
  const options = { defaultVmSize: 'standard_d4s_v5', maxNodes: 10 };
  const keyOf = (fileSystems?: readonly TesFileSystem[], tenant = 'acme') => {
    const placed = placeTesTask(tenant, request, { ...options, ...(fileSystems ? { fileSystems } : {}) });
    if (!placed.ok) throw new Error('refused');
    return placed.placement;
  };

  it('have keys that cover the file systems, and that a stage can recompute', () => {
    const none = keyOf();
    const work = keyOf([WORK]);
    expect(keyOf([])).toEqual(none);
    expect(work.laneKey).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set([none.laneKey, work.laneKey, keyOf([WORK, REF]).laneKey, keyOf([REF]).laneKey]).size).toBe(
      4,
    );
    // Another share at the same root is another lane; the same grant the same lane.
    expect(keyOf([share('/mnt/work', 'work2', 0)]).laneKey).not.toBe(work.laneKey);
    expect(keyOf([structuredClone(WORK)]).laneKey).toBe(work.laneKey);
    expect(keyOf([WORK], 'other').laneKey).not.toBe(work.laneKey);
    expect(tesLaneKey('acme', work, [WORK])).toBe(work.laneKey);
    expect(tesLaneKey('acme', work, [])).toBe(none.laneKey);
    expect(tesLaneKey('acme', none, [])).toBe(none.laneKey);
  });

  it('have pools that mount every file system, with the share keys as secret placeholders', () => {
    const placement = keyOf([WORK, REF]);
    const lane = laneRequest('tes-x-1', placement, [WORK, REF]);
    expect(lane.pool).toEqual({
      vmSize: 'standard_d4s_v5',
      taskSlotsPerNode: 4,
      maxNodes: 10,
      mounts: [WORK.mount, REF.mount],
    });
    expect(laneRequest('tes-x-1', keyOf(), []).pool).not.toHaveProperty('mounts');
    // As the plan stage plans a lane: the pool mounts the shares under AZ_BATCH_NODE_MOUNTS_DIR.
    const planned = planJob({
      tenant: 'acme',
      jobId: 'tes-x-1',
      request: lane,
      defaults: {
        image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
        nodeAgentSkuId: 'batch.node.ubuntu 22.04',
      },
      lane: true,
    });
    if (!planned.ok) throw new Error(JSON.stringify(planned.errors));
    expect(planned.plan.pool?.mountConfiguration).toEqual([
      {
        azureFileShareConfiguration: {
          accountName: 'acct1',
          azureFileUrl: 'https://acct1.file.core.windows.net/work',
          accountKey: 'slotwise-secret:work-key',
          relativeMountPath: 'tes-fs-0',
        },
      },
      {
        azureFileShareConfiguration: {
          accountName: 'acct1',
          azureFileUrl: 'https://acct1.file.core.windows.net/refs',
          accountKey: 'slotwise-secret:work-key',
          relativeMountPath: 'tes-fs-1',
        },
      },
    ]);
  });
});
