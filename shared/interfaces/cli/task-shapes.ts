/**
 * The API's task, task file and output answers as the CLI reads them (`GET /api/jobs/{id}/tasks`,
 * `…/tasks/{taskId}`, `…/files/{path}`, `…/outputs`): checked with zod on the fields the CLI shows,
 * loose elsewhere so `--json` passes the rest through untouched.
 */
import { z } from 'zod';

export const taskStates = ['active', 'running', 'completed'] as const;
export const taskResults = ['success', 'failure'] as const;

export interface TaskQuery {
  readonly state?: string;
  readonly result?: string;
  readonly limit?: number;
  /** The previous page's `nextLink`; the other fields are then ignored. */
  readonly next?: string;
}

const failureSchema = z.looseObject({
  category: z.string().optional(),
  code: z.string().optional(),
  message: z.string().optional(),
});

const taskSchema = z.looseObject({
  id: z.string(),
  state: z.enum(['active', 'preparing', 'running', 'completed']),
  result: z.enum(taskResults).optional(),
  exitCode: z.number().optional(),
  failure: failureSchema.optional(),
  retryCount: z.number().default(0),
  requeueCount: z.number().default(0),
  nodeId: z.string().optional(),
  startTime: z.string().optional(),
  endTime: z.string().optional(),
  requiredSlots: z.number().optional(),
});
export type CliTask = z.infer<typeof taskSchema>;

export const taskPageSchema = z.looseObject({ value: z.array(taskSchema), nextLink: z.string().optional() });
export type CliTaskPage = z.infer<typeof taskPageSchema>;

export const taskDetailSchema = taskSchema.extend({
  attempts: z
    .array(
      z.looseObject({
        attempt: z.number(),
        startTime: z.string().optional(),
        endTime: z.string().optional(),
        exitCode: z.number().optional(),
        result: z.enum(taskResults).optional(),
        failure: failureSchema.optional(),
        nodeId: z.string().optional(),
      }),
    )
    .default([]),
});
export type CliTaskDetail = z.infer<typeof taskDetailSchema>;

const outputSchema = z.looseObject({
  task: z.string().optional(),
  path: z.string(),
  size: z.number(),
  lastModified: z.string().optional(),
});
export type CliOutput = z.infer<typeof outputSchema>;

export const outputPageSchema = z.looseObject({
  value: z.array(outputSchema),
  nextLink: z.string().optional(),
});
export type CliOutputPage = z.infer<typeof outputPageSchema>;

/** Bytes `start` to `end` inclusive; `end` omitted: to the end of the file. */
export interface ByteRange {
  readonly start: number;
  readonly end?: number;
}

/**
 * What a read of a task file answered: 200 the whole file (or a server that ignores `Range`), 206
 * the part at `start`, 416 nothing at or after the byte asked for (yet). `total` is the file's size
 * when the answer says it.
 */
export interface FileChunk {
  readonly status: 200 | 206 | 416;
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly total?: number;
}

/** The chunk an answer describes, from its status and `Content-Range` (RFC 9110 §14.4). */
export function toFileChunk(status: number, contentRange: string | null, bytes: Uint8Array): FileChunk {
  if (status === 206) {
    const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange?.trim() ?? '');
    const start = match ? Number(match[1]) : 0;
    const total = match && match[3] !== '*' ? Number(match[3]) : undefined;
    return { status: 206, bytes, start, ...(total !== undefined ? { total } : {}) };
  }
  if (status === 416) {
    const match = /^bytes \*\/(\d+)$/.exec(contentRange?.trim() ?? '');
    return { status: 416, bytes: new Uint8Array(), start: 0, ...(match ? { total: Number(match[1]) } : {}) };
  }
  return { status: 200, bytes, start: 0, total: bytes.length };
}
