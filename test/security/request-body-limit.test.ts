/**
 * Request bodies are refused at the host's limit before anyone's key is checked, without being read:
 * the local stack runs with the deployment template's `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`, and the dev
 * host stops reading a body at that limit (chunked) or answers from `Content-Length` alone.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JOB_BODY_BYTES } from '../../shared/interfaces/http/read-json.js';
import { type SlotwiseStack, startSlotwise } from '../support/stack.js';

const ATTACK_BYTES = 80 * 1024 * 1024;

let stack: SlotwiseStack;
let limit: number;

beforeAll(async () => {
  stack = await startSlotwise();
  const sample = JSON.parse(
    readFileSync(new URL('../../local.settings.sample.json', import.meta.url), 'utf8'),
  ) as { Values: Record<string, string> };
  limit = Number(sample.Values.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT);
});

afterAll(async () => {
  await stack?.close();
});

interface Upload {
  /** The status of the answer, if one came. */
  readonly status: number | undefined;
  /** Body bytes handed to the socket when the answer came (an upper bound on what the server read). */
  readonly sentWhenAnswered: number | undefined;
  /** Body bytes handed to the socket in all, until the connection ended. */
  readonly sent: number;
}

/**
 * Streams `total` bytes of body in 64 KiB chunks with backpressure, stopping when an answer arrives
 * or the connection ends. Nothing is buffered ahead: a server that stops reading stops the upload.
 */
function upload(path: string, total: number, headers: Record<string, string>): Promise<Upload> {
  const url = new URL(`${stack.api}${path}`);
  return new Promise((resolve) => {
    let sent = 0;
    let status: number | undefined;
    let sentWhenAnswered: number | undefined;
    let ended = false;
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
    });
    const wake: (() => void)[] = [];
    const finish = () => {
      if (ended) return;
      ended = true;
      for (const w of wake.splice(0)) w();
      resolve({ status, sentWhenAnswered, sent });
    };
    req.on('response', (res: IncomingMessage) => {
      status = res.statusCode;
      sentWhenAnswered = sent;
      res.resume();
      req.destroy();
    });
    req.on('error', () => undefined);
    req.on('close', finish);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = async () => {
      while (sent < total && status === undefined && !ended) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += piece.length;
        if (!req.write(piece))
          await new Promise<void>((r) => {
            wake.push(r);
            req.once('drain', r);
          });
      }
      if (status === undefined && !ended) req.end();
    };
    void pump();
  });
}

describe('request body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)', () => {
  it('is set on the local stack as in the template, just above the largest body a function reads', () => {
    expect(stack.env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).toBe(String(limit));
    expect(limit).toBeGreaterThan(MAX_JOB_BODY_BYTES);
    expect(limit).toBeLessThan(2 * MAX_JOB_BODY_BYTES);
  });

  it('refuses an 80 MB chunked POST without a key at the limit, before the client has sent it', async () => {
    const result = await upload('/jobs', ATTACK_BYTES, { 'transfer-encoding': 'chunked' });
    expect(result.status).toBe(413);
    // The answer came, and the connection ended, while most of the body was still unsent: the server
    // stopped reading at the limit (what the sockets' buffers took on top of it is a few MB at most).
    expect(result.sentWhenAnswered!).toBeLessThan(ATTACK_BYTES / 5);
    expect(result.sent).toBeLessThan(ATTACK_BYTES / 5);
  });

  it('answers an 80 MB Content-Length at once, without reading any of the body', async () => {
    // Raw HTTP: only the head is sent; the server must answer from Content-Length alone.
    const url = new URL(stack.api);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /api/jobs HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${ATTACK_BYTES}\r\n\r\n`,
        );
      });
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.toLowerCase()).toContain('connection: close');
  });

  it('lets a body under the limit reach the function, which answers for its own smaller limit', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(MAX_JOB_BODY_BYTES + 1000) });
    expect(Buffer.byteLength(body)).toBeLessThan(limit);
    const res = await stack.request('/jobs', { method: 'POST', body });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    // Without a key the same body gets the function's 401: the host let it through.
    expect((await stack.request('/jobs', { method: 'POST', body, key: null })).status).toBe(401);
  });
});
