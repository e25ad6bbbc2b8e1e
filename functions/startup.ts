/**
 * Start-up in the Functions worker. The worker imports the entry point (an ES module) and waits for
 * its top-level `await` before it answers the host's function-metadata request; the host starts queue
 * listeners and timers only for the functions registered by then. So the entry point builds the
 * dependencies first (settings checked, clients created, Cosmos containers found), once per worker:
 * - it starts: the whole function table is registered;
 * - it fails: only the HTTP functions are registered, answering 503, and `/api/health` names the
 *   problem. No queue listener exists, so no message is taken, failed five times and moved to
 *   `-poison` while a setting or a role is wrong; messages wait in their queues. Fix the cause and
 *   restart the app (each new worker starts again).
 */
import { describeError, type SlotwiseError } from '../shared/core/errors.js';
import { problemResponse } from '../shared/interfaces/http/problem.js';
import type { FunctionDefinition, HttpFunction } from './definition.js';

/** What stopped the start, safe to show: a stable code, and a message that names settings or resources, never values. */
export interface StartupProblem {
  readonly code: string;
  readonly message: string;
}

export type StartOutcome<D> =
  | { readonly ok: true; readonly deps: D; readonly table: readonly FunctionDefinition<D>[] }
  | {
      readonly ok: false;
      readonly problem: StartupProblem;
      readonly table: readonly FunctionDefinition<null>[];
    };

/** Default bound on start-up: the host gives a worker about a minute to initialise. */
export const START_TIMEOUT_MS = 30_000;

export function toStartupProblem(e: unknown): StartupProblem {
  // Slotwise errors carry messages written to be shown (setting and resource names only); anything
  // else (SDK, credential) is reduced to its code, since its message may quote URLs or tokens.
  if (e instanceof Error && 'code' in e && typeof (e as SlotwiseError).retryable === 'boolean')
    return { code: (e as SlotwiseError).code, message: e.message };
  const code = describeError(e);
  return {
    code,
    message: `Start-up failed (${code}); check the app's identity, its role assignments and the endpoints in the app settings`,
  };
}

export async function startFunctions<D>(
  table: readonly FunctionDefinition<D>[],
  create: () => Promise<D>,
  options: { timeoutMs?: number } = {},
): Promise<StartOutcome<D>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error('start-up timed out'), {
            code: 'StartupTimedOut',
            retryable: true,
            message: `Dependencies did not answer within ${Math.round((options.timeoutMs ?? START_TIMEOUT_MS) / 1000)} s (Cosmos DB, Storage or the identity endpoint)`,
          }),
        ),
      options.timeoutMs ?? START_TIMEOUT_MS,
    );
    timer.unref();
  });
  try {
    const deps = await Promise.race([create(), timeout]);
    return { ok: true, deps, table };
  } catch (e) {
    const problem = toStartupProblem(e);
    return { ok: false, problem, table: degradedTable(table, problem) };
  } finally {
    clearTimeout(timer);
  }
}

/** The HTTP functions only, each answering 503; health names the problem. */
export function degradedTable<D>(
  table: readonly FunctionDefinition<D>[],
  problem: StartupProblem,
): FunctionDefinition<null>[] {
  const headers = { 'cache-control': 'no-store', 'retry-after': '60' };
  return table
    .filter((fn): fn is HttpFunction<D> => fn.kind === 'http')
    .map(
      (fn): HttpFunction<null> => ({
        ...fn,
        handler: async () =>
          fn.name === 'health'
            ? { status: 503, headers, jsonBody: { status: 'down', startup: problem } }
            : problemResponse(
                {
                  type: 'https://slotwise.dev/problems/not-started',
                  title: 'Service not started',
                  status: 503,
                  detail: 'The service could not start; GET /api/health says why.',
                },
                headers,
              ),
      }),
    );
}
