/**
 * The dashboard's task view in headless Chromium (Debian's `chromium`, driven by playwright-core),
 * against a server that answers the API's task, file and output shapes and serves the built page:
 * failed tasks first, filters sent as the query, paging with nextLink, a log viewer that shows a
 * log's `<script>` as text (never run, never rendered) from its tail, and the outputs with
 * downloads.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uiAssetDirectory } from '../../shared/interfaces/ui/serve.js';
import {
  FAKE_KEY,
  type FakeTask,
  type FakeTaskApi,
  jobView,
  startFakeTaskApi,
} from '../cli/fake-task-api.js';
import { waitFor } from '../support/stack.js';

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** Debian's package first, as `.ci/run` installs it; `CHROMIUM_PATH` for other machines. */
const browserPath = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
]
  .filter((p): p is string => Boolean(p))
  .find((p) => existsSync(p));

const failedIds = ['t-007', 't-050', 't-099'];
const tasks: FakeTask[] = Array.from({ length: 120 }, (_, i) => {
  const id = `t-${String(i).padStart(3, '0')}`;
  const failed = failedIds.includes(id);
  return {
    id,
    state: 'completed',
    result: failed ? 'failure' : 'success',
    exitCode: failed ? 3 : 0,
    nodeId: `node-${i % 3}`,
    retryCount: failed ? 1 : 0,
    startTime: '2026-01-01T00:00:01.000Z',
    endTime: '2026-01-01T00:00:02.000Z',
    ...(failed
      ? { failure: { category: 'usererror', code: 'FailureExitCode', message: 'The task exited with 3' } }
      : {}),
  };
});

const hostile =
  '<script>window.__pwned = 1</script>\n<img src="x" onerror="window.__pwned = 2">\nFATAL: out of disk\n';
/** About 400 KiB: more than the viewer's 256 KiB tail. */
const bigStdout = `${Array.from({ length: 40_000 }, (_, i) => `out ${i + 1}`).join('\n')}\nthe end\n`;
const outputs = [
  { path: 't-007/result.txt', content: Buffer.from('partial\n'), lastModified: '2026-01-01T00:00:02.000Z' },
  { path: 't-008/frames/0001.png', content: Buffer.alloc(5000, 9), lastModified: '2026-01-01T00:00:03.000Z' },
];

let fake: FakeTaskApi;
let browser: Browser | undefined;

beforeAll(async () => {
  uiAssetDirectory(); // throws "run npm run build" when the bundle is missing
  fake = await startFakeTaskApi();
  fake.jobs.set('ui-fail', {
    view: {
      ...jobView('ui-fail', 'failed', { active: 0, running: 0, succeeded: 117, failed: 3 }),
      failure: { code: 'TaskFailed', message: '3 tasks failed' },
    },
    tasks,
    files: new Map([
      ['t-007/stderr.txt', () => Buffer.from(hostile)],
      ['t-007/stdout.txt', () => Buffer.from(bigStdout)],
    ]),
    outputs,
  });
  if (browserPath) {
    browser = await chromium.launch({
      executablePath: browserPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
  }
});

afterAll(async () => {
  await browser?.close();
  await fake?.close();
});

const taskIds = (page: Page) =>
  page
    .locator('.task-panel table.tasks tbody tr')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task')));
const taskRequests = () => fake.seen.filter((s) => /\/tasks\?/.test(s.path)).map((s) => s.path);

describe.skipIf(!browserPath)('the task view in headless Chromium', () => {
  it('shows failed tasks first, pages with nextLink, and filters by the query', async () => {
    const context = await browser!.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    fake.seen.length = 0;
    await page.goto(`${fake.url}/api/ui#key=${FAKE_KEY}&job=ui-fail`);

    // Failures first (one page of them), then the first page of the rest, leaving out those shown.
    const first = await waitFor(
      () => taskIds(page),
      (ids) => ids.length === 52,
      { what: 'the first view' },
    );
    expect(first.slice(0, 3)).toEqual(failedIds);
    expect(first.slice(3)).toEqual(
      tasks
        .slice(0, 50)
        .map((t) => t.id)
        .filter((id) => id !== 't-007'),
    );
    expect(
      await page
        .locator('tr.task-failure')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task'))),
    ).toEqual(failedIds);
    expect(await page.locator('tr[data-task="t-050"] td').nth(2).textContent()).toBe('3');
    expect(taskRequests().slice(0, 2)).toEqual([
      '/api/jobs/ui-fail/tasks?result=failure&limit=50',
      '/api/jobs/ui-fail/tasks?limit=50',
    ]);

    // Show more follows nextLink until the end; every task once.
    await page.click('.task-panel > button.more');
    await waitFor(
      () => taskIds(page),
      (ids) => ids.length === 100,
      { what: 'the second page' },
    );
    expect(taskRequests()).toContain('/api/jobs/ui-fail/tasks?limit=50&continuation=50');
    await page.click('.task-panel > button.more');
    const all = await waitFor(
      () => taskIds(page),
      (ids) => ids.length === 120,
      { what: 'the last page' },
    );
    expect(new Set(all).size).toBe(120);
    expect(await page.locator('.task-panel > button.more').isHidden()).toBe(true);

    // A filter asks the API with it, and starts again.
    fake.seen.length = 0;
    await page.selectOption('.task-panel select[name="result"]', 'success');
    const successes = await waitFor(
      () => taskIds(page),
      (ids) => ids.length === 50 && ids[0] === 't-000',
      { what: 'successes' },
    );
    expect(successes.some((id) => failedIds.includes(id!))).toBe(false);
    expect(taskRequests()).toEqual(['/api/jobs/ui-fail/tasks?result=success&limit=50']);

    fake.seen.length = 0;
    await page.selectOption('.task-panel select[name="result"]', '');
    await page.selectOption('.task-panel select[name="state"]', 'running');
    await page.locator('.tasks-note', { hasText: 'No tasks match.' }).waitFor();
    expect(taskRequests().at(-1)).toBe('/api/jobs/ui-fail/tasks?state=running&limit=50');
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('shows a log as text from its end, switches stdout and stderr, and downloads it', async () => {
    const context = await browser!.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const requests: { url: string; authorization?: string }[] = [];
    page.on('request', (r) =>
      requests.push({
        url: r.url(),
        ...(r.headers().authorization ? { authorization: r.headers().authorization } : {}),
      }),
    );
    await page.goto(`${fake.url}/api/ui#key=${FAKE_KEY}&job=ui-fail`);
    await page.locator('tr[data-task="t-007"]').waitFor();

    // stderr holds markup: it is shown as text, nothing in it runs or becomes an element.
    await page.click('tr[data-task="t-007"] button[data-file="stderr.txt"]');
    const viewer = page.locator('.log-viewer[data-file="stderr.txt"][data-task="t-007"]:not([data-loading])');
    await viewer.waitFor();
    expect(await viewer.locator('pre.log').textContent()).toBe(hostile);
    expect(await viewer.locator('pre.log').evaluate((pre) => pre.childElementCount)).toBe(0);
    expect(await page.locator('.log-viewer img, .log-viewer script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();

    // stdout is larger than the tail the viewer reads: it shows whole lines up to the end, scrolled there.
    fake.seen.length = 0;
    await page.click('.log-viewer button[data-file="stdout.txt"]');
    const out = page.locator('.log-viewer[data-file="stdout.txt"]:not([data-loading]) pre.log');
    await out.waitFor();
    const text = (await out.textContent())!;
    expect(text.endsWith('out 40000\nthe end\n')).toBe(true);
    expect(text.length).toBeLessThanOrEqual(256 * 1024);
    expect(bigStdout.endsWith(text)).toBe(true);
    expect(text.startsWith('out ')).toBe(true);
    expect(await page.locator('.log-note').textContent()).toMatch(/^The last .* download for all of it\.$/);
    const size = Buffer.byteLength(bigStdout);
    expect(fake.seen.map((s) => s.range)).toEqual(['bytes=0-262143', `bytes=${size - 262144}-${size - 1}`]);
    const scroll = await out.evaluate((pre) => ({
      top: pre.scrollTop,
      height: pre.scrollHeight,
      client: pre.clientHeight,
    }));
    expect(scroll.height).toBeGreaterThan(scroll.client);
    expect(scroll.top + scroll.client).toBeGreaterThanOrEqual(scroll.height - 1);

    // The download is the whole file, fetched with the key.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('.log-viewer a.download'),
    ]);
    expect(download.suggestedFilename()).toBe('t-007-stdout.txt');
    expect(await readFile((await download.path())!, 'utf8')).toBe(bigStdout);

    // Kept for a look at the view (test-artifacts/ is not checked in).
    await mkdir(repo('test-artifacts'), { recursive: true });
    await page.screenshot({ path: repo('test-artifacts/task-view.png'), fullPage: true });

    // The key: never in a URL, always the header.
    expect(requests.filter((r) => r.url.includes(FAKE_KEY))).toEqual([]);
    for (const r of requests.filter((r) => r.url.includes('/api/jobs')))
      expect(r.authorization).toBe(`Bearer ${FAKE_KEY}`);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('lists the outputs with their size and downloads one', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(`${fake.url}/api/ui#key=${FAKE_KEY}&job=ui-fail`);
    const rows = page.locator('table.outputs tbody tr');
    await rows.nth(1).waitFor();
    expect(
      await rows.evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)),
      ),
    ).toEqual([
      ['t-007/result.txt', '8 B', '2026-01-01 00:00:02 UTC'],
      ['t-008/frames/0001.png', '4.9 KiB', '2026-01-01 00:00:03 UTC'],
    ]);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('tr[data-path="t-008/frames/0001.png"] a.download'),
    ]);
    expect(download.suggestedFilename()).toBe('0001.png');
    expect(await readFile((await download.path())!)).toEqual(outputs[1]!.content);
    await context.close();
  });
});

if (!browserPath) {
  console.warn(
    'Skipping the task view browser tests: no Chromium found (tried CHROMIUM_PATH, /usr/bin/chromium, ' +
      '/usr/bin/chromium-browser, /usr/bin/google-chrome). Install it with `apt-get install -y chromium`.',
  );
}
