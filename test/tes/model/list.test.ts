/**
 * ListTasks parameters (shared/model/tes-list.ts): defaults, page size and token, state, the tag
 * filter's zipping and the spec's truth table.
 */
import { describe, expect, it } from 'vitest';
import {
  encodeTesPageToken,
  parseTesListQuery,
  TES_DEFAULT_PAGE_SIZE,
  TES_MAX_PAGE_SIZE,
  tagFilterMatches,
} from '../../../shared/model/tes-list.js';
import { TES_STATES } from '../../../shared/model/tes-task.js';

const parse = (query: string) => parseTesListQuery(new URLSearchParams(query));

function accepted(query: string) {
  const result = parse(query);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.errors)}`);
  return result.query;
}

function refused(query: string): string[] {
  const result = parse(query);
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.query)}`);
  return result.errors.map((e) => `${e.field}: ${e.message}`);
}

describe('parseTesListQuery', () => {
  it('defaults: no filters, 256 per page, MINIMAL', () => {
    expect(TES_DEFAULT_PAGE_SIZE).toBe(256);
    expect(accepted('')).toStrictEqual({ tags: [], pageSize: 256, view: 'MINIMAL' });
    expect(accepted('name_prefix=&state=&page_size=&page_token=&view=')).toStrictEqual({
      tags: [],
      pageSize: 256,
      view: 'MINIMAL',
    });
  });

  it('reads every parameter', () => {
    const token = encodeTesPageToken({ creationTime: '2025-01-02T03:04:05.678Z', id: 'task-9' });
    expect(
      accepted(
        `name_prefix=align&state=RUNNING&page_size=10&page_token=${token}&view=BASIC&tag_key=p&tag_value=1`,
      ),
    ).toStrictEqual({
      namePrefix: 'align',
      state: 'RUNNING',
      tags: [['p', '1']],
      pageSize: 10,
      after: { creationTime: '2025-01-02T03:04:05.678Z', id: 'task-9' },
      view: 'BASIC',
    });
  });

  it('takes page_size from 1 to 2047 ("must be less than 2048")', () => {
    expect(TES_MAX_PAGE_SIZE).toBe(2047);
    expect(accepted('page_size=1').pageSize).toBe(1);
    expect(accepted('page_size=2047').pageSize).toBe(2047);
    for (const bad of ['0', '2048', '-1', '1.5', 'ten', '1e3', '99999999999999']) {
      expect(refused(`page_size=${bad}`)).toEqual(['page_size: must be an integer from 1 to 2047']);
    }
  });

  it('takes back only the page tokens it issued', () => {
    const cursor = { creationTime: '2025-01-02T03:04:05.678Z', id: 'a b/c' };
    const token = encodeTesPageToken(cursor);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(accepted(`page_token=${token}`).after).toStrictEqual(cursor);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const bad of [
      'not-a-token!',
      'abc',
      b64({ creationTime: 'yesterday', id: 'x' }),
      b64({ creationTime: cursor.creationTime }),
      b64({ creationTime: cursor.creationTime, id: 'x', extra: 1 }),
      b64([cursor.creationTime, 'x']),
      // The right cursor in another spelling (keys in another order): not a token Slotwise wrote.
      b64({ id: cursor.id, creationTime: cursor.creationTime }),
      `${Buffer.from(JSON.stringify(cursor)).toString('base64')}=`,
    ]) {
      expect(refused(`page_token=${encodeURIComponent(bad)}`)).toEqual([
        'page_token: is not a next_page_token this service issued',
      ]);
    }
  });

  it('takes state as one of the TES states', () => {
    for (const state of TES_STATES) expect(accepted(`state=${state}`).state).toBe(state);
    expect(refused('state=queued')[0]).toMatch(/^state: must be one of UNKNOWN, QUEUED/);
    expect(refused('state=DONE')[0]).toMatch(/^state: must be one of/);
  });

  it('refuses an unknown view', () => {
    expect(accepted('view=FULL').view).toBe('FULL');
    expect(refused('view=ALL')).toEqual(['view: must be MINIMAL, BASIC or FULL']);
  });

  it('refuses a single-valued parameter given twice, and ignores unknown ones', () => {
    expect(refused('state=QUEUED&state=RUNNING')).toEqual(['state: must be given at most once']);
    expect(refused('page_size=1&page_size=1')).toEqual(['page_size: must be given at most once']);
    expect(accepted('_=12345&foo=bar')).toStrictEqual({ tags: [], pageSize: 256, view: 'MINIMAL' });
  });
});

describe('tag filter parameters', () => {
  it('zips tag_key with tag_value by position (spec examples)', () => {
    expect(accepted('tag_key=foo1&tag_value=bar1&tag_key=foo2&tag_value=bar2').tags).toStrictEqual([
      ['foo1', 'bar1'],
      ['foo2', 'bar2'],
    ]);
    expect(accepted('tag_key=foo1').tags).toStrictEqual([['foo1', '']]);
  });

  it('pairs by position among each name, not by adjacency', () => {
    expect(accepted('tag_key=a&tag_key=b&tag_value=1').tags).toStrictEqual([
      ['a', '1'],
      ['b', ''],
    ]);
  });

  it('accepts the array-style names tag_key[] and tag_value[]', () => {
    expect(accepted('tag_key[]=a&tag_value[]=1&tag_key[]=b').tags).toStrictEqual([
      ['a', '1'],
      ['b', ''],
    ]);
    expect(accepted('tag_key%5B%5D=a&tag_value%5B%5D=1').tags).toStrictEqual([['a', '1']]);
  });

  it('refuses more values than keys, and empty keys', () => {
    expect(refused('tag_key=a&tag_value=1&tag_value=2')).toEqual([
      'tag_value: is given 2 times but tag_key only 1: values pair with keys by position',
    ]);
    expect(refused('tag_value=1')[0]).toMatch(/^tag_value:/);
    expect(refused('tag_key=&tag_value=1')).toEqual(['tag_key: must not be empty']);
  });

  it('lets a repeated key take its last value, as a map would', () => {
    expect(accepted('tag_key=a&tag_value=1&tag_key=a&tag_value=2').tags).toStrictEqual([['a', '2']]);
  });

  it('refuses more tags than a task can have', () => {
    const query = Array.from({ length: 101 }, (_, i) => `tag_key=k${i}`).join('&');
    expect(refused(query)[0]).toMatch(/^tag_key: must name at most 100 tags/);
    expect(accepted(Array.from({ length: 100 }, (_, i) => `tag_key=k${i}`).join('&')).tags).toHaveLength(100);
  });
});

describe('tagFilterMatches', () => {
  // The truth table of the spec (ListTasks, tag_key), row by row.
  const table: [Record<string, string>, Record<string, string>, boolean][] = [
    [{ foo: 'bar' }, { foo: 'bar' }, true],
    [{ foo: 'bar' }, { foo: 'bat' }, false],
    [{ foo: '' }, { foo: '' }, true],
    [{ foo: 'bar', baz: 'bat' }, { foo: 'bar', baz: 'bat' }, true],
    [{ foo: 'bar' }, { foo: 'bar', baz: 'bat' }, true],
    [{ foo: 'bar', baz: 'bat' }, { foo: 'bar' }, false],
    [{ foo: '' }, { foo: 'bar' }, true],
    [{ foo: '' }, {}, false],
  ];

  it.each(table)('filter %j against tags %j → %s', (filter, tags, match) => {
    expect(tagFilterMatches(tags, Object.entries(filter))).toBe(match);
  });

  it('matches everything with no filter, and never an inherited property', () => {
    expect(tagFilterMatches({}, [])).toBe(true);
    expect(tagFilterMatches({}, [['toString', '']])).toBe(false);
  });

  it('applies a parsed query as the spec means it', () => {
    const { tags } = accepted('tag_key=foo&tag_key=baz&tag_value=&tag_value=bat');
    expect(tagFilterMatches({ foo: 'anything', baz: 'bat' }, tags)).toBe(true);
    expect(tagFilterMatches({ foo: 'anything', baz: 'bar' }, tags)).toBe(false);
    expect(tagFilterMatches({ baz: 'bat' }, tags)).toBe(false);
  });
});
