/**
 * Reading a task's command line into a small shell script (shell.ts runs it).
 *
 * Batch does not run a command line under a shell (BatchTaskCreateOptions.commandLine in the spec);
 * users write `/bin/sh -c '…'` or `/bin/bash -c "…"` for shell features. The wrapper is recognised
 * (also `sh`, `bash`, `dash` by any path, `/usr/bin/env bash`, flags such as `-ec`, and Windows'
 * `cmd /c …`); a bare command line is read as a script too, a leniency real nodes do not have.
 *
 * The grammar is a subset of POSIX sh: simple commands joined by `;`, newlines, `&&` and `||`;
 * `if list; then list; [elif list; then list;] [else list;] fi`; words with '…' and "…" quotes,
 * backslash escapes, `$NAME`, `${NAME}`, `$?`, `$(…)` (command substitution) and globs; redirects
 * `<`, `>`, `>>`, `2>`, `2>>`, `2>&1`, `>&2`; `#` comments. Anything else (pipes, `&`, subshells,
 * backquotes, `for`/`while`/`case`, `{ … }`, functions, `${NAME:-…}`, `$((…))`, here-documents)
 * makes the line unparsable, and the caller falls back to the old reading of the line (`sleep N` and
 * `exit K` anywhere in it).
 */

export type WordPart =
  | { readonly t: 'lit'; readonly v: string; readonly q: boolean }
  | { readonly t: 'var'; readonly name: string; readonly q: boolean }
  /** `$(…)`: the script's stdout, trailing newlines removed. */
  | { readonly t: 'cmd'; readonly script: Script; readonly q: boolean };

export interface Word {
  readonly parts: readonly WordPart[];
}

export interface Redirect {
  /** 0 (stdin, `<`), 1 (stdout) or 2 (stderr). */
  readonly fd: 0 | 1 | 2;
  readonly append: boolean;
  /** A file, or `&1` / `&2` (a copy of that descriptor). */
  readonly target: Word | { readonly dup: 1 | 2 };
}

export interface SimpleCommand {
  readonly kind: 'simple';
  readonly words: readonly Word[];
  readonly redirects: readonly Redirect[];
}

/** `if c1; then b1; elif c2; then b2; else b3; fi`. */
export interface IfCommand {
  readonly kind: 'if';
  readonly clauses: readonly { readonly cond: readonly AndOr[]; readonly body: readonly AndOr[] }[];
  readonly otherwise?: readonly AndOr[];
}

export type Command = SimpleCommand | IfCommand;

export interface AndOr {
  readonly first: Command;
  readonly rest: readonly { readonly op: '&&' | '||'; readonly cmd: Command }[];
}

export interface Script {
  readonly lists: readonly AndOr[];
  /** `sh -e`: stop at the first failing command that is not tested by `&&` / `||` / `if`. */
  readonly errexit: boolean;
}

type Token =
  | { readonly k: 'word'; readonly word: Word }
  | { readonly k: 'op'; readonly op: ';' | '\n' | '&&' | '||' }
  | { readonly k: 'redir'; readonly fd: 0 | 1 | 2; readonly append: boolean; readonly dup?: 1 | 2 };

class Unsupported extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
/** Reserved words this grammar reads (at the start of a command). */
const IF_WORDS = new Set(['if', 'then', 'elif', 'else', 'fi']);
/** Reserved words (and grouping) outside the grammar. */
const UNSUPPORTED_WORDS = new Set([
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

/**
 * The index just past the `)` closing a `$(` whose body starts at `i`, skipping quotes, escapes and
 * nested `$(…)`. A `(` of any other kind (a subshell inside) is outside the grammar.
 */
function closingParen(text: string, i: number): number {
  let depth = 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') i += 2;
    else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) throw new Unsupported();
      i = close + 1;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) throw new Unsupported();
      i++;
    } else if (c === '$' && text[i + 1] === '(') {
      if (text[i + 2] === '(') throw new Unsupported();
      depth++;
      i += 2;
    } else if (c === '(') throw new Unsupported();
    else if (c === ')') {
      depth--;
      i++;
      if (depth === 0) return i;
    } else i++;
  }
  throw new Unsupported();
}

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
  if (text[i] === '(') {
    if (text[i + 1] === '(') throw new Unsupported();
    const end = closingParen(text, i + 1);
    const script = parse(tokenize(text.slice(i + 1, end - 1)), false);
    return [{ t: 'cmd', script, q }, end];
  }
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
      } else if (text[i] === '|') throw new Unsupported();
      else tokens.push({ k: 'redir', fd, append });
    } else if (c === '<') {
      // `<file` only: no `0<`, `<<` (here-documents), `<&` or `<>`.
      endWord();
      if ('<&>'.includes(text[i + 1] ?? '')) throw new Unsupported();
      tokens.push({ k: 'redir', fd: 0, append: false });
      i++;
    } else if (c === '(' || c === ')' || c === '`') {
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

/** A word that is one unquoted literal, as reserved words must be. */
function plainWord(t: Token | undefined): string | undefined {
  if (t?.k !== 'word') return undefined;
  const [only, ...more] = t.word.parts;
  return more.length === 0 && only?.t === 'lit' && !only.q ? only.v : undefined;
}

/** Recursive descent over the tokens: lists of and-or lists of (simple or `if`) commands. */
class Parser {
  private pos = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  script(errexit: boolean): Script {
    const lists = this.list(new Set());
    if (this.pos < this.tokens.length) throw new Unsupported();
    return { lists, errexit };
  }

  private isSeparator(): boolean {
    const t = this.tokens[this.pos];
    return t?.k === 'op' && (t.op === ';' || t.op === '\n');
  }

  /** Commands up to the end or to one of the reserved words `until` (which is not consumed). */
  private list(until: ReadonlySet<string>): AndOr[] {
    const lists: AndOr[] = [];
    for (;;) {
      while (this.isSeparator()) this.pos++;
      if (this.pos >= this.tokens.length) return lists;
      const word = plainWord(this.tokens[this.pos]);
      if (word !== undefined && until.has(word)) return lists;
      lists.push(this.andOr());
      // An and-or list ends at a separator, the end, or (inside `if`) a reserved word after `;`.
      if (this.pos < this.tokens.length && !this.isSeparator()) throw new Unsupported();
    }
  }

  private andOr(): AndOr {
    const first = this.command();
    const rest: { op: '&&' | '||'; cmd: Command }[] = [];
    for (;;) {
      const op = this.tokens[this.pos];
      if (op?.k !== 'op' || (op.op !== '&&' && op.op !== '||')) break;
      this.pos++;
      while (this.tokens[this.pos]?.k === 'op' && (this.tokens[this.pos] as { op: string }).op === '\n')
        this.pos++;
      rest.push({ op: op.op, cmd: this.command() });
    }
    return { first, rest };
  }

  private expect(word: string): void {
    if (plainWord(this.tokens[this.pos]) !== word) throw new Unsupported();
    this.pos++;
  }

  private ifCommand(): IfCommand {
    this.expect('if');
    const clauses: { cond: AndOr[]; body: AndOr[] }[] = [];
    let otherwise: AndOr[] | undefined;
    for (;;) {
      const cond = this.list(new Set(['then']));
      this.expect('then');
      const body = this.list(new Set(['elif', 'else', 'fi']));
      if (cond.length === 0 || body.length === 0) throw new Unsupported();
      clauses.push({ cond, body });
      const next = plainWord(this.tokens[this.pos]);
      this.pos++;
      if (next === 'elif') continue;
      if (next === 'else') {
        otherwise = this.list(new Set(['fi']));
        if (otherwise.length === 0) throw new Unsupported();
        this.expect('fi');
      } else if (next !== 'fi') throw new Unsupported();
      break;
    }
    // Redirects or words after `fi` are outside the grammar.
    const after = this.tokens[this.pos];
    if (after && after.k !== 'op') throw new Unsupported();
    return { kind: 'if', clauses, ...(otherwise ? { otherwise } : {}) };
  }

  private command(): Command {
    const lead = plainWord(this.tokens[this.pos]);
    if (lead === 'if') return this.ifCommand();
    if (lead !== undefined && (IF_WORDS.has(lead) || UNSUPPORTED_WORDS.has(lead))) throw new Unsupported();
    const words: Word[] = [];
    const redirects: Redirect[] = [];
    for (;;) {
      const t = this.tokens[this.pos];
      if (!t || t.k === 'op') break;
      this.pos++;
      if (t.k === 'word') {
        words.push(t.word);
        continue;
      }
      if (t.dup !== undefined) {
        redirects.push({ fd: t.fd, append: false, target: { dup: t.dup } });
        continue;
      }
      const target = this.tokens[this.pos];
      if (target?.k !== 'word') throw new Unsupported();
      this.pos++;
      redirects.push({ fd: t.fd, append: t.append, target: target.word });
    }
    if (words.length === 0 && redirects.length === 0) throw new Unsupported();
    return { kind: 'simple', words, redirects };
  }
}

function parse(tokens: Token[], errexit: boolean): Script {
  return new Parser(tokens).script(errexit);
}

/** A script's text (what `sh -c` runs, or a script file's contents), or undefined outside the grammar. */
export function parseScript(text: string, errexit = false): Script | undefined {
  try {
    return parse(tokenize(text), errexit);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
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
