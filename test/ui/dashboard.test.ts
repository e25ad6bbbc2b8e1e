/**
 * The dashboard (`GET /api/ui`) against the real local stack, in headless Chromium (Debian's
 * `chromium`, driven by playwright-core): it lists submitted jobs, draws a job's packing from its
 * plan, shows counts and deliveries, keeps the key out of every URL, and asks again for a refused
 * key. A screenshot is kept at `test-artifacts/dashboard.png` (`SLOTWISE_UPDATE_DOCS_SCREENSHOT=1`
 * also writes `docs/dashboard.png` for docs/cli-and-dashboard.md).
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uiAssetDirectory } from '../../shared/interfaces/ui/serve.js';
import {
  getJob,
  type SlotwiseStack,
  startSlotwise,
  TEST_API_KEY,
  waitFor,
  waitForJobState,
} from '../support/stack.js';

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

const browserFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let stack: SlotwiseStack;
let receiver: Server;
let receiverUrl: string;

beforeAll(async () => {
  uiAssetDirectory(); // throws "run npm run build" when the bundle is missing
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  receiver.listen(0, '127.0.0.1');
  [stack] = await Promise.all([startSlotwise(), once(receiver, 'listening')]);
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});

afterAll(async () => {
  await stack?.close();
  receiver?.close();
});

async function submit(request: Record<string, unknown>): Promise<void> {
  const res = await stack.request('/jobs', { method: 'POST', body: JSON.stringify(request) });
  expect(res.status, await res.clone().text()).toBe(202);
}

describe('GET /api/ui', () => {
  it('serves the page and its assets with a strict content security policy', async () => {
    for (const path of ['/ui', '/ui/', '/ui/index.html']) {
      const res = await stack.request(path, { key: null });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      expect(html).toContain('<body data-api="/api">');
      expect(html).toContain('<script type="module" src="/api/ui/app.js">');
    }
    const js = await stack.request('/ui/app.js', { key: null });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const etag = js.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    const again = await stack.request('/ui/app.js', { key: null, headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect((await stack.request('/ui/app.css', { key: null })).headers.get('content-type')).toBe(
      'text/css; charset=utf-8',
    );
  });

  it('serves nothing else under /ui', async () => {
    for (const path of ['/ui/app.ts', '/ui/..%2F..%2Fpackage.json', '/ui/static/app.js', '/ui/serve.js']) {
      expect((await stack.request(path, { key: null })).status, path).toBe(404);
    }
  });

  it('answers 404 for names an object inherits, logging no path on disk (review 3, finding 15)', async () => {
    const root = repo('');
    const before = stack.logger.lines.length;
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const res = await stack.request(`/ui/${name}`, { key: null });
      expect(res.status, name).toBe(404);
      expect(await res.text(), name).toBe('Not found');
    }
    const logged = stack.logger.lines.slice(before);
    expect(logged.filter((line) => line.includes(root) || line.includes('ENOENT'))).toEqual([]);
  });
});

describe.skipIf(!browserPath)('the dashboard in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: browserPath!, args: browserFlags });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('lists submitted jobs, draws the packing, and keeps the key out of URLs', async () => {
    const slots = [6, 2, 4, 4, 3, 3, 2, 1, 1, 1, 5, 5, 2, 2];
    await submit({
      id: 'ui-render',
      displayName: 'nightly render',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8, maxNodes: 4 },
      tasks: slots.map((s, i) => ({
        id: `frame-${i}`,
        commandLine: `/bin/sh -c 'sleep ${5 + i}'`,
        requiredSlots: s,
      })),
      callback: { url: receiverUrl },
    });
    await submit({
      id: 'ui-broken',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [
        { id: 'ok', commandLine: 'echo ok' },
        { id: 'bad', commandLine: "/bin/sh -c 'exit 3'" },
      ],
    });
    await submit({
      id: 'ui-long',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 4 },
      tasks: Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, commandLine: "/bin/sh -c 'sleep 100000'" })),
    });
    // No cores for this VM family: the job waits for nodes, and says why.
    await stack.emulatorControl('quotas', {
      method: 'PUT',
      body: JSON.stringify({ dedicatedCoreQuotaPerVMFamily: [{ name: 'standardESv3Family', coreQuota: 0 }] }),
    });
    await submit({
      id: 'ui-waiting',
      pool: { vmSize: 'standard_e4s_v3', maxNodes: 2 },
      tasks: [{ id: 't', commandLine: 'sleep 10' }],
    });
    const done = await waitForJobState(stack, 'ui-render', ['completed']);
    await waitForJobState(stack, 'ui-broken', ['failed']);
    await waitForJobState(stack, 'ui-long', ['running']);
    // Every event of the completed job delivered, so the page shows finished deliveries.
    await waitFor(
      async () =>
        (await (await stack.request('/jobs/ui-render')).json()) as { deliveries: { status: string }[] },
      (j) => j.deliveries.length > 0 && j.deliveries.every((d) => d.status === 'delivered'),
      { what: 'deliveries of ui-render' },
    );

    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const requests: { url: string; authorization?: string }[] = [];
    page.on('request', (r) => {
      const authorization = r.headers().authorization;
      requests.push({ url: r.url(), ...(authorization ? { authorization } : {}) });
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${stack.host.url}/api/ui#key=${TEST_API_KEY}&job=ui-render`);
    await page.locator('tr[data-job="ui-render"]').waitFor();
    await page.locator('tr[data-job="ui-long"]').waitFor();
    await page.locator('figure.packing').waitFor();

    // The list: every job with its state.
    expect(await page.locator('tr[data-job="ui-broken"] .state').textContent()).toBe('failed');
    expect(await page.locator('tr[data-job="ui-render"] .state').textContent()).toBe('completed');
    expect(await page.locator('tr[data-job="ui-long"] .state').textContent()).toBe('running');

    // The packing: as many nodes as the plan, every task a block of its slots.
    const figure = page.locator('figure.packing');
    expect(Number(await figure.getAttribute('data-nodes'))).toBe(done.plan!.nodes);
    const rows = await page.locator('.node-row').evaluateAll((els) =>
      els.map((row) => ({
        count: Number(row.getAttribute('data-nodes')),
        slots: [...row.querySelectorAll('.task')].map((t) => Number(t.getAttribute('data-slots'))),
      })),
    );
    expect(rows.reduce((n, r) => n + r.count, 0)).toBe(done.plan!.nodes);
    const drawn = rows.flatMap((r) => Array.from({ length: r.count }, () => r.slots)).flat();
    expect(drawn.sort((a, b) => a - b)).toEqual([...slots].sort((a, b) => a - b));
    for (const r of rows) expect(r.slots.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(8);

    // Live counts and deliveries as the API has them.
    expect(await page.locator('[data-count="succeeded"] b').textContent()).toBe(String(slots.length));
    const latest = await getJob(stack, 'ui-render');
    expect(latest!.deliveries.length).toBeGreaterThan(0);
    expect(await page.locator('table.deliveries tbody tr').count()).toBe(latest!.deliveries.length);
    expect(await page.locator('table.deliveries .delivery').allTextContents()).toEqual(
      latest!.deliveries.map((d) => d.status),
    );

    // The key: gone from the address bar, kept in session storage, never in a URL, sent as a header.
    expect(page.url()).toBe(`${stack.host.url}/api/ui#job=ui-render`);
    expect(await page.evaluate(() => sessionStorage.getItem('slotwise.apiKey'))).toBe(TEST_API_KEY);
    expect(requests.filter((r) => r.url.includes(TEST_API_KEY))).toEqual([]);
    const apiCalls = requests.filter((r) => r.url.includes('/api/jobs'));
    expect(apiCalls.length).toBeGreaterThan(0);
    for (const call of apiCalls) expect(call.authorization).toBe(`Bearer ${TEST_API_KEY}`);

    // Another job, chosen from the list: its failure is shown.
    await page.locator('tr[data-job="ui-broken"] a').click();
    await page.locator('.notice.failure').waitFor();
    expect(await page.locator('.notice.failure strong').textContent()).toBe('Failed: TaskFailed');

    // A job waiting for nodes shows Batch's reason.
    const waiting = await waitFor(
      () => getJob(stack, 'ui-waiting'),
      (j) => j?.waiting !== undefined,
      { what: 'waiting reason of ui-waiting' },
    );
    await page.locator('tr[data-job="ui-waiting"] .state-waiting').waitFor();
    await page.locator('tr[data-job="ui-waiting"] a').click();
    const notice = page.locator(`.notice.waiting[data-waiting="${waiting!.waiting!.code}"]`);
    await notice.waitFor();
    expect(await notice.locator('p').first().textContent()).toBe(waiting!.waiting!.message);

    // Back to the render for the picture kept as an artifact (and in docs/ for docs/cli-and-dashboard.md).
    await page.locator('tr[data-job="ui-render"] a').click();
    await page.locator('table.deliveries').waitFor();
    await mkdir(repo('test-artifacts'), { recursive: true });
    await page.screenshot({ path: repo('test-artifacts/dashboard.png'), fullPage: true });
    if (process.env.SLOTWISE_UPDATE_DOCS_SCREENSHOT) {
      await mkdir(repo('docs'), { recursive: true });
      await copyFile(repo('test-artifacts/dashboard.png'), repo('docs/dashboard.png'));
    }
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('asks for the key, refuses a wrong one, and opens with the right one', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${stack.host.url}/api/ui`);
    await page.locator('#key-form').waitFor();
    expect(await page.locator('#main').isHidden()).toBe(true);

    await page.fill('#key', 'not-a-key');
    await page.click('#key-form button[type=submit]');
    await page.locator('#key-error').waitFor();
    expect(await page.locator('#key-error').textContent()).toBe('That key was refused.');
    expect(await page.evaluate(() => sessionStorage.getItem('slotwise.apiKey'))).toBeNull();

    await page.fill('#key', TEST_API_KEY);
    await page.click('#key-form button[type=submit]');
    await page.locator('tr[data-job="ui-render"]').waitFor();
    expect(await page.locator('#key-form').isHidden()).toBe(true);

    await page.click('#forget');
    await page.locator('#key-form').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('slotwise.apiKey'))).toBeNull();
    await context.close();
  });

  it("asks before a link's key replaces the tab's own (review 3, finding 15)", async () => {
    const otherKey = 'ui-other-api-key-0123456789';
    await stack.deps.tenants.upsert('ui-other', { apiKey: otherKey, now: new Date() });
    const tiny = { pool: { vmSize: 'standard_d2s_v3' }, tasks: [{ id: 't', commandLine: 'echo hi' }] };
    await submit({ id: 'switch-mine', ...tiny });
    const theirs = await stack.request('/jobs', {
      method: 'POST',
      key: otherKey,
      body: JSON.stringify({ id: 'switch-theirs', ...tiny }),
    });
    expect(theirs.status).toBe(202);

    const context = await browser.newContext();
    const page = await context.newPage();
    const stored = () => page.evaluate(() => sessionStorage.getItem('slotwise.apiKey'));
    await page.goto(`${stack.host.url}/api/ui#key=${TEST_API_KEY}`);
    await page.locator('tr[data-job="switch-mine"]').waitFor();
    expect(await page.locator('#key-switch').isHidden()).toBe(true);

    // A link with another key in the same tab (a fragment change): asked, not switched.
    await page.goto(`${stack.host.url}/api/ui#key=${otherKey}&job=switch-mine`);
    await page.locator('#key-switch').waitFor();
    expect(page.url()).toBe(`${stack.host.url}/api/ui#job=switch-mine`);
    expect(await stored()).toBe(TEST_API_KEY);
    await page.locator('table.deliveries, #detail h2').first().waitFor();
    expect(await page.locator('tr[data-job="switch-theirs"]').count()).toBe(0);
    await page.click('#key-switch-keep');
    expect(await page.locator('#key-switch').isHidden()).toBe(true);
    expect(await stored()).toBe(TEST_API_KEY);
    await page.locator('tr[data-job="switch-mine"]').waitFor();

    // The same key again asks nothing.
    await page.goto(`${stack.host.url}/api/ui#key=${TEST_API_KEY}`);
    await page.waitForURL(`${stack.host.url}/api/ui`);
    expect(await page.locator('#key-switch').isHidden()).toBe(true);

    // A fresh load of such a link in this tab asks too; switching shows only the other tenant's jobs.
    await page.goto('about:blank');
    await page.goto(`${stack.host.url}/api/ui#key=${otherKey}`);
    await page.locator('#key-switch').waitFor();
    expect(await stored()).toBe(TEST_API_KEY);
    await page.locator('tr[data-job="switch-mine"]').waitFor();
    await page.click('#key-switch-use');
    await page.locator('tr[data-job="switch-theirs"]').waitFor();
    expect(await page.locator('tr[data-job="switch-mine"]').count()).toBe(0);
    expect(await stored()).toBe(otherKey);
    expect(await page.locator('#key-switch').isHidden()).toBe(true);
    await context.close();
  });

  it('shows a failed job that is retried afresh (review 3, finding 15)', async () => {
    await submit({
      id: 'ui-retried',
      pool: { vmSize: 'standard_d2s_v3' },
      tasks: [{ id: 'bad', commandLine: "/bin/sh -c 'exit 3'" }],
    });
    const failed = await waitForJobState(stack, 'ui-retried', ['failed']);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${stack.host.url}/api/ui#key=${TEST_API_KEY}&job=ui-retried`);
    const history = page.locator('#detail ol.history li');
    await page.locator('#detail h2 .state-failed').waitFor();
    await waitFor(
      () => history.count(),
      (n) => n === failed.history.length,
      { what: 'the history of the failed job in the pane' },
    );

    const retry = await stack.request('/jobs/ui-retried/retry', { method: 'POST' });
    expect(retry.status, await retry.clone().text()).toBe(202);
    // The job leaves `failed` (a new attempt is submitted): the pane must follow, not keep the old one.
    const resubmitted = await waitFor(
      () => getJob(stack, 'ui-retried'),
      (j) => (j?.history.length ?? 0) > failed.history.length,
      { what: 'the retry in the API' },
    );
    await waitFor(
      () => history.count(),
      (n) => n >= resubmitted!.history.length,
      { what: 'the retry in the detail pane' },
    );
    const states = await history.locator('.state').allTextContents();
    expect(states.slice(0, failed.history.length)).toEqual(failed.history.map((h) => h.state));
    expect(states.length).toBeGreaterThan(failed.history.length);
    await context.close();
  });
});

if (!browserPath) {
  console.warn(
    'Skipping the dashboard browser tests: no Chromium found (tried CHROMIUM_PATH, /usr/bin/chromium, ' +
      '/usr/bin/chromium-browser, /usr/bin/google-chrome). Install it with `apt-get install -y chromium`.',
  );
}
