/**
 * ARCHITECTURE.md's rooms table is the layering rule; this file holds the code to it. Each check is
 * also run once on a small made-up tree that breaks it, so a checker that silently passes
 * everything cannot go unnoticed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  allowedGraph,
  checkLayering,
  describeViolation,
  findCircles,
  parseRooms,
  type Room,
  readSources,
  repositoryRoot,
} from '../support/import-graph.js';

const rooms = parseRooms(readFileSync(join(repositoryRoot, 'ARCHITECTURE.md'), 'utf8'));
const sources = readSources(repositoryRoot, ['shared', 'functions', 'scripts', 'dev', 'bench', 'test']);

describe('the layering of ARCHITECTURE.md', () => {
  it('names rooms that exist, each once', () => {
    expect(rooms.length).toBeGreaterThan(10);
    expect(new Set(rooms.map((r) => r.path)).size).toBe(rooms.length);
    for (const room of rooms) expect(existsSync(join(repositoryRoot, room.path)), room.path).toBe(true);
    for (const name of rooms.flatMap((r) => r.mayImport).filter((m) => !m.endsWith('*')))
      expect(
        rooms.map((r) => r.path),
        name,
      ).toContain(name);
  });

  it('has a room for every folder of shared/', () => {
    const folders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(join(repositoryRoot, dir))) {
        const path = `${dir}/${name}`;
        if (!statSync(join(repositoryRoot, path)).isDirectory()) continue;
        folders.push(path);
        walk(path);
      }
    };
    walk('shared');
    const homeless = checkLayering(sources, rooms).homeless;
    expect(homeless).toEqual([]);
    // A folder that is only a parent of rooms (shared/adapters) holds no files of its own.
    for (const folder of folders.filter(
      (f) => !rooms.some((r) => f === r.path || f.startsWith(`${r.path}/`)),
    ))
      expect(
        readdirSync(join(repositoryRoot, folder)).every((n) =>
          statSync(join(repositoryRoot, folder, n)).isDirectory(),
        ),
        `${folder} holds files but is in no room`,
      ).toBe(true);
  });

  it('is kept by every import of the code', () => {
    const { violations } = checkLayering(sources, rooms);
    expect(violations.map(describeViolation)).toEqual([]);
  });

  it('leaves no circle between rooms, in the code or in the table', () => {
    expect(findCircles(checkLayering(sources, rooms).edges)).toEqual([]);
    expect(findCircles(allowedGraph(rooms))).toEqual([]);
  });
});

describe('the layering checker', () => {
  const table = `
| Room | What it holds | May import |
|---|---|---|
| \`shared/core\` | helpers | — |
| \`shared/model\` | the model | core |
| \`shared/adapters/batch\` | Batch | core, model |
| \`shared/usecases\` | the door | core, model, adapters/* |
| \`test\` | tests | shared/* |
`;
  const fake = parseRooms(table);

  it('reads the table, with short names and wildcards', () => {
    expect(fake).toEqual<Room[]>([
      { path: 'shared/core', mayImport: [] },
      { path: 'shared/model', mayImport: ['shared/core'] },
      { path: 'shared/adapters/batch', mayImport: ['shared/core', 'shared/model'] },
      { path: 'shared/usecases', mayImport: ['shared/core', 'shared/model', 'shared/adapters/*'] },
      { path: 'test', mayImport: ['shared/*'] },
    ]);
  });

  it('accepts imports the table allows, static, type-only and dynamic', () => {
    const files = new Map([
      [
        'shared/usecases/accept.ts',
        "import type { Job } from '../model/job.js';\nconst b = await import('../adapters/batch/client.js');",
      ],
      ['shared/model/job.ts', "import { SlotwiseError } from '../core/errors.js';"],
      ['test/a.test.ts', "import { accept } from '../shared/usecases/accept.js';"],
    ]);
    expect(checkLayering(files, fake).violations).toEqual([]);
  });

  it('reports a back-edge, naming the file, the import and the rooms', () => {
    const files = new Map([
      ['shared/model/job.ts', "import type { Accept } from '../usecases/accept.js';"],
      ['shared/adapters/batch/client.ts', "export {\n  x,\n} from '../../usecases/accept.js';"],
      ['shared/usecases/accept.ts', "import { job } from '../model/job.js';"],
    ]);
    expect(checkLayering(files, fake).violations.map(describeViolation)).toEqual([
      'shared/model/job.ts imports shared/usecases/accept.js: model may not import usecases',
      'shared/adapters/batch/client.ts imports shared/usecases/accept.js: adapters/batch may not import usecases',
    ]);
  });

  it('reports a file in no room and an import of a file in no room', () => {
    const files = new Map([
      ['shared/stray/x.ts', ''],
      ['shared/core/y.ts', "import '../stray/x.js';"],
    ]);
    const result = checkLayering(files, fake);
    expect(result.homeless).toEqual(['shared/stray/x.ts']);
    expect(result.violations.map((v) => v.toRoom)).toEqual(['(no room)']);
  });

  it('finds circles between rooms, and a circle the table itself would allow', () => {
    const circle = new Map([
      ['shared/model', new Set(['shared/core'])],
      ['shared/core', new Set(['shared/adapters/batch'])],
      ['shared/adapters/batch', new Set(['shared/model'])],
    ]);
    expect(findCircles(circle)).toEqual([['shared/adapters/batch', 'shared/model', 'shared/core']]);
    const loose = parseRooms(table.replace('| helpers | — |', '| helpers | usecases |'));
    expect(findCircles(allowedGraph(loose)).length).toBe(1);
  });
});
