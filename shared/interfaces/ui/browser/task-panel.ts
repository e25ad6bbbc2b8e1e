/**
 * The job view's tasks: a table of the job's tasks (failed ones first, filtered by state and result,
 * paged with the API's nextLink), a log viewer for one task, and the job's outputs.
 *
 * Failures first: without a result filter the table asks `result=failure` first and then the
 * unfiltered list, leaving out tasks already shown, so a failed job opens on what went wrong.
 * The panel lives as long as the chosen job: the page re-renders the job around it every second,
 * and the panel reloads its first page when the job changes (at most every few seconds, and never
 * once the user has asked for more pages; "Refresh" does it on demand).
 */
import { type ApiCall, belowApi, getJson, jobPath, type Page, type TaskItem } from './api.js';
import { el, shortTime } from './dom.js';
import { createLogViewer } from './log-viewer.js';
import { createOutputsList } from './outputs-list.js';

const PAGE = 50;
/**
 * Empty pages read on before showing the table: a filtered listing may answer an empty page with a
 * nextLink (Batch stops a filtered scan at its time budget).
 */
const MAX_EMPTY_PAGES = 20;
/** The table reloads on its own at most this often while the job changes. */
const RELOAD_EVERY_MS = 5000;
const finalStates = new Set(['completed', 'failed', 'cancelled', 'rejected']);

export interface TaskPanel {
  readonly job: string;
  readonly root: HTMLElement;
  /** The job as the page last read it. */
  update(job: { state: string; updatedAt: string }): void;
}

/** The queries the table reads in turn, and whether a query's tasks may repeat earlier ones. */
function queries(job: string, state: string, result: string): string[] {
  const q = (params: Record<string, string>) => {
    const query = new URLSearchParams(params);
    query.set('limit', String(PAGE));
    return `${jobPath(job)}/tasks?${query}`;
  };
  const byState: Record<string, string> = state ? { state } : {};
  if (result) return [q({ ...byState, result })];
  // Active and running tasks have no result: nothing to put first.
  if (state === 'active' || state === 'running') return [q(byState)];
  return [q({ ...byState, result: 'failure' }), q(byState)];
}

function select(name: string, label: string, options: readonly [string, string][]): HTMLSelectElement {
  const s = el('select', { name, 'aria-label': label });
  for (const [value, text] of options) s.append(el('option', { value }, text));
  return s;
}

export function createTaskPanel(
  call: ApiCall,
  apiBase: string,
  job: string,
  onError: (e: unknown) => void,
): TaskPanel {
  const stateFilter = select('state', 'State', [
    ['', 'all states'],
    ['active', 'active'],
    ['running', 'running'],
    ['completed', 'completed'],
  ]);
  const resultFilter = select('result', 'Result', [
    ['', 'all results'],
    ['failure', 'failure'],
    ['success', 'success'],
  ]);
  const refresh = el('button', { type: 'button', 'data-action': 'refresh' }, 'Refresh');
  const body = el('tbody', {});
  const table = el(
    'table',
    { class: 'tasks' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['Task', 'State', 'Exit', 'Node', 'Retries', 'Start', 'End', 'Logs'].map((h) => el('th', {}, h)),
      ),
    ),
    body,
  );
  const note = el('p', { class: 'muted tasks-note' });
  const more = el('button', { type: 'button', class: 'more', hidden: '' }, 'Show more');
  const viewer = createLogViewer(call, job, onError);
  const outputs = createOutputsList(call, apiBase, job, onError);
  const root = el(
    'div',
    { class: 'task-panel', 'data-job': job },
    el('h3', {}, 'Tasks'),
    el('div', { class: 'task-filters' }, stateFilter, resultFilter, refresh),
    el('div', { class: 'task-scroll' }, table),
    note,
    more,
    viewer.root,
    outputs.root,
  );

  /** Where the table is: the queries, the one being read and its next page. */
  let plan: string[] = [];
  let index = 0;
  let next: string | undefined;
  let shown = new Map<string, TaskItem>();
  let pagesAsked = 0;
  let generation = 0;
  let loadedAt = 0;
  let lastVersion = '';
  let wasFinal = false;

  function row(t: TaskItem): HTMLElement {
    const logs = (['stdout.txt', 'stderr.txt'] as const).map((file) => {
      const button = el(
        'button',
        { type: 'button', class: 'log-open', 'data-file': file },
        file.replace('.txt', ''),
      );
      button.addEventListener('click', () => viewer.open(t.id, file, t.state === 'completed'));
      return button;
    });
    const outcome = t.result ?? (t.state === 'preparing' ? 'preparing' : t.state);
    const retries = `${t.retryCount ?? 0}${t.requeueCount ? ` (+${t.requeueCount} requeued)` : ''}`;
    return el(
      'tr',
      { 'data-task': t.id, class: t.result === 'failure' ? 'task-failure' : '' },
      el('td', { class: 'task-id' }, t.id),
      el(
        'td',
        { title: t.failure ? `${t.failure.code ?? ''}: ${t.failure.message ?? ''}` : '' },
        el('span', { class: `state state-${t.result === 'failure' ? 'failed' : t.state}` }, outcome),
      ),
      el('td', {}, t.exitCode !== undefined ? String(t.exitCode) : ''),
      el('td', { class: 'muted' }, t.nodeId ?? ''),
      el('td', {}, retries),
      el('td', { class: 'muted' }, t.startTime ? shortTime(t.startTime) : ''),
      el('td', { class: 'muted' }, t.endTime ? shortTime(t.endTime) : ''),
      el('td', { class: 'logs' }, ...logs),
    );
  }

  /**
   * Reads the next page (of this query, or the first of the next one) into `into`, and on while
   * pages come back empty with a nextLink; false when all are read or the table was reset meanwhile.
   */
  async function readPage(mine: number, into: HTMLElement): Promise<boolean> {
    for (let empty = 0; ; empty++) {
      const path = next ?? plan[index];
      if (path === undefined) return false;
      const page = await getJson<Page<TaskItem>>(call, path);
      if (mine !== generation) return false;
      const fresh = page.value.filter((t) => !shown.has(t.id));
      for (const t of fresh) shown.set(t.id, t);
      into.append(...fresh.map(row));
      next = page.nextLink ? belowApi(apiBase, page.nextLink) : undefined;
      if (next === undefined) index++;
      if (page.value.length > 0 || next === undefined || empty >= MAX_EMPTY_PAGES) return true;
    }
  }

  function showState(): void {
    const failures = [...shown.values()].filter((t) => t.result === 'failure').length;
    more.hidden = next === undefined && index >= plan.length;
    table.hidden = shown.size === 0;
    note.textContent =
      shown.size === 0
        ? 'No tasks match.'
        : plan.length > 1 && failures > 0
          ? `Failed tasks first (${failures} shown).`
          : '';
  }

  /** The first view: the first page, and while the failures ran out early, the rest's first page. */
  async function reload(): Promise<void> {
    const mine = ++generation;
    plan = queries(job, stateFilter.value, resultFilter.value);
    index = 0;
    next = undefined;
    pagesAsked = 0;
    loadedAt = Date.now();
    const before = shown;
    shown = new Map();
    try {
      // Read into a detached body, so the old rows stay on screen until the new ones are there.
      const fresh = el('tbody', {});
      let ok = await readPage(mine, fresh);
      while (ok && next === undefined && index < plan.length && shown.size < PAGE)
        ok = await readPage(mine, fresh);
      if (mine !== generation) return;
      body.replaceChildren(...fresh.children);
      showState();
      viewer.refresh((id) => {
        const t = shown.get(id);
        return t ? t.state === 'completed' : undefined;
      });
    } catch (e) {
      if (mine !== generation) return;
      shown = before;
      onError(e);
    }
  }

  async function readMore(): Promise<void> {
    const mine = generation;
    pagesAsked++;
    try {
      await readPage(mine, body);
      if (mine === generation) showState();
    } catch (e) {
      if (mine === generation) onError(e);
    }
  }

  stateFilter.addEventListener('change', () => void reload());
  resultFilter.addEventListener('change', () => void reload());
  refresh.addEventListener('click', () => {
    void reload();
    outputs.load();
  });
  more.addEventListener('click', () => void readMore());

  void reload();
  outputs.load();

  return {
    job,
    root,
    update(view) {
      const version = `${view.state}|${view.updatedAt}`;
      if (version === lastVersion) return;
      const firstSeen = lastVersion === '';
      lastVersion = version;
      const final = finalStates.has(view.state);
      // The panel loaded itself when made; then: the job ended (outputs are written at the end), or it moves.
      if (firstSeen) {
        wasFinal = final;
        return;
      }
      const ended = final && !wasFinal;
      wasFinal = final;
      if (pagesAsked > 0 && !ended) return;
      if (ended || Date.now() - loadedAt >= RELOAD_EVERY_MS) {
        void reload();
        if (ended) outputs.load();
      }
    },
  };
}
