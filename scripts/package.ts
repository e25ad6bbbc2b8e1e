/**
 * `npm run package`: the deployable app, in the form azd's packaging takes, staged as a directory
 * (artifacts/package/, azure.yaml's `dist`): what the Functions host needs and nothing else —
 * host.json, a package.json with production dependencies only, the built app (dist/functions,
 * dist/shared; never dist/dev, dist/bench or tests) and the production dependency tree copied from
 * node_modules (as `npm ls --omit=dev` lists it, so no network and the lockfile's exact versions).
 * azd zips that directory itself and, with `remoteBuild: false`, keeps its node_modules.
 *
 * Options: `--dir <path>` stages elsewhere (the directory is replaced); `--zip <path>` writes the same
 * files as one zip instead (for `azd deploy --from-package` or `az functionapp deployment source
 * config-zip`). fflate writes the zip: small, no dependencies of its own, and standard deflate.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Zippable, zipSync } from 'fflate';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where `npm run package` stages the app: azure.yaml's `dist` (test/deploy checks they agree). */
export const DEFAULT_PACKAGE_DIR = join(root, 'artifacts', 'package');

/** Each file of the package: its path in the package (`/`-separated) → its bytes or the file to copy. */
type PackageFiles = Map<string, Buffer | string>;

function addTree(files: PackageFiles, dir: string, skip: (path: string) => boolean = () => false): void {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (skip(full)) continue;
    const stat = statSync(full);
    if (stat.isDirectory()) addTree(files, full, skip);
    else if (stat.isFile()) files.set(relative(root, full).split(sep).join('/'), full);
  }
}

/** What the package holds; `npm run build` must have run. */
export function packageFiles(): PackageFiles {
  for (const needed of ['dist/functions/index.js', 'dist/shared/app/app.js'])
    if (!existsSync(join(root, needed))) throw new Error(`${needed} is missing: run npm run build first`);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const files: PackageFiles = new Map();
  files.set('host.json', join(root, 'host.json'));
  files.set(
    'package.json',
    Buffer.from(
      `${JSON.stringify(
        {
          name: pkg.name,
          version: pkg.version,
          private: true,
          type: pkg.type,
          main: pkg.main,
          engines: pkg.engines,
          dependencies: pkg.dependencies,
        },
        null,
        2,
      )}\n`,
    ),
  );
  // Source maps stay: stack traces in Application Insights then point at the TypeScript.
  for (const dir of ['dist/functions', 'dist/shared']) addTree(files, join(root, dir));
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // npm is npm.cmd on Windows, which only a shell runs.
    shell: process.platform === 'win32',
  })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(join(root, 'node_modules')));
  const seen = new Set<string>();
  for (const dir of listed) {
    if (seen.has(dir)) continue;
    seen.add(dir);
    // A package's own nested node_modules hold other listed packages (or dev-only ones): skip them here.
    addTree(files, dir, (p) => p === join(dir, 'node_modules'));
  }
  return files;
}

/** Stages the package as a directory (replacing it): what azure.yaml's `dist` names. */
export function stagePackage(dir = DEFAULT_PACKAGE_DIR): { path: string; files: number } {
  // The directory is replaced: never the project or a folder around it, nor a folder that is not a package.
  const target = resolve(dir);
  if (target === root || root.startsWith(`${target}${sep}`))
    throw new Error(`--dir ${dir} holds the project: choose a directory of its own`);
  if (existsSync(target) && readdirSync(target).length > 0 && !existsSync(join(target, 'host.json')))
    throw new Error(`--dir ${dir} is not empty and not a staged package (no host.json): not replacing it`);
  const files = packageFiles();
  rmSync(target, { recursive: true, force: true });
  for (const [name, source] of files) {
    const path = join(target, ...name.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    if (typeof source === 'string') copyFileSync(source, path);
    else writeFileSync(path, source);
  }
  return { path: target, files: files.size };
}

/** Writes the package as one zip. */
export function buildPackage(out = join(root, 'artifacts', 'slotwise.zip')): { path: string; files: number } {
  const files = packageFiles();
  const zip: Zippable = {};
  for (const [name, source] of files) zip[name] = typeof source === 'string' ? readFileSync(source) : source;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, zipSync(zip, { level: 6 }));
  return { path: out, files: files.size };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, zip: { type: 'string' } } });
  const result = values.zip
    ? buildPackage(resolve(values.zip))
    : stagePackage(values.dir ? resolve(values.dir) : DEFAULT_PACKAGE_DIR);
  console.log(`wrote ${relative(process.cwd(), result.path) || '.'} (${result.files} files)`);
}
