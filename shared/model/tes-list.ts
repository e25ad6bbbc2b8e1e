/**
 * `GET /tasks` query parameters (ga4gh/task-execution-schemas @ v1.1, ListTasks): `name_prefix`,
 * `state`, `tag_key`/`tag_value`, `page_size`, `page_token`, `view`. Unknown parameters are ignored
 * (clients add their own, such as cache busters); a parameter Slotwise reads once, given twice, is
 * an error rather than a guess.
 */
import { z } from 'zod';
import { type FieldError, fieldError } from './field-error.js';
import { TES_LIMITS } from './tes-schema.js';
import { TES_STATES, type TesState } from './tes-task.js';
import { parseTesView, type TesView } from './tes-views.js';

/** The spec: "Must be less than 2048. Defaults to 256." */
export const TES_DEFAULT_PAGE_SIZE = 256;
export const TES_MAX_PAGE_SIZE = 2047;

/**
 * Where the next page starts. Tasks are listed newest first: `creationTime` descending, then `id`
 * descending (ids break ties between tasks created in the same millisecond). The cursor is the last
 * task of the page; the next page holds the tasks strictly after it in that order:
 * `creationTime < c.creationTime OR (creationTime = c.creationTime AND id < c.id)`. The document's
 * `sortKey` (`creationTime|id`, tes-task.ts) orders the same way while every creationTime has one
 * width (`Date.toISOString`), so a store may page on `sortKey < '<creationTime>|<id>'`.
 * On the wire it is opaque: base64url of its JSON.
 */
export interface TesPageCursor {
  readonly creationTime: string;
  readonly id: string;
}

export interface TesListQuery {
  readonly namePrefix?: string;
  readonly state?: TesState;
  /** `[key, value]` pairs; value '' matches any value (see tagFilterMatches). */
  readonly tags: readonly (readonly [string, string])[];
  readonly pageSize: number;
  readonly after?: TesPageCursor;
  readonly view: TesView;
}

export type TesListQueryResult =
  | { readonly ok: true; readonly query: TesListQuery }
  | { readonly ok: false; readonly errors: FieldError[] };

const cursorSchema = z.strictObject({
  creationTime: z.iso.datetime({ offset: true }),
  id: z.string().min(1).max(1024),
});

export function encodeTesPageToken(cursor: TesPageCursor): string {
  return Buffer.from(JSON.stringify({ creationTime: cursor.creationTime, id: cursor.id }), 'utf8').toString(
    'base64url',
  );
}

/** The cursor a token stands for, or undefined when it is not one Slotwise issued. */
function decodeTesPageToken(token: string): TesPageCursor | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = cursorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  // Only the exact encoding Slotwise writes: no second spelling of one cursor.
  return encodeTesPageToken(parsed.data) === token ? parsed.data : undefined;
}

export function parseTesListQuery(query: URLSearchParams): TesListQueryResult {
  const errors: FieldError[] = [];
  const single = (name: string): string | undefined => {
    const values = query.getAll(name);
    if (values.length > 1) errors.push(fieldError([name], 'must be given at most once'));
    return values[0];
  };

  const namePrefix = single('name_prefix');

  const stateText = single('state');
  let state: TesState | undefined;
  if (stateText !== undefined && stateText !== '') {
    if ((TES_STATES as readonly string[]).includes(stateText)) state = stateText as TesState;
    else errors.push(fieldError(['state'], `must be one of ${TES_STATES.join(', ')}`));
  }

  const pageSizeText = single('page_size');
  let pageSize = TES_DEFAULT_PAGE_SIZE;
  if (pageSizeText !== undefined && pageSizeText !== '') {
    const n = /^\d{1,9}$/.test(pageSizeText) ? Number(pageSizeText) : Number.NaN;
    if (n >= 1 && n <= TES_MAX_PAGE_SIZE) pageSize = n;
    else errors.push(fieldError(['page_size'], `must be an integer from 1 to ${TES_MAX_PAGE_SIZE}`));
  }

  const token = single('page_token');
  let after: TesPageCursor | undefined;
  if (token !== undefined && token !== '') {
    after = decodeTesPageToken(token);
    if (!after) {
      errors.push(fieldError(['page_token'], 'is not a next_page_token this service issued'));
    }
  }

  const viewText = single('view');
  const view = parseTesView(viewText ?? null);
  if (!view) errors.push(fieldError(['view'], 'must be MINIMAL, BASIC or FULL'));

  const tags = tagFilter(query, errors);

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    query: {
      ...(namePrefix !== undefined && namePrefix !== '' && { namePrefix }),
      ...(state !== undefined && { state }),
      tags,
      pageSize,
      ...(after !== undefined && { after }),
      view: view!,
    },
  };
}

/**
 * `tag_key` and `tag_value` (also spelled `tag_key[]`, `tag_value[]`), zipped by position into a
 * map (spec, ListTasks `tag_key`): `?tag_key=foo1&tag_value=bar1&tag_key=foo2` → `{foo1: bar1,
 * foo2: ""}`. A key repeated takes its last value, as a map would. More values than keys name no
 * key for the extra values: an error.
 */
function tagFilter(query: URLSearchParams, errors: FieldError[]): (readonly [string, string])[] {
  const keys: string[] = [];
  const values: string[] = [];
  for (const [name, value] of query) {
    if (name === 'tag_key' || name === 'tag_key[]') keys.push(value);
    else if (name === 'tag_value' || name === 'tag_value[]') values.push(value);
  }
  if (values.length > keys.length) {
    errors.push(
      fieldError(
        ['tag_value'],
        `is given ${values.length} times but tag_key only ${keys.length}: values pair with keys by position`,
      ),
    );
  }
  if (keys.some((k) => k === '')) errors.push(fieldError(['tag_key'], 'must not be empty'));
  const map = new Map<string, string>();
  keys.forEach((key, i) => {
    map.set(key, values[i] ?? '');
  });
  if (map.size > TES_LIMITS.maxTags) {
    errors.push(
      fieldError(['tag_key'], `must name at most ${TES_LIMITS.maxTags} tags (a task has at most that many)`),
    );
  }
  return [...map];
}

/**
 * The spec's matching rule (ListTasks `tag_key`): every filter key must be a tag of the task; an
 * empty filter value matches any value (the empty one too), any other value must match exactly.
 * Extra tags on the task do not matter.
 */
export function tagFilterMatches(
  tags: Readonly<Record<string, string>>,
  filter: readonly (readonly [string, string])[],
): boolean {
  return filter.every(([key, value]) => Object.hasOwn(tags, key) && (value === '' || tags[key] === value));
}
