/**
 * `slotwise`: submit, follow and manage jobs from a terminal or a script.
 *
 * Arguments are parsed by commander (subcommands, per-command help and usage errors for free, and
 * the most used parser on npm, so its behaviour is what users already know). Each command returns an
 * exit code (see `exitCodes`); nothing here calls `process.exit`, so the program runs the same in
 * tests and under `npx slotwise`.
 */
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { jobStates } from '../../model/job.js';
import { type ApiClient, CliError, createApiClient, exitCodes } from './api-client.js';
import { intervalOption, positiveInteger } from './options.js';
import { renderDryRun, renderJob, renderPage } from './render.js';
import { addTaskCommands, firstFailedTask } from './task-commands.js';
import {
  barReporter,
  lineReporter,
  type ProgressReporter,
  silentReporter,
  summaryLines,
  watchJob,
} from './watch.js';

export const DEFAULT_URL = 'http://127.0.0.1:7071/api';

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
}

interface GlobalOptions {
  url?: string;
  json?: boolean;
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const err = (line: string) => io.stderr.write(`${line}\n`);
  let code: number = exitCodes.ok;
  let json = false;

  const program = new Command('slotwise')
    .description('Submit, follow and manage Slotwise jobs.')
    .option('--url <url>', `the Slotwise API (default: $SLOTWISE_URL, else ${DEFAULT_URL})`)
    .option('--json', 'print JSON (the API answer) instead of text')
    .addHelpText(
      'after',
      `
Environment:
  SLOTWISE_URL       the API base URL (default ${DEFAULT_URL})
  SLOTWISE_API_KEY   your tenant's API key (sent as "Authorization: Bearer")

Exit codes: 0 done (with --watch: the job completed), 1 the job failed, was cancelled or rejected
(logs --follow: the task failed), 2 bad input (usage, file, or a request the API refused as
invalid), 3 other API errors.

When the API says to come back later (429, or 409 or 503 with Retry-After), every command waits as
Retry-After says (seconds or a date; 1 s for a 429 without it) and asks again: at most 5 tries and
60 s of waiting in all, then it gives up with exit code 3.`,
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run slotwise --help for usage)');

  /** Wraps an action: global options, the API client, and the exit code it returns. */
  const action =
    <A extends unknown[]>(run: (api: ApiClient, options: GlobalOptions, ...args: A) => Promise<number>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals<GlobalOptions>();
      json = options.json === true;
      code = await run(connect(options, io.env, err), options, ...(args.slice(0, -1) as A));
    };

  const print = (value: unknown, text: () => string[]) => {
    if (json) out(JSON.stringify(value, null, 2));
    else for (const line of text()) out(line);
  };

  const reporter = (): ProgressReporter => {
    if (json) return silentReporter;
    return io.stderr.isTTY ? barReporter(io.stderr) : lineReporter(err);
  };

  /** Follows a job to its end, prints the summary (or the final job as JSON), returns the exit code. */
  const follow = async (api: ApiClient, id: string, intervalSeconds: number) => {
    const progress = reporter();
    // Ctrl-C leaves the terminal tidy (cursor back, bar ended) before the default exit.
    const onInterrupt = () => {
      progress.stop();
      process.exit(130);
    };
    process.once('SIGINT', onInterrupt);
    try {
      const job = await watchJob(api, id, progress, { intervalMs: intervalSeconds * 1000 });
      print(job, () => summaryLines(job));
      if (job.state === 'failed' && !json) {
        // Which task failed and what it printed: the first thing a person asks of a failed job.
        try {
          for (const line of await firstFailedTask(api, id)) out(line);
        } catch (e) {
          if (!(e instanceof CliError)) throw e;
          err(`slotwise: the failed task could not be read: ${e.message}`);
        }
      }
      return job.state === 'completed' ? exitCodes.ok : exitCodes.jobNotCompleted;
    } finally {
      process.off('SIGINT', onInterrupt);
    }
  };

  program
    .command('submit')
    .description('submit a job request (a JSON file, or - for standard input)')
    .argument('<file>', 'the job request as JSON, or - to read standard input')
    .option('-w, --watch', 'follow the job to its end with a progress bar; exit 0 only if it completes')
    .addOption(intervalOption())
    .action(
      action(async (api, _options, file: string, options: { watch?: boolean; interval: number }) => {
        const body = await readJobFile(file, io.stdin);
        const job = await api.submit(body);
        if (!options.watch) {
          print(job, () => [`submitted ${job.id} (${job.state})`]);
          return exitCodes.ok;
        }
        if (!json) err(`submitted ${job.id}`);
        return follow(api, job.id, options.interval);
      }),
    );

  program
    .command('plan')
    .description(
      'plan a job request without running it (the dry run): nodes, pool, packing picture, estimate',
    )
    .argument('<file>', 'the job request as JSON, or - to read standard input')
    .action(
      action(async (api, _options, file: string) => {
        const answer = await api.plan(await readJobFile(file, io.stdin));
        print(answer, () => renderDryRun(answer));
        return exitCodes.ok;
      }),
    );

  program
    .command('get')
    .description('show a job: state, counts, pool, plan, waiting reason, deliveries, packing')
    .argument('<id>')
    .action(
      action(async (api, _options, id: string) => {
        const job = await api.get(id);
        print(job, () => renderJob(job));
        return exitCodes.ok;
      }),
    );

  program
    .command('list')
    .description("list the tenant's jobs, newest first")
    .addOption(new Option('--state <state>', 'only jobs in this state').choices(jobStates))
    .addOption(new Option('--limit <n>', 'jobs per page (1-200)').default(50).argParser(positiveInteger))
    .option('--all', 'follow every page')
    .action(
      action(async (api, _options, options: { state?: string; limit: number; all?: boolean }) => {
        let page = await api.list({
          limit: options.limit,
          ...(options.state ? { state: options.state } : {}),
        });
        const value = [...page.value];
        while (options.all && page.nextLink) {
          page = await api.list({ next: page.nextLink });
          value.push(...page.value);
        }
        const result = { value, ...(page.nextLink ? { nextLink: page.nextLink } : {}) };
        print(result, () => [
          ...renderPage(result),
          ...(result.nextLink ? ['(more: --all, or --limit up to 200)'] : []),
        ]);
        return exitCodes.ok;
      }),
    );

  program
    .command('watch')
    .description('follow a job to its end; exit 0 only if it completes')
    .argument('<id>')
    .addOption(intervalOption())
    .action(
      action(async (api, _options, id: string, options: { interval: number }) =>
        follow(api, id, options.interval),
      ),
    );

  program
    .command('cancel')
    .description('cancel a job (terminates its Batch job)')
    .argument('<id>')
    .action(
      action(async (api, _options, id: string) => {
        const job = await api.cancel(id);
        print(job, () => [`${job.id} ${job.state}`]);
        return exitCodes.ok;
      }),
    );

  program
    .command('retry')
    .description("run a job's failed tasks again (in the background; follow it with watch once it runs)")
    .argument('<id>')
    .action(
      action(async (api, _options, id: string) => {
        const job = await api.retry(id);
        print(job, () => [
          `${job.id}: retry ${job.retry?.status ?? 'queued'} (attempt ${job.retry?.attempt ?? '?'})`,
        ]);
        return exitCodes.ok;
      }),
    );

  addTaskCommands(program, { action, print, err, json: () => json, stdout: io.stdout });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version end "with an error" in commander's override mode; they are successes.
      return e.exitCode === 0 ? exitCodes.ok : exitCodes.badInput;
    }
    if (e instanceof CliError) {
      err(`slotwise: ${e.message}`);
      if (json)
        out(
          JSON.stringify(
            { error: { code: e.code, message: e.message, ...(e.problem ? { problem: e.problem } : {}) } },
            null,
            2,
          ),
        );
      return e.exitCode;
    }
    err(`slotwise: unexpected error: ${messageOf(e)}`);
    return exitCodes.api;
  }
}

function connect(options: GlobalOptions, env: CliIo['env'], err: (line: string) => void): ApiClient {
  const url = options.url ?? env.SLOTWISE_URL ?? DEFAULT_URL;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new CliError('BadUrl', `the API URL '${url}' is not an http(s) URL`, exitCodes.badInput);
  }
  const apiKey = env.SLOTWISE_API_KEY;
  if (!apiKey) {
    throw new CliError(
      'NoApiKey',
      'SLOTWISE_API_KEY is not set: export your tenant API key (locally: SLOTWISE_DEV_API_KEY, default dev-key)',
      exitCodes.badInput,
    );
  }
  return createApiClient({
    baseUrl: url,
    apiKey,
    onRetry: ({ status, waitMs, tries }) =>
      err(
        `slotwise: the API answered ${status}; asking again in ${(waitMs / 1000).toFixed(1)} s (try ${tries + 1})`,
      ),
  });
}

/** Reads and checks a job request file (`-` is standard input); returns the text to send as is. */
export async function readJobFile(file: string, stdin: NodeJS.ReadStream): Promise<string> {
  const name = file === '-' ? 'standard input' : file;
  let text: string;
  try {
    text = file === '-' ? await readAll(stdin) : await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : messageOf(e);
    throw new CliError('BadFile', `cannot read ${name}: ${why}`, exitCodes.badInput, { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CliError('BadFile', `${name} is not valid JSON: ${messageOf(e)}`, exitCodes.badInput, {
      cause: e,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CliError(
      'BadFile',
      `${name}: a job request is a JSON object ({ "pool": ..., "tasks": [...] })`,
      exitCodes.badInput,
    );
  }
  return text;
}

async function readAll(stream: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The message of anything thrown (file system and JSON errors carry no secrets). */
function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
