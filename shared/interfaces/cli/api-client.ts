/**
 * The CLI's view of the Slotwise HTTP API: one call per endpoint, answers checked with zod (only the
 * fields the CLI reads; the rest passes through untouched for `--json`), and every failure a
 * `CliError` whose `code` and exit code say what went wrong.
 */
import { z } from 'zod';
import { SlotwiseError } from '../../core/errors.js';
import { jobStates } from '../../model/job.js';

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
}

export interface ApiClientOptions {
  /** e.g. `http://127.0.0.1:7071/api` (no trailing slash needed). */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly fetch?: typeof fetch;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const doFetch = options.fetch ?? fetch;

  async function call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    { body, ok = [200] }: { body?: string; ok?: number[] } = {},
  ): Promise<T> {
    const url = new URL(path, base);
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.apiKey}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    } catch (e) {
      throw new CliError(
        'ApiUnreachable',
        `cannot reach the Slotwise API at ${base.origin}${base.pathname}`,
        exitCodes.api,
        {
          cause: e,
        },
      );
    }
    const text = await response.text();
    if (!ok.includes(response.status)) throw problemError(response.status, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new CliError(
        'ApiBadAnswer',
        `${method} ${url.pathname} answered ${response.status} without JSON`,
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
        `${method} ${url.pathname} answered ${response.status} with an unexpected shape${where ? ` (at ${where})` : ''}`,
        exitCodes.api,
      );
    }
    return parsed.data;
  }

  const jobPath = (id: string) => `jobs/${encodeURIComponent(id)}`;
  return {
    submit: (body) => call('POST', 'jobs', jobSchema, { body, ok: [200, 201, 202] }),
    plan: (body) => call('POST', 'jobs?dryRun=true', dryRunSchema, { body }),
    get: (id) => call('GET', jobPath(id), jobSchema),
    list: ({ state, limit, next }) => {
      if (next) return call('GET', followable(next, base), pageSchema);
      const query = new URLSearchParams();
      if (state) query.set('state', state);
      if (limit !== undefined) query.set('limit', String(limit));
      const qs = query.toString();
      return call('GET', qs ? `jobs?${qs}` : 'jobs', pageSchema);
    },
    cancel: (id) => call('DELETE', jobPath(id), jobSchema),
    retry: (id) => call('POST', `${jobPath(id)}/retry`, jobSchema, { ok: [200, 202] }),
  };
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

/** An API error as a CliError: the problem's title, detail and each named field. */
function problemError(status: number, text: string): CliError {
  let problem: Problem | undefined;
  try {
    const parsed = problemSchema.safeParse(JSON.parse(text));
    if (parsed.success) problem = parsed.data;
  } catch {
    // Not JSON (a proxy's HTML page, say): the status alone has to do.
  }
  const lines = [
    `${status} ${problem?.title ?? 'HTTP error'}${problem?.detail ? `: ${problem.detail}` : ''}`,
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
