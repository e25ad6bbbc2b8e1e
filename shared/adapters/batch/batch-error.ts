/** Every failure of a Batch call, with Batch's code, the HTTP status and the ids to quote to support. */
import { SlotwiseError } from '../../core/errors.js';

export class BatchError extends SlotwiseError {
  readonly status: number | undefined;
  readonly values: readonly { key: string; value: string }[];
  readonly requestId: string | undefined;
  readonly clientRequestId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(init: {
    code: string;
    message: string;
    status?: number;
    values?: readonly { key: string; value: string }[];
    requestId?: string;
    clientRequestId?: string;
    retryAfterMs?: number;
    retryable: boolean;
    cause?: unknown;
  }) {
    super(init.code, init.message, { retryable: init.retryable, cause: init.cause });
    this.name = 'BatchError';
    this.status = init.status;
    this.values = init.values ?? [];
    this.requestId = init.requestId;
    this.clientRequestId = init.clientRequestId;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Statuses that say "try again": throttling, timeouts and server-side failures. */
export const retryableStatuses: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
