#!/usr/bin/env node
/** The `slotwise` command (package.json `bin`): runs the CLI on this process's arguments and streams. */
import { runCli } from './program.js';

// `slotwise list | head` closes the pipe early: stop quietly, as other commands do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
