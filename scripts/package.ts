/**
 * `npm run package` → artifacts/slotwise.zip: what the Functions host needs and nothing else —
 * host.json, a package.json with production dependencies only, the built app (dist/functions,
 * dist/shared; never dist/dev, dist/bench or tests) and the production dependency tree copied from
 * node_modules (as `npm ls --omit=dev` lists it, so no network and the lockfile's exact versions).
 * fflate writes the zip: small, no dependencies of its own, and standard deflate the host reads.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Zippable, zipSync } from 'fflate';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function addTree(files: Zippable, dir: string, skip: (path: string) => boolean = () => false): void {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (skip(full)) continue;
    const stat = statSync(full);
    if (stat.isDirectory()) addTree(files, full, skip);
    else if (stat.isFile()) files[relative(root, full).split(sep).join('/')] = readFileSync(full);
  }
}

export function buildPackage(out = join(root, 'artifacts', 'slotwise.zip')): { path: string; files: number } {
  for (const needed of ['dist/functions/index.js', 'dist/shared/app/app.js'])
    if (!existsSync(join(root, needed))) throw new Error(`${needed} is missing: run npm run build first`);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const files: Zippable = {};
  files['host.json'] = readFileSync(join(root, 'host.json'));
  files['package.json'] = Buffer.from(
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
  );
  // Source maps stay: stack traces in Application Insights then point at the TypeScript.
  for (const dir of ['dist/functions', 'dist/shared']) addTree(files, join(root, dir));
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
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
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, zipSync(files, { level: 6 }));
  return { path: out, files: Object.keys(files).length };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outArg = process.argv.indexOf('--out');
  const result = buildPackage(outArg > 0 ? resolve(process.argv[outArg + 1]!) : undefined);
  console.log(`wrote ${relative(process.cwd(), result.path)} (${result.files} files)`);
}
