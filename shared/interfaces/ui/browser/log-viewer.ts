/**
 * One task's `stdout.txt` or `stderr.txt`, as text: its last 256 KiB in a `<pre>` (set with
 * textContent, so `<script>` in a log is shown, never run or rendered), scrolled to the end where
 * the failure usually is; a switch between the two files; a download of the whole file.
 *
 * The API answers at most 4 MiB per request and `Range: bytes=a-b`; the tail is read as the head
 * (which is everything for a small log) and then, for a larger one, its last bytes.
 */

import { formatBytes } from '../format.js';
import { type ApiCall, jobPath, problemError } from './api.js';
import { el, saveBlob } from './dom.js';

const TAIL_BYTES = 256 * 1024;
const files = ['stdout.txt', 'stderr.txt'] as const;
type LogFile = (typeof files)[number];

interface Part {
  readonly status: number;
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly total?: number;
}

async function readPart(call: ApiCall, path: string, start: number, end?: number): Promise<Part | undefined> {
  const response = await call(path, { range: `bytes=${start}-${end ?? ''}`, accept: 'text/plain' });
  if (response.status === 404) return undefined;
  if (response.status === 416) return { status: 416, bytes: new Uint8Array(), start };
  if (!response.ok) throw await problemError(response);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const range = /^bytes (\d+)-\d+\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (response.status === 206 && range)
    return { status: 206, bytes, start: Number(range[1]), total: Number(range[2]) };
  // 200: the whole file (a server that ignored Range).
  return { status: 200, bytes, start: 0, total: bytes.length };
}

export interface LogViewer {
  readonly root: HTMLElement;
  open(task: string, file: LogFile, taskDone: boolean): void;
  /**
   * Reads the log again when its task was still running at the last read; `isDone` tells what the
   * task table knows of the task now (undefined: not on the table).
   */
  refresh(isDone: (task: string) => boolean | undefined): void;
}

export function createLogViewer(call: ApiCall, job: string, onError: (e: unknown) => void): LogViewer {
  let task = '';
  let file: LogFile = 'stdout.txt';
  let done = false;
  let generation = 0;

  const title = el('strong', {});
  const switches = files.map((name) =>
    el('button', { type: 'button', 'data-file': name, 'aria-pressed': 'false' }, name.replace('.txt', '')),
  );
  const download = el('a', { href: '#', class: 'download' }, 'Download');
  const reload = el('button', { type: 'button', 'data-action': 'reload' }, 'Reload');
  const close = el('button', { type: 'button', 'data-action': 'close' }, 'Close');
  const note = el('p', { class: 'muted log-note' });
  const pre = el('pre', { class: 'log', tabindex: '0' });
  const root = el(
    'div',
    { class: 'log-viewer', hidden: '' },
    el('div', { class: 'log-head' }, title, ...switches, download, reload, close),
    note,
    pre,
  );

  const path = () => `${jobPath(job)}/tasks/${encodeURIComponent(task)}/files/${file}`;

  async function load(): Promise<void> {
    const mine = ++generation;
    root.dataset.task = task;
    root.dataset.file = file;
    title.textContent = `Task ${task}`;
    for (const s of switches) s.setAttribute('aria-pressed', String(s.dataset.file === file));
    download.textContent = `Download ${file}`;
    root.dataset.loading = 'true';
    try {
      let part = await readPart(call, path(), 0, TAIL_BYTES - 1);
      if (part?.total !== undefined && part.start + part.bytes.length < part.total) {
        part = await readPart(call, path(), Math.max(0, part.total - TAIL_BYTES), part.total - 1);
      }
      if (mine !== generation) return;
      if (!part) {
        pre.textContent = '';
        note.textContent = `No ${file} (yet): the task has not started, or its logs were not kept.`;
      } else {
        let text = new TextDecoder().decode(part.bytes);
        const cut = part.start > 0;
        // Started inside a line: show whole lines only.
        if (cut) text = text.slice(text.indexOf('\n') + 1);
        pre.textContent = text;
        note.textContent =
          part.bytes.length === 0
            ? `${file} is empty.`
            : cut
              ? `The last ${formatBytes(part.bytes.length)} of ${formatBytes(part.total ?? 0)}; download for all of it.`
              : '';
        // The end of a log is where a failure shows: start there.
        pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) {
      if (mine === generation) onError(e);
    } finally {
      if (mine === generation) delete root.dataset.loading;
    }
  }

  /** The whole file, part after part (each answer is at most 4 MiB). */
  async function saveAll(): Promise<void> {
    const parts: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      const part = await readPart(call, path(), at);
      if (!part || part.status === 416) break;
      parts.push(part.bytes.subarray(Math.max(0, at - part.start)));
      at = part.start + part.bytes.length;
      if (part.total === undefined || at >= part.total || part.bytes.length === 0) break;
    }
    saveBlob(new Blob(parts as BlobPart[], { type: 'text/plain' }), `${task}-${file}`);
  }

  for (const s of switches) {
    s.addEventListener('click', () => {
      file = s.dataset.file as LogFile;
      void load();
    });
  }
  reload.addEventListener('click', () => void load());
  close.addEventListener('click', () => {
    generation++;
    root.hidden = true;
  });
  download.addEventListener('click', (event) => {
    event.preventDefault();
    saveAll().catch(onError);
  });

  return {
    root,
    open(t, f, taskDone) {
      task = t;
      file = f;
      done = taskDone;
      root.hidden = false;
      root.scrollIntoView({ block: 'nearest' });
      void load();
    },
    refresh(isDone) {
      if (root.hidden || done) return;
      // One more read after the task completes, for the last of its output.
      done = isDone(task) ?? false;
      void load();
    },
  };
}
