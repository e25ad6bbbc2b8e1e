/**
 * Loads an entry point the way the Functions worker does: as an ES module, with the worker-provided
 * `@azure/functions-core` present (a recording shim), and reports what the real `@azure/functions`
 * package registered. Runs in a child process with only the given settings in its environment.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface Registration {
  readonly name: string;
  readonly bindings: Record<string, { type: string; direction: string; [key: string]: unknown }>;
}

export async function loadEntryLikeTheWorker(
  entry: string,
  env: Record<string, string>,
  cwd: string,
): Promise<Registration[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--require',
      fileURLToPath(new URL('../fixtures/functions-core-preload.cjs', import.meta.url)),
      '--input-type=module',
      '-e',
      // Exits once registered: the started clients would otherwise keep the process alive.
      `await import(${JSON.stringify(entry)}); console.log(JSON.stringify(globalThis.__registrations)); process.exit(0);`,
    ],
    { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Registration[];
}
