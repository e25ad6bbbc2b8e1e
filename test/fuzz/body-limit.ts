/**
 * The body limit, checked after the fuzz (schemathesis only sends bodies the document describes).
 *
 * - Host part — the dev host's FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (dev/host/config.ts; the local stack
 *   sets it as the deployment template does): a body over the limit is refused with 413 *before it is
 *   read*, and before any key is checked. The probes leave their body unfinished and wait for the
 *   answer, so a host that reads the body first never answers and the probe fails at its deadline:
 *   1. `Content-Length` over the limit, body not sent at all, with the tenant's key;
 *   2. the same without a key (413, not 401: nothing of the request is looked at);
 *   3. chunked, no length: more than the limit sent, the request left open.
 * - App part — the job handler's own limit (MAX_JOB_BODY_BYTES, 1 MiB): a body between it and the
 *   host limit reaches the handler and gets 413 as RFC 9457 problem details.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { MAX_JOB_BODY_BYTES } from '../../shared/interfaces/http/read-json.js';

/** How long a probe waits for the host's answer; a host that waits for the whole body never gives one. */
const ANSWER_DEADLINE_MS = 15_000;

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** The problems found; empty when the limit holds. `hostLimit` is the stack's setting, in bytes. */
export async function checkBodyLimit(api: string, apiKey: string, hostLimit: number): Promise<string[]> {
  const host = '[host: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT]';
  if (!Number.isSafeInteger(hostLimit) || hostLimit <= MAX_JOB_BODY_BYTES)
    return [
      `${host} the local stack sets no limit above the job limit ${MAX_JOB_BODY_BYTES} (got ${hostLimit})`,
    ];
  const problems: string[] = [];
  const url = new URL(`${api}/jobs`);
  const json = { 'content-type': 'application/json' };
  const withKey = { ...json, authorization: `Bearer ${apiKey}` };
  const over = hostLimit + 64 * 1024;

  for (const [label, headers] of [
    ['with the key', withKey],
    ['without a key', json],
  ] as const) {
    const answer = await probe(url, { ...headers, 'content-length': String(over) }, () => {
      // Headers only: the body never comes.
    });
    if (statusOf(answer) !== 413)
      problems.push(
        `${host} Content-Length ${over} (limit ${hostLimit}) ${label}, body not sent: expected 413 at once, got ${describe(answer)}`,
      );
  }

  const chunked = await probe(url, withKey, (req) => {
    const piece = Buffer.alloc(64 * 1024, 0x20);
    req.write('{"id":"too-big","pad":"');
    for (let sent = 0; sent <= over; sent += piece.length) req.write(piece);
    // Left open: a host that reads to the end before answering never answers.
  });
  if (statusOf(chunked) !== 413)
    problems.push(
      `${host} chunked body of more than ${over} bytes, left open: expected 413 before its end, got ${describe(chunked)}`,
    );

  const body = `{"id":"too-big","pad":"${' '.repeat(MAX_JOB_BODY_BYTES + 1024 - 25)}"}`;
  const size = Buffer.byteLength(body);
  const app = await probe(url, { ...withKey, 'content-length': String(size) }, (req) => req.end(body));
  if (!isProblem(app, 413))
    problems.push(
      `[app: MAX_JOB_BODY_BYTES] a ${size}-byte body (over ${MAX_JOB_BODY_BYTES}, under the host's ${hostLimit}): expected 413 as application/problem+json, got ${describe(app)}`,
    );
  return problems;
}

/**
 * Sends the request, lets `send` write (or not) the body, and resolves with the first answer, or with
 * an Error saying why none came.
 */
function probe(
  url: URL,
  headers: Record<string, string>,
  send: (req: ReturnType<typeof httpRequest>) => void,
): Promise<Answer | Error> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method: 'POST', headers });
    const deadline = setTimeout(() => {
      req.destroy();
      resolve(new Error(`no answer within ${ANSWER_DEADLINE_MS} ms while the body was unfinished`));
    }, ANSWER_DEADLINE_MS);
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const finish = () => {
        clearTimeout(deadline);
        req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        });
      };
      res.once('end', finish);
      res.once('error', finish);
    });
    req.once('error', (e) => {
      clearTimeout(deadline);
      resolve(new Error(`the connection failed before an answer (${e.message})`));
    });
    req.flushHeaders();
    send(req);
  });
}

function statusOf(answer: Answer | Error): number | undefined {
  return answer instanceof Error ? undefined : answer.status;
}

function isProblem(answer: Answer | Error, status: number): boolean {
  if (answer instanceof Error || answer.status !== status) return false;
  if (!/^application\/problem\+json\b/i.test(answer.contentType)) return false;
  try {
    const body = JSON.parse(answer.body) as { type?: unknown; title?: unknown; status?: unknown };
    return typeof body.type === 'string' && typeof body.title === 'string' && body.status === status;
  } catch {
    return false;
  }
}

function describe(answer: Answer | Error): string {
  if (answer instanceof Error) return answer.message;
  return `${answer.status} ${answer.contentType || '(no content type)'} ${answer.body.slice(0, 200)}`;
}
