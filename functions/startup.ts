/**
 * Start-up in the Functions worker, shaped by Flex Consumption: the host gives a worker's initialisation a
 * fixed 30 s (not configurable), and the worker answers only once the entry point's top-level code is
 * done; the functions registered by then are the ones the host syncs (on Flex, what scales each trigger).
 * So the entry point waits for nothing: it registers the whole function table at once, and the
 * dependencies (telemetry, settings, clients, the Cosmos containers) start in the background.
 *
 * Every registered handler asks the starter for the dependencies:
 * - started: it runs;
 * - starting: it waits at most `waitMs` (a cold start's first request usually gets its answer);
 * - failed, or still starting after that: it fails fast and visibly, and loses nothing —
 *   HTTP answers 503 with `Retry-After`, and `GET /api/health` says `{ status: 'down', startup: { code,
 *   message } }`, naming the setting, container or role, or what the start has been waiting on;
 *   a queue message is abandoned with a delay (`releaseDelaySeconds`): the same message, hidden in its
 *   queue, comes back later; the delay grows with each delivery so that the host's five deliveries span
 *   about 19 hours before it would move the message to `-poison`;
 *   a timer invocation fails naming the cause (the next tick runs again).
 * A failed start is tried again by the first invocation `retryAfterMs` after it, so a role assignment
 * that takes minutes to propagate heals without a restart. An attempt still running after `timeoutMs`
 * counts as failed (its late success is still taken).
 */
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ReceivedMessage } from '../shared/adapters/queues/queue-gateway.js';
import { describeError, SlotwiseError } from '../shared/core/errors.js';
import { problemResponse } from '../shared/interfaces/http/problem.js';
import type { FunctionDefinition, HttpFunction, StorageQueueFunction, TimerFunction } from './definition.js';

/** What stopped the start, safe to show: a stable code, and a message that names settings or resources, never values. */
export interface StartupProblem {
  readonly code: string;
  readonly message: string;
}

/** Bound on one start attempt, well inside Flex's 30 s (which no longer applies to it: nothing waits for it). */
export const START_TIMEOUT_MS = 20_000;
/** How long an invocation waits for a start in progress before it fails fast. */
export const START_WAIT_MS = 10_000;
/** After a failed start, the next invocation at least this much later starts again. */
export const START_RETRY_MS = 30_000;

/**
 * How long a queue message is hidden when its delivery number `dequeueCount` meets a failed start:
 * 5 min × 4^(n−1), at most 12 h (5 min, 20 min, 80 min, 320 min, 12 h: 19 h over five deliveries).
 */
export function releaseDelaySeconds(dequeueCount: number): number {
  const n = Number.isInteger(dequeueCount) && dequeueCount > 0 ? dequeueCount : 1;
  return Math.min(300 * 4 ** (n - 1), 12 * 3600);
}

export function toStartupProblem(e: unknown): StartupProblem {
  // Slotwise errors carry messages written to be shown (setting and resource names only); anything
  // else (SDK, credential) is reduced to its code, since its message may quote URLs or tokens.
  if (e instanceof SlotwiseError) return { code: e.code, message: e.message };
  const code = describeError(e);
  return {
    code,
    message: `Start-up failed (${code}); check the app's identity, its role assignments and the endpoints in the app settings`,
  };
}

/** An invocation met a start that failed or has not finished: it names why. */
export class NotStartedError extends SlotwiseError {
  readonly problem: StartupProblem;
  constructor(problem: StartupProblem) {
    super('NotStarted', `Slotwise has not started (${problem.code}): ${problem.message}`, {
      retryable: true,
    });
    this.name = 'NotStartedError';
    this.problem = problem;
  }
}

export interface StarterOptions<D> {
  readonly timeoutMs?: number;
  readonly waitMs?: number;
  readonly retryAfterMs?: number;
  /** Closes dependencies a late attempt built after another one won. */
  readonly dispose?: (deps: D) => Promise<void>;
  /** Where start failures and recoveries are reported. Default: the console (Application Insights). */
  readonly log?: (level: 'error' | 'info', message: string) => void;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
}

interface Attempt {
  step: string;
  timedOut: boolean;
  readonly settled: Promise<void>;
}

/** Starts the dependencies in the background, once at a time, and again after a failure (see the file comment). */
export class Starter<D> {
  private deps: D | undefined;
  private current: Attempt | undefined;
  private failure: { problem: StartupProblem; at: number } | undefined;
  private closed = false;
  private readonly timeoutMs: number;
  private readonly waitMs: number;
  private readonly retryAfterMs: number;
  private readonly now: () => number;
  private readonly log: (level: 'error' | 'info', message: string) => void;

  constructor(
    private readonly create: (onStep: (step: string) => void) => Promise<D>,
    private readonly options: StarterOptions<D> = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS;
    this.waitMs = options.waitMs ?? START_WAIT_MS;
    this.retryAfterMs = options.retryAfterMs ?? START_RETRY_MS;
    this.now = options.now ?? (() => performance.now());
    this.log =
      options.log ??
      ((level, message) => (level === 'error' ? console.error(message) : console.info(message)));
  }

  /** Begins a start now unless one is running or done. */
  start(): void {
    if (!this.deps && !this.current && !this.closed) this.begin();
  }

  /** The dependencies; a NotStartedError naming the cause when they are not there within `waitMs`. */
  async get(): Promise<D> {
    if (this.deps) return this.deps;
    const waiting = this.current !== undefined && !this.current.timedOut;
    if (!waiting && !this.closed && (!this.failure || this.now() - this.failure.at >= this.retryAfterMs))
      this.begin();
    const attempt = this.current;
    if (attempt && !attempt.timedOut) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        attempt.settled,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.waitMs);
        }),
      ]);
      clearTimeout(timer);
    }
    if (this.deps) return this.deps;
    throw new NotStartedError(this.problem()!);
  }

  /** What keeps the app from running now; undefined once it has started. */
  problem(): StartupProblem | undefined {
    if (this.deps) return undefined;
    if (this.failure) return this.failure.problem;
    return {
      code: 'StartupPending',
      message: `Start-up has not finished: ${this.current?.step ?? 'not begun'}`,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const deps = this.deps;
    this.deps = undefined;
    if (deps && this.options.dispose) await this.options.dispose(deps);
  }

  private begin(): void {
    const started = this.now();
    let timer: NodeJS.Timeout | undefined;
    const attempt: Attempt = {
      step: 'starting',
      timedOut: false,
      settled: Promise.resolve()
        .then(() =>
          this.create((step) => {
            attempt.step = step;
          }),
        )
        .then(
          (deps) => {
            clearTimeout(timer);
            if (this.deps || this.closed) {
              // Another attempt won (or the app is stopping): these clients are not needed.
              void this.options.dispose?.(deps).catch(() => undefined);
              return;
            }
            this.deps = deps;
            if (this.failure) this.log('info', 'Slotwise started after an earlier failed start');
            this.failure = undefined;
            this.current = undefined;
          },
          (e: unknown) => {
            clearTimeout(timer);
            if (this.current !== attempt) return; // A newer attempt speaks for the start now.
            const problem = toStartupProblem(e);
            this.current = undefined;
            this.failure = { problem, at: this.now() };
            this.log('error', `Slotwise did not start (${problem.code}): ${problem.message}`);
          },
        ),
    };
    this.current = attempt;
    timer = setTimeout(() => {
      if (this.current !== attempt || this.deps) return;
      attempt.timedOut = true;
      const seconds = Math.round((this.now() - started) / 1000);
      const problem: StartupProblem = {
        code: 'StartupTimedOut',
        message: `Start-up has been waiting ${seconds} s on: ${attempt.step}. Check that Cosmos DB, Storage and the managed identity endpoint answer (network rules, DNS, role assignments)`,
      };
      this.failure = { problem, at: this.now() };
      this.log('error', `Slotwise did not start (${problem.code}): ${problem.message}`);
    }, this.timeoutMs);
    timer.unref();
  }
}

export interface StartupTableOptions {
  /** Abandons a received queue message with a delay; absent when no storage is configured. */
  readonly release?: (message: ReceivedMessage, delaySeconds: number) => Promise<void>;
  /** App settings, for `%Setting%` queue names. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Wall clock, for the message's expiry. */
  readonly now?: () => number;
  /** How long a delivery is held back (default `releaseDelaySeconds`); tests shorten it. */
  readonly releaseDelay?: (dequeueCount: number) => number;
}

/**
 * The whole table, each handler asking `starter` for its dependencies first (see the file comment).
 * Registered as is: the functions the host sees never depend on whether the start succeeded.
 */
export function startupTable<D>(
  table: readonly FunctionDefinition<D>[],
  starter: Starter<D>,
  options: StartupTableOptions = {},
): FunctionDefinition<null>[] {
  return table.map(
    (fn): FunctionDefinition<null> =>
      fn.kind === 'http'
        ? httpFunction(fn, starter)
        : fn.kind === 'storageQueue'
          ? queueFunction(fn, starter, options)
          : timerFunction(fn, starter),
  );
}

const notStartedHeaders = { 'cache-control': 'no-store', 'retry-after': '30' };

function httpFunction<D>(fn: HttpFunction<D>, starter: Starter<D>): HttpFunction<null> {
  return {
    ...fn,
    handler: async (request, context) => {
      let deps: D;
      try {
        deps = await starter.get();
      } catch (e) {
        if (!(e instanceof NotStartedError)) throw e;
        return notStartedResponse(fn.name, e.problem);
      }
      return fn.handler(request, context, deps);
    },
  };
}

/** The 503 a function answers before the start: health names the cause (the problem names no values). */
export function notStartedResponse(functionName: string, problem: StartupProblem): HttpResponseInit {
  return functionName === 'health'
    ? { status: 503, headers: notStartedHeaders, jsonBody: { status: 'down', startup: problem } }
    : problemResponse(
        {
          type: 'https://slotwise.dev/problems/not-started',
          title: 'Service not started',
          status: 503,
          detail: `The service could not start (${problem.code}); GET /api/health says why.`,
        },
        notStartedHeaders,
      );
}

function queueFunction<D>(
  fn: StorageQueueFunction<D>,
  starter: Starter<D>,
  options: StartupTableOptions,
): StorageQueueFunction<null> {
  return {
    ...fn,
    handler: async (message, context) => {
      let deps: D;
      try {
        deps = await starter.get();
      } catch (e) {
        if (!(e instanceof NotStartedError)) throw e;
        await abandon(fn, context, e, options);
        return;
      }
      return fn.handler(message, context, deps);
    },
  };
}

/**
 * Abandons the message with a delay: it is hidden in its queue and delivered again later, the same
 * message (body, id, insertion time: a tenant's signed `job-requests` message stays valid). The invocation
 * then succeeds; the host's delete meets the changed pop receipt and leaves the message alone. When the
 * message cannot be released (no storage settings, an expiry too close, a Storage error), the invocation
 * fails as any failing one does, and the host retries it.
 */
async function abandon<D>(
  fn: StorageQueueFunction<D>,
  context: InvocationContext,
  error: NotStartedError,
  options: StartupTableOptions,
): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const messageId = typeof meta.id === 'string' ? meta.id : undefined;
  const popReceipt = typeof meta.popReceipt === 'string' ? meta.popReceipt : undefined;
  const dequeueCount = typeof meta.dequeueCount === 'number' ? meta.dequeueCount : 1;
  const expires = Date.parse(String(meta.expirationTime ?? ''));
  const now = (options.now ?? Date.now)();
  // Storage refuses a visibility beyond the message's expiry.
  const room = Number.isNaN(expires) ? Number.POSITIVE_INFINITY : Math.floor((expires - now) / 1000) - 1;
  const delay = Math.min((options.releaseDelay ?? releaseDelaySeconds)(dequeueCount), room);
  const queue = resolveSetting(fn.queueName, options.env ?? process.env);
  if (!options.release || !messageId || !popReceipt || delay < 1) {
    context.error(`${error.message}. The message cannot be held back; the host retries it.`);
    throw error;
  }
  await options.release({ queue, messageId, popReceipt }, delay);
  context.warn(
    `${error.message}. Message ${messageId} (delivery ${dequeueCount}) goes back on '${queue}' for ${delay} s.`,
  );
}

function timerFunction<D>(fn: TimerFunction<D>, starter: Starter<D>): TimerFunction<null> {
  // A NotStartedError fails the invocation with the cause in its message; the next tick tries again.
  return { ...fn, handler: async (timer, context) => fn.handler(timer, context, await starter.get()) };
}

/** `%Setting%` is resolved from app settings, as the host does for a binding's queue name. */
function resolveSetting(value: string, env: Readonly<Record<string, string | undefined>>): string {
  const m = /^%([^%]+)%$/.exec(value);
  return m ? (env[m[1]!] ?? value) : value;
}
