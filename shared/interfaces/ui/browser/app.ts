/**
 * The dashboard in the browser: the tenant's jobs with state and progress, and for one job its
 * counts, pool, plan, packing picture, waiting reason, failure, deliveries and history.
 *
 * The key comes from the URL fragment (`#key=…`, which browsers never send to the server) or the
 * form, is kept in sessionStorage (gone when the tab closes) and goes to the API only in the
 * `Authorization` header. It is removed from the address bar at once so it stays out of history.
 * A link whose key differs from the one the tab already uses does not replace it silently (a link
 * could otherwise switch the dashboard to another tenant's jobs unnoticed): the page asks first.
 * Everything from the API is written with textContent, never as HTML.
 */
import type { JobView } from '../../../model/job-view.js';
import { type PackingPicture, tryPackingPicture } from '../packing-picture.js';
import { getJson, makeApiCall, Unauthorized } from './api.js';
import { byId, el, shortTime } from './dom.js';
import { createTaskPanel, type TaskPanel } from './task-panel.js';

const KEY_ITEM = 'slotwise.apiKey';
const LIST_EVERY_MS = 2000;
const JOB_EVERY_MS = 1000;
/** A job in a final state is fetched again this often at least (it may be retried, or get deliveries). */
const FINAL_EVERY_MS = 10_000;
const MAX_KINDS_DRAWN = 24;
const finalStates = new Set(['completed', 'failed', 'cancelled', 'rejected']);

const apiBase = document.body.dataset.api ?? '/api';

const call = makeApiCall(apiBase, () => sessionStorage.getItem(KEY_ITEM));

/** The chosen job's tasks, logs and outputs: kept while the same job stays chosen. */
let taskPanel: TaskPanel | undefined;

/** A key from a link, waiting for the user to accept it in place of the tab's own (memory only). */
let offeredKey: string | undefined;

/**
 * Reads `#key=…&job=…` and leaves only `job` in the address bar. The key is stored when the tab has
 * none (or the same one); a different one is only offered, and the page keeps the current key until
 * the user says otherwise.
 */
function takeFragment(): { job?: string } {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get('key');
  if (params.has('key')) {
    params.delete('key');
    history.replaceState(
      null,
      '',
      `${location.pathname}${location.search}${params.size > 0 ? `#${params}` : ''}`,
    );
  }
  if (key) {
    const current = sessionStorage.getItem(KEY_ITEM);
    if (current && current !== key) offerKey(key);
    else sessionStorage.setItem(KEY_ITEM, key);
  }
  const job = params.get('job');
  return job ? { job } : {};
}

function offerKey(key: string | undefined): void {
  offeredKey = key;
  byId('key-switch').hidden = key === undefined;
}

function selectedJob(): string | undefined {
  return new URLSearchParams(location.hash.slice(1)).get('job') ?? undefined;
}

// ---------- rendering ----------

function stateBadge(state: string): HTMLElement {
  return el('span', { class: `state state-${state}` }, state);
}

function total(job: JobView): number {
  const c = job.taskCounts;
  return Math.max(job.tasks ?? 0, c.active + c.running + c.succeeded + c.failed);
}

/** A bar of succeeded, failed, running and active tasks over all tasks. */
function progressBar(job: JobView): HTMLElement {
  const all = Math.max(1, total(job));
  const c = job.taskCounts;
  const bar = el('div', { class: 'progress', role: 'img' });
  bar.setAttribute(
    'aria-label',
    `${c.succeeded} succeeded, ${c.failed} failed, ${c.running} running, ${c.active} active of ${total(job)}`,
  );
  for (const [name, n] of [
    ['succeeded', c.succeeded],
    ['failed', c.failed],
    ['running', c.running],
    ['active', c.active],
  ] as const) {
    if (n === 0) continue;
    const part = el('span', { class: `part part-${name}`, title: `${n} ${name}` });
    part.style.width = `${(100 * n) / all}%`;
    bar.append(part);
  }
  return bar;
}

function renderList(jobs: readonly JobView[]): void {
  const body = byId<HTMLTableElement>('jobs').tBodies[0]!;
  const chosen = selectedJob();
  body.replaceChildren(
    ...jobs.map((job) => {
      const done = job.taskCounts.succeeded + job.taskCounts.failed;
      const row = el(
        'tr',
        { 'data-job': job.id, class: job.id === chosen ? 'chosen' : '' },
        el('td', {}, el('a', { href: `#job=${encodeURIComponent(job.id)}` }, job.displayName ?? job.id)),
        el(
          'td',
          {},
          stateBadge(job.state),
          job.waiting
            ? el(
                'span',
                { class: 'state state-waiting', title: job.waiting.message },
                job.waiting.failAt ? 'waiting for nodes' : 'waiting for room',
              )
            : undefined,
        ),
        el(
          'td',
          { class: 'progress-cell' },
          progressBar(job),
          el('span', { class: 'muted' }, `${done}/${total(job)}`),
        ),
        el('td', { class: 'muted' }, shortTime(job.createdAt)),
      );
      return row;
    }),
  );
  byId('jobs-empty').hidden = jobs.length > 0;
}

function fact(label: string, value: Node | string | undefined): HTMLElement | undefined {
  return value === undefined
    ? undefined
    : el('div', { class: 'fact' }, el('dt', {}, label), el('dd', {}, value));
}

function renderDetail(job: JobView): void {
  const c = job.taskCounts;
  const plan = job.plan;
  const sections: (HTMLElement | undefined)[] = [
    el('h2', {}, job.displayName ? `${job.displayName} (${job.id})` : job.id, ' ', stateBadge(job.state)),
    el(
      'div',
      { class: 'counts' },
      ...(['active', 'running', 'succeeded', 'failed'] as const).map((name) =>
        el('div', { class: `count count-${name}`, 'data-count': name }, el('b', {}, String(c[name])), name),
      ),
    ),
    progressBar(job),
  ];
  if (job.waiting) {
    sections.push(
      el(
        'div',
        { class: 'notice waiting', 'data-waiting': job.waiting.code },
        el('strong', {}, `Waiting: ${job.waiting.code}`),
        el('p', {}, job.waiting.message),
        el(
          'p',
          { class: 'muted' },
          job.waiting.failAt
            ? `since ${shortTime(job.waiting.since)}; fails at ${shortTime(job.waiting.failAt)} unless nodes come`
            : `since ${shortTime(job.waiting.since)}; tried again until there is room`,
        ),
      ),
    );
  }
  if (job.failure) {
    sections.push(
      el(
        'div',
        { class: 'notice failure' },
        el('strong', {}, `Failed: ${job.failure.code}`),
        el('p', {}, job.failure.message),
        job.failure.failedTasks && job.failure.failedTasks.length > 0
          ? el(
              'ul',
              {},
              ...job.failure.failedTasks
                .slice(0, 20)
                .map((t) =>
                  el('li', {}, `${t.taskId}${t.exitCode !== undefined ? ` exited ${t.exitCode}` : ''}`),
                ),
            )
          : undefined,
      ),
    );
  }
  if (job.errors && job.errors.length > 0) {
    sections.push(
      el(
        'div',
        { class: 'notice failure' },
        el('strong', {}, 'Rejected'),
        el(
          'ul',
          {},
          ...job.errors.map((e) => el('li', {}, e.field ? `${e.field}: ${e.message}` : e.message)),
        ),
      ),
    );
  }
  const headCount = sections.length;
  const pool = job.pool ? ('id' in job.pool ? `existing pool ${job.pool.id}` : job.pool.vmSize) : undefined;
  sections.push(
    el('h3', {}, 'Pool'),
    el(
      'dl',
      { class: 'facts' },
      fact('asked for', pool),
      fact(
        'Batch pool',
        job.batch ? `${job.batch.poolId}${job.batch.managedPool ? ' (managed)' : ''}` : undefined,
      ),
      fact('Batch job', job.batch?.jobId),
      fact('created', shortTime(job.createdAt)),
      fact('ended', job.endedAt ? shortTime(job.endedAt) : undefined),
    ),
  );
  if (plan) {
    sections.push(
      el('h3', {}, 'Plan'),
      el(
        'dl',
        { class: 'facts' },
        fact('nodes', `${plan.nodes} (lower bound ${plan.lowerBound})`),
        fact('slots per node', `${plan.taskSlotsPerNode} on ${plan.vmSize}`),
        fact('slots used', `${plan.totalSlots} of ${plan.nodes * plan.taskSlotsPerNode}`),
        fact('pool nodes', String(plan.poolNodes)),
        fact('waves', String(plan.waves)),
        fact('packages', `${plan.applicationPackages.placement}: ${plan.applicationPackages.reason}`),
        fact('images', plan.containerImages.length > 0 ? plan.containerImages.join(', ') : undefined),
      ),
      el('h3', {}, 'Packing'),
      packingFigure(plan),
    );
  }
  sections.push(el('h3', {}, 'Deliveries'), deliveriesTable(job));
  sections.push(
    el('h3', {}, 'History'),
    el(
      'ol',
      { class: 'history' },
      // A note (a bad node removed or reported) reads as text beside the state the job was in.
      ...job.history.map((h) =>
        el('li', {}, stateBadge(h.state), ` ${shortTime(h.at)}`, h.note ? ` — ${h.note.message}` : undefined),
      ),
    ),
  );
  const shown = (list: (HTMLElement | undefined)[]) => list.filter((s): s is HTMLElement => s !== undefined);
  // The task panel sits between the job's head and the rest and is never detached while the job
  // stays chosen, so its filters, scroll and open log survive the re-render every second.
  if (taskPanel?.job !== job.id) taskPanel = createTaskPanel(call, apiBase, job.id, panelError);
  const detail = byId('detail');
  let head = detail.querySelector<HTMLElement>(':scope > .detail-head');
  let rest = detail.querySelector<HTMLElement>(':scope > .detail-rest');
  if (!head || !rest || taskPanel.root.parentElement !== detail) {
    head = el('div', { class: 'detail-head' });
    rest = el('div', { class: 'detail-rest' });
    detail.replaceChildren(head, taskPanel.root, rest);
  }
  head.replaceChildren(...shown(sections.slice(0, headCount)));
  rest.replaceChildren(...shown(sections.slice(headCount)));
  taskPanel.update(job);
}

/** An error inside the task panel: a refused key asks for the key again; others go to the status line. */
function panelError(e: unknown): void {
  if (e instanceof Unauthorized) {
    sessionStorage.removeItem(KEY_ITEM);
    if (timer !== undefined) clearTimeout(timer);
    forgetJobView();
    showKeyForm('That key was refused.');
    return;
  }
  status(`cannot load: ${e instanceof Error ? e.message : String(e)}`);
}

/** Clears the chosen job's pane and its task panel. */
function forgetJobView(): void {
  taskPanel = undefined;
  byId('detail').replaceChildren(el('p', { class: 'muted' }, 'Choose a job.'));
}

/** Nodes × slots: one row per kind of node (with how many look alike), each task a block as wide as its slots. */
function packingFigure(plan: NonNullable<JobView['plan']>): HTMLElement {
  const picture: PackingPicture | undefined = tryPackingPicture(plan);
  if (!picture) return el('p', { class: 'muted' }, 'No packing picture for this plan.');
  const rows = picture.kinds.slice(0, MAX_KINDS_DRAWN).map((kind) => {
    const node = el('div', { class: 'node', title: `${kind.used} of ${picture.slotsPerNode} slots used` });
    kind.tasks.forEach((slots) => {
      const block = el('span', {
        class: 'task',
        'data-slots': String(slots),
        title: `a task of ${slots} slot${slots === 1 ? '' : 's'}`,
      });
      block.style.flexGrow = String(slots);
      block.style.setProperty('--hue', String((slots * 47) % 360));
      if (slots > 1 && picture.slotsPerNode <= 64) block.textContent = String(slots);
      node.append(block);
    });
    const free = picture.slotsPerNode - kind.used;
    if (free > 0) {
      const gap = el('span', { class: 'free', title: `${free} free slot${free === 1 ? '' : 's'}` });
      gap.style.flexGrow = String(free);
      node.append(gap);
    }
    // Slot ticks: one cell per slot behind the blocks, when they are wide enough to see.
    if (picture.slotsPerNode <= 64) node.style.setProperty('--slots', String(picture.slotsPerNode));
    return el(
      'div',
      { class: 'node-row', 'data-nodes': String(kind.count) },
      el('span', { class: 'node-count' }, `${kind.count} ×`),
      node,
    );
  });
  const hidden = picture.kinds.slice(MAX_KINDS_DRAWN);
  const hiddenNodes = hidden.reduce((n, k) => n + k.count, 0);
  return el(
    'figure',
    { class: 'packing', 'data-nodes': String(picture.nodes), 'data-tasks': String(picture.tasks) },
    ...rows,
    hidden.length > 0
      ? el('p', { class: 'muted' }, `… ${hidden.length} more kinds of node (${hiddenNodes} nodes)`)
      : undefined,
    el(
      'figcaption',
      { class: 'muted' },
      `${picture.tasks} tasks in ${picture.nodes} node${picture.nodes === 1 ? '' : 's'} of ${picture.slotsPerNode} slots; ` +
        `${picture.usedSlots} of ${picture.nodes * picture.slotsPerNode} slots used` +
        (plan.waves > 1 ? `; the pool runs ${plan.poolNodes} at a time (${plan.waves} waves)` : ''),
    ),
  );
}

function deliveriesTable(job: JobView): HTMLElement {
  if (job.deliveries.length === 0) {
    return el('p', { class: 'muted' }, job.callback ? 'None yet.' : 'No callback URL: nothing is delivered.');
  }
  return el(
    'table',
    { class: 'deliveries' },
    el(
      'thead',
      {},
      el('tr', {}, ...['Event', 'Status', 'Attempts', 'Last answer', 'When'].map((h) => el('th', {}, h))),
    ),
    el(
      'tbody',
      {},
      ...job.deliveries.map((d) =>
        el(
          'tr',
          { 'data-event': d.eventId },
          el('td', {}, d.type),
          el('td', {}, el('span', { class: `delivery delivery-${d.status}` }, d.status)),
          el('td', {}, String(d.attempts)),
          el(
            'td',
            {},
            [d.lastStatus !== undefined ? String(d.lastStatus) : '', d.lastError ?? '']
              .filter(Boolean)
              .join(' '),
          ),
          el(
            'td',
            { class: 'muted' },
            d.deliveredAt
              ? shortTime(d.deliveredAt)
              : d.nextAttemptAt
                ? `next ${shortTime(d.nextAttemptAt)}`
                : '',
          ),
        ),
      ),
    ),
  );
}

// ---------- the loop ----------

function showKeyForm(message?: string): void {
  byId('main').hidden = true;
  byId('forget').hidden = true;
  byId('key-form').hidden = false;
  const error = byId('key-error');
  error.hidden = message === undefined;
  error.textContent = message ?? '';
}

function status(text: string): void {
  byId('status').textContent = text;
}

let timer: ReturnType<typeof setTimeout> | undefined;
let lastListAt = 0;
/** Each listed job's `state|updatedAt`, as of the last list. */
let listed = new Map<string, string>();
/** The job in the detail pane: its `state|updatedAt`, whether that state is final, when it was fetched. */
let lastDetail: { id: string; version: string; final: boolean; at: number } | undefined;

const versionOf = (job: { state: string; updatedAt: string }) => `${job.state}|${job.updatedAt}`;

/**
 * Whether the chosen job's detail is due: always while it can change; in a final state (which a retry
 * leaves, and deliveries still follow) when the list shows it changed since, or every FINAL_EVERY_MS
 * (a job beyond the list's first page).
 */
function detailDue(id: string, now: number): boolean {
  if (!lastDetail || lastDetail.id !== id || !lastDetail.final) return true;
  if (lastListAt > lastDetail.at && (listed.get(id) ?? lastDetail.version) !== lastDetail.version)
    return true;
  return now - lastDetail.at >= FINAL_EVERY_MS;
}

async function refresh(): Promise<void> {
  const key = sessionStorage.getItem(KEY_ITEM);
  if (!key) return showKeyForm();
  byId('key-form').hidden = true;
  byId('main').hidden = false;
  byId('forget').hidden = false;
  try {
    if (Date.now() - lastListAt >= LIST_EVERY_MS) {
      const page = await getJson<{ value: JobView[] }>(call, '/jobs?limit=50');
      renderList(page.value);
      listed = new Map(page.value.map((job) => [job.id, versionOf(job)]));
      lastListAt = Date.now();
    }
    const id = selectedJob();
    if (id && detailDue(id, Date.now())) {
      const job = await getJson<JobView>(call, `/jobs/${encodeURIComponent(id)}`);
      renderDetail(job);
      lastDetail = { id, version: versionOf(job), final: finalStates.has(job.state), at: Date.now() };
    }
    status(`updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    if (e instanceof Unauthorized) {
      sessionStorage.removeItem(KEY_ITEM);
      forgetJobView();
      return showKeyForm('That key was refused.');
    }
    status(`cannot load: ${e instanceof Error ? e.message : String(e)}`);
  }
  timer = setTimeout(() => void refresh(), JOB_EVERY_MS);
}

function restart(): void {
  if (timer !== undefined) clearTimeout(timer);
  void refresh();
}

byId<HTMLFormElement>('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = byId<HTMLInputElement>('key');
  if (!input.value) return;
  const key = input.value;
  input.value = '';
  offerKey(undefined);
  useKey(key);
});

/** Switches to another key: nothing shown for the old one may stay on screen. */
function useKey(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key);
  lastListAt = 0;
  lastDetail = undefined;
  listed = new Map();
  byId<HTMLTableElement>('jobs').tBodies[0]!.replaceChildren();
  forgetJobView();
  restart();
}

byId('key-switch-use').addEventListener('click', () => {
  const key = offeredKey;
  offerKey(undefined);
  if (key) useKey(key);
});

byId('key-switch-keep').addEventListener('click', () => offerKey(undefined));

byId('forget').addEventListener('click', () => {
  offerKey(undefined);
  sessionStorage.removeItem(KEY_ITEM);
  if (timer !== undefined) clearTimeout(timer);
  forgetJobView();
  showKeyForm();
});

window.addEventListener('hashchange', () => {
  const { job } = takeFragment();
  lastDetail = undefined;
  lastListAt = 0;
  if (!job) forgetJobView();
  restart();
});

takeFragment();
restart();
