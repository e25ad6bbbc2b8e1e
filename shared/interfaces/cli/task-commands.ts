/**
 * `slotwise tasks`, `logs`, `outputs` and `download`: a job's tasks, what they printed and what they
 * left in the results store. Registered on the program by `addTaskCommands`, which gets the
 * program's own action wrapper, so these commands share its options, errors and exit codes.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { type Command, Option } from 'commander';
import { formatBytes } from '../ui/format.js';
import { type ApiClient, CliError, exitCodes } from './api-client.js';
import { intervalOption, positiveInteger } from './options.js';
import { followFile, lastLines, readFrom, readTail } from './task-files.js';
import { failedTaskLines, renderOutputs, renderTasks } from './task-render.js';
import { taskResults, taskStates } from './task-shapes.js';

export interface CommandKit {
  action<A extends unknown[]>(
    run: (api: ApiClient, options: object, ...args: A) => Promise<number>,
  ): (...args: unknown[]) => Promise<void>;
  print(value: unknown, text: () => string[]): void;
  err(line: string): void;
  json(): boolean;
  readonly stdout: NodeJS.WritableStream;
}

/** Lines of stderr.txt the failed-job summary shows. */
const TAIL_LINES = 20;
/**
 * Empty pages followed before showing one: a filtered listing may answer an empty page with a
 * nextLink (Batch stops a filtered scan at its time budget), which says nothing yet.
 */
const MAX_EMPTY_PAGES = 20;

/** The first failed task of a job, how it ended and the last lines of its stderr.txt; none: []. */
export async function firstFailedTask(api: ApiClient, job: string): Promise<string[]> {
  let page = await api.tasks(job, { result: 'failure', limit: 1 });
  for (let skipped = 0; page.value.length === 0 && page.nextLink && skipped < MAX_EMPTY_PAGES; skipped++) {
    page = await api.tasks(job, { next: page.nextLink });
  }
  const task = page.value[0];
  if (!task) return [];
  const tail = await readTail(api, { job, task: task.id, file: 'stderr.txt' });
  if (!tail) return failedTaskLines(task, undefined);
  const all = lastLines(tail.text, Number.POSITIVE_INFINITY);
  const lines = all.slice(-TAIL_LINES);
  return failedTaskLines(task, { lines, partial: tail.cut || lines.length < all.length });
}

/**
 * Every page after the first while `all`, following nextLink; else the first page that has items.
 * The last page's nextLink is kept.
 */
async function pages<T>(
  first: { value: T[]; nextLink?: string | undefined },
  next: (link: string) => Promise<{ value: T[]; nextLink?: string | undefined }>,
  all: boolean,
): Promise<{ value: T[]; nextLink?: string }> {
  let page = first;
  const value = [...page.value];
  let skipped = 0;
  while (page.nextLink && (all || (value.length === 0 && skipped++ < MAX_EMPTY_PAGES))) {
    page = await next(page.nextLink);
    value.push(...page.value);
  }
  return { value, ...(page.nextLink ? { nextLink: page.nextLink } : {}) };
}

const limitOption = () =>
  new Option('--limit <n>', 'items per page (1-1000)').default(100).argParser(positiveInteger);

export function addTaskCommands(program: Command, kit: CommandKit): void {
  const { action, print } = kit;
  /** The first page, or every page with --all, printed with a hint when more remain. */
  const printPages = async <T>(
    first: { value: T[]; nextLink?: string },
    next: (link: string) => Promise<{ value: T[]; nextLink?: string }>,
    all: boolean,
    render: (page: { value: T[]; nextLink?: string }) => string[],
  ) => {
    const result = await pages(first, next, all);
    print(result, () => [
      ...render(result),
      ...(result.nextLink ? ['(more: --all, or --limit up to 1000)'] : []),
    ]);
    return exitCodes.ok;
  };

  program
    .command('tasks')
    .description("list a job's tasks: state, result, exit code, node, retries, start and end")
    .argument('<job>')
    .addOption(new Option('--state <state>', 'only tasks in this state').choices(taskStates))
    .addOption(new Option('--result <result>', 'only completed tasks with this result').choices(taskResults))
    .addOption(limitOption())
    .option('--all', 'follow every page')
    .action(
      action(
        async (
          api,
          _options,
          job: string,
          options: { state?: string; result?: string; limit: number; all?: boolean },
        ) => {
          const first = await api.tasks(job, {
            limit: options.limit,
            ...(options.state ? { state: options.state } : {}),
            ...(options.result ? { result: options.result } : {}),
          });
          return printPages(first, (next) => api.tasks(job, { next }), options.all === true, renderTasks);
        },
      ),
    );

  program
    .command('logs')
    .description("print a task's stdout.txt (or stderr.txt); --follow prints it as it grows")
    .argument('<job>')
    .argument('<task>', "the task's id, as in the job request")
    .option('--stderr', 'stderr.txt instead of stdout.txt')
    .option('-f, --follow', 'keep reading until the task completes; exit 1 if it failed')
    .addOption(intervalOption())
    .action(
      action(
        async (
          api,
          _options,
          job: string,
          task: string,
          options: { stderr?: boolean; follow?: boolean; interval: number },
        ) => {
          // The file's bytes as they are (a cut inside a character is joined by the terminal).
          const write = (bytes: Uint8Array) => kit.stdout.write(bytes);
          const ref = { job, task, file: options.stderr ? 'stderr.txt' : 'stdout.txt' };
          if (!options.follow) {
            await readFrom(api, ref, 0, write);
            return exitCodes.ok;
          }
          const followed = await followFile(api, ref, write, { intervalMs: options.interval * 1000 });
          if (!followed.found) {
            kit.err(`slotwise: ${ref.file} of task ${task} is not there (its logs were not kept)`);
          }
          return followed.task.result === 'failure' ? exitCodes.jobNotCompleted : exitCodes.ok;
        },
      ),
    );

  program
    .command('outputs')
    .description("list a job's outputs in the results store: path, size, modified")
    .argument('<job>')
    .option('--prefix <prefix>', 'only paths that start with this, e.g. t-001/')
    .addOption(limitOption())
    .option('--all', 'follow every page')
    .action(
      action(
        async (api, _options, job: string, options: { prefix?: string; limit: number; all?: boolean }) => {
          const first = await api.outputs(job, {
            limit: options.limit,
            ...(options.prefix ? { prefix: options.prefix } : {}),
          });
          return printPages(first, (next) => api.outputs(job, { next }), options.all === true, renderOutputs);
        },
      ),
    );

  program
    .command('download')
    .description('save one output of a job (a path as outputs lists it, e.g. t-001/result.txt)')
    .argument('<job>')
    .argument('<path>')
    .option('-o, --output <file>', 'where to save it (default: its file name here; - for standard output)')
    .action(
      action(async (api, _options, job: string, path: string, options: { output?: string }) => {
        const target = options.output ?? posix.basename(path);
        if (target === '' || path.endsWith('/')) {
          throw new CliError('BadPath', `'${path}' names a folder, not an output`, exitCodes.badInput);
        }
        const body = Readable.fromWeb((await api.download(job, path)) as NodeReadableStream<Uint8Array>);
        if (target === '-') {
          // Standard output stays open for whatever the shell pipes next.
          await pipeline(body, new Writable({ write: (chunk, _e, done) => kit.stdout.write(chunk, done) }));
          return exitCodes.ok;
        }
        // Written beside the target and renamed, so a failed download never leaves half a file.
        const partial = `${target}.part`;
        let bytes = 0;
        body.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        try {
          await pipeline(body, createWriteStream(partial));
          await rename(partial, target);
        } catch (e) {
          await rm(partial, { force: true });
          if (e instanceof CliError) throw e;
          throw new CliError(
            'DownloadFailed',
            `cannot save ${path} to ${target}: ${messageOf(e)}`,
            exitCodes.api,
            {
              cause: e,
            },
          );
        }
        print({ job, path, file: target, bytes }, () => [
          `saved ${path} to ${target} (${formatBytes(bytes)})`,
        ]);
        return exitCodes.ok;
      }),
    );
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
