/**
 * A job's outputs in the results store: path, size, when written, and a download (fetched with the
 * key and handed to the browser as a file, since a plain link would carry no key). Paged with the
 * API's nextLink ("Show more").
 */

import { formatBytes } from '../format.js';
import {
  type ApiCall,
  belowApi,
  encodePath,
  getJson,
  jobPath,
  type OutputItem,
  type Page,
  problemError,
} from './api.js';
import { el, saveBlob, shortTime } from './dom.js';

const PAGE = 50;

export interface OutputsList {
  readonly root: HTMLElement;
  load(): void;
}

export function createOutputsList(
  call: ApiCall,
  apiBase: string,
  job: string,
  onError: (e: unknown) => void,
): OutputsList {
  const body = el('tbody', {});
  const table = el(
    'table',
    { class: 'outputs' },
    el('thead', {}, el('tr', {}, ...['Path', 'Size', 'Modified', ''].map((h) => el('th', {}, h)))),
    body,
  );
  const note = el('p', { class: 'muted outputs-note' });
  const more = el('button', { type: 'button', class: 'more', hidden: '' }, 'Show more');
  const root = el('div', { class: 'outputs-list' }, el('h3', {}, 'Outputs'), table, note, more);
  let next: string | undefined;
  let generation = 0;

  function row(o: OutputItem): HTMLElement {
    const link = el('a', { href: '#', class: 'download' }, 'Download');
    link.addEventListener('click', (event) => {
      event.preventDefault();
      void (async () => {
        const response = await call(`${jobPath(job)}/outputs/${encodePath(o.path)}`, { accept: '*/*' });
        if (!response.ok) throw await problemError(response);
        saveBlob(await response.blob(), o.path.split('/').pop() || 'output');
      })().catch(onError);
    });
    return el(
      'tr',
      { 'data-path': o.path },
      el('td', { class: 'path' }, o.path),
      el('td', { title: `${o.size} bytes` }, formatBytes(o.size)),
      el('td', { class: 'muted' }, o.lastModified ? shortTime(o.lastModified) : ''),
      el('td', {}, link),
    );
  }

  async function fetchPage(path: string, fresh: boolean): Promise<void> {
    const mine = fresh ? ++generation : generation;
    try {
      const page = await getJson<Page<OutputItem>>(call, path);
      if (mine !== generation) return;
      if (fresh) body.replaceChildren();
      body.append(...page.value.map(row));
      next = page.nextLink ? belowApi(apiBase, page.nextLink) : undefined;
      more.hidden = next === undefined;
      note.textContent = body.childElementCount === 0 ? 'No outputs (yet).' : '';
      table.hidden = body.childElementCount === 0;
    } catch (e) {
      if (mine === generation) onError(e);
    }
  }

  more.addEventListener('click', () => {
    if (next) void fetchPage(next, false);
  });

  return {
    root,
    load: () => void fetchPage(`${jobPath(job)}/outputs?limit=${PAGE}`, true),
  };
}
