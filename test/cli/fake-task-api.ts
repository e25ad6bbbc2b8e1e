/**
 * A small HTTP server that answers the task, task file and output routes in the shapes the API
 * documents (docs/api.md), for the CLI and dashboard tests: paging by `continuation`, the `state` and
 * `result` filters, `Range` on files with a per-answer cap, and a hook to answer 429/409 first. It
 * also serves the dashboard page and its built assets, so the browser test can run against it.
 * Every request is recorded (path, Range, Authorization).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveUi } from '../../shared/interfaces/ui/serve.js';

export interface FakeTask {
  id: string;
  state: 'active' | 'preparing' | 'running' | 'completed';
  result?: 'success' | 'failure';
  exitCode?: number;
  failure?: { category: string; code: string; message: string };
  retryCount?: number;
  requeueCount?: number;
  nodeId?: string;
  startTime?: string;
  endTime?: string;
  requiredSlots?: number;
}

export interface FakeOutput {
  path: string;
  content: Buffer;
  lastModified: string;
}

export interface FakeJob {
  /** The job as `GET /api/jobs/{id}` answers it. */
  view: Record<string, unknown>;
  tasks: FakeTask[];
  /** `<taskId>/<file>` → the file's bytes now (undefined: 404), asked afresh on every read. */
  files: Map<string, () => Buffer | undefined>;
  outputs: FakeOutput[];
}

export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string };

export interface FakeTaskApi {
  readonly url: string;
  readonly api: string;
  readonly jobs: Map<string, FakeJob>;
  readonly seen: Seen[];
  /** Bytes per file answer (the API's is 4 MiB); tests lower it to see reads in parts. */
  fileCap: number;
  /** Answers a request before the routes do, when it returns an answer. */
  intercept: ((req: Seen) => Answer | undefined) | undefined;
  /** Called on each read of one task (`GET …/tasks/{taskId}`), before it is answered. */
  onTaskRead: ((job: string, task: string) => void) | undefined;
  close(): Promise<void>;
}

export const FAKE_KEY = 'fake-key-0123456789';

const problem = (status: number, title: string, detail: string): Answer => ({
  status,
  headers: { 'content-type': 'application/problem+json' },
  body: JSON.stringify({ title, status, detail }),
});

export function taskItem(job: string, t: FakeTask): Record<string, unknown> {
  const self = `/api/jobs/${encodeURIComponent(job)}/tasks/${encodeURIComponent(t.id)}`;
  return {
    ...t,
    retryCount: t.retryCount ?? 0,
    requeueCount: t.requeueCount ?? 0,
    requiredSlots: t.requiredSlots ?? 1,
    links: {
      self,
      stdout: `${self}/files/stdout.txt`,
      stderr: `${self}/files/stderr.txt`,
      outputs: `/api/jobs/${encodeURIComponent(job)}/outputs?prefix=${encodeURIComponent(`${t.id}/`)}`,
    },
  };
}

/** One page of `items` from `continuation` (an offset here; opaque to clients). */
function page<T>(items: T[], url: URL, path: string, render: (item: T) => unknown): Answer {
  const limit = Number(url.searchParams.get('limit') ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    return problem(400, 'Invalid request', 'limit: must be 1 to 1000');
  const from = Number(url.searchParams.get('continuation') ?? 0);
  const value = items.slice(from, from + limit).map(render);
  const next = new URLSearchParams(url.searchParams);
  next.set('limit', String(limit));
  next.set('continuation', String(from + limit));
  return json({ value, ...(from + limit < items.length ? { nextLink: `${path}?${next}` } : {}) });
}

const json = (value: unknown): Answer => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

export async function startFakeTaskApi(): Promise<FakeTaskApi> {
  const seen: Seen[] = [];
  const fake = {
    jobs: new Map<string, FakeJob>(),
    seen,
    fileCap: 4 * 1024 * 1024,
    intercept: undefined as FakeTaskApi['intercept'],
    onTaskRead: undefined as FakeTaskApi['onTaskRead'],
  };

  function bytes(res: ServerResponse, content: Buffer, range: string | undefined, type: string, extra = {}) {
    const size = content.length;
    const headers = { 'content-type': type, 'x-content-type-options': 'nosniff', ...extra };
    const match = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (range && !match) return void res.writeHead(400, headers).end('bad range');
    const start = match ? Number(match[1]) : 0;
    if (match && start >= size) {
      return void res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end();
    }
    const asked = match?.[2] ? Number(match[2]) : size - 1;
    const end = Math.min(asked, size - 1, start + fake.fileCap - 1);
    if (!match && end === size - 1) return void res.writeHead(200, headers).end(content);
    res
      .writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}` })
      .end(content.subarray(start, end + 1));
  }

  function route(req: IncomingMessage, res: ServerResponse, request: Seen, body: string): Answer | undefined {
    const url = new URL(request.path, 'http://fake');
    const parts = url.pathname.split('/').map(decodeURIComponent);
    if (parts[1] !== 'api' || parts[2] !== 'jobs') return problem(404, 'Not found', 'No such route.');
    if (request.authorization !== `Bearer ${FAKE_KEY}`) return problem(401, 'Unauthorized', 'Key refused.');
    if (parts.length === 3) {
      if (req.method === 'POST') {
        const job = fake.jobs.get((JSON.parse(body) as { id: string }).id);
        return job ? { ...json(job.view), status: 202 } : problem(400, 'Invalid request', 'id: unknown here');
      }
      return json({ value: [...fake.jobs.values()].map((j) => j.view) });
    }
    const id = parts[3]!;
    const job = fake.jobs.get(id);
    if (!job) return problem(404, 'Not found', `Job '${id}' was not found.`);
    const jobPath = `/api/jobs/${encodeURIComponent(id)}`;
    if (parts.length === 4) return json(job.view);
    if (parts[4] === 'tasks' && parts.length === 5) {
      const state = url.searchParams.get('state');
      const result = url.searchParams.get('result');
      const chosen = job.tasks.filter(
        (t) => (!state || t.state === state) && (!result || (t.state === 'completed' && t.result === result)),
      );
      return page(chosen, url, `${jobPath}/tasks`, (t) => taskItem(id, t));
    }
    if (parts[4] === 'tasks') {
      const task = job.tasks.find((t) => t.id === parts[5]);
      if (!task) return problem(404, 'Not found', `Task '${parts[5]}' was not found.`);
      if (parts.length === 6) {
        fake.onTaskRead?.(id, task.id);
        return json({ ...taskItem(id, task), attempts: [] });
      }
      if (parts[6] === 'files') {
        const content = job.files.get(`${task.id}/${parts.slice(7).join('/')}`)?.();
        if (!content) return problem(404, 'Not found', `No such file of task '${task.id}'.`);
        bytes(res, content, request.range, 'text/plain; charset=utf-8');
        return undefined;
      }
    }
    if (parts[4] === 'outputs' && parts.length === 5) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const chosen = job.outputs.filter((o) => o.path.startsWith(prefix));
      return page(chosen, url, `${jobPath}/outputs`, (o) => ({
        task: o.path.split('/')[0],
        path: o.path,
        size: o.content.length,
        lastModified: o.lastModified,
        links: { download: `${jobPath}/outputs/${o.path.split('/').map(encodeURIComponent).join('/')}` },
      }));
    }
    if (parts[4] === 'outputs') {
      const output = job.outputs.find((o) => o.path === parts.slice(5).join('/'));
      if (!output) return problem(404, 'Not found', 'No such output.');
      const name = output.path.split('/').pop() ?? 'output';
      bytes(res, output.content, request.range, 'application/octet-stream', {
        'content-disposition': `attachment; filename="${name}"`,
      });
      return undefined;
    }
    return problem(404, 'Not found', 'No such route.');
  }

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: Seen = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    const pathname = new URL(request.path, 'http://fake').pathname;
    if (pathname === '/api/ui' || pathname.startsWith('/api/ui/')) {
      const asset = pathname.replace(/^\/api\/ui\/?/, '');
      void serveUi(pathname, asset, req.headers['if-none-match'] ?? null).then((answer) => {
        res.writeHead(answer.status ?? 200, answer.headers as Record<string, string>);
        res.end(answer.body as string | Buffer | undefined);
      });
      return;
    }
    seen.push(request);
    const answer = fake.intercept?.(request) ?? route(req, res, request, Buffer.concat(chunks).toString());
    if (answer) res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(fake, {
    url,
    api: `${url}/api`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A job view as `GET /api/jobs/{id}` answers, with the fields the CLI and dashboard read. */
export function jobView(
  id: string,
  state: string,
  counts = { active: 0, running: 0, succeeded: 0, failed: 0 },
) {
  return {
    id,
    state,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:05.000Z',
    ...(state === 'completed' || state === 'failed' ? { endedAt: '2026-01-01T00:00:05.000Z' } : {}),
    tasks: counts.active + counts.running + counts.succeeded + counts.failed,
    taskCounts: counts,
    history: [{ state: 'accepted', at: '2026-01-01T00:00:00.000Z' }],
    deliveries: [],
    links: { self: `/api/jobs/${id}` },
  };
}
