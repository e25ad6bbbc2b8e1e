/**
 * Reading a task's command line into a small shell script (shell.ts runs it).
 *
 * Batch does not run a command line under a shell (BatchTaskCreateOptions.commandLine in the spec);
 * users write `/bin/sh -c '…'` or `/bin/bash -c "…"` for shell features. The wrapper is recognised
 * (also `sh`, `bash`, `dash` by any path, `/usr/bin/env bash`, flags such as `-ec`, and Windows'
 * `cmd /c …`); a bare command line is read as a script too, a leniency real nodes do not have.
 *
 * The grammar is a subset of POSIX sh: simple commands joined by `;`, newlines, `&&` and `||`;
 * words with '…' and "…" quotes, backslash escapes, `$NAME`, `${NAME}`, `$?`, and globs; redirects
 * `>`, `>>`, `2>`, `2>>`, `2>&1`, `>&2`; `#` comments. Anything else (pipes, `&`, `<`, subshells,
 * `$(…)`, backquotes, `if`/`for`/`while`/`case`, `${NAME:-…}`) makes the line unparsable, and the
 * caller falls back to the old reading of the line (`sleep N` and `exit K` anywhere in it).
 */

export type WordPart =
  | { readonly t: 'lit'; readonly v: string; readonly q: boolean }
  | { readonly t: 'var'; readonly name: string; readonly q: boolean };

export interface Word {
  readonly parts: readonly WordPart[];
}

export interface Redirect {
  /** 1 (stdout) or 2 (stderr). */
  readonly fd: 1 | 2;
  readonly append: boolean;
  /** A file, or `&1` / `&2` (a copy of that descriptor). */
  readonly target: Word | { readonly dup: 1 | 2 };
}

export interface SimpleCommand {
  readonly words: readonly Word[];
  readonly redirects: readonly Redirect[];
}

export interface AndOr {
  readonly first: SimpleCommand;
  readonly rest: readonly { readonly op: '&&' | '||'; readonly cmd: SimpleCommand }[];
}

export interface Script {
  readonly lists: readonly AndOr[];
  /** `sh -e`: stop at the first failing command that is not tested by `&&` / `||`. */
  readonly errexit: boolean;
}

type Token =
  | { readonly k: 'word'; readonly word: Word }
  | { readonly k: 'op'; readonly op: ';' | '\n' | '&&' | '||' }
  | { readonly k: 'redir'; readonly fd: 1 | 2; readonly append: boolean; readonly dup?: 1 | 2 };

class Unsupported extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const KEYWORDS = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'for',
  'while',
  'until',
  'do',
  'done',
  'case',
  'esac',
  'function',
  'select',
  '{',
  '}',
  '!',
  '[[',
]);

/** Reads `$…` at `i` (just past the `$`); returns the part and the index after it. */
function readVar(text: string, i: number, q: boolean): [WordPart, number] {
  if (text[i] === '{') {
    const close = text.indexOf('}', i);
    if (close < 0) throw new Unsupported();
    const name = text.slice(i + 1, close);
    if (!NAME.test(name) || NAME.exec(name)![0] !== name) throw new Unsupported();
    return [{ t: 'var', name, q }, close + 1];
  }
  if (text[i] === '?') return [{ t: 'var', name: '?', q }, i + 1];
  if (text[i] === '(') throw new Unsupported();
  const m = NAME.exec(text.slice(i));
  if (m) return [{ t: 'var', name: m[0], q }, i + m[0].length];
  if (/[0-9#@*$!-]/.test(text[i] ?? '')) return [{ t: 'var', name: text[i]!, q }, i + 1];
  return [{ t: 'lit', v: '$', q }, i];
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let parts: WordPart[] = [];
  let inWord = false;
  let lit = '';
  const flushLit = (q: boolean) => {
    if (lit) parts.push({ t: 'lit', v: lit, q });
    lit = '';
  };
  const endWord = () => {
    flushLit(false);
    if (inWord) tokens.push({ k: 'word', word: { parts } });
    parts = [];
    inWord = false;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      endWord();
      i++;
    } else if (c === '\n' || c === ';') {
      endWord();
      if (c === ';' && text[i + 1] === ';') throw new Unsupported();
      tokens.push({ k: 'op', op: c });
      i++;
    } else if (c === '&' || c === '|') {
      if (text[i + 1] !== c) throw new Unsupported();
      endWord();
      tokens.push({ k: 'op', op: c === '&' ? '&&' : '||' });
      i += 2;
    } else if (c === '>') {
      // A word of a single unquoted 1 or 2 right before `>` is the descriptor.
      flushLit(false);
      let fd: 1 | 2 = 1;
      const only = parts.length === 1 ? parts[0] : undefined;
      if (inWord && only?.t === 'lit' && !only.q && (only.v === '1' || only.v === '2')) {
        fd = only.v === '2' ? 2 : 1;
        parts = [];
        inWord = false;
      } else endWord();
      i++;
      const append = text[i] === '>';
      if (append) i++;
      if (text[i] === '&') {
        const target = text[i + 1];
        if (append || (target !== '1' && target !== '2')) throw new Unsupported();
        tokens.push({ k: 'redir', fd, append: false, dup: target === '2' ? 2 : 1 });
        i += 2;
      } else tokens.push({ k: 'redir', fd, append });
    } else if (c === '<' || c === '(' || c === ')' || c === '`') {
      throw new Unsupported();
    } else if (c === '#' && !inWord) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) throw new Unsupported();
      flushLit(false);
      parts.push({ t: 'lit', v: text.slice(i + 1, close), q: true });
      inWord = true;
      i = close + 1;
    } else if (c === '"') {
      flushLit(false);
      inWord = true;
      i++;
      let s = '';
      for (;;) {
        if (i >= text.length) throw new Unsupported();
        const d = text[i]!;
        if (d === '"') break;
        if (d === '`') throw new Unsupported();
        if (d === '\\' && i + 1 < text.length && '$`"\\\n'.includes(text[i + 1]!)) {
          if (text[i + 1] !== '\n') s += text[i + 1];
          i += 2;
        } else if (d === '$') {
          if (s) parts.push({ t: 'lit', v: s, q: true });
          s = '';
          const [part, next] = readVar(text, i + 1, true);
          parts.push(part);
          i = next;
        } else {
          s += d;
          i++;
        }
      }
      // An empty pair of quotes still makes a (possibly empty) word.
      parts.push({ t: 'lit', v: s, q: true });
      i++;
    } else if (c === '\\') {
      flushLit(false);
      inWord = true;
      if (text[i + 1] === '\n') i += 2;
      else {
        if (i + 1 < text.length) parts.push({ t: 'lit', v: text[i + 1]!, q: true });
        i += 2;
      }
    } else if (c === '$') {
      flushLit(false);
      inWord = true;
      const [part, next] = readVar(text, i + 1, false);
      if (part.t === 'lit') lit += part.v;
      else parts.push(part);
      i = next;
    } else {
      lit += c;
      inWord = true;
      i++;
    }
  }
  endWord();
  return tokens;
}

function parse(tokens: Token[], errexit: boolean): Script {
  const lists: AndOr[] = [];
  let pos = 0;
  const command = (): SimpleCommand | undefined => {
    const words: Word[] = [];
    const redirects: Redirect[] = [];
    for (;;) {
      const t = tokens[pos];
      if (!t || t.k === 'op') break;
      pos++;
      if (t.k === 'word') {
        words.push(t.word);
        continue;
      }
      if (t.dup !== undefined) {
        redirects.push({ fd: t.fd, append: false, target: { dup: t.dup } });
        continue;
      }
      const target = tokens[pos];
      if (target?.k !== 'word') throw new Unsupported();
      pos++;
      redirects.push({ fd: t.fd, append: t.append, target: target.word });
    }
    if (words.length === 0 && redirects.length === 0) return undefined;
    const first = words[0]?.parts;
    if (first?.length === 1 && first[0]!.t === 'lit' && !first[0]!.q && KEYWORDS.has(first[0]!.v))
      throw new Unsupported();
    return { words, redirects };
  };
  while (pos < tokens.length) {
    const t = tokens[pos]!;
    if (t.k === 'op' && (t.op === ';' || t.op === '\n')) {
      pos++;
      continue;
    }
    const first = command();
    if (!first) throw new Unsupported();
    const rest: { op: '&&' | '||'; cmd: SimpleCommand }[] = [];
    for (;;) {
      const op = tokens[pos];
      if (op?.k !== 'op' || (op.op !== '&&' && op.op !== '||')) break;
      pos++;
      while (tokens[pos]?.k === 'op' && (tokens[pos] as { op: string }).op === '\n') pos++;
      const cmd = command();
      if (!cmd) throw new Unsupported();
      rest.push({ op: op.op, cmd });
    }
    lists.push({ first, rest });
  }
  return { lists, errexit };
}

/** Splits a command line into words with quote removal (no expansion), as Batch passes argv. */
function argv(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      if (close < 0) return undefined;
      let body = line.slice(i + 1, close);
      if (c === '"') body = body.replace(/\\(["\\$`])/g, '$1');
      cur += body;
      inWord = true;
      i = close;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

const SHELLS = new Set(['sh', 'bash', 'dash']);

/** The script a command line runs, or undefined when it is outside the supported subset. */
export function parseCommandLine(line: string): Script | undefined {
  try {
    const words = argv(line);
    if (!words || words.length === 0) return { lists: [], errexit: false };
    let i = 0;
    if (words[0] === '/usr/bin/env' || words[0] === 'env') i = 1;
    const program = (words[i] ?? '').slice((words[i] ?? '').lastIndexOf('/') + 1);
    if (SHELLS.has(program)) {
      let errexit = false;
      for (let j = i + 1; j < words.length; j++) {
        const flag = words[j]!;
        if (!/^[-+][a-z]+$/.test(flag)) return undefined;
        if (flag.startsWith('-') && flag.includes('e')) errexit = true;
        if (flag.includes('c')) {
          const script = words[j + 1];
          return script === undefined ? undefined : parse(tokenize(script), errexit);
        }
      }
      return undefined;
    }
    if (/^cmd(\.exe)?$/i.test(words[0]!) && /^\/c$/i.test(words[1] ?? '')) {
      const m = /^\s*\S+\s+\/c\s*/i.exec(line);
      return parse(tokenize(m ? line.slice(m[0].length) : ''), false);
    }
    return parse(tokenize(line), false);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}
