/**
 * Serving the dashboard (`GET /api/ui`, `GET /api/ui/{asset}`): the page itself and the two assets
 * `npm run build` bundles into `dist/shared/interfaces/ui/static/` (app.js, app.css).
 *
 * The page holds no data and needs no key: it calls the JSON API from the browser with the key the
 * user typed or put in the URL fragment, which never reaches the server. A strict Content-Security-
 * Policy allows only this origin's script, style and API, so a job name can never run as code.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { HttpResponseInit } from '@azure/functions';
import { SlotwiseError } from '../../core/errors.js';

/** A Map, not an object: `constructor` or `__proto__` must not find something inherited. */
const assets: ReadonlyMap<string, string> = new Map([
  ['app.js', 'text/javascript; charset=utf-8'],
  ['app.css', 'text/css; charset=utf-8'],
]);

const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Where the built assets are: beside this module once compiled (`dist/shared/interfaces/ui/static/`); when
 * this module runs from source (tests, the dev host under vitest), in `dist/` of the repository,
 * which `npm run build` fills.
 */
export function uiAssetDirectory(): URL {
  const built = new URL('./static/', import.meta.url);
  if (existsSync(new URL('app.js', built))) return built;
  const fromSource = new URL('../../../dist/shared/interfaces/ui/static/', import.meta.url);
  if (existsSync(new URL('app.js', fromSource))) return fromSource;
  throw new SlotwiseError('UiNotBuilt', 'The dashboard assets are missing: run `npm run build`.');
}

/**
 * The answer for `ui` (asset empty) and `ui/{asset}`. `requestPath` is the URL path as received (e.g. `/api/ui/`), so the
 * page links its assets and the API below the same prefix whatever host.json's routePrefix is.
 */
export async function serveUi(
  requestPath: string,
  asset: string,
  ifNoneMatch: string | null,
): Promise<HttpResponseInit> {
  const apiBase = requestPath.replace(/\/ui(?:\/.*)?$/i, '');
  if (asset === '' || asset === 'index.html') {
    return {
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        ...securityHeaders,
      },
      body: dashboardPage(apiBase),
    };
  }
  const type = assets.get(asset);
  if (type === undefined) {
    return {
      status: 404,
      headers: { 'content-type': 'text/plain; charset=utf-8', ...securityHeaders },
      body: 'Not found',
    };
  }
  let content: Buffer;
  try {
    content = await readFile(new URL(asset, uiAssetDirectory()));
  } catch (e) {
    // A half-built bundle: say what to do, never where on disk (fs errors quote the absolute path).
    const message =
      e instanceof SlotwiseError ? e.message : 'The dashboard assets are incomplete: run `npm run build`.';
    return { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: message };
  }
  const etag = `"${createHash('sha256').update(content).digest('base64url').slice(0, 22)}"`;
  // Revalidated on every load (a new build must show at once), answered 304 when unchanged.
  const headers = { 'content-type': type, 'cache-control': 'no-cache', etag, ...securityHeaders };
  if (ifNoneMatch === etag) return { status: 304, headers };
  return { status: 200, headers, body: content };
}

/** The page: a shell the script fills. `apiBase` is HTML-escaped (it comes from the request URL). */
export function dashboardPage(apiBase: string): string {
  const base = escapeHtml(apiBase);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Slotwise</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/ui/app.css">
<script type="module" src="${base}/ui/app.js"></script>
</head>
<body data-api="${base}">
<header class="top">
  <h1>Slotwise</h1>
  <span class="muted" id="status" role="status"></span>
  <button type="button" id="forget" hidden>Forget key</button>
</header>
<div id="key-switch" class="notice key-switch" role="alertdialog" aria-labelledby="key-switch-text" hidden>
  <p id="key-switch-text">This link carries a different API key from the one this tab uses, so it may show another tenant's jobs. This tab keeps its current key unless you switch.</p>
  <button type="button" id="key-switch-use">Use the link's key</button>
  <button type="button" id="key-switch-keep">Keep the current key</button>
</div>
<form id="key-form" class="key-form" hidden>
  <label for="key">Tenant API key</label>
  <input id="key" name="key" type="password" autocomplete="off" required>
  <button type="submit">Open</button>
  <p class="muted">Kept in this tab's session storage only. You can also open <code>${base}/ui#key=&lt;key&gt;</code>: the part after <code>#</code> never leaves the browser.</p>
  <p class="error" id="key-error" hidden></p>
</form>
<main id="main" hidden>
  <section class="jobs"><h2>Jobs</h2><table id="jobs"><thead><tr><th>Job</th><th>State</th><th>Progress</th><th>Created</th></tr></thead><tbody></tbody></table><p class="muted" id="jobs-empty" hidden>No jobs yet.</p></section>
  <section class="detail" id="detail"><p class="muted">Choose a job.</p></section>
</main>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
