/**
 * The dashboard's task view against the real local stack, in headless Chromium: a failed job opens
 * with its failed task first, and that task's stderr (markup included) is shown as text.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uiAssetDirectory } from '../../shared/interfaces/ui/serve.js';
import { type SlotwiseStack, startSlotwise, TEST_API_KEY, waitForJobState } from '../support/stack.js';

/** Debian's package first, as `.ci/run` installs it; `CHROMIUM_PATH` for other machines. */
const browserPath = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
]
  .filter((p): p is string => Boolean(p))
  .find((p) => existsSync(p));

let stack: SlotwiseStack;
let browser: Browser | undefined;

beforeAll(async () => {
  uiAssetDirectory(); // throws "run npm run build" when the bundle is missing
  stack = await startSlotwise();
  if (browserPath)
    browser = await chromium.launch({
      executablePath: browserPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe.skipIf(!browserPath)('the task view on the local stack', () => {
  it('shows the failed task first and its stderr as text', async () => {
    const res = await stack.request('/jobs', {
      method: 'POST',
      body: JSON.stringify({
        id: 'ui-tasks',
        pool: { vmSize: 'standard_d2s_v3', maxNodes: 1 },
        tasks: [
          ...Array.from({ length: 5 }, (_, i) => ({ id: `ok-${i}`, commandLine: 'echo fine' })),
          {
            id: 'zz-bad',
            commandLine: `/bin/sh -c "echo '<script>globalThis.__pwned = 1</script>' >&2; exit 4"`,
          },
        ],
      }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    await waitForJobState(stack, 'ui-tasks', ['failed'], 60_000);

    const context = await browser!.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${stack.host.url}/api/ui#key=${TEST_API_KEY}&job=ui-tasks`);
    const rows = page.locator('.task-panel table.tasks tbody tr');
    await rows.nth(5).waitFor();
    // Sorted by id the failed task would be last; it comes first.
    expect(await rows.first().getAttribute('data-task')).toBe('zz-bad');
    expect(await rows.first().locator('td').nth(2).textContent()).toBe('4');
    expect(await rows.count()).toBe(6);

    await page.click('tr[data-task="zz-bad"] button[data-file="stderr.txt"]');
    const pre = page.locator('.log-viewer[data-file="stderr.txt"]:not([data-loading]) pre.log');
    await pre.waitFor();
    expect(await pre.textContent()).toBe('<script>globalThis.__pwned = 1</script>\n');
    expect(await pre.evaluate((p) => p.childElementCount)).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});

if (!browserPath) {
  console.warn(
    'Skipping the task view browser test on the local stack: no Chromium found (see test/ui/dashboard.test.ts).',
  );
}
