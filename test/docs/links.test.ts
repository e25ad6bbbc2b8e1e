/**
 * Every relative link in the README, ARCHITECTURE.md and docs/ reaches a file that exists and, with a
 * `#fragment`, a heading of that file (GitHub's anchor rules): a page split or renamed must take its
 * links along.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../support/import-graph.js';

/** GitHub's heading anchor: lower case, punctuation dropped (but `-` and `_` kept), spaces as `-`. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function anchorsIn(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '');
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
}

const pages = [
  'README.md',
  'ARCHITECTURE.md',
  ...readdirSync(join(repositoryRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('documentation links', () => {
  it('computes anchors as GitHub does', () => {
    expect(anchorOf('How pools are sized: the pool controller')).toBe(
      'how-pools-are-sized-the-pool-controller',
    );
    expect(anchorOf('The Batch emulator (`dev/batch-emulator/`)')).toBe(
      'the-batch-emulator-devbatch-emulator',
    );
  });

  it.each(pages)('%s links only to files and headings that exist', (page) => {
    const text = readFileSync(join(repositoryRoot, page), 'utf8').replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
      const [path, fragment] = target!.split('#');
      const file = path ? join(dirname(join(repositoryRoot, page)), path) : join(repositoryRoot, page);
      if (!existsSync(file)) {
        broken.push(`${target}: no file ${relative(repositoryRoot, file)}`);
        continue;
      }
      if (fragment && !anchorsIn(readFileSync(file, 'utf8')).has(fragment))
        broken.push(`${target}: no heading #${fragment} in ${relative(repositoryRoot, file)}`);
    }
    expect(broken).toEqual([]);
  });
});
