/**
 * Security review 3, finding 16: the dev webhook inbox (`dev/webhook-inbox/`, port 7072 in
 * `npm start`) must answer a bad request with 400 and stay up, since its exit stops the whole local
 * stack. It runs here as `npm start` runs it: the built `main.js` in a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../../dist/dev/webhook-inbox/main.js', import.meta.url));
let child: ChildProcess;
let url: string;
let exited: { code: number | null; stderr: string } | undefined;

beforeAll(async () => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first (npm test does).`);
  child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH, WEBHOOK_INBOX_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.on('exit', (code) => {
    exited = { code, stderr };
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const ready = /ready at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (ready) resolve(ready[1]!);
    });
    child.once('exit', (code) =>
      reject(new Error(`the inbox exited (${code}) before it was ready: ${stderr}`)),
    );
  });
});

afterAll(() => {
  if (child && child.exitCode === null) child.kill();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });

/** The inbox still answers, and still records a delivery. */
async function stillUp(name: string): Promise<void> {
  expect(exited).toBeUndefined();
  const delivered = await post(`/hooks/${name}`, JSON.stringify({ type: 'job.completed' }));
  expect(delivered.status).toBe(204);
  const listed = (await (await fetch(`${url}/hooks/${name}`)).json()) as { name: string; body: unknown }[];
  expect(listed).toMatchObject([{ name, body: { type: 'job.completed' } }]);
}

describe('the dev webhook inbox and bad requests', () => {
  it('answers 400 for a hook name that is not valid percent-encoding, and stays up', async () => {
    const res = await post('/hooks/%E0%A4%A', '{}');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('the hook name is not valid percent-encoding');
    const read = await fetch(`${url}/hooks/%E0%A4%A`);
    expect(read.status).toBe(400);
    await stillUp('after-bad-name');
    // Nothing was recorded for the bad requests.
    const all = (await (await fetch(`${url}/hooks`)).json()) as { name: string }[];
    expect(all.map((d) => d.name)).toEqual(['after-bad-name']);
  });

  it('answers 400 for a /_inbox/respond body that is not the JSON asked for, and stays up', async () => {
    for (const [body, why] of [
      ['{"status": 503', 'the body is not JSON'],
      ['{"status": "down"}', 'status:'],
      ['{"status": 42}', 'must be 0 (answer normally) or an HTTP status from 200 to 599'],
      ['{"status": 503, "count": -1}', 'count:'],
      ['[1]', 'body:'],
    ] as const) {
      const res = await post('/_inbox/respond', body);
      expect(res.status, body).toBe(400);
      expect(await res.text(), body).toContain(why);
    }
    await stillUp('after-bad-respond');
    // A good one still works: the next delivery answers 503, then back to normal.
    expect((await post('/_inbox/respond', '{"status": 503, "count": 1}')).status).toBe(204);
    expect((await post('/hooks/forced', '{}')).status).toBe(503);
    expect((await post('/hooks/forced', '{}')).status).toBe(204);
    expect(exited).toBeUndefined();
  });
});
