/**
 * The CLI's view of the Slotwise HTTP API: one call per endpoint, answers checked with zod (only the
 * fields the CLI reads; the rest passes through untouched for `--json`), and every failure a
 * `CliError` whose `code` and exit code say what went wrong.
 */
import { z } from 'zod';
import { SlotwiseError } from '../../core/errors.js';
import { jobStates } from '../../model/job.js';
import { decideRetry, defaultRetryBudget, type RetryBudget } from './retry-after.js';
import {
  type ByteRange,
  type CliOutputPage,
  type CliTaskDetail,
  type CliTaskPage,
  type FileChunk,
  outputPageSchema,
  type TaskQuery,
  taskDetailSchema,
  taskPageSchema,
  toFileChunk,
} from './task-shapes.js';

/**
 * Exit codes of `slotwise`: 0 done (for `--watch`, the job completed); 1 the job ended failed,
 * cancelled or rejected; 2 bad input (usage, unreadable or invalid file, a request the API refused
 * as invalid); 3 any other API error or an unreachable API.
 */
export const exitCodes = { ok: 0, jobNotCompleted: 1, badInput: 2, api: 3 } as const;

export class CliError extends SlotwiseError {
  readonly exitCode: number;
  /** The API's problem details, when the API answered with one (printed as is by `--json`). */
  readonly problem?: Problem;
  constructor(
    code: string,
    message: string,
    exitCode: number,
    options: { cause?: unknown; problem?: Problem } = {},
  ) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
    if (options.problem) this.problem = options.problem;
  }
}

const taskCountsSchema = z.object({
  active: z.number(),
  running: z.number(),
  succeeded: z.number(),
  failed: z.number(),
});

const planSchema = z.looseObject({
  nodes: z.number(),
  lowerBound: z.number(),
  taskSlotsPerNode: z.number(),
  vmSize: z.string().optional(),
  poolNodes: z.number().optional(),
  waves: z.number().optional(),
  tasks: z.number().optional(),
  totalSlots: z.number().optional(),
  slotHistogram: z.array(z.tuple([z.number(), z.number()])).optional(),
  applicationPackages: z.looseObject({ placement: z.string(), reason: z.string() }).optional(),
  containerImages: z.array(z.string()).optional(),
  sharedData: z
    .looseObject({ resourceFiles: z.number(), preparationCopies: z.number(), perTaskCopies: z.number() })
    .optional(),
});
export type CliPlan = z.infer<typeof planSchema>;

const jobSchema = z.looseObject({
  id: z.string(),
  state: z.enum(jobStates),
  displayName: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  endedAt: z.string().optional(),
  pool: z.union([z.object({ id: z.string() }), z.object({ vmSize: z.string() })]).optional(),
  tasks: z.number().optional(),
  plan: planSchema.optional(),
  batch: z.looseObject({ poolId: z.string(), jobId: z.string() }).optional(),
  taskCounts: taskCountsSchema,
  errors: z.array(z.looseObject({ field: z.string(), message: z.string() })).optional(),
  failure: z
    .looseObject({
      code: z.string(),
      message: z.string(),
      failedTasks: z.array(z.looseObject({ taskId: z.string(), exitCode: z.number().optional() })).optional(),
    })
    .optional(),
  waiting: z
    .looseObject({ code: z.string(), message: z.string(), since: z.string(), failAt: z.string().optional() })
    .optional(),
  deliveries: z
    .array(
      z.looseObject({
        eventId: z.string(),
        type: z.string(),
        status: z.string(),
        attempts: z.number(),
        lastStatus: z.number().optional(),
        lastError: z.string().optional(),
      }),
    )
    .default([]),
  retry: z.looseObject({ status: z.string(), requestId: z.string(), attempt: z.number() }).optional(),
});
export type CliJob = z.infer<typeof jobSchema>;

const pageSchema = z.looseObject({ value: z.array(jobSchema), nextLink: z.string().optional() });
export type CliJobPage = z.infer<typeof pageSchema>;

/** The dry run's answer (`POST /api/jobs?dryRun=true`, 200). */
const dryRunSchema = z.looseObject({
  plan: planSchema,
  estimate: z.record(z.string(), z.unknown()).optional(),
});
export type CliDryRun = z.infer<typeof dryRunSchema>;

const problemSchema = z.looseObject({
  title: z.string().optional(),
  status: z.number().optional(),
  detail: z.string().optional(),
  errors: z.array(z.looseObject({ field: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof problemSchema>;

export const finalStates: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'rejected']);

export interface ApiClient {
  submit(body: string): Promise<CliJob>;
  plan(body: string): Promise<CliDryRun>;
  get(id: string): Promise<CliJob>;
  /** One page; `next` is the `nextLink` of the previous page. */
  list(query: { state?: string; limit?: number; next?: string }): Promise<CliJobPage>;
  cancel(id: string): Promise<CliJob>;
  retry(id: string): Promise<CliJob>;
  /** One page of a job's tasks (`GET /api/jobs/{id}/tasks`); `next` is the previous page's `nextLink`. */
  tasks(job: string, query: TaskQuery): Promise<CliTaskPage>;
  /** One task with its attempts. */
  task(job: string, taskId: string): Promise<CliTaskDetail>;
  /**
   * Part of a task's file (`stdout.txt`, `stderr.txt`, `wd/…`) from byte `range.start` (to
   * `range.end`, inclusive), or from the start. A 404 throws (code `Api404`).
   */
  taskFile(job: string, taskId: string, file: string, range?: ByteRange): Promise<FileChunk>;
  /** One page of a job's outputs in the results store. */
  outputs(job: string, query: { prefix?: string; limit?: number; next?: string }): Promise<CliOutputPage>;
  /** An output's bytes, streamed. */
  download(job: string, path: string): Promise<ReadableStream<Uint8Array>>;
}

export interface ApiClientOptions {
  /** e.g. `http://127.0.0.1:7071/api` (no trailing slash needed). */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly fetch?: typeof fetch;
  /** How often and how long to wait on 429, and on 409 or 503 with Retry-After; default 5 tries, 60 s. */
  readonly retry?: RetryBudget;
  /** Waits between tries; default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch, for `Retry-After` dates; default `Date.now`. */
  readonly now?: () => number;
  /** Told before each wait, so a person at a terminal knows why nothing happens. */
  readonly onRetry?: (wait: { status: number; waitMs: number; tries: number }) => void;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const budget = options.retry ?? defaultRetryBudget;

  /**
   * Every request goes through here: the key, and the one place that honours Retry-After, so each
   * command gets the same bounded patience. Answers other than `ok` become a CliError.
   */
  async function send(
    method: string,
    path: string,
    {
      body,
      ok = [200],
      headers: extra = {},
      accept = 'application/json',
    }: { body?: string; ok?: number[]; headers?: Record<string, string>; accept?: string } = {},
  ): Promise<Response> {
    const url = new URL(path, base);
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.apiKey}`,
      accept,
      ...extra,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let waitedMs = 0;
    for (let tries = 1; ; tries++) {
      let response: Response;
      try {
        response = await doFetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
      } catch (e) {
        throw new CliError(
          'ApiUnreachable',
          `cannot reach the Slotwise API at ${base.origin}${base.pathname}`,
          exitCodes.api,
          { cause: e },
        );
      }
      if (ok.includes(response.status)) return response;
      const decision = decideRetry(response.status, response.headers.get('retry-after'), {
        tries,
        waitedMs,
        now: now(),
        budget,
      });
      if (!decision.retry) throw problemError(response.status, await response.text(), decision.why);
      await response.body?.cancel();
      options.onRetry?.({ status: response.status, waitMs: decision.waitMs, tries });
      await sleep(decision.waitMs);
      waitedMs += decision.waitMs;
    }
  }

  async function call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    { body, ok = [200] }: { body?: string; ok?: number[] } = {},
  ): Promise<T> {
    const response = await send(method, path, { ok, ...(body !== undefined ? { body } : {}) });
    const pathname = new URL(path, base).pathname;
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new CliError(
        'ApiBadAnswer',
        `${method} ${pathname} answered ${response.status} without JSON`,
        exitCodes.api,
        {
          cause: e,
        },
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join('.') ?? '';
      throw new CliError(
        'ApiBadAnswer',
        `${method} ${pathname} answered ${response.status} with an unexpected shape${where ? ` (at ${where})` : ''}`,
        exitCodes.api,
      );
    }
    return parsed.data;
  }

  /** `path?query` with only the parameters given. */
  const withQuery = (path: string, query: Record<string, string | number | undefined>) => {
    const qs = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) qs.set(name, String(value));
    return qs.size > 0 ? `${path}?${qs}` : path;
  };
  const jobPath = (id: string) => `jobs/${encodeURIComponent(id)}`;
  const taskPath = (job: string, task: string) => `${jobPath(job)}/tasks/${encodeURIComponent(task)}`;
  return {
    submit: (body) => call('POST', 'jobs', jobSchema, { body, ok: [200, 201, 202] }),
    plan: (body) => call('POST', 'jobs?dryRun=true', dryRunSchema, { body }),
    get: (id) => call('GET', jobPath(id), jobSchema),
    list: ({ state, limit, next }) => {
      if (next) return call('GET', followable(next, base), pageSchema);
      return call('GET', withQuery('jobs', { state, limit }), pageSchema);
    },
    cancel: (id) => call('DELETE', jobPath(id), jobSchema),
    retry: (id) => call('POST', `${jobPath(id)}/retry`, jobSchema, { ok: [200, 202] }),
    tasks: (job, { state, result, limit, next }) => {
      if (next) return call('GET', followable(next, base), taskPageSchema);
      return call('GET', withQuery(`${jobPath(job)}/tasks`, { state, result, limit }), taskPageSchema);
    },
    task: (job, taskId) => call('GET', taskPath(job, taskId), taskDetailSchema),
    taskFile: async (job, taskId, file, range) => {
      const response = await send('GET', `${taskPath(job, taskId)}/files/${encodePath(file)}`, {
        ok: [200, 206, 416],
        accept: 'text/plain',
        ...(range ? { headers: { range: `bytes=${range.start}-${range.end ?? ''}` } } : {}),
      });
      const bytes = new Uint8Array(await response.arrayBuffer());
      return toFileChunk(response.status, response.headers.get('content-range'), bytes);
    },
    outputs: (job, { prefix, limit, next }) => {
      if (next) return call('GET', followable(next, base), outputPageSchema);
      return call('GET', withQuery(`${jobPath(job)}/outputs`, { prefix, limit }), outputPageSchema);
    },
    download: async (job, path) => {
      const response = await send('GET', `${jobPath(job)}/outputs/${encodePath(path)}`, {
        accept: 'application/octet-stream',
      });
      if (!response.body)
        throw new CliError('ApiBadAnswer', `the output ${path} came without a body`, exitCodes.api);
      return response.body;
    },
  };
}

/** A path of segments (`t-001/out/result.txt`), each one encoded, the slashes kept. */
function encodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

/**
 * The page a `nextLink` names, when it is safe to send the key there: the base URL's origin (scheme,
 * host and port) and a path below the base's. The API sends an absolute path (`/api/jobs?…`); anything
 * else (another host, a downgrade to http, `/admin`, credentials in the URL) is refused before a
 * request is made, since the request carries the tenant's key.
 */
function followable(nextLink: string, base: URL): string {
  let url: URL;
  try {
    url = new URL(nextLink, base);
  } catch (e) {
    throw new CliError('ApiBadNextLink', 'the API answered a nextLink that is not a URL', exitCodes.api, {
      cause: e,
    });
  }
  if (
    url.origin !== base.origin ||
    !url.pathname.startsWith(base.pathname) ||
    url.username !== '' ||
    url.password !== ''
  ) {
    // The link's own text is left out: it is the answer of a server we no longer trust.
    throw new CliError(
      'ApiForeignNextLink',
      `the API answered a nextLink outside ${base.origin}${base.pathname}; not followed, so the API key ` +
        'was not sent there (is SLOTWISE_URL the API you meant?)',
      exitCodes.api,
    );
  }
  return url.href;
}

/**
 * An API error as a CliError: the problem's title, detail and each named field, and why the CLI
 * stopped waiting when it had been asked to come back later.
 */
function problemError(status: number, text: string, gaveUp?: string): CliError {
  let problem: Problem | undefined;
  try {
    const parsed = problemSchema.safeParse(JSON.parse(text));
    if (parsed.success) problem = parsed.data;
  } catch {
    // Not JSON (a proxy's HTML page, say): the status alone has to do.
  }
  const lines = [
    `${status} ${problem?.title ?? 'HTTP error'}${problem?.detail ? `: ${problem.detail}` : ''}` +
      (gaveUp ? ` (${gaveUp})` : ''),
  ];
  for (const e of problem?.errors ?? []) {
    // The detail often repeats a lone error; list fields only when they add something.
    const line = e.field ? `${e.field}: ${e.message}` : e.message;
    if (line !== problem?.detail) lines.push(`  ${line}`);
  }
  // A request refused as it stands (invalid, too large, wrong type) is the caller's input to fix.
  const badInput = status === 400 || status === 413 || status === 415 || status === 422;
  return new CliError(
    badInput ? 'ApiRefusedInput' : `Api${status}`,
    lines.join('\n'),
    badInput ? exitCodes.badInput : exitCodes.api,
    problem ? { problem } : {},
  );
}
