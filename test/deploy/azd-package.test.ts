/**
 * The packaging path as azd runs it: `azd package` (offline: no telemetry, no update check, no extension
 * registry) on a copy of the project, with the package staged by scripts/package.ts where azure.yaml's
 * `dist` names it; azd then runs its Node framework (npm install check, `npm run build`, ReadDir of
 * dist) and the function-app target zips the directory itself. The zip must hold what the Functions host
 * needs, node_modules included (remoteBuild false), and nothing else.
 *
 * Needs `azd` on PATH: `.ci/run` builds it from its Go module (test/deploy/build-azd.sh) where Go and the
 * module proxy are there, and GitHub's workflow installs it with Azure/setup-azd. Skipped, saying so,
 * where it is missing; the azd rules are also checked from azd's source in template-contract.test.ts. The prepackage hook (`npm ci && npm
 * run package`) is left out here: it needs the registry; its command is checked in that test too.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { functionTable } from '../../functions/table.js';
import { stagePackage } from '../../scripts/package.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const azd = (() => {
  try {
    return execFileSync('azd', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
})();
if (!azd)
  console.warn(
    'azd is not on PATH: `azd package` is not run here (the azd rules are checked in template-contract.test.ts).',
  );

let work: string | undefined;
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!azd)(`azd package (${azd ?? 'azd missing'})`, () => {
  it('zips the staged directory with its node_modules, and nothing the host must not get', async () => {
    work = mkdtempSync(join(tmpdir(), 'slotwise-azd-'));
    const project = join(work, 'project');
    // The project as a clone has it (sources, lockfile, azure.yaml); node_modules as installed here.
    cpSync(root, project, {
      recursive: true,
      filter: (src) =>
        !/[\\/](node_modules|dist|artifacts|test-artifacts|\.git|\.azure|\.azurite)$/.test(src),
    });
    symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'), 'dir');
    const yaml = parse(readFileSync(join(project, 'azure.yaml'), 'utf8')) as Record<string, unknown> & {
      services: { api: { dist: string } };
    };
    delete yaml.hooks;
    writeFileSync(join(project, 'azure.yaml'), stringify(yaml));
    stagePackage(join(project, yaml.services.api.dist));
    const config = join(work, 'azd-config');
    mkdirSync(config);
    // No extension sources: azd would otherwise fetch its extension registry on every command.
    writeFileSync(join(config, 'config.json'), JSON.stringify({ extension: { sources: {} } }));
    const env = {
      ...process.env,
      AZURE_DEV_COLLECT_TELEMETRY: 'no',
      AZD_SKIP_UPDATE_CHECK: '1',
      AZD_CONFIG_DIR: config,
    };
    const run = (args: string[]) =>
      promisify(execFile)('azd', args, { cwd: project, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    await run(['env', 'new', 'ci', '--no-prompt']);
    const zip = join(work, 'api.zip');
    await run(['package', '--all', '--no-prompt', '--output-path', zip]);
    const listed = Object.keys(unzipSync(readFileSync(zip)));
    expect(listed).toEqual(
      expect.arrayContaining([
        'host.json',
        'package.json',
        'dist/functions/index.js',
        'node_modules/@azure/functions/package.json',
      ]),
    );
    expect(
      listed.filter((n) =>
        /^(\.azure\/|local\.settings\.json$|test\/|dev\/|dist\/dev\/|dist\/bench\/)/.test(n),
      ),
    ).toEqual([]);
    // Every function's module is in it.
    expect(functionTable.length).toBeGreaterThan(0);
    expect(listed.filter((n) => n.startsWith('dist/functions/')).length).toBeGreaterThan(
      functionTable.length,
    );
  }, 600_000);
});
