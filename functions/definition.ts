/**
 * The function table contract. Every Azure Function is declared once, as a value of this type, in
 * `functions/<name>.ts`; `functions/table.ts` lists them. Two readers consume the same table:
 * `functions/index.ts` registers each entry with `app.http` / `app.storageQueue` / `app.timer` for
 * the real Functions host, and the dev host (`dev/host`) serves the very same entries locally.
 *
 * Handlers take their dependencies as a third argument (built once at the composition root), so no
 * function reads configuration at import time.
 */
import type { HttpMethod, HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HttpFunction<D> {
  readonly kind: 'http';
  readonly name: string;
  /** Default `['GET', 'POST']`, as in the v4 library. */
  readonly methods?: readonly HttpMethod[];
  /** ASP.NET-style route template below the route prefix. Default: the function name. */
  readonly route?: string;
  /** Default `anonymous`, as the v4 library fills in. Callers authenticate with tenant API keys instead. */
  readonly authLevel?: AuthLevel;
  readonly handler: (request: HttpRequest, context: InvocationContext, deps: D) => Promise<HttpResponseInit>;
}

export interface StorageQueueFunction<D> {
  readonly kind: 'storageQueue';
  readonly name: string;
  /** Queue name; `%Setting%` is resolved from app settings by the host. */
  readonly queueName: string;
  /** App setting holding the storage connection. Default `AzureWebJobsStorage`. */
  readonly connection?: string;
  /** Receives the decoded message: parsed JSON when it parses, else the raw string (as the v4 library does). */
  readonly handler: (message: unknown, context: InvocationContext, deps: D) => Promise<void>;
}

export interface TimerFunction<D> {
  readonly kind: 'timer';
  readonly name: string;
  /** Six-field NCRONTAB; `%Setting%` is resolved from app settings by the host. */
  readonly schedule: string;
  /** Default false. */
  readonly runOnStartup?: boolean;
  /** Default true (turned off by the host for schedules firing more than once a minute). */
  readonly useMonitor?: boolean;
  readonly handler: (timer: Timer, context: InvocationContext, deps: D) => Promise<void>;
}

export type FunctionDefinition<D> = HttpFunction<D> | StorageQueueFunction<D> | TimerFunction<D>;
