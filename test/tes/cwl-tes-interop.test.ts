/**
 * cwl-tes, the CWL engine's TES executor, runs a workflow against the local stack
 * (test/tes/interop/cwl/twostep-cat.cwl: `echo` writes a file, then `cat` and a shell step read it).
 * cwl-tes writes every output to a `file://` URL under its temporary folders and reads inputs from
 * there, then globs those folders itself, so it needs a shared file system: the tenant is granted one
 * (tenant policy `tesFileSystems`, an Azure Files share whose key is a granted secret), the Batch
 * emulator backs that share with a temporary folder of this machine (`POST /_emulator/file-shares`),
 * and cwl-tes runs here with its folders under the same folder, as an engine's machine mounts the
 * share at the root the tenant was granted (docs/tes.md, "Shared file systems").
 *
 * cwl-tes lives in test-artifacts/cwl-tes-venv, which .ci/run makes; without it this file skips itself
 * and says why (`npm test` needs only Node).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCosmosSecretStore, createEnvSecrets } from '../../shared/adapters/key-vault/env-secrets.js';
import type { TesTaskDoc } from '../../shared/model/tes-task.js';
import { runProcess } from '../support/run-process.js';
import { emulatorClient, type SlotwiseStack, startSlotwise, TEST_API_KEY } from '../support/stack.js';

const VENV = 'test-artifacts/cwl-tes-venv';
const cwlTes = fileURLToPath(new URL(`../../${VENV}/bin/cwl-tes`, import.meta.url));
const workflows = fileURLToPath(new URL('./interop/cwl/', import.meta.url));

/** Why cwl-tes cannot run here, or undefined when it can. */
function missing(): string | undefined {
  if (!existsSync(cwlTes)) return `no ${VENV}/bin/cwl-tes`;
  const probe = spawnSync(cwlTes, ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return `${VENV}/bin/cwl-tes does not run (${`${probe.stderr}`.trim().split('\n').at(-1)})`;
  return undefined;
}

const why = missing();
const skipReason =
  why &&
  `cwl-tes interop skipped: ${why}; run .ci/run or create ${VENV} (python3.11 -m venv ${VENV} && ${VENV}/bin/pip install 'setuptools<58' wheel && ${VENV}/bin/pip install --no-build-isolation -r test/tes/interop/cwl/requirements.lock.txt)`;
if (skipReason) console.warn(skipReason);

/** The share the tenant is granted, and the secret holding its key. */
const ACCOUNT = 'slotwisefs';
const SHARE = 'cwl-work';
const KEY_SECRET = 'cwl-share-key';

/** Runs cwl-tes to its end: exit code, stdout (the output object), stderr (its log). */
function runCwlTes(args: readonly string[], cwd: string) {
  return runProcess(cwlTes, args, { cwd, env: { TMPDIR: cwd } });
}

describe.skipIf(skipReason !== undefined)(
  'cwl-tes 0.3.0 against the running API, through a shared file system',
  () => {
    let stack: SlotwiseStack;
    /** The folder backing the share, and the root the tenant is granted: the same path, as on an engine. */
    let root: string;

    beforeAll(async () => {
      // The real path: cwltool resolves symbolic links (macOS's /tmp) before it writes URLs.
      root = realpathSync(mkdtempSync(join(tmpdir(), 'slotwise-cwl-')));
      stack = await startSlotwise();
      const mapped = await stack.emulatorControl('file-shares', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accountName: ACCOUNT, shareName: SHARE, hostPath: root }),
      });
      expect(mapped.status, await mapped.text()).toBe(204);
      // As `npm run tenant:add -- dev --allow-secret … --tes-file-system <root>=<account>/<share>:<secret>`
      // and `npm run tenant:secret -- dev <secret>` do.
      await stack.deps.tenants.updatePolicy('dev', {
        secrets: [KEY_SECRET],
        tesFileSystems: [
          {
            root,
            mount: {
              azureFiles: {
                accountName: ACCOUNT,
                shareName: SHARE,
                relativeMountPath: 'tes-fs-0',
                accountKey: { secretRef: KEY_SECRET },
              },
            },
          },
        ],
      });
      const db = new CosmosClient({
        endpoint: stack.services.cosmosEndpoint,
        key: stack.services.cosmosKey,
        connectionPolicy: { enableEndpointDiscovery: false },
      }).database(stack.env.COSMOS_DATABASE!);
      await createEnvSecrets(createCosmosSecretStore(db.container('tenants'))).set(
        'dev',
        KEY_SECRET,
        Buffer.from('the-share-account-key').toString('base64'),
      );
    }, 120_000);

    afterAll(async () => {
      await stack?.close();
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it('runs the two-step workflow to success, every task COMPLETE in one lane whose pool mounts the share', async () => {
      // py-tes (under cwl-tes) tries <url>/ga4gh/tes/v1 first; HTTP Basic: tenant id and API key.
      const tes = new URL(stack.api);
      tes.username = 'dev';
      tes.password = TEST_API_KEY;
      const out = join(root, 'out');
      const { code, stdout, stderr } = await runCwlTes(
        [
          '--tes',
          tes.href.replace(/\/$/, ''),
          '--outdir',
          out,
          '--tmp-outdir-prefix',
          join(root, 'out-'),
          '--tmpdir-prefix',
          join(root, 'tmp-'),
          join(workflows, 'twostep-cat.cwl'),
          join(workflows, 'job.yml'),
        ],
        root,
      );
      const transcript = `cwl-tes exited ${code}\nstderr:\n${stderr}\nstdout:\n${stdout}`;
      expect(code, transcript).toBe(0);
      expect(stderr, transcript).toContain('Final process status is success');

      // The workflow's outputs, as cwl-tes collected them from the share.
      const result = JSON.parse(stdout) as Record<string, { location: string; size: number }>;
      expect(Object.keys(result).sort()).toEqual(['result', 'twice']);
      expect(readFileSync(join(out, 'copy.txt'), 'utf8')).toBe('hello world\n');
      expect(readFileSync(join(out, 'twice.txt'), 'utf8')).toBe('hello world\nhello world\n');
      expect(result.twice?.size).toBe(24);

      // What Slotwise holds: the three steps, COMPLETE, in one lane, their outputs listed at file:// URLs.
      const page = await stack.deps.tesTasks.list('dev', { tags: [], limit: 100 });
      const tasks: readonly TesTaskDoc[] = page.tasks;
      expect(tasks.map((t) => t.name).sort()).toEqual(['read', 'shell', 'write']);
      for (const task of tasks) expect(task.state, JSON.stringify(task.systemLogs)).toBe('COMPLETE');
      const lanes = new Set(tasks.map((t) => t.lane?.jobId));
      expect(lanes.size).toBe(1);
      const write = tasks.find((t) => t.name === 'write')!;
      const written = write.logs.at(-1)?.outputs ?? [];
      expect(written.map((o) => o.url)).toContain(`${write.request.outputs[0]!.url}`);
      expect(written.every((o) => o.url.startsWith(`file://${root}/`))).toBe(true);
      expect(written.find((o) => o.url.endsWith('/hello.txt'))?.size_bytes).toBe('12');

      // The lane's pool mounts the share where the wrappers looked for it.
      const client = emulatorClient(stack);
      try {
        const pool = (await client.pools.get(write.lane!.poolId)) as {
          mountConfiguration?: { azureFileShareConfiguration?: Record<string, unknown> }[];
        };
        expect(pool.mountConfiguration?.map((m) => m.azureFileShareConfiguration)).toEqual([
          expect.objectContaining({
            accountName: ACCOUNT,
            azureFileUrl: `https://${ACCOUNT}.file.core.windows.net/${SHARE}`,
            relativeMountPath: 'tes-fs-0',
          }),
        ]);
      } finally {
        await client.close();
      }
      // Each step's task log lists what it copied to the share (cwltool has since moved the final
      // outputs to --outdir and removed the intermediate ones).
      const listed = (name: string) =>
        (tasks.find((t) => t.name === name)?.logs.at(-1)?.outputs ?? []).map(
          (o) => `${o.url.slice(o.url.lastIndexOf('/') + 1)} ${o.size_bytes}`,
        );
      expect(listed('read')).toEqual(['copy.txt 12', 'copy.txt 12']);
      expect(listed('shell')).toEqual(expect.arrayContaining(['twice.txt 24']));
    }, 300_000);
  },
);

if (skipReason) {
  describe('cwl-tes 0.3.0 against the running API, through a shared file system', () => {
    it('is skipped', (ctx) => {
      ctx.skip(skipReason);
    });
  });
}
