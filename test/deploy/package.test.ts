/**
 * `npm run package`: the zip holds host.json, a production package.json, the built app (functions and
 * shared, never dev) and production dependencies only; unpacked and loaded the way the worker loads
 * it, it registers the whole function table.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../dev/services/services.js';
import { functionTable } from '../../functions/table.js';
import { buildPackage, stagePackage } from '../../scripts/package.js';
import { BATCH_ACCOUNT, BATCH_KEY, startTestServices } from '../support/stack.js';
import { loadEntryLikeTheWorker } from '../support/worker-entry.js';

let work: string;
let staged: string;
let services: Services;
let entries: Record<string, Uint8Array>;

/** Every file under `dir`, as `/`-separated paths. */
function files(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? files(full, base) : [relative(base, full).split(sep).join('/')];
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'slotwise-package-'));
  const zip = join(work, 'slotwise.zip');
  staged = join(work, 'package');
  // Packaging is synchronous: the services start after it, so their start-up timers never run out
  // while the event loop is blocked by it.
  buildPackage(zip);
  stagePackage(staged);
  services = await startTestServices();
  entries = unzipSync(readFileSync(zip));
}, 300_000);
afterAll(async () => {
  await services?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm run package', () => {
  it('holds the app and production dependencies only', () => {
    const names = Object.keys(entries);
    expect(names).toEqual(
      expect.arrayContaining([
        'host.json',
        'package.json',
        'dist/functions/index.js',
        'dist/shared/app/app.js',
      ]),
    );
    expect(names.filter((n) => n.startsWith('dist/') && !/^dist\/(functions|shared)\//.test(n))).toEqual([]);
    expect(names.filter((n) => /^(test|dev|bench|infra|scripts)\//.test(n))).toEqual([]);
    const pkg = JSON.parse(Buffer.from(entries['package.json']!).toString('utf8')) as Record<string, unknown>;
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.main).toBe('dist/functions/index.js');
    for (const dep of Object.keys(pkg.dependencies as Record<string, string>))
      expect(
        names.some((n) => n.startsWith(`node_modules/${dep}/`)),
        dep,
      ).toBe(true);
    for (const devOnly of [
      'azurite',
      'vitest',
      '@vercel/cosmosdb-server',
      'typescript',
      '@biomejs/biome',
      'fflate',
    ])
      expect(
        names.some((n) => n.startsWith(`node_modules/${devOnly}/`)),
        devOnly,
      ).toBe(false);
  });

  it('stages as a directory exactly what the zip holds, and nothing azd would leave out of its own zip', () => {
    const stagedFiles = files(staged).sort();
    expect(stagedFiles).toEqual(
      Object.keys(entries)
        .filter((n) => !n.endsWith('/'))
        .sort(),
    );
    // azd's createDeployableZip (cli/azd/pkg/project/project_utils.go) leaves out .azure/, local.settings.json
    // and .funcignore, and honours a .funcignore here: none may be in the package.
    expect(
      stagedFiles.filter(
        (f) =>
          /(^|\/)(\.azure\/|local\.settings\.json$|\.funcignore$)/.test(f) && !f.startsWith('node_modules/'),
      ),
    ).toEqual([]);
    expect(stagedFiles).toEqual(
      expect.arrayContaining(['host.json', 'package.json', 'dist/functions/index.js']),
    );
    // Staging again replaces the directory; a directory that is not a package is never replaced.
    writeFileSync(join(staged, 'stale.txt'), 'left from an older run');
    stagePackage(staged);
    expect(files(staged)).not.toContain('stale.txt');
    const other = join(work, 'not-a-package');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine');
    expect(() => stagePackage(other)).toThrow(/not a staged package/);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('loaded from the staged directory, its entry point registers the whole function table the way the worker loads it', async () => {
    const app = staged;
    const main = (JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { main: string }).main;
    const registered = await loadEntryLikeTheWorker(
      join(app, main),
      {
        AzureWebJobsStorage: services.storageConnectionString,
        COSMOS_ENDPOINT: services.cosmosEndpoint,
        COSMOS_KEY: services.cosmosKey,
        COSMOS_DATABASE: `p${randomUUID().slice(0, 8)}`,
        BATCH_ENDPOINT: 'http://127.0.0.1:9',
        BATCH_ACCOUNT_NAME: BATCH_ACCOUNT,
        BATCH_ACCOUNT_KEY: BATCH_KEY,
      },
      app,
    );
    expect(registered.map((r) => r.name)).toEqual(functionTable.map((f) => f.name));
  });
});
